// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {RinneTest} from "./utils/RinneTest.sol";
import {IRinneLedger} from "../interfaces/IRinneLedger.sol";
import {IParticipantRegistry} from "../interfaces/IParticipantRegistry.sol";
import {IGwpAttestations, GwpAttestation, AttestationRecord} from "../interfaces/IGwpAttestations.sol";
import {Composition, LotSpec, LotInput, UnitInfo, SohRecord, LotState, PassportStatus, Roles} from "../types/LedgerTypes.sol";

/// @notice Issue 11 (integrity of the figures): each attack played against the contracts, refused by a
/// named error, and the honest variant beside it still passing.
contract IntegrityTest is RinneTest {
    function setUp() public {
        _deploy();
    }

    // ------------------------------------------------------ class 8: an offer survives a passport change

    function test_class8_offerDiesWhenTheSellerSetsWaste() public {
        LotSpec memory p = _pack(oem);
        vm.prank(oem);
        ledger.recordSoh(p.lotId, _soh(10_000, 0, 0));
        // The buyer is offered an Original unit at 100 % SOH ...
        vm.prank(oem);
        ledger.offer(p.lotId, secondLife);
        assertTrue(_lot(p.lotId).offerCurrent, "offer current");
        // ... and the seller downgrades it before the buyer accepts.
        vm.prank(oem);
        ledger.setStatus(p.lotId, PassportStatus.Waste, keccak256("scrap"));
        assertFalse(_lot(p.lotId).offerCurrent, "offer stale after the status change");
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerNoCurrentOffer.selector, p.lotId, secondLife));
        vm.prank(secondLife);
        ledger.accept(p.lotId);
        // Honest: a new offer of the unit as it now is completes.
        vm.prank(oem);
        ledger.offer(p.lotId, secondLife);
        vm.prank(secondLife);
        ledger.accept(p.lotId);
        assertEq(_lot(p.lotId).holder, secondLife, "new offer accepted");
    }

    function test_class8_offerDiesOnANewSohRecord() public {
        LotSpec memory p = _pack(oem);
        vm.prank(oem);
        ledger.recordSoh(p.lotId, _soh(10_000, 0, 0));
        vm.prank(oem);
        ledger.offer(p.lotId, secondLife);
        vm.warp(block.timestamp + 30 days);
        vm.prank(oem);
        ledger.recordSoh(p.lotId, _soh(6_000, 100, 7_000_000));
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerNoCurrentOffer.selector, p.lotId, secondLife));
        vm.prank(secondLife);
        ledger.accept(p.lotId);
    }

    function test_class8_everyStatusChangeBumpsTheEpoch() public {
        LotSpec memory p = _pack(oem);
        uint32 before = _lot(p.lotId).epoch;
        vm.prank(oem);
        ledger.setStatus(p.lotId, PassportStatus.Reused, bytes32(0));
        assertEq(_lot(p.lotId).epoch, before + 1, "setStatus bumps the epoch");
        vm.prank(oem);
        ledger.setStatus(p.lotId, PassportStatus.Waste, bytes32(0));
        assertEq(_lot(p.lotId).epoch, before + 2, "every status change bumps it");
    }

    // ------------------------------------------------------------------ class 3: retroactive claims

    /// @dev keyedMiner (a MINER with a known key) mints a lot and splits it whole: it is Consumed, and
    /// keyedMiner is still recorded as its last holder.
    function _consumedLotOfKeyedMiner() internal returns (LotSpec memory s) {
        s = _nickelSpec();
        _mint(keyedMiner, s);
        LotSpec memory a = _spec(_newId(), NISO4, 500_000, _scale(s.composition, 1, 2));
        LotSpec memory b = _spec(_newId(), NISO4, 500_000, _sub(s.composition, a.composition));
        vm.prank(keyedMiner);
        ledger.split(_whole(s), _pair(a, b));
        (address holder, LotState state) = ledger.holderOf(s.lotId);
        assertEq(holder, keyedMiner, "last holder");
        assertEq(uint8(state), uint8(LotState.Consumed), "consumed");
    }

    function test_class3_lastHolderCannotSelfDeclareAfterUse() public {
        LotSpec memory s = _consumedLotOfKeyedMiner();
        GwpAttestation memory a = _attestationFor(s.lotId, 1);
        a.emissionsGrams = 1e15; // 10^12 kg CO2e, to turn the buyer's product from verified to self-declared
        bytes memory sig = _signAttestation(MINER_KEY, a);
        vm.expectRevert(
            abi.encodeWithSelector(IGwpAttestations.GwpAttestationsSelfDeclarationClosed.selector, s.lotId, uint8(LotState.Consumed))
        );
        attestations.attest(a, keyedMiner, sig);
    }

    function test_class3_accreditedVerifierMayAttestAfterUse() public {
        LotSpec memory s = _consumedLotOfKeyedMiner();
        GwpAttestation memory a = _attestationFor(s.lotId, 7);
        bytes32 uid = attestations.attest(a, verifier, _signAttestation(VERIFIER_KEY, a));
        AttestationRecord memory r = attestations.attestation(uid);
        assertFalse(r.selfDeclared, "accredited");
        assertEq(r.signer, verifier, "verifier");
    }

    function test_class3_noSelfDeclarationWhileFrozen_againAfterRelease() public {
        LotSpec memory s = _nickelSpec();
        _mint(keyedMiner, s);
        vm.prank(auditor);
        ledger.freeze(s.lotId, keccak256("assay dispute"));
        GwpAttestation memory a = _attestationFor(s.lotId, 1);
        bytes memory sig = _signAttestation(MINER_KEY, a);
        vm.expectRevert(
            abi.encodeWithSelector(IGwpAttestations.GwpAttestationsSelfDeclarationClosed.selector, s.lotId, uint8(LotState.Frozen))
        );
        attestations.attest(a, keyedMiner, sig);
        // An accredited verifier may attest a frozen lot (that is what an investigation may need).
        GwpAttestation memory v = _attestationFor(s.lotId, 2);
        attestations.attest(v, verifier, _signAttestation(VERIFIER_KEY, v));
        vm.prank(auditor);
        ledger.unfreeze(s.lotId);
        // Honest: the holder of an active lot self-declares.
        bytes32 uid = attestations.attest(a, keyedMiner, sig);
        assertTrue(attestations.attestation(uid).selfDeclared, "self-declared while held and active");
    }

    // ------------------------------------------------- class 1b: a part of a homogeneous lot is pro rata

    function test_class1b_partialUseDeclaringOnlyTheNickelIsRefused() public {
        LotSpec memory s = _mintNickel(refiner); // 1 t NiSO4, 223 kg Ni
        // The cheat: "use" 223 kg of the lot that carry all of its nickel, so that the output takes
        // 22 % of the lot's burden by mass and 100 % of its nickel.
        Composition memory allNickel = _copy(s.composition);
        LotSpec memory out = _spec(_newId(), PCAM, 223_000, allNickel);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerNotProRata.selector, s.lotId));
        vm.prank(refiner);
        ledger.transform(_ones(_part(s.lotId, NISO4, s.composition, 223_000, allNickel)), _ones(out), _noLoss());
        // Also refused a gram outside the rounding: 300 kg of the lot carry 66,900 g of nickel, not 66,902.
        Composition memory nearly = _virgin([uint256(0), 66_902, 0, 0, 0, 0, 0, 0]);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerNotProRata.selector, s.lotId));
        vm.prank(refiner);
        ledger.transform(
            _ones(_part(s.lotId, NISO4, s.composition, 300_000, nearly)), _ones(_spec(_newId(), PCAM, 300_000, nearly)), _noLoss()
        );
        // Honest: 300 kg carry 30 % of the nickel.
        Composition memory honest = _take(s.composition, 300_000, 1_000_000);
        assertEq(_lane(honest.total, NI), 66_900, "pro rata nickel");
        vm.prank(refiner);
        ledger.transform(
            _ones(_part(s.lotId, NISO4, s.composition, 300_000, honest)), _ones(_spec(_newId(), PCAM, 300_000, honest)), _noLoss()
        );
        assertEq(_lot(s.lotId).mass, 700_000, "remainder");
    }

    function test_class1b_splitIntoALightOutputWithAllTheNickelIsRefused() public {
        LotSpec memory s = _mintNickel(refiner);
        // Split 1 t into 223 kg holding all the nickel and 777 kg holding none, then use the light one whole.
        LotSpec memory rich = _spec(_newId(), NISO4, 223_000, s.composition);
        LotSpec memory poor = _spec(_newId(), NISO4, 777_000, _virgin([uint256(0), 0, 0, 0, 0, 0, 0, 0]));
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerNotProRata.selector, rich.lotId));
        vm.prank(refiner);
        ledger.split(_whole(s), _pair(rich, poor));
        // Honest: each output but the last is the pro-rata part of what is left.
        Composition memory a = _take(s.composition, 223_000, 1_000_000);
        LotSpec memory o1 = _spec(_newId(), NISO4, 223_000, a);
        LotSpec memory o2 = _spec(_newId(), NISO4, 777_000, _sub(s.composition, a));
        vm.prank(refiner);
        ledger.split(_whole(s), _pair(o1, o2));
        assertEq(_lane(a.total, NI), 49_729, "223 kg carry 22.3 % of the nickel");
    }

    /// @dev Any partial use the contract accepts is pro rata, whatever the lot and the mass used.
    function testFuzz_class1b_acceptedPartialUseIsProRata(uint64 niGrams, uint64 massSeed, uint64 usedSeed, int8 nudge) public {
        uint256 mass = 2 + massSeed % (1 << 40);
        uint256 ni = niGrams % (mass + 1);
        LotSpec memory s = _spec(_newId(), NISO4, uint64(mass), _virgin([uint256(0), ni, 0, 0, 0, 0, 0, 0]));
        _mint(refiner, s);
        uint256 used = 1 + usedSeed % (mass - 1);
        uint256 part = ni * used / mass + (nudge < 0 ? 0 : uint256(uint8(nudge)) % 3);
        Composition memory p = _virgin([uint256(0), part, 0, 0, 0, 0, 0, 0]);
        vm.prank(refiner);
        try ledger.transform(
            _ones(_part(s.lotId, NISO4, s.composition, uint64(used), p)), _ones(_spec(_newId(), PCAM, uint64(used), p)), _noLoss()
        ) {
            assertTrue(_isProRata(p, s.composition, used, mass), "accepted, so pro rata");
        } catch (bytes memory err) {
            assertFalse(
                _isProRata(p, s.composition, used, mass) && part <= used && ni - part <= mass - used, "refused, so not pro rata"
            );
            assertTrue(
                bytes4(err) == IRinneLedger.RinneLedgerNotProRata.selector
                    || bytes4(err) == IRinneLedger.RinneLedgerInvalidUsage.selector,
                "named error"
            );
        }
    }

    // ------------------------------------------------------------ class 2: recycled-content laundering

    /// @dev The laundering path: the pack assembler builds a unit and sets it to Waste at once (no end user,
    /// no use), and the recycler recycles it.
    function _neverUsedWastePack() internal returns (LotSpec memory p) {
        p = _pack(packer);
        vm.prank(packer);
        ledger.setStatus(p.lotId, PassportStatus.Waste, keccak256("scrap"));
        _transfer(p.lotId, packer, recycler);
    }

    function _recovered(LotSpec memory p, bool postConsumer) internal returns (LotSpec[] memory outs, uint256[2] memory loss) {
        Composition memory c;
        c.total = [p.composition.total[0], p.composition.total[1]];
        if (postConsumer) c.post = c.total;
        else c.pre = c.total;
        outs = _ones(_spec(_newId(), BLACK_MASS, 400_000, c));
        loss = _noLoss();
    }

    function test_class2a_neverUsedUnitYieldsOnlyPreConsumerMaterial() public {
        LotSpec memory p = _neverUsedWastePack();
        (bool endUser, bool postConsumer) = ledger.unitUse(p.lotId);
        assertFalse(endUser, "never reached an end user");
        assertFalse(postConsumer, "not post-consumer");
        (LotSpec[] memory claim, uint256[2] memory loss) = _recovered(p, true);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerInvalidRecovered.selector, claim[0].lotId));
        vm.prank(recycler);
        ledger.recycle(_whole(p), claim, loss);
        // Honest: what is recovered from it is pre-consumer.
        (LotSpec[] memory honest,) = _recovered(p, false);
        vm.prank(recycler);
        ledger.recycle(_whole(p), honest, loss);
        assertEq(uint8(_lot(honest[0].lotId).state), uint8(LotState.Active), "recovered, pre-consumer");
    }

    function test_class2a_heldByAnEndUserButNeverUsedIsStillPreConsumer() public {
        LotSpec memory p = _pack(oem);
        vm.prank(oem);
        ledger.recordSoh(p.lotId, _soh(10_000, 0, 0)); // a delivery check: no energy throughput
        (bool endUser, bool postConsumer) = ledger.unitUse(p.lotId);
        assertTrue(endUser, "held by the OEM");
        assertFalse(postConsumer, "but never used");
        vm.prank(oem);
        ledger.setStatus(p.lotId, PassportStatus.Waste, bytes32(0));
        _transfer(p.lotId, oem, recycler);
        (LotSpec[] memory claim, uint256[2] memory loss) = _recovered(p, true);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerInvalidRecovered.selector, claim[0].lotId));
        vm.prank(recycler);
        ledger.recycle(_whole(p), claim, loss);
    }

    function test_class2a_usedUnitAtTheEndOfItsLifeYieldsPostConsumerMaterial() public {
        LotSpec memory p = _pack(oem);
        vm.warp(block.timestamp + 400 days);
        vm.prank(oem);
        ledger.recordSoh(p.lotId, _soh(6_500, 800, 55_000_000));
        assertTrue(_postConsumer(p.lotId), "reached an end user and was used");
        vm.prank(oem);
        ledger.setStatus(p.lotId, PassportStatus.Waste, bytes32(0));
        _transfer(p.lotId, oem, recycler);
        (LotSpec[] memory pre, uint256[2] memory loss) = _recovered(p, false);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerInvalidRecovered.selector, pre[0].lotId));
        vm.prank(recycler);
        ledger.recycle(_whole(p), pre, loss);
        (LotSpec[] memory post,) = _recovered(p, true);
        vm.prank(recycler);
        ledger.recycle(_whole(p), post, loss);
    }

    function test_class2a_repurposedUnitInheritsPostConsumerOnlyFromUsedParents() public {
        LotSpec memory used = _pack(oem);
        vm.warp(block.timestamp + 400 days);
        vm.prank(oem);
        ledger.recordSoh(used.lotId, _soh(7_000, 600, 40_000_000));
        _transfer(used.lotId, oem, secondLife);
        LotSpec memory fresh = _pack(secondLife);
        LotSpec memory ess1 = _spec(_newId(), ESS, 550_000, used.composition);
        vm.prank(secondLife);
        ledger.repurpose(_ones(_whole(used)), ess1, _unitSpec("ESS-1", 60_000), _noLoss());
        assertTrue(_postConsumer(ess1.lotId), "from a used pack");
        LotSpec memory ess2 = _spec(_newId(), ESS, 550_000, fresh.composition);
        vm.prank(secondLife);
        ledger.repurpose(_ones(_whole(fresh)), ess2, _unitSpec("ESS-2", 60_000), _noLoss());
        assertFalse(_postConsumer(ess2.lotId), "from a never-used pack, until the ESS itself is used");
    }

    /// @dev Class 2b: 1 t of NiSO4 with 10 % post-consumer nickel, transformed with a declared loss of
    /// virgin nickel so that the output claims all the recycled nickel on a smaller total.
    function test_class2b_lossCannotConcentrateTheRecycledShare() public {
        Composition memory c =
            _comp([uint256(0), 223_000, 0, 0, 0, 0, 0, 0], [uint256(0), 0, 0, 0, 0, 0, 0, 0], [uint256(0), 22_300, 0, 0, 0, 0, 0, 0]);
        LotSpec memory s = _spec(_newId(), NISO4, 1_000_000, c);
        _mint(refiner, s);
        uint256[2] memory loss = _one(NI, 200_000); // "lost" 90 % of the nickel, all of it virgin
        Composition memory out =
            _comp([uint256(0), 23_000, 0, 0, 0, 0, 0, 0], [uint256(0), 0, 0, 0, 0, 0, 0, 0], [uint256(0), 22_300, 0, 0, 0, 0, 0, 0]);
        LotSpec memory o = _spec(_newId(), PCAM, 100_000, out); // 97 % post-consumer nickel
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerRecycledShareExceeded.selector, o.lotId));
        vm.prank(refiner);
        ledger.transform(_ones(_whole(s)), _ones(o), loss);
        // Honest: the output keeps the 10 % share.
        LotSpec memory fair = _spec(_newId(), PCAM, 100_000, _blend(c, out.total));
        assertEq(_lane(fair.composition.post, NI), 2_300, "10 % of 23 kg");
        vm.prank(refiner);
        ledger.transform(_ones(_whole(s)), _ones(fair), loss);
    }

    function test_class2b_oneOutputOfSeveralCannotTakeAllTheCredit() public {
        Composition memory c =
            _comp([uint256(0), 200_000, 0, 0, 0, 0, 0, 0], [uint256(0), 0, 0, 0, 0, 0, 0, 0], [uint256(0), 20_000, 0, 0, 0, 0, 0, 0]);
        LotSpec memory s = _spec(_newId(), NISO4, 1_000_000, c);
        _mint(refiner, s);
        // 20 kg Ni entirely recycled in one output, 180 kg virgin in the other: the totals balance.
        Composition memory a =
            _comp([uint256(0), 20_000, 0, 0, 0, 0, 0, 0], [uint256(0), 0, 0, 0, 0, 0, 0, 0], [uint256(0), 20_000, 0, 0, 0, 0, 0, 0]);
        LotSpec memory green = _spec(_newId(), PCAM, 100_000, a);
        LotSpec memory grey = _spec(_newId(), PCAM, 900_000, _virgin([uint256(0), 180_000, 0, 0, 0, 0, 0, 0]));
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerRecycledShareExceeded.selector, green.lotId));
        vm.prank(refiner);
        ledger.transform(_ones(_whole(s)), _pair(green, grey), _noLoss());
        // Honest: both at 10 %.
        vm.prank(refiner);
        ledger.transform(
            _ones(_whole(s)),
            _pair(
                _spec(_newId(), PCAM, 100_000, _blend(c, a.total)), _spec(_newId(), PCAM, 900_000, _blend(c, grey.composition.total))
            ),
            _noLoss()
        );
    }

    /// @dev Any accepted transform keeps every output's recycled share of every element within the inputs'.
    function testFuzz_class2b_acceptedOutputsKeepTheInputsShare(uint32 keepSeed, uint32 claimSeed, uint32 recSeed) public {
        uint256 ni = 100_000 + keepSeed % 100_000;
        uint256 post = recSeed % (ni + 1);
        Composition memory c =
            _comp([uint256(0), ni, 0, 0, 0, 0, 0, 0], [uint256(0), 0, 0, 0, 0, 0, 0, 0], [uint256(0), post, 0, 0, 0, 0, 0, 0]);
        LotSpec memory s = _spec(_newId(), NISO4, 1_000_000, c);
        _mint(refiner, s);
        uint256 kept = 1 + keepSeed % ni;
        uint256 claim = claimSeed % (_min(kept, post) + 1);
        Composition memory out =
            _comp([uint256(0), kept, 0, 0, 0, 0, 0, 0], [uint256(0), 0, 0, 0, 0, 0, 0, 0], [uint256(0), claim, 0, 0, 0, 0, 0, 0]);
        vm.prank(refiner);
        try ledger.transform(_ones(_whole(s)), _ones(_spec(_newId(), PCAM, 500_000, out)), _one(NI, ni - kept)) {
            assertLe(claim * ni, post * kept, "accepted, so within the inputs' share");
        } catch (bytes memory err) {
            assertTrue(claim * ni > post * kept, "refused, so above the inputs' share");
            assertTrue(bytes4(err) == IRinneLedger.RinneLedgerRecycledShareExceeded.selector, "named error");
        }
    }

    function _postConsumer(bytes32 unitId) internal view returns (bool post) {
        (, post) = ledger.unitUse(unitId);
    }

    function _min(uint256 a, uint256 b) internal pure returns (uint256) {
        return a < b ? a : b;
    }

    // ------------------------------------------------------------- class 4: state-of-health poisoning

    function test_class4_unauthorisedDiagnosticianCannotRecord() public {
        LotSpec memory p = _pack(oem);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerNotAuthorised.selector, p.lotId, diagnostician));
        vm.prank(diagnostician);
        ledger.recordSoh(p.lotId, _soh(10_000, type(uint32).max, type(uint64).max));
        assertEq(ledger.unit(p.lotId).sohAt, 0, "nothing recorded");
        assertEq(ledger.unit(p.lotId).sohRoot, bytes32(0), "no root");
    }

    /// The values are behind the root: absurd values are no longer refused here but found by the authority's
    /// audit, which opens every record (tests/integration/test_soh_commitments.py). What a cheater can still
    /// not do on-chain: write a record that commits to nothing, or withdraw a claim of use.
    function test_class4_authorisedDiagnosticianCannotWriteAnEmptyRecordOrUnuseAUnit() public {
        LotSpec memory p = _pack(oem);
        vm.prank(oem);
        ledger.authoriseDiagnostician(p.lotId, diagnostician, true);
        bytes memory invalid = abi.encodeWithSelector(IRinneLedger.RinneLedgerInvalidSoh.selector, p.lotId);
        vm.expectRevert(invalid);
        vm.prank(diagnostician);
        ledger.recordSoh(p.lotId, SohRecord(bytes32(0), false));
        vm.prank(diagnostician);
        ledger.recordSoh(p.lotId, _soh(9_000, 300, 20_000_000));
        vm.expectRevert(invalid);
        vm.prank(diagnostician);
        ledger.recordSoh(p.lotId, _soh(9_000, 0, 0));
        assertTrue(_postConsumer(p.lotId), "the claim of use stands: the unit stays post-consumer");
    }

    function test_class4_aWrongRecordIsCorrectedAndHonestRecordsGoOn() public {
        LotSpec memory p = _pack(oem);
        vm.prank(oem);
        ledger.authoriseDiagnostician(p.lotId, diagnostician, true);
        vm.warp(block.timestamp + 100 days);
        // A plausible but wrong record (a misread log): 400 cycles, 60 MWh; the truth is 100 cycles, 7 MWh.
        vm.prank(diagnostician);
        ledger.recordSoh(p.lotId, _soh(9_000, 400, 60_000_000));
        uint40 at = ledger.unit(p.lotId).sohAt;
        vm.warp(block.timestamp + 30 days);
        // The correction keeps the record's time and shows in the history (SohCorrected).
        SohRecord memory corrected = _soh(9_000, 100, 7_000_000);
        uint64 seq = _sequence();
        vm.expectEmit(address(ledger));
        emit IRinneLedger.SohCorrected(p.lotId, oem, corrected.root, true);
        vm.prank(oem);
        ledger.correctSoh(p.lotId, corrected);
        assertEq(_sequence(), seq + 1, "the correction is a ledger event");
        UnitInfo memory u = ledger.unit(p.lotId);
        assertEq(u.sohRoot, corrected.root, "corrected root");
        assertEq(u.sohAt, at, "time of the corrected record kept");
        // Honest records go through again.
        vm.prank(oem);
        ledger.recordSoh(p.lotId, _soh(8_900, 130, 9_000_000));
        SohRecord memory last = _soh(8_900, 131, 9_100_000);
        vm.prank(diagnostician);
        ledger.recordSoh(p.lotId, last);
        assertEq(ledger.unit(p.lotId).sohRoot, last.root, "passport not locked");
        assertTrue(ledger.unit(p.lotId).sohAt > at, "a new record has its own time");
    }

    function test_class4_noCorrectionWithoutARecord() public {
        LotSpec memory p = _pack(oem);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerInvalidSoh.selector, p.lotId));
        vm.prank(oem);
        ledger.correctSoh(p.lotId, _soh(9_000, 0, 0));
    }

    function test_class4_authorisationEndsWithCustodyAndCanBeWithdrawn() public {
        LotSpec memory p = _pack(oem);
        vm.warp(block.timestamp + 10 days);
        vm.prank(outsider); // not even registered
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryUnauthorized.selector, outsider, uint16(0)));
        ledger.authoriseDiagnostician(p.lotId, diagnostician, true);
        vm.prank(secondLife);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerNotHolder.selector, p.lotId, secondLife));
        ledger.authoriseDiagnostician(p.lotId, diagnostician, true);
        vm.prank(oem);
        ledger.authoriseDiagnostician(p.lotId, diagnostician, true);
        vm.prank(diagnostician);
        ledger.recordSoh(p.lotId, _soh(9_900, 1, 100_000));
        // The unit changes hands, and comes back: the old authorisation is dead in both custodies.
        _transfer(p.lotId, oem, secondLife);
        bytes memory denied = abi.encodeWithSelector(IRinneLedger.RinneLedgerNotAuthorised.selector, p.lotId, diagnostician);
        vm.expectRevert(denied);
        vm.prank(diagnostician);
        ledger.recordSoh(p.lotId, _soh(9_900, 2, 200_000));
        _transfer(p.lotId, secondLife, oem);
        vm.expectRevert(denied);
        vm.prank(diagnostician);
        ledger.recordSoh(p.lotId, _soh(9_900, 2, 200_000));
        // Authorised again, then withdrawn.
        vm.prank(oem);
        ledger.authoriseDiagnostician(p.lotId, diagnostician, true);
        vm.prank(diagnostician);
        ledger.recordSoh(p.lotId, _soh(9_900, 2, 200_000));
        vm.prank(oem);
        ledger.authoriseDiagnostician(p.lotId, diagnostician, false);
        vm.expectRevert(denied);
        vm.prank(diagnostician);
        ledger.recordSoh(p.lotId, _soh(9_900, 3, 300_000));
    }

    // ------------------------------------------------------------------------ class 9: freeze dodged

    function test_class9_freezeBatchFreezesTheChildrenAndSkipsTheConsumedParent() public {
        LotSpec memory s = _mintNickel(refiner);
        // The holder splits the lot just before the auditor's freeze lands.
        Composition memory a = _take(s.composition, 400_000, 1_000_000);
        LotSpec memory c1 = _spec(_newId(), NISO4, 400_000, a);
        LotSpec memory c2 = _spec(_newId(), NISO4, 600_000, _sub(s.composition, a));
        vm.prank(refiner);
        ledger.split(_whole(s), _pair(c1, c2));
        bytes32[] memory lineage = new bytes32[](3);
        (lineage[0], lineage[1], lineage[2]) = (s.lotId, c1.lotId, c2.lotId);
        vm.prank(auditor);
        uint256 frozen = ledger.freezeBatch(lineage, keccak256("assay dispute"));
        assertEq(frozen, 2, "both children frozen, the consumed parent skipped");
        assertEq(uint8(_lot(c1.lotId).state), uint8(LotState.Frozen), "child 1");
        assertEq(uint8(_lot(c2.lotId).state), uint8(LotState.Frozen), "child 2");
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerLotNotActive.selector, c1.lotId, LotState.Frozen));
        vm.prank(refiner);
        ledger.split(_whole(c1), _ones(_spec(_newId(), NISO4, 400_000, a)));
        // Only an auditor; an unknown id reverts (a typo must not pass silently).
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryUnauthorized.selector, refiner, Roles.AUDITOR));
        vm.prank(refiner);
        ledger.freezeBatch(lineage, bytes32(0));
        lineage[0] = keccak256("no such lot");
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerLotNotActive.selector, lineage[0], LotState.None));
        vm.prank(auditor);
        ledger.freezeBatch(lineage, bytes32(0));
    }
}
