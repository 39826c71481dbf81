// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {RinneTest} from "./utils/RinneTest.sol";
import {IRinneLedger} from "../interfaces/IRinneLedger.sol";
import {IParticipantRegistry} from "../interfaces/IParticipantRegistry.sol";
import {LotSpec, LotInfo, LotState, Roles} from "../types/LedgerTypes.sol";

/// @notice The two-word lot: holder and recipient stored as participant numbers, offer and acceptance writing
/// the first word whole, and a participant's standing kept in two records. Each test is an attack on what
/// the packing could get wrong: a field clobbered by the whole-word write, a number that matches the wrong
/// party (0 for "nobody"), or a suspension that one record forgets.
contract RinneLedgerLayoutTest is RinneTest {
    function setUp() public {
        _deploy();
    }

    function _assertSameBut(LotInfo memory a, LotInfo memory b, string memory what) internal pure {
        assertEq(uint8(a.state), uint8(b.state), string.concat(what, ": state"));
        assertEq(uint8(a.kind), uint8(b.kind), string.concat(what, ": kind"));
        assertEq(a.updatedBlock, b.updatedBlock, string.concat(what, ": updatedBlock"));
        assertEq(a.mass, b.mass, string.concat(what, ": mass"));
        assertEq(a.commitment, b.commitment, string.concat(what, ": commitment"));
    }

    /// @dev Every bit of mass and updatedBlock set high: the whole-word writes of offer and accept must keep them.
    function test_offerAndAccept_keepTheRestOfTheWord() public {
        vm.roll(type(uint48).max);
        LotSpec memory s = _spec(_newId(), NISO4, type(uint64).max, _nickelComposition());
        _mint(miner, s);
        LotInfo memory minted = _lot(s.lotId);
        assertEq(minted.mass, type(uint64).max, "mass in full");
        assertEq(minted.updatedBlock, type(uint48).max, "block in full");

        vm.prank(miner);
        ledger.offer(s.lotId, refiner);
        LotInfo memory offered = _lot(s.lotId);
        _assertSameBut(offered, minted, "offer");
        assertEq(offered.holder, miner, "offer: holder");
        assertEq(offered.epoch, 0, "offer: epoch");
        assertEq(offered.offeredTo, refiner, "offer: recipient");
        assertTrue(offered.offerCurrent, "offer: current");

        vm.prank(refiner);
        ledger.accept(s.lotId);
        LotInfo memory accepted = _lot(s.lotId);
        _assertSameBut(accepted, minted, "accept");
        assertEq(accepted.holder, refiner, "accept: holder");
        assertEq(accepted.epoch, 1, "accept: epoch");
        assertEq(accepted.offeredTo, address(0), "accept: no recipient");
        assertFalse(accepted.offerCurrent, "accept: no offer");

        // A second round from a nonzero epoch: the offer records the epoch, the acceptance moves it on.
        vm.prank(refiner);
        ledger.offer(s.lotId, cathodeMaker);
        vm.prank(cathodeMaker);
        ledger.accept(s.lotId);
        accepted = _lot(s.lotId);
        _assertSameBut(accepted, minted, "second accept");
        assertEq(accepted.holder, cathodeMaker, "second accept: holder");
        assertEq(accepted.epoch, 2, "second accept: epoch");
    }

    /// @dev Number 0 is "nobody": a lot without an offer matches no caller, and an absent lot no holder.
    function test_noOfferAndNoLot_matchNobody() public {
        LotSpec memory s = _mintNickel(miner);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerNoCurrentOffer.selector, s.lotId, refiner));
        vm.prank(refiner);
        ledger.accept(s.lotId);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerNoCurrentOffer.selector, s.lotId, refiner));
        vm.prank(refiner);
        ledger.reject(s.lotId);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerNoCurrentOffer.selector, s.lotId, miner));
        vm.prank(miner);
        ledger.cancel(s.lotId);

        bytes32 absent = _newId();
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerLotNotActive.selector, absent, LotState.None));
        vm.prank(refiner);
        ledger.accept(absent);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerNotHolder.selector, absent, miner));
        vm.prank(miner);
        ledger.cancel(absent);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerLotNotActive.selector, absent, LotState.None));
        vm.prank(miner);
        ledger.offer(absent, refiner);
        (address holder, LotState state) = ledger.holderOf(absent);
        assertEq(holder, address(0), "no holder");
        assertEq(uint8(state), uint8(LotState.None), "no lot");
        assertEq(_lot(absent).offeredTo, address(0), "no recipient");
    }

    /// @dev Numbers resolve to the right accounts in views and events, for parties registered late too.
    function test_numbers_resolveToAccountsInViewsAndEvents() public {
        address late = _actor("late");
        address later = _actor("later");
        vm.startPrank(admin);
        ledger.register(late, Roles.REFINER, keccak256("Late"), bytes32(0));
        ledger.register(later, Roles.REFINER, keccak256("Later"), bytes32(0));
        vm.stopPrank();
        LotSpec memory s = _mintNickel(miner);
        _transfer(s.lotId, miner, late);
        (address holder,) = ledger.holderOf(s.lotId);
        assertEq(holder, late, "holderOf");

        vm.expectEmit(address(ledger));
        emit IRinneLedger.OfferMade(s.lotId, late, later, 1);
        vm.prank(late);
        ledger.offer(s.lotId, later);
        assertEq(_lot(s.lotId).offeredTo, later, "recipient");
        vm.expectEmit(address(ledger));
        emit IRinneLedger.OfferCancelled(s.lotId, later);
        vm.prank(late);
        ledger.cancel(s.lotId);

        vm.prank(late);
        ledger.offer(s.lotId, later);
        vm.expectEmit(address(ledger));
        emit IRinneLedger.OfferAccepted(s.lotId, late, later);
        vm.prank(later);
        ledger.accept(s.lotId);
        assertEq(_lot(s.lotId).holder, later, "holder");
        // The one who gave the lot away is no longer its holder in any check.
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerNotHolder.selector, s.lotId, late));
        vm.prank(late);
        ledger.offer(s.lotId, refiner);
    }

    /// @dev Standing is in the participant record and in the number's record: suspending or reinstating twice,
    /// and changing roles, must leave both saying the same.
    function test_standing_agreesInBothRecords() public {
        LotSpec memory s = _mintNickel(miner);
        vm.startPrank(admin);
        ledger.suspend(refiner, bytes32(0));
        ledger.suspend(refiner, bytes32(0));
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerInvalidRecipient.selector, refiner));
        vm.prank(miner);
        ledger.offer(s.lotId, refiner);
        vm.startPrank(admin);
        ledger.reinstate(refiner);
        ledger.reinstate(refiner);
        // Roles are not standing: a recipient with roles revoked may still receive, as before.
        ledger.revokeRoles(refiner, Roles.REFINER);
        vm.stopPrank();
        vm.prank(miner);
        ledger.offer(s.lotId, refiner);

        // The holder suspended after offering (a leaked key): the acceptance reads its standing by number.
        vm.prank(admin);
        ledger.suspend(miner, keccak256("leak"));
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryUnauthorized.selector, miner, uint16(0)));
        vm.prank(refiner);
        ledger.accept(s.lotId);
        vm.prank(admin);
        ledger.grantRoles(miner, Roles.REFINER); // a role change while suspended keeps the suspension
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryUnauthorized.selector, miner, uint16(0)));
        vm.prank(refiner);
        ledger.accept(s.lotId);
        vm.prank(admin);
        ledger.reinstate(miner);
        vm.prank(refiner);
        ledger.accept(s.lotId);
        assertEq(_lot(s.lotId).holder, refiner, "moved once the holder was reinstated");
    }

    /// @dev A suspended caller cannot offer, accept, reject or cancel (its number is not handed out).
    function test_suspendedCaller_cannotUseItsNumber() public {
        LotSpec memory s = _mintNickel(miner);
        vm.prank(miner);
        ledger.offer(s.lotId, refiner);
        vm.startPrank(admin);
        ledger.suspend(miner, bytes32(0));
        ledger.suspend(refiner, bytes32(0));
        vm.stopPrank();
        bytes memory minerDenied =
            abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryUnauthorized.selector, miner, uint16(0));
        bytes memory refinerDenied =
            abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryUnauthorized.selector, refiner, uint16(0));
        vm.expectRevert(minerDenied);
        vm.prank(miner);
        ledger.offer(s.lotId, cathodeMaker);
        vm.expectRevert(minerDenied);
        vm.prank(miner);
        ledger.cancel(s.lotId);
        vm.expectRevert(refinerDenied);
        vm.prank(refiner);
        ledger.accept(s.lotId);
        vm.expectRevert(refinerDenied);
        vm.prank(refiner);
        ledger.reject(s.lotId);
    }

    function _registryOp(address account, uint256 op) internal {
        vm.prank(admin);
        if (op == 0) ledger.suspend(account, bytes32(0));
        else if (op == 1) ledger.reinstate(account);
        else if (op == 2) ledger.grantRoles(account, Roles.AUDITOR);
        else ledger.revokeRoles(account, Roles.AUDITOR);
    }

    /// @dev Any sequence of suspensions, reinstatements and role changes of recipient and holder: the offer is
    /// made, and then completes, exactly when the registry's own record says the party is not suspended.
    function testFuzz_standing_followsTheRecord(uint256 ops) public {
        LotSpec memory s = _mintNickel(miner);
        for (uint256 i; i < 6; ++i) {
            _registryOp(refiner, (ops >> (2 * i)) & 3);
        }
        if (ledger.participant(refiner).suspended) {
            vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerInvalidRecipient.selector, refiner));
            vm.prank(miner);
            ledger.offer(s.lotId, refiner);
            vm.prank(admin);
            ledger.reinstate(refiner);
        }
        vm.prank(miner);
        ledger.offer(s.lotId, refiner);
        for (uint256 i = 6; i < 12; ++i) {
            _registryOp(miner, (ops >> (2 * i)) & 3);
        }
        if (ledger.participant(miner).suspended) {
            vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryUnauthorized.selector, miner, uint16(0)));
        }
        vm.prank(refiner);
        ledger.accept(s.lotId);
    }
}
