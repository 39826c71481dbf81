// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {RinneTest} from "./utils/RinneTest.sol";
import {IRinneLedger} from "../interfaces/IRinneLedger.sol";
import {IParticipantRegistry} from "../interfaces/IParticipantRegistry.sol";
import {
    Composition,
    LotSpec,
    LotInput,
    LotInfo,
    UnitInfo,
    SohRecord,
    LotState,
    LotKind,
    PassportStatus,
    OpKind,
    Roles
} from "../types/LedgerTypes.sol";

/// @notice Battery units and passports: build, state of health, status edges, repurpose, recycle.
contract RinneLedgerUnitsTest is RinneTest {
    function setUp() public {
        _deploy();
    }

    function _status(bytes32 id) internal view returns (PassportStatus) {
        return ledger.unit(id).status;
    }

    // ------------------------------------------------------------------------------ buildUnit

    function test_buildUnit_createsOriginalPassport() public {
        LotSpec memory c1 = _cellLot(packer);
        LotSpec memory c2 = _cellLot(packer);
        Composition memory part = _scale(c2.composition, 1, 5);
        LotSpec memory p = _spec(_newId(), PACK, 700_000, _addC(c1.composition, part));
        bytes32[] memory ins = new bytes32[](2);
        ins[0] = c1.lotId;
        ins[1] = c2.lotId;
        uint64[] memory used = new uint64[](2);
        used[1] = 100_000;
        bytes32[] memory outs = new bytes32[](1);
        outs[0] = p.lotId;
        vm.expectEmit(address(ledger));
        emit IRinneLedger.UnitCreated(p.lotId, keccak256("VIN-1"), 75_000, PassportStatus.Original, new bytes32[](0));
        vm.expectEmit(address(ledger));
        emit IRinneLedger.LotsTransformed(OpKind.Build, packer, ins, used, outs, _noLoss());
        vm.prank(packer);
        ledger.buildUnit(
            _pair(_whole(c1), _part(c2.lotId, CELL, c2.composition, 100_000, part)), p, _unitSpec("VIN-1", 75_000), _noLoss()
        );

        LotInfo memory l = _lot(p.lotId);
        assertEq(uint8(l.kind), uint8(LotKind.Unit), "unit kind");
        assertEq(l.holder, packer, "holder");
        UnitInfo memory u = ledger.unit(p.lotId);
        assertEq(uint8(u.status), uint8(PassportStatus.Original), "Original");
        assertEq(u.ratedWh, 75_000, "rated");
        assertEq(u.sohAt, 0, "no SOH yet");
        assertEq(uint8(_lot(c1.lotId).state), uint8(LotState.Consumed), "whole cell lot consumed");
        assertEq(_lot(c2.lotId).mass, 400_000, "partial cell lot remains");
    }

    function test_buildUnit_reverts() public {
        LotSpec memory c = _cellLot(packer);
        LotSpec memory p = _spec(_newId(), PACK, 550_000, c.composition);
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryUnauthorized.selector, oem, Roles.BUILDERS));
        vm.prank(oem);
        ledger.buildUnit(_ones(_whole(c)), p, _unitSpec("X", 1), _noLoss());

        vm.startPrank(packer);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerInvalidCount.selector, 0, 1));
        ledger.buildUnit(new LotInput[](0), p, _unitSpec("X", 1), _noLoss());

        LotSpec memory light = _spec(p.lotId, PACK, 550_000, _scale(c.composition, 99, 100));
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerConservationViolated.selector));
        ledger.buildUnit(_ones(_whole(c)), light, _unitSpec("X", 1), _noLoss());

        Composition memory greenwashed = _copy(c.composition);
        greenwashed.post = _one(CO, 1_000);
        LotSpec memory g = _spec(p.lotId, PACK, 550_000, greenwashed);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerRecycledCreditExceeded.selector));
        ledger.buildUnit(_ones(_whole(c)), g, _unitSpec("X", 1), _noLoss());
        vm.stopPrank();

        LotSpec memory pack = _pack(packer);
        LotSpec memory big = _spec(_newId(), PACK, 550_000, pack.composition);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerWrongKind.selector, pack.lotId));
        vm.prank(packer);
        ledger.buildUnit(_ones(_whole(pack)), big, _unitSpec("X", 1), _noLoss());
    }

    // ------------------------------------------------------------------------------ recordSoh

    function test_recordSoh_byHolderAndDiagnostician() public {
        LotSpec memory p = _pack(oem);
        vm.warp(1_900_000_000);
        SohRecord memory r = _soh(9_500, 300, 20_000_000);
        vm.expectEmit(address(ledger));
        emit IRinneLedger.SohRecorded(p.lotId, oem, r.root, true);
        vm.prank(oem);
        ledger.recordSoh(p.lotId, r);
        UnitInfo memory u = ledger.unit(p.lotId);
        assertEq(u.sohRoot, r.root, "root");
        assertTrue(u.used, "used");
        assertEq(u.ratedWh, 75_000, "rating kept");
        assertEq(u.sohAt, 1_900_000_000, "sohAt");

        // A diagnostician the holder authorised may record without holding it.
        vm.prank(oem);
        ledger.authoriseDiagnostician(p.lotId, diagnostician, true);
        vm.warp(1_900_100_000);
        SohRecord memory next = _soh(8_800, 300, 20_000_000);
        vm.prank(diagnostician);
        ledger.recordSoh(p.lotId, next);
        u = ledger.unit(p.lotId);
        assertEq(u.sohRoot, next.root, "latest root");
        assertEq(u.sohAt, 1_900_100_000, "latest time");
    }

    /// The values are off-chain: what the contract still refuses is a record that is no commitment, a
    /// withdrawn `used` claim (it would turn a used unit's recycled content back to pre-consumer) and a
    /// correction of nothing. Bounds on the values are the audit's (`ledger/auditor/soh.py`).
    function test_recordSoh_rejectsNoRootAndWithdrawnUse() public {
        LotSpec memory p = _pack(oem);
        bytes memory invalid = abi.encodeWithSelector(IRinneLedger.RinneLedgerInvalidSoh.selector, p.lotId);
        vm.startPrank(oem);
        vm.expectRevert(invalid);
        ledger.recordSoh(p.lotId, SohRecord(bytes32(0), true));
        vm.expectRevert(invalid);
        ledger.correctSoh(p.lotId, _soh(9_000, 0, 0)); // nothing to correct yet
        ledger.recordSoh(p.lotId, _soh(10_000, 0, 0)); // a delivery check: unused
        assertFalse(ledger.unit(p.lotId).used, "not used yet");
        ledger.recordSoh(p.lotId, _soh(9_000, 500, 40_000_000));
        vm.expectRevert(invalid);
        ledger.recordSoh(p.lotId, _soh(9_000, 0, 0)); // use withdrawn
        vm.expectRevert(invalid);
        ledger.correctSoh(p.lotId, _soh(9_000, 0, 0)); // nor by a correction
        // Values a contract would once have refused (cycles back, SOCE above 100 %) go through: the audit finds them.
        ledger.recordSoh(p.lotId, _soh(12_000, 499, 39_999_999));
        vm.stopPrank();
        assertTrue(ledger.unit(p.lotId).used, "still used");
    }

    function test_recordSoh_revertsForOthers() public {
        LotSpec memory p = _pack(oem);
        vm.expectRevert(
            abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryUnauthorized.selector, recycler, Roles.DIAGNOSTICIAN)
        );
        vm.prank(recycler);
        ledger.recordSoh(p.lotId, _soh(9_000, 1, 1));
        vm.prank(admin);
        ledger.suspend(oem, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryUnauthorized.selector, oem, uint16(0)));
        vm.prank(oem);
        ledger.recordSoh(p.lotId, _soh(9_000, 1, 1));
    }

    function test_recordSoh_revertsForMaterialAndInactive() public {
        LotSpec memory s = _mintNickel(miner);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerWrongKind.selector, s.lotId));
        vm.prank(diagnostician);
        ledger.recordSoh(s.lotId, _soh(9_000, 1, 1));
        bytes32 none = keccak256("none");
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerLotNotActive.selector, none, LotState.None));
        vm.prank(diagnostician);
        ledger.recordSoh(none, _soh(9_000, 1, 1));
    }

    // ------------------------------------------------------------------------------ setStatus

    function test_setStatus_followsOnlyAllowedEdges() public {
        // Every status a unit can hold while active, reached by allowed moves, then every target tried.
        PassportStatus[5] memory froms = [
            PassportStatus.Original,
            PassportStatus.Reused,
            PassportStatus.Remanufactured,
            PassportStatus.Waste,
            PassportStatus.Repurposed
        ];
        for (uint256 f; f < froms.length; ++f) {
            for (uint8 t; t <= uint8(PassportStatus.Recycled); ++t) {
                bytes32 id = _unitWithStatus(froms[f]);
                PassportStatus to = PassportStatus(t);
                bool allowed = _allowedBySetStatus(froms[f], to);
                if (allowed) {
                    vm.expectEmit(address(ledger));
                    emit IRinneLedger.StatusChanged(id, froms[f], to, keccak256("decision"));
                } else {
                    vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerInvalidTransition.selector, id, froms[f], to));
                }
                vm.prank(secondLife);
                ledger.setStatus(id, to, keccak256("decision"));
                assertEq(uint8(_status(id)), uint8(allowed ? to : froms[f]), "status after attempt");
            }
        }
    }

    /// @dev The specification's edge list, written out independently of the contract's bit table.
    function _allowedBySetStatus(PassportStatus from, PassportStatus to) internal pure returns (bool) {
        if (from == PassportStatus.Original) {
            return to == PassportStatus.Reused || to == PassportStatus.Remanufactured || to == PassportStatus.Waste;
        }
        if (from == PassportStatus.Reused) return to == PassportStatus.Remanufactured || to == PassportStatus.Waste;
        if (from == PassportStatus.Remanufactured) return to == PassportStatus.Reused || to == PassportStatus.Waste;
        if (from == PassportStatus.Repurposed) return to == PassportStatus.Waste;
        return false; // Waste -> Repurposed | Recycled happen only through repurpose and recycle
    }

    /// @dev A unit held by `secondLife` with the given status.
    function _unitWithStatus(PassportStatus s) internal returns (bytes32 id) {
        if (s == PassportStatus.Repurposed) {
            LotSpec memory parent = _pack(secondLife);
            LotSpec memory ess = _spec(_newId(), ESS, parent.mass, parent.composition);
            vm.prank(secondLife);
            ledger.repurpose(_ones(_whole(parent)), ess, _unitSpec("ESS", 70_000), _noLoss());
            return ess.lotId;
        }
        id = _pack(secondLife).lotId;
        if (s != PassportStatus.Original) {
            vm.prank(secondLife);
            ledger.setStatus(id, s, bytes32(0));
        }
        assertEq(uint8(_status(id)), uint8(s), "set-up status");
    }

    function test_setStatus_reverts() public {
        LotSpec memory p = _pack(oem);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerNotHolder.selector, p.lotId, secondLife));
        vm.prank(secondLife);
        ledger.setStatus(p.lotId, PassportStatus.Reused, bytes32(0));
        LotSpec memory s = _mintNickel(oem);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerWrongKind.selector, s.lotId));
        vm.prank(oem);
        ledger.setStatus(s.lotId, PassportStatus.Reused, bytes32(0));
        vm.prank(auditor);
        ledger.freeze(p.lotId, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerLotNotActive.selector, p.lotId, LotState.Frozen));
        vm.prank(oem);
        ledger.setStatus(p.lotId, PassportStatus.Reused, bytes32(0));
    }

    // ------------------------------------------------------------------------------ repurpose

    function test_repurpose_linksEveryParent() public {
        LotSpec memory lf003 = _pack(secondLife);
        LotSpec memory lf004 = _pack(secondLife);
        vm.prank(secondLife);
        ledger.setStatus(lf004.lotId, PassportStatus.Waste, keccak256("poor SOH")); // Waste -> Repurposed is allowed too
        LotSpec memory ess = _spec(_newId(), ESS, 1_100_000, _addC(lf003.composition, lf004.composition));
        bytes32[] memory parents = new bytes32[](2);
        parents[0] = lf003.lotId;
        parents[1] = lf004.lotId;
        bytes32[] memory outs = new bytes32[](1);
        outs[0] = ess.lotId;

        vm.expectEmit(address(ledger));
        emit IRinneLedger.StatusChanged(lf003.lotId, PassportStatus.Original, PassportStatus.Repurposed, ess.lotId);
        vm.expectEmit(address(ledger));
        emit IRinneLedger.StatusChanged(lf004.lotId, PassportStatus.Waste, PassportStatus.Repurposed, ess.lotId);
        vm.expectEmit(address(ledger));
        emit IRinneLedger.UnitCreated(ess.lotId, keccak256("ESS001"), 110_000, PassportStatus.Repurposed, parents);
        vm.expectEmit(address(ledger));
        emit IRinneLedger.LotsTransformed(OpKind.Repurpose, secondLife, parents, new uint64[](2), outs, _noLoss());
        vm.prank(secondLife);
        ledger.repurpose(_pair(_whole(lf003), _whole(lf004)), ess, _unitSpec("ESS001", 110_000), _noLoss());

        assertEq(uint8(_status(ess.lotId)), uint8(PassportStatus.Repurposed), "new passport Repurposed");
        assertEq(uint8(_status(lf003.lotId)), uint8(PassportStatus.Repurposed), "parent 1 Repurposed");
        assertEq(uint8(_status(lf004.lotId)), uint8(PassportStatus.Repurposed), "parent 2 Repurposed");
        assertEq(uint8(_lot(lf003.lotId).state), uint8(LotState.Consumed), "parent consumed");
        assertEq(uint8(_lot(ess.lotId).kind), uint8(LotKind.Unit), "ESS is a unit");
    }

    function test_repurpose_partialParentKeepsItsStatus() public {
        LotSpec memory p = _pack(secondLife);
        Composition memory modules = _scale(p.composition, 1, 2);
        LotSpec memory ess = _spec(_newId(), ESS, 275_000, modules);
        vm.prank(secondLife);
        ledger.repurpose(_ones(_part(p.lotId, PACK, p.composition, 275_000, modules)), ess, _unitSpec("ESS2", 30_000), _noLoss());
        assertEq(uint8(_status(p.lotId)), uint8(PassportStatus.Original), "partly used parent keeps its status");
        assertEq(uint8(_lot(p.lotId).state), uint8(LotState.Active), "and stays active");
        assertEq(uint8(_status(ess.lotId)), uint8(PassportStatus.Repurposed), "child Repurposed");
    }

    function test_repurpose_reverts() public {
        LotSpec memory p = _pack(secondLife);
        LotSpec memory ess = _spec(_newId(), ESS, p.mass, p.composition);
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryUnauthorized.selector, oem, Roles.SECOND_LIFE));
        vm.prank(oem);
        ledger.repurpose(_ones(_whole(p)), ess, _unitSpec("E", 1), _noLoss());

        vm.startPrank(secondLife);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerDuplicateInput.selector, p.lotId));
        ledger.repurpose(_pair(_whole(p), _whole(p)), ess, _unitSpec("E", 1), _noLoss());
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerInvalidCount.selector, 0, 1));
        ledger.repurpose(new LotInput[](0), ess, _unitSpec("E", 1), _noLoss());
        LotSpec memory fat = _spec(_newId(), ESS, p.mass, _scale(p.composition, 101, 100));
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerConservationViolated.selector));
        ledger.repurpose(_ones(_whole(p)), fat, _unitSpec("E", 1), _noLoss());
        vm.stopPrank();

        LotSpec memory cells = _cellLot(secondLife);
        LotSpec memory e2 = _spec(_newId(), ESS, cells.mass, cells.composition);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerWrongKind.selector, cells.lotId));
        vm.prank(secondLife);
        ledger.repurpose(_ones(_whole(cells)), e2, _unitSpec("E", 1), _noLoss());

        // A Repurposed unit cannot be repurposed again (Repurposed -> Waste only).
        bytes32 essId = _unitWithStatus(PassportStatus.Repurposed);
        LotSpec memory parentPack = _packComposition();
        LotSpec memory again = _spec(_newId(), ESS, parentPack.mass, parentPack.composition);
        vm.expectRevert(
            abi.encodeWithSelector(
                IRinneLedger.RinneLedgerInvalidTransition.selector, essId, PassportStatus.Repurposed, PassportStatus.Repurposed
            )
        );
        vm.prank(secondLife);
        ledger.repurpose(_ones(_whole(essId, ESS, parentPack.composition)), again, _unitSpec("E", 1), _noLoss());
    }

    /// @dev Mass and composition of every pack `_pack` builds (the ESS of `_unitWithStatus` copies them).
    function _packComposition() internal view returns (LotSpec memory p) {
        p.mass = 550_000;
        p.composition = _virgin(_cellEl);
    }

    // -------------------------------------------------------------------------------- recycle

    /// @dev A pack at the end of a used life, held by the recycler: it reached an end user (the OEM) and its
    /// SOH record shows throughput, so what is recovered from it is post-consumer.
    function _wastePack() internal returns (LotSpec memory p) {
        p = _pack(oem);
        vm.warp(block.timestamp + 365 days);
        vm.prank(oem);
        ledger.recordSoh(p.lotId, _soh(6_500, 300, 20_000_000));
        vm.prank(oem);
        ledger.setStatus(p.lotId, PassportStatus.Waste, keccak256("end of life"));
        _transfer(p.lotId, oem, recycler);
    }

    function _recoveredFrom(LotSpec memory p) internal returns (LotSpec[] memory outs, uint256[2] memory loss) {
        uint256[8] memory t = _unpack(p.composition.total);
        outs = new LotSpec[](2);
        outs[0] = _spec(_newId(), BLACK_MASS, 400_000, _recovered([t[LI], t[NI], t[CO], t[MN], t[C], 0, 0, 0]));
        outs[1] = _spec(_newId(), "Cu-Al-SCRAP", 60_000, _recovered([uint256(0), 0, 0, 0, 0, 0, t[CU] - 500, t[AL] - 700]));
        loss = _pack([uint256(0), 0, 0, 0, 0, 0, 500, 700]);
    }

    function test_recycle_mintsPostConsumerLots() public {
        LotSpec memory p = _wastePack();
        (LotSpec[] memory outs, uint256[2] memory loss) = _recoveredFrom(p);
        bytes32[] memory ins = new bytes32[](1);
        ins[0] = p.lotId;
        bytes32[] memory outIds = new bytes32[](2);
        outIds[0] = outs[0].lotId;
        outIds[1] = outs[1].lotId;
        vm.expectEmit(address(ledger));
        emit IRinneLedger.StatusChanged(p.lotId, PassportStatus.Waste, PassportStatus.Recycled, bytes32(0));
        vm.expectEmit(address(ledger));
        emit IRinneLedger.LotsTransformed(OpKind.Recycle, recycler, ins, new uint64[](1), outIds, loss);
        vm.prank(recycler);
        ledger.recycle(_whole(p), outs, loss);

        assertEq(uint8(_status(p.lotId)), uint8(PassportStatus.Recycled), "Recycled");
        assertEq(uint8(_lot(p.lotId).state), uint8(LotState.Consumed), "unit consumed");
        for (uint256 i; i < 2; ++i) {
            LotInfo memory l = _lot(outs[i].lotId);
            assertEq(uint8(l.kind), uint8(LotKind.Material), "recovered lots are material");
            assertEq(l.holder, recycler, "held by the recycler");
            assertEq(outs[i].composition.post[0], outs[i].composition.total[0], "all post-consumer (word 0)");
            assertEq(outs[i].composition.post[1], outs[i].composition.total[1], "all post-consumer (word 1)");
            assertEq(l.commitment, ledger.commitmentOf(outs[i].material, outs[i].composition), "commitment");
        }
    }

    function test_recycle_rejectsNonPostConsumerOutput() public {
        LotSpec memory p = _wastePack();
        (LotSpec[] memory outs, uint256[2] memory loss) = _recoveredFrom(p);
        Composition memory c = _copy(outs[0].composition);
        c.pre = _one(NI, 1); // pre-consumer claim
        c.post = [c.total[0] - (1 << 64), c.total[1]];
        outs[0].composition = c;
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerInvalidRecovered.selector, outs[0].lotId));
        vm.prank(recycler);
        ledger.recycle(_whole(p), outs, loss);

        (outs, loss) = _recoveredFrom(p);
        outs[1].composition.post = _one(CU, 1); // recycled part smaller than total
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerInvalidRecovered.selector, outs[1].lotId));
        vm.prank(recycler);
        ledger.recycle(_whole(p), outs, loss);
    }

    function test_recycle_revertsUnlessWaste() public {
        LotSpec memory p = _pack(recycler);
        (LotSpec[] memory outs, uint256[2] memory loss) = _recoveredFrom(p);
        vm.expectRevert(
            abi.encodeWithSelector(
                IRinneLedger.RinneLedgerInvalidTransition.selector, p.lotId, PassportStatus.Original, PassportStatus.Recycled
            )
        );
        vm.prank(recycler);
        ledger.recycle(_whole(p), outs, loss);
    }

    function test_recycle_reverts() public {
        LotSpec memory p = _wastePack();
        (LotSpec[] memory outs, uint256[2] memory loss) = _recoveredFrom(p);
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryUnauthorized.selector, oem, Roles.RECYCLER));
        vm.prank(oem);
        ledger.recycle(_whole(p), outs, loss);

        vm.startPrank(recycler);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerInvalidCount.selector, 1, 0));
        ledger.recycle(_whole(p), new LotSpec[](0), loss);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerInvalidCount.selector, 1, 65));
        ledger.recycle(_whole(p), new LotSpec[](65), loss);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerInvalidUsage.selector, p.lotId));
        ledger.recycle(_part(p.lotId, PACK, p.composition, 1_000, _scale(p.composition, 1, 1000)), outs, loss);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerConservationViolated.selector));
        ledger.recycle(_whole(p), outs, _noLoss());
        vm.stopPrank();

        // A second recycler cannot recycle a unit it does not hold.
        vm.prank(admin);
        ledger.grantRoles(secondLife, Roles.RECYCLER);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerNotHolder.selector, p.lotId, secondLife));
        vm.prank(secondLife);
        ledger.recycle(_whole(p), outs, loss);

        // A material lot has no passport, so it is not Waste.
        LotSpec memory s = _mintNickel(recycler);
        vm.expectRevert(
            abi.encodeWithSelector(
                IRinneLedger.RinneLedgerInvalidTransition.selector, s.lotId, PassportStatus.None, PassportStatus.Recycled
            )
        );
        vm.prank(recycler);
        ledger.recycle(_whole(s), outs, loss);
    }

    /// @dev The whole loop: pack -> use -> Waste -> recycle -> recovered nickel back into a precursor.
    function test_loop_recoveredContentFlowsIntoTheNextGeneration() public {
        LotSpec memory p = _pack(oem);
        vm.warp(block.timestamp + 3 * 365 days);
        vm.prank(oem);
        ledger.recordSoh(p.lotId, _soh(6_500, 2_000, 150_000_000));
        vm.prank(oem);
        ledger.setStatus(p.lotId, PassportStatus.Waste, keccak256("poor"));
        _transfer(p.lotId, oem, recycler);
        (LotSpec[] memory outs, uint256[2] memory loss) = _recoveredFrom(p);
        vm.prank(recycler);
        ledger.recycle(_whole(p), outs, loss);

        // Black mass goes to the cathode maker, who blends it with virgin nickel; the credit carries over.
        _transfer(outs[0].lotId, recycler, cathodeMaker);
        LotSpec memory virgin = _mintNickel(cathodeMaker);
        Composition memory blended = _addC(outs[0].composition, virgin.composition);
        LotSpec memory pcam = _spec(_newId(), PCAM, 1_300_000, blended);
        vm.prank(cathodeMaker);
        ledger.transform(_pair(_whole(outs[0]), _whole(virgin)), _ones(pcam), _noLoss());
        assertEq(_lane(blended.post, NI), _cellEl[NI], "post-consumer nickel = recovered nickel");
        assertEq(_lane(blended.total, NI), _cellEl[NI] + 223_000, "total nickel");
    }
}
