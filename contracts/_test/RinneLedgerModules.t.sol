// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {RinneTest} from "./utils/RinneTest.sol";
import {IRinneLedger} from "../interfaces/IRinneLedger.sol";
import {IParticipantRegistry} from "../interfaces/IParticipantRegistry.sol";
import {Composition, LotSpec, LotInput, UnitSpec, LotState, LotKind, PassportStatus, OpKind, Roles} from "../types/LedgerTypes.sol";

/// @notice Second life at module level: dismantling a unit into module units, remanufacturing a unit from used
/// and new modules, and the rating rule every unit built from units obeys. Each attack is a way a party could
/// make a module look newer, greener or bigger than the unit it came from.
contract RinneLedgerModulesTest is RinneTest {
    bytes32 internal constant MODULE = "MODULE-12S";

    function setUp() public {
        _deploy();
    }

    function _status(bytes32 id) internal view returns (PassportStatus) {
        return ledger.unit(id).status;
    }

    /// @dev A 550 kg pack with some recycled nickel and cobalt (pre- and post-consumer), built by the packer and
    /// handed to `holder`: the share rules have something to protect.
    function _greenPack(address holder) internal returns (LotSpec memory p) {
        uint256[8] memory pre = [uint256(0), 19_000, 2_400, 0, 0, 0, 0, 0];
        uint256[8] memory post = [uint256(0), 38_000, 0, 0, 0, 0, 0, 0];
        LotSpec memory c = _spec(_newId(), CELL, 500_000, _comp(_cellEl, pre, post));
        _mint(refiner, c);
        _transfer(c.lotId, refiner, packer);
        p = _spec(_newId(), PACK, 550_000, c.composition);
        vm.prank(packer);
        ledger.buildUnit(_ones(_whole(c)), p, _unitSpec(string(abi.encode(p.lotId)), 75_000), _noLoss());
        if (holder != packer) _transfer(p.lotId, packer, holder);
    }

    /// @dev The pack in `n` modules of equal share (the last takes the rounding), 5 kg of steel housing lost.
    function _modules(LotSpec memory p, uint256 n) internal returns (LotSpec[] memory m, UnitSpec[] memory s) {
        m = new LotSpec[](n);
        s = new UnitSpec[](n);
        Composition memory rest = _copy(p.composition);
        uint64 massLeft = p.mass - 5_000;
        for (uint256 i; i < n; ++i) {
            Composition memory c = i + 1 == n ? rest : _scale(p.composition, 1, n);
            uint64 mass = i + 1 == n ? massLeft : (p.mass - 5_000) / uint64(n);
            rest = _sub(rest, c);
            massLeft -= mass;
            m[i] = _spec(_newId(), MODULE, mass, c);
            s[i] = _unitSpec(string(abi.encode(m[i].lotId)), uint48(75_000 / n));
        }
    }

    function _used(bytes32 id, address holder) internal {
        vm.warp(block.timestamp + 100 days); // 300 cycles need 75 days at the contract's 4 a day
        vm.prank(holder);
        ledger.recordSoh(id, _soh(9_100, 300, 22_000_000));
    }

    // ------------------------------------------------------------------------------ dismantle

    function test_dismantle_modulesAreUnitsLinkedToThePack() public {
        LotSpec memory p = _greenPack(secondLife);
        _used(p.lotId, secondLife);
        (LotSpec[] memory m, UnitSpec[] memory s) = _modules(p, 4);
        bytes32[] memory parent = new bytes32[](1);
        parent[0] = p.lotId;
        bytes32[] memory outs = new bytes32[](4);
        for (uint256 i; i < 4; ++i) {
            outs[i] = m[i].lotId;
        }
        vm.expectEmit(address(ledger));
        emit IRinneLedger.UnitCreated(m[0].lotId, s[0].serialHash, s[0].ratedWh, PassportStatus.Original, parent);
        vm.prank(secondLife);
        ledger.dismantle(_whole(p), m, s, _noLoss());

        assertEq(uint8(_lot(p.lotId).state), uint8(LotState.Consumed), "pack consumed");
        for (uint256 i; i < 4; ++i) {
            assertEq(uint8(_lot(m[i].lotId).kind), uint8(LotKind.Unit), "module is a unit");
            assertEq(_lot(m[i].lotId).holder, secondLife, "module held by the dismantler");
            assertEq(uint8(_status(m[i].lotId)), uint8(PassportStatus.Original), "module keeps the pack's status");
            (bool endUser, bool postConsumer) = ledger.unitUse(m[i].lotId);
            // A used pack's modules start a new SOH history; their post-consumer standing must not start again.
            assertTrue(endUser && postConsumer, "module post-consumer like its used pack");
            assertEq(ledger.unit(m[i].lotId).sohRoot, bytes32(0), "module SOH starts empty");
        }
    }

    function test_dismantle_emitsOneDismantleOperation() public {
        LotSpec memory p = _greenPack(secondLife);
        (LotSpec[] memory m, UnitSpec[] memory s) = _modules(p, 2);
        bytes32[] memory parent = new bytes32[](1);
        parent[0] = p.lotId;
        bytes32[] memory outs = new bytes32[](2);
        outs[0] = m[0].lotId;
        outs[1] = m[1].lotId;
        uint256[2] memory loss = _noLoss();
        vm.expectEmit(address(ledger));
        emit IRinneLedger.LotsTransformed(OpKind.Dismantle, secondLife, parent, new uint64[](1), outs, loss);
        vm.prank(secondLife);
        ledger.dismantle(_whole(p), m, s, loss);
    }

    /// @dev Laundering: taking a Waste pack apart must not give modules a fresh Original passport.
    function test_dismantle_wastePackGivesWasteModules() public {
        LotSpec memory p = _greenPack(recycler);
        vm.prank(recycler);
        ledger.setStatus(p.lotId, PassportStatus.Waste, keccak256("SOH below 60 %"));
        (LotSpec[] memory m, UnitSpec[] memory s) = _modules(p, 2);
        vm.prank(recycler);
        ledger.dismantle(_whole(p), m, s, _noLoss());
        assertEq(uint8(_status(m[0].lotId)), uint8(PassportStatus.Waste), "module Waste");
        vm.expectRevert(
            abi.encodeWithSelector(
                IRinneLedger.RinneLedgerInvalidTransition.selector, m[0].lotId, PassportStatus.Waste, PassportStatus.Reused
            )
        );
        vm.prank(recycler);
        ledger.setStatus(m[0].lotId, PassportStatus.Reused, bytes32(0));
    }

    /// @dev Laundering the other way: a pack that never reached an end user gives pre-consumer modules, so what is
    /// recovered from them can never be sold as post-consumer.
    function test_dismantle_unsoldPackGivesPreConsumerModules() public {
        LotSpec memory p = _greenPack(packer);
        (LotSpec[] memory m, UnitSpec[] memory s) = _modules(p, 2);
        vm.prank(packer);
        ledger.dismantle(_whole(p), m, s, _noLoss());
        (bool endUser, bool postConsumer) = ledger.unitUse(m[0].lotId);
        assertFalse(endUser || postConsumer, "an unsold pack's module is pre-consumer");
    }

    function test_dismantle_reverts() public {
        LotSpec memory p = _greenPack(secondLife);
        (LotSpec[] memory m, UnitSpec[] memory s) = _modules(p, 2);
        LotSpec memory cells = _cellLot(secondLife);

        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryUnauthorized.selector, oem, Roles.DISMANTLERS));
        vm.prank(oem);
        ledger.dismantle(_whole(p), m, s, _noLoss());

        vm.startPrank(secondLife);
        // Bigger by being taken apart: the modules' ratings add up to more than the pack's 75 kWh.
        s[1].ratedWh = 37_501;
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerInvalidRating.selector, p.lotId));
        ledger.dismantle(_whole(p), m, s, _noLoss());
        s[1].ratedWh = 37_500;

        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerLengthMismatch.selector));
        ledger.dismantle(_whole(p), m, new UnitSpec[](1), _noLoss());
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerInvalidCount.selector, 1, 0));
        ledger.dismantle(_whole(p), new LotSpec[](0), new UnitSpec[](0), _noLoss());

        LotInput memory part = _part(p.lotId, PACK, p.composition, 275_000, _scale(p.composition, 1, 2));
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerInvalidUsage.selector, p.lotId));
        ledger.dismantle(part, m, s, _noLoss());

        // Heavier in nickel than the pack was.
        LotSpec[] memory fat = new LotSpec[](2);
        fat[0] = m[0];
        fat[1] = _spec(m[1].lotId, MODULE, m[1].mass, _scale(m[1].composition, 101, 100));
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerConservationViolated.selector));
        ledger.dismantle(_whole(p), fat, s, _noLoss());

        // All the pack's recycled nickel moved into one module: that module's share beats the pack's.
        LotSpec[] memory skew = new LotSpec[](2);
        Composition memory a = _copy(m[0].composition);
        Composition memory b = _copy(m[1].composition);
        uint256 moved = _lane(b.post, 1);
        b.post[0] &= ~(uint256(type(uint64).max) << 64);
        a.post[0] += moved << 64;
        skew[0] = _spec(m[0].lotId, MODULE, m[0].mass, a);
        skew[1] = _spec(m[1].lotId, MODULE, m[1].mass, b);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerRecycledShareExceeded.selector, m[0].lotId));
        ledger.dismantle(_whole(p), skew, s, _noLoss());

        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerWrongKind.selector, cells.lotId));
        ledger.dismantle(_whole(cells), m, s, _noLoss());
        vm.stopPrank();

        // The fair split goes through, and the pack cannot be taken apart twice.
        vm.prank(secondLife);
        ledger.dismantle(_whole(p), m, s, _noLoss());
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerLotNotActive.selector, p.lotId, LotState.Consumed));
        vm.prank(secondLife);
        ledger.dismantle(_whole(p), m, s, _noLoss());
    }

    // -------------------------------------------------------------------------- remanufacture

    /// @dev Two used modules of a dismantled pack plus two new ones built from cells, at the packer.
    function _remanufactureParts() internal returns (LotSpec[] memory m, LotSpec[] memory fresh) {
        LotSpec memory p = _greenPack(secondLife);
        _used(p.lotId, secondLife);
        UnitSpec[] memory s;
        (m, s) = _modules(p, 4);
        vm.prank(secondLife);
        ledger.dismantle(_whole(p), m, s, _noLoss());
        _transfer(m[0].lotId, secondLife, packer);
        _transfer(m[1].lotId, secondLife, packer);
        fresh = new LotSpec[](2);
        for (uint256 i; i < 2; ++i) {
            LotSpec memory c = _cellLot(packer);
            fresh[i] = _spec(_newId(), MODULE, c.mass, c.composition);
            vm.prank(packer);
            ledger.buildUnit(_ones(_whole(c)), fresh[i], _unitSpec(string(abi.encode(fresh[i].lotId)), 18_750), _noLoss());
        }
    }

    function _inputs(LotSpec[] memory m, LotSpec[] memory fresh) internal pure returns (LotInput[] memory ins, Composition memory c) {
        ins = new LotInput[](4);
        ins[0] = _whole(m[0]);
        ins[1] = _whole(m[1]);
        ins[2] = _whole(fresh[0]);
        ins[3] = _whole(fresh[1]);
        c = _addC(_addC(m[0].composition, m[1].composition), _addC(fresh[0].composition, fresh[1].composition));
    }

    function test_remanufacture_linksEveryPartAndRetiresTheUsedOnes() public {
        (LotSpec[] memory m, LotSpec[] memory fresh) = _remanufactureParts();
        (LotInput[] memory ins, Composition memory c) = _inputs(m, fresh);
        uint64 mass = m[0].mass + m[1].mass + fresh[0].mass + fresh[1].mass;
        LotSpec memory reman = _spec(_newId(), PACK, mass, c);
        bytes32[] memory parents = new bytes32[](4);
        for (uint256 i; i < 4; ++i) {
            parents[i] = ins[i].lotId;
        }
        vm.expectEmit(address(ledger));
        emit IRinneLedger.UnitCreated(reman.lotId, keccak256("REMAN-1"), 75_000, PassportStatus.Remanufactured, parents);
        vm.prank(packer);
        ledger.remanufacture(ins, reman, _unitSpec("REMAN-1", 75_000), _noLoss());

        assertEq(uint8(_status(reman.lotId)), uint8(PassportStatus.Remanufactured), "new passport Remanufactured");
        for (uint256 i; i < 4; ++i) {
            assertEq(uint8(_status(parents[i])), uint8(PassportStatus.Remanufactured), "part Remanufactured");
            assertEq(uint8(_lot(parents[i]).state), uint8(LotState.Consumed), "part consumed");
        }
        // Half of it never reached anyone: the remanufactured pack is not post-consumer as a whole.
        (bool endUser, bool postConsumer) = ledger.unitUse(reman.lotId);
        assertFalse(endUser || postConsumer, "new modules make it pre-consumer until it is sold and used");
    }

    function test_remanufacture_reverts() public {
        (LotSpec[] memory m, LotSpec[] memory fresh) = _remanufactureParts();
        (LotInput[] memory ins, Composition memory c) = _inputs(m, fresh);
        uint64 mass = m[0].mass + m[1].mass + fresh[0].mass + fresh[1].mass;
        LotSpec memory reman = _spec(_newId(), PACK, mass, c);

        vm.expectRevert(
            abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryUnauthorized.selector, recycler, Roles.REMANUFACTURERS)
        );
        vm.prank(recycler);
        ledger.remanufacture(ins, reman, _unitSpec("R", 75_000), _noLoss());

        // Four modules of 18.75 kWh are 75 kWh: a remanufactured pack rated 80 kWh is a claim no part backs.
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerInvalidRating.selector, reman.lotId));
        vm.prank(packer);
        ledger.remanufacture(ins, reman, _unitSpec("R", 80_000), _noLoss());

        // A Waste module may be repurposed or recycled, not put back into a pack sold as remanufactured.
        vm.prank(packer);
        ledger.setStatus(m[0].lotId, PassportStatus.Waste, keccak256("cell imbalance"));
        vm.expectRevert(
            abi.encodeWithSelector(
                IRinneLedger.RinneLedgerInvalidTransition.selector, m[0].lotId, PassportStatus.Waste, PassportStatus.Remanufactured
            )
        );
        vm.prank(packer);
        ledger.remanufacture(ins, reman, _unitSpec("R", 75_000), _noLoss());
    }

    // ------------------------------------------------------------------ ratings of second lives

    /// @dev Half a pack's mass carries at most half its rating into a repurposed unit.
    function test_repurpose_partOfAUnitCarriesItsShareOfTheRating() public {
        LotSpec memory p = _pack(secondLife);
        Composition memory half = _scale(p.composition, 1, 2);
        LotSpec memory ess = _spec(_newId(), ESS, 275_000, half);
        LotInput memory part = _part(p.lotId, PACK, p.composition, 275_000, half);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerInvalidRating.selector, ess.lotId));
        vm.prank(secondLife);
        ledger.repurpose(_ones(part), ess, _unitSpec("ESS-HALF", 37_501), _noLoss());
        vm.prank(secondLife);
        ledger.repurpose(_ones(part), ess, _unitSpec("ESS-HALF", 37_500), _noLoss());
        assertEq(ledger.unit(ess.lotId).ratedWh, 37_500, "rated half");
    }
}
