// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {RinneTest} from "./utils/RinneTest.sol";
import {IRinneLedger} from "../interfaces/IRinneLedger.sol";
import {IParticipantRegistry} from "../interfaces/IParticipantRegistry.sol";
import {Composition, LotSpec, LotInput, LotInfo, LotState, OpKind, Roles} from "../types/LedgerTypes.sol";

/// @notice Split, merge and transform: conservation per element, recycled credit, counts, duplicates,
/// commitments and partial use.
contract RinneLedgerTransformsTest is RinneTest {
    // Cathode precursor with recycled content: 100 kg Ni of which 10 kg pre- and 20 kg post-consumer.
    uint256[8] internal _pTotal = [uint256(0), 100_000, 12_500, 12_500, 0, 0, 0, 0];
    uint256[8] internal _pPre = [uint256(0), 10_000, 0, 0, 0, 0, 0, 0];
    uint256[8] internal _pPost = [uint256(0), 20_000, 2_000, 0, 0, 0, 0, 0];

    function setUp() public {
        _deploy();
    }

    function _precursor() internal view returns (Composition memory) {
        return _comp(_pTotal, _pPre, _pPost);
    }

    /// @dev A precursor lot held by the cathode maker (minted by a refiner, who may create lots).
    function _mintPrecursor() internal returns (LotSpec memory s) {
        s = _spec(_newId(), PCAM, 250_000, _precursor());
        _mint(refiner, s);
        _transfer(s.lotId, refiner, cathodeMaker);
    }

    // ---------------------------------------------------------------------------------- split

    function test_split_wholeLotIntoTwo() public {
        LotSpec memory s = _mintPrecursor();
        Composition memory a = _scale(s.composition, 2, 5); // pro rata: 100 of 250 kg
        LotSpec memory o1 = _spec(_newId(), PCAM, 100_000, a);
        LotSpec memory o2 = _spec(_newId(), PCAM, 150_000, _sub(s.composition, a));
        bytes32[] memory ins = new bytes32[](1);
        ins[0] = s.lotId;
        bytes32[] memory outs = new bytes32[](2);
        outs[0] = o1.lotId;
        outs[1] = o2.lotId;
        uint64 seq = _sequence();

        vm.expectEmit(address(ledger));
        emit IRinneLedger.LotCreated(o1.lotId, cathodeMaker, PCAM, 100_000, o1.origin, o1.evidence, o1.composition);
        vm.expectEmit(address(ledger));
        emit IRinneLedger.LotCreated(o2.lotId, cathodeMaker, PCAM, 150_000, o2.origin, o2.evidence, o2.composition);
        vm.expectEmit(address(ledger));
        emit IRinneLedger.LotsTransformed(OpKind.Split, cathodeMaker, ins, new uint64[](1), outs, _noLoss());
        vm.prank(cathodeMaker);
        ledger.split(_whole(s), _pair(o1, o2));

        LotInfo memory l = _lot(s.lotId);
        assertEq(uint8(l.state), uint8(LotState.Consumed), "input consumed");
        assertEq(l.epoch, 2, "epoch: one transfer and the consumption");
        assertEq(_lot(o1.lotId).holder, cathodeMaker, "output held by the operator");
        assertEq(_lot(o2.lotId).commitment, ledger.commitmentOf(PCAM, o2.composition), "output commitment");
        assertEq(_sequence(), seq + 3, "two creations and one transform event");
    }

    function test_split_partOfALot() public {
        vm.roll(100);
        LotSpec memory s = _mintPrecursor();
        vm.roll(200);
        Composition memory part = _scale(s.composition, 2, 5);
        Composition memory rest = _sub(s.composition, part);
        LotSpec memory o1 = _spec(_newId(), PCAM, 40_000, _scale(part, 2, 5));
        LotSpec memory o2 = _spec(_newId(), PCAM, 60_000, _sub(part, o1.composition));
        uint64[] memory used = new uint64[](1);
        used[0] = 100_000;
        bytes32[] memory ins = new bytes32[](1);
        ins[0] = s.lotId;
        bytes32[] memory outs = new bytes32[](2);
        outs[0] = o1.lotId;
        outs[1] = o2.lotId;
        uint64 seq = _sequence();

        vm.expectEmit(address(ledger));
        emit IRinneLedger.LotUpdated(s.lotId, PCAM, 150_000, rest);
        vm.expectEmit(address(ledger));
        emit IRinneLedger.LotCreated(o1.lotId, cathodeMaker, PCAM, 40_000, o1.origin, o1.evidence, o1.composition);
        vm.expectEmit(address(ledger));
        emit IRinneLedger.LotCreated(o2.lotId, cathodeMaker, PCAM, 60_000, o2.origin, o2.evidence, o2.composition);
        vm.expectEmit(address(ledger));
        emit IRinneLedger.LotsTransformed(OpKind.Split, cathodeMaker, ins, used, outs, _noLoss());
        vm.prank(cathodeMaker);
        ledger.split(_part(s.lotId, PCAM, s.composition, 100_000, part), _pair(o1, o2));

        LotInfo memory l = _lot(s.lotId);
        assertEq(uint8(l.state), uint8(LotState.Active), "remainder stays active");
        assertEq(l.mass, 150_000, "remaining mass");
        assertEq(l.commitment, ledger.commitmentOf(PCAM, rest), "commitment to the remainder");
        assertEq(l.updatedBlock, 200, "updatedBlock moves to the update");
        assertEq(l.epoch, 2, "epoch: one transfer and one update");
        assertEq(_sequence(), seq + 4, "update, two creations, transform");

        // The old composition no longer opens the lot; the remainder does.
        LotSpec memory o3 = _spec(_newId(), PCAM, 150_000, rest);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerCommitmentMismatch.selector, s.lotId));
        vm.prank(cathodeMaker);
        ledger.split(_whole(s), _ones(o3));
        vm.prank(cathodeMaker);
        ledger.split(_whole(s.lotId, PCAM, rest), _ones(o3));
    }

    function test_split_revertsOnCounts() public {
        LotSpec memory s = _mintPrecursor();
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerInvalidCount.selector, 1, 0));
        vm.prank(cathodeMaker);
        ledger.split(_whole(s), new LotSpec[](0));
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerInvalidCount.selector, 1, 65));
        vm.prank(cathodeMaker);
        ledger.split(_whole(s), new LotSpec[](65));
    }

    function test_split_into64IsAllowed() public {
        LotSpec memory s = _spec(_newId(), NISO4, 6_400_000, _virgin([uint256(0), 1_280_000, 0, 0, 0, 0, 0, 0]));
        _mint(miner, s);
        LotSpec[] memory outs = new LotSpec[](64);
        for (uint256 i; i < 64; ++i) {
            outs[i] = _spec(_newId(), NISO4, 100_000, _virgin([uint256(0), 20_000, 0, 0, 0, 0, 0, 0]));
        }
        vm.prank(miner);
        ledger.split(_whole(s), outs);
        assertEq(_lot(outs[63].lotId).mass, 100_000, "last output");
    }

    function test_split_revertsOnMaterialChange() public {
        LotSpec memory s = _mintPrecursor();
        LotSpec memory o = _spec(_newId(), CAM, s.mass, s.composition);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerMaterialMismatch.selector, o.lotId));
        vm.prank(cathodeMaker);
        ledger.split(_whole(s), _ones(o));
    }

    function test_split_revertsOnMassMismatch() public {
        LotSpec memory s = _mintPrecursor();
        LotSpec memory o = _spec(_newId(), PCAM, s.mass + 1, s.composition);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerMassMismatch.selector));
        vm.prank(cathodeMaker);
        ledger.split(_whole(s), _ones(o));
    }

    function test_split_revertsWhenElementsAreNotConserved() public {
        LotSpec memory s = _mintPrecursor();
        Composition memory c = _copy(s.composition);
        c.total[0] += 1 << 64; // one gram more nickel (lane 1)
        LotSpec memory o = _spec(_newId(), PCAM, s.mass, c);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerConservationViolated.selector));
        vm.prank(cathodeMaker);
        ledger.split(_whole(s), _ones(o));
    }

    function test_split_revertsWhenRecycledCreditGrows() public {
        LotSpec memory s = _mintPrecursor();
        Composition memory c = _copy(s.composition);
        c.post[0] += 1 << 64; // one gram more post-consumer nickel, total unchanged
        LotSpec memory o = _spec(_newId(), PCAM, s.mass, c);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerRecycledCreditExceeded.selector));
        vm.prank(cathodeMaker);
        ledger.split(_whole(s), _ones(o));
    }

    function test_split_revertsOnWrongHeldComposition() public {
        LotSpec memory s = _mintPrecursor();
        LotInput memory input = _whole(s);
        input.held = _copy(s.composition);
        input.held.pre = input.held.post; // claims a different recycled split
        LotSpec memory o = _spec(_newId(), PCAM, s.mass, input.held);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerCommitmentMismatch.selector, s.lotId));
        vm.prank(cathodeMaker);
        ledger.split(input, _ones(o));
    }

    function test_split_revertsOnWrongMaterial() public {
        LotSpec memory s = _mintPrecursor();
        LotInput memory input = _whole(s);
        input.material = CAM; // the commitment binds the material too
        LotSpec memory o = _spec(_newId(), CAM, s.mass, s.composition);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerCommitmentMismatch.selector, s.lotId));
        vm.prank(cathodeMaker);
        ledger.split(input, _ones(o));
    }

    function test_split_revertsForNonHolder() public {
        LotSpec memory s = _mintPrecursor();
        LotSpec memory o = _spec(_newId(), PCAM, s.mass, s.composition);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerNotHolder.selector, s.lotId, refiner));
        vm.prank(refiner);
        ledger.split(_whole(s), _ones(o));
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryUnauthorized.selector, outsider, uint16(0)));
        vm.prank(outsider);
        ledger.split(_whole(s), _ones(o));
    }

    function test_split_revertsForConsumedLot() public {
        LotSpec memory s = _mintPrecursor();
        LotSpec memory o = _spec(_newId(), PCAM, s.mass, s.composition);
        vm.prank(cathodeMaker);
        ledger.split(_whole(s), _ones(o));
        LotSpec memory o2 = _spec(_newId(), PCAM, s.mass, s.composition);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerLotNotActive.selector, s.lotId, LotState.Consumed));
        vm.prank(cathodeMaker);
        ledger.split(_whole(s), _ones(o2));
    }

    function _expectInvalidUsage(LotSpec memory s, uint64 usedMass, Composition memory part) internal {
        LotSpec memory o = _spec(_newId(), PCAM, usedMass == 0 ? 1 : usedMass, part);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerInvalidUsage.selector, s.lotId));
        vm.prank(cathodeMaker);
        ledger.split(_part(s.lotId, PCAM, s.composition, usedMass, part), _ones(o));
    }

    function test_split_revertsOnInvalidUsage() public {
        LotSpec memory s = _mintPrecursor();
        Composition memory half = _scale(s.composition, 1, 2);
        // All of the mass is not a partial use (use usedMass 0 for that).
        _expectInvalidUsage(s, 250_000, half);
        _expectInvalidUsage(s, 300_000, half);
        // More of an element than the lot holds.
        Composition memory tooMuch = half;
        tooMuch.total = _pack([uint256(0), 100_001, 0, 0, 0, 0, 0, 0]);
        tooMuch.pre = _one(NI, 0);
        tooMuch.post = _one(NI, 0);
        _expectNotProRata(s, 200_000, tooMuch);
        // The used part's own elements above its mass.
        _expectInvalidUsage(s, 10_000, half);
        // Taking the virgin nickel only would leave more recycled than total in the remainder.
        Composition memory virginOnly;
        virginOnly.total = _one(NI, 90_000);
        _expectNotProRata(s, 100_000, virginOnly);
    }

    function _expectNotProRata(LotSpec memory s, uint64 usedMass, Composition memory part) internal {
        LotSpec memory o = _spec(_newId(), PCAM, usedMass, part);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerNotProRata.selector, s.lotId));
        vm.prank(cathodeMaker);
        ledger.split(_part(s.lotId, PCAM, s.composition, usedMass, part), _ones(o));
    }

    function test_split_revertsForUnit() public {
        (LotSpec memory pack,) = _buildPackFor(cathodeMaker);
        LotSpec memory o = _spec(_newId(), PACK, pack.mass, pack.composition);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerWrongKind.selector, pack.lotId));
        vm.prank(cathodeMaker);
        ledger.split(_whole(pack), _ones(o));
    }

    // ---------------------------------------------------------------------------------- merge

    function test_merge_twoLotsIntoOne() public {
        LotSpec memory a = _mintPrecursor();
        LotSpec memory b = _mintPrecursor();
        LotSpec memory o = _spec(_newId(), PCAM, 500_000, _addC(a.composition, b.composition));
        bytes32[] memory ins = new bytes32[](2);
        ins[0] = a.lotId;
        ins[1] = b.lotId;
        bytes32[] memory outs = new bytes32[](1);
        outs[0] = o.lotId;
        vm.expectEmit(address(ledger));
        emit IRinneLedger.LotCreated(o.lotId, cathodeMaker, PCAM, 500_000, o.origin, o.evidence, o.composition);
        vm.expectEmit(address(ledger));
        emit IRinneLedger.LotsTransformed(OpKind.Merge, cathodeMaker, ins, new uint64[](2), outs, _noLoss());
        vm.prank(cathodeMaker);
        ledger.merge(_pair(_whole(a), _whole(b)), o);
        assertEq(uint8(_lot(a.lotId).state), uint8(LotState.Consumed), "a consumed");
        assertEq(uint8(_lot(b.lotId).state), uint8(LotState.Consumed), "b consumed");
        assertEq(_lot(o.lotId).mass, 500_000, "merged mass");
    }

    function test_merge_revertsOnMixedMaterials() public {
        LotSpec memory a = _mintPrecursor();
        LotSpec memory b = _mintNickel(cathodeMaker);
        LotSpec memory o = _spec(_newId(), PCAM, a.mass + b.mass, _addC(a.composition, b.composition));
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerMaterialMismatch.selector, b.lotId));
        vm.prank(cathodeMaker);
        ledger.merge(_pair(_whole(a), _whole(b)), o);
    }

    function test_merge_revertsOnMassMismatch() public {
        LotSpec memory a = _mintPrecursor();
        LotSpec memory b = _mintPrecursor();
        LotSpec memory o = _spec(_newId(), PCAM, 499_999, _addC(a.composition, b.composition));
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerMassMismatch.selector));
        vm.prank(cathodeMaker);
        ledger.merge(_pair(_whole(a), _whole(b)), o);
    }

    function test_merge_revertsWhenElementsAreNotConserved() public {
        LotSpec memory a = _mintPrecursor();
        LotSpec memory b = _mintPrecursor();
        LotSpec memory o = _spec(_newId(), PCAM, 500_000, a.composition); // drops b's elements
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerConservationViolated.selector));
        vm.prank(cathodeMaker);
        ledger.merge(_pair(_whole(a), _whole(b)), o);
    }

    function test_merge_revertsOnDuplicateInput() public {
        LotSpec memory a = _mintPrecursor();
        Composition memory part = _scale(a.composition, 1, 10);
        // Two partial uses of the same lot would each be checked against the same stored commitment.
        LotInput memory p = _part(a.lotId, PCAM, a.composition, 25_000, part);
        LotSpec memory o = _spec(_newId(), PCAM, 50_000, _addC(part, part));
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerDuplicateInput.selector, a.lotId));
        vm.prank(cathodeMaker);
        ledger.merge(_pair(p, p), o);
    }

    function test_merge_revertsOnCounts() public {
        LotSpec memory o = _spec(_newId(), PCAM, 1, _virgin([uint256(0), 0, 0, 0, 0, 0, 0, 0]));
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerInvalidCount.selector, 0, 1));
        vm.prank(cathodeMaker);
        ledger.merge(new LotInput[](0), o);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerInvalidCount.selector, 65, 1));
        vm.prank(cathodeMaker);
        ledger.merge(new LotInput[](65), o);
    }

    // ------------------------------------------------------------------------------ transform

    /// @dev Precursor + lithium carbonate -> cathode material, with a declared loss.
    function test_transform_conservesElementsWithDeclaredLoss() public {
        LotSpec memory p = _mintPrecursor();
        LotSpec memory li = _spec(_newId(), LI2CO3, 80_000, _virgin([uint256(15_000), 0, 0, 0, 0, 0, 0, 0]));
        _mint(refiner, li);
        _transfer(li.lotId, refiner, cathodeMaker);
        Composition memory inSum = _addC(p.composition, li.composition);
        uint256[2] memory loss = _pack([uint256(150), 500, 0, 0, 0, 0, 0, 0]);
        // The output keeps the inputs' recycled share of each element (a loss cannot concentrate it).
        Composition memory out = _blend(inSum, [inSum.total[0] - loss[0], inSum.total[1] - loss[1]]);
        LotSpec memory cam = _spec(_newId(), CAM, 200_000, out);
        bytes32[] memory ins = new bytes32[](2);
        ins[0] = p.lotId;
        ins[1] = li.lotId;
        bytes32[] memory outs = new bytes32[](1);
        outs[0] = cam.lotId;
        vm.expectEmit(address(ledger));
        emit IRinneLedger.LotsTransformed(OpKind.Transform, cathodeMaker, ins, new uint64[](2), outs, loss);
        vm.prank(cathodeMaker);
        ledger.transform(_pair(_whole(p), _whole(li)), _ones(cam), loss);
        assertEq(_lot(cam.lotId).commitment, ledger.commitmentOf(CAM, out), "output commitment");
    }

    function test_transform_revertsOnWrongLoss() public {
        LotSpec memory p = _mintPrecursor();
        Composition memory out = _copy(p.composition);
        out.total[0] -= 500 << 64; // 500 g nickel lost ...
        uint256[2] memory loss = _one(NI, 499); // ... but 499 g declared
        LotSpec memory cam = _spec(_newId(), CAM, 200_000, out);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerConservationViolated.selector));
        vm.prank(cathodeMaker);
        ledger.transform(_ones(_whole(p)), _ones(cam), loss);
    }

    function test_transform_revertsOnUnboundedLoss() public {
        // A loss lane at 2**56 could carry into the next lane; it must be refused outright.
        LotSpec memory p = _mintPrecursor();
        uint256[2] memory loss;
        loss[1] = LANE_LIMIT; // lane of element C, absent here: only the lane bound can catch it
        LotSpec memory cam = _spec(_newId(), CAM, 250_000, p.composition);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerConservationViolated.selector));
        vm.prank(cathodeMaker);
        ledger.transform(_ones(_whole(p)), _ones(cam), loss);
    }

    function test_transform_recycledCreditMayShrinkButNotGrow() public {
        LotSpec memory p = _mintPrecursor();
        Composition memory out = _copy(p.composition);
        out.pre = _one(NI, 5_000); // less recycled than given: allowed
        LotSpec memory cam = _spec(_newId(), CAM, 250_000, out);
        vm.prank(cathodeMaker);
        ledger.transform(_ones(_whole(p)), _ones(cam), _noLoss());

        LotSpec memory p2 = _mintPrecursor();
        Composition memory greedy = _copy(p2.composition);
        greedy.post = _pack([uint256(0), 30_000, 2_000, 0, 0, 0, 0, 0]); // 30 kg post where 20 kg came in
        greedy.pre = _one(NI, 0); // even though total recycled Ni (30 kg) is unchanged
        LotSpec memory cam2 = _spec(_newId(), CAM, 250_000, greedy);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerRecycledCreditExceeded.selector));
        vm.prank(cathodeMaker);
        ledger.transform(_ones(_whole(p2)), _ones(cam2), _noLoss());
    }

    function test_transform_recycledCreditIsPerElement() public {
        // 20 kg post-consumer Ni and 2 kg Co came in; moving 1 kg of the Ni credit to Mn is refused.
        LotSpec memory p = _mintPrecursor();
        Composition memory out = _copy(p.composition);
        out.post = _pack([uint256(0), 19_000, 2_000, 1_000, 0, 0, 0, 0]);
        LotSpec memory cam = _spec(_newId(), CAM, 250_000, out);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerRecycledCreditExceeded.selector));
        vm.prank(cathodeMaker);
        ledger.transform(_ones(_whole(p)), _ones(cam), _noLoss());
    }

    function test_transform_revertsForNonProducer() public {
        LotSpec memory s = _mintNickel(oem);
        LotSpec memory o = _spec(_newId(), PCAM, s.mass, s.composition);
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryUnauthorized.selector, oem, Roles.PRODUCERS));
        vm.prank(oem);
        ledger.transform(_ones(_whole(s)), _ones(o), _noLoss());
    }

    function test_transform_revertsOnCounts() public {
        LotSpec memory s = _mintPrecursor();
        LotSpec memory o = _spec(_newId(), CAM, s.mass, s.composition);
        vm.startPrank(cathodeMaker);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerInvalidCount.selector, 1, 0));
        ledger.transform(_ones(_whole(s)), new LotSpec[](0), _noLoss());
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerInvalidCount.selector, 0, 1));
        ledger.transform(new LotInput[](0), _ones(o), _noLoss());
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerInvalidCount.selector, 65, 1));
        ledger.transform(new LotInput[](65), _ones(o), _noLoss());
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerInvalidCount.selector, 1, 65));
        ledger.transform(_ones(_whole(s)), new LotSpec[](65), _noLoss());
        vm.stopPrank();
    }

    function test_transform_64InputsIsAllowed() public {
        LotInput[] memory ins = new LotInput[](64);
        Composition memory sum;
        for (uint256 i; i < 64; ++i) {
            LotSpec memory s = _spec(_newId(), NISO4, 1_000, _virgin([uint256(0), 200, 0, 0, 0, 0, 0, 0]));
            _mint(refiner, s);
            ins[i] = _whole(s);
            sum = _addC(sum, s.composition);
        }
        LotSpec memory o = _spec(_newId(), PCAM, 40_000, sum);
        vm.prank(refiner);
        ledger.transform(ins, _ones(o), _noLoss());
        assertEq(_lane(sum.total, NI), 12_800, "sum");
    }

    function test_transform_revertsOnDuplicateWholeInput() public {
        LotSpec memory a = _mintPrecursor();
        LotSpec memory o = _spec(_newId(), CAM, 500_000, _addC(a.composition, a.composition));
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerDuplicateInput.selector, a.lotId));
        vm.prank(cathodeMaker);
        ledger.transform(_pair(_whole(a), _whole(a)), _ones(o), _noLoss());
    }

    function test_transform_revertsWhenOutputReusesInputId() public {
        LotSpec memory a = _mintPrecursor();
        LotSpec memory o = _spec(a.lotId, CAM, 250_000, a.composition);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerLotExists.selector, a.lotId));
        vm.prank(cathodeMaker);
        ledger.transform(_ones(_whole(a)), _ones(o), _noLoss());
    }

    function test_transform_revertsOnDuplicateOutputId() public {
        LotSpec memory a = _mintPrecursor();
        Composition memory half = _scale(a.composition, 1, 2);
        LotSpec memory o1 = _spec(_newId(), CAM, 125_000, half);
        LotSpec memory o2 = _spec(o1.lotId, CAM, 125_000, _sub(a.composition, half));
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerLotExists.selector, o1.lotId));
        vm.prank(cathodeMaker);
        ledger.transform(_ones(_whole(a)), _pair(o1, o2), _noLoss());
    }

    function test_transform_revertsForUnitInput() public {
        (LotSpec memory pack,) = _buildPackFor(packer);
        LotSpec memory o = _spec(_newId(), CAM, pack.mass, pack.composition);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerWrongKind.selector, pack.lotId));
        vm.prank(packer);
        ledger.transform(_ones(_whole(pack)), _ones(o), _noLoss());
    }

    function test_transform_revertsOnInvalidOutput() public {
        LotSpec memory a = _mintPrecursor();
        LotSpec memory o = _spec(_newId(), CAM, 1_000, a.composition); // 125 kg of elements in a 1 kg lot
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerInvalidComposition.selector, o.lotId));
        vm.prank(cathodeMaker);
        ledger.transform(_ones(_whole(a)), _ones(o), _noLoss());
    }

    // -------------------------------------------------------------------------------- helpers

    function _buildPackFor(address holder) internal returns (LotSpec memory pack, LotSpec memory cells) {
        cells = _spec(_newId(), CELL, 400_000, _precursor());
        _mint(refiner, cells);
        _transfer(cells.lotId, refiner, packer);
        pack = _spec(_newId(), PACK, 450_000, cells.composition);
        vm.prank(packer);
        ledger.buildUnit(_ones(_whole(cells)), pack, _unitSpec("VIN-T", 75_000), _noLoss());
        if (holder != packer) _transfer(pack.lotId, packer, holder);
    }
}
