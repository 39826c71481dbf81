// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {RinneTest} from "./utils/RinneTest.sol";
import {Vm} from "./utils/Vm.sol";
import {RinneLedger} from "../RinneLedger.sol";
import {IParticipantRegistry} from "../interfaces/IParticipantRegistry.sol";
import {ParticipantInfo, Roles} from "../types/LedgerTypes.sol";

/// @notice The registry built into the ledger: admin-only changes, deny by default, two-step handover.
contract ParticipantRegistryTest is RinneTest {
    address internal newcomer = _actor("newcomer");
    address internal successor = _actor("successor");

    function setUp() public {
        _deploy();
    }

    function test_constructor_setsAdminAndRecordsTheEvent() public {
        vm.recordLogs();
        RinneLedger fresh = new RinneLedger(admin);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 1, "one log");
        assertEq(logs[0].emitter, address(fresh), "emitter");
        assertEq(logs[0].topics[0], IParticipantRegistry.AdminTransferred.selector, "topic0");
        assertEq(logs[0].topics[1], bytes32(0), "from zero");
        assertEq(logs[0].topics[2], bytes32(uint256(uint160(admin))), "to admin");
        assertEq(fresh.admin(), admin, "admin");
        assertEq(fresh.pendingAdmin(), address(0), "pending admin");
        (uint64 seq, bytes32 head) = fresh.ledgerHead();
        assertEq(seq, 1, "the constructor's event is the first in the head");
        bytes32 eventHash = keccak256(abi.encode(IParticipantRegistry.AdminTransferred.selector, address(0), admin));
        uint256 expected = (uint256(keccak256(abi.encode(uint256(0), eventHash))) & ~uint256(type(uint64).max)) | 1;
        assertEq(head, bytes32(expected), "head word");
    }

    function test_constructor_revertsOnZeroAdmin() public {
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryZeroAddress.selector));
        new RinneLedger(address(0));
    }

    // ------------------------------------------------------------------------------- register

    function test_register_storesRolesAndEmits() public {
        vm.warp(1_800_000_000);
        uint64 before = _sequence();
        vm.expectEmit(address(ledger));
        emit IParticipantRegistry.ParticipantRegistered(newcomer, Roles.OEM | Roles.RECYCLER, keccak256("n"), keccak256("m"));
        vm.prank(admin);
        ledger.register(newcomer, Roles.OEM | Roles.RECYCLER, keccak256("n"), keccak256("m"));
        ParticipantInfo memory p = ledger.participant(newcomer);
        assertEq(p.roles, Roles.OEM | Roles.RECYCLER, "roles");
        assertTrue(p.registered, "registered");
        assertFalse(p.suspended, "suspended");
        assertEq(p.since, 1_800_000_000, "since");
        assertTrue(ledger.hasAnyRole(newcomer, Roles.RECYCLER), "has recycler");
        assertTrue(ledger.hasAnyRole(newcomer, Roles.RECYCLER | Roles.MINER), "any of");
        assertFalse(ledger.hasAnyRole(newcomer, Roles.MINER), "not miner");
        assertEq(_sequence(), before + 1, "one event recorded");
    }

    function test_register_allRolesAtOnceIsValid() public {
        vm.prank(admin);
        ledger.register(newcomer, Roles.ALL, bytes32(0), bytes32(0));
        assertEq(ledger.participant(newcomer).roles, Roles.ALL, "all roles");
    }

    function test_register_revertsForNonAdmin() public {
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryUnauthorizedAdmin.selector, miner));
        vm.prank(miner);
        ledger.register(newcomer, Roles.MINER, bytes32(0), bytes32(0));
    }

    function test_register_revertsOnZeroAddress() public {
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryZeroAddress.selector));
        vm.prank(admin);
        ledger.register(address(0), Roles.MINER, bytes32(0), bytes32(0));
    }

    function test_register_revertsOnEmptyRoles() public {
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryInvalidRoles.selector, uint16(0)));
        vm.prank(admin);
        ledger.register(newcomer, 0, bytes32(0), bytes32(0));
    }

    function test_register_revertsOnUnknownRoleBits() public {
        uint16 bad = uint16(1 << 12);
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryInvalidRoles.selector, bad | Roles.MINER));
        vm.prank(admin);
        ledger.register(newcomer, bad | Roles.MINER, bytes32(0), bytes32(0));
    }

    function test_register_revertsWhenRegisteredTwice() public {
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryAlreadyRegistered.selector, miner));
        vm.prank(admin);
        ledger.register(miner, Roles.REFINER, bytes32(0), bytes32(0));
    }

    // --------------------------------------------------------------------------- grant/revoke

    function test_grantRoles_addsBitsAndEmits() public {
        vm.expectEmit(address(ledger));
        emit IParticipantRegistry.RolesChanged(miner, Roles.MINER | Roles.REFINER);
        vm.prank(admin);
        ledger.grantRoles(miner, Roles.REFINER);
        assertEq(ledger.participant(miner).roles, Roles.MINER | Roles.REFINER, "roles");
    }

    function test_grantRoles_revertsForNonAdmin() public {
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryUnauthorizedAdmin.selector, miner));
        vm.prank(miner);
        ledger.grantRoles(miner, Roles.AUDITOR);
    }

    function test_grantRoles_revertsForUnregistered() public {
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryNotRegistered.selector, newcomer));
        vm.prank(admin);
        ledger.grantRoles(newcomer, Roles.MINER);
    }

    function test_grantRoles_revertsOnInvalidRoles() public {
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryInvalidRoles.selector, uint16(0)));
        vm.prank(admin);
        ledger.grantRoles(miner, 0);
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryInvalidRoles.selector, uint16(0x8000)));
        vm.prank(admin);
        ledger.grantRoles(miner, 0x8000);
    }

    function test_revokeRoles_removesBits() public {
        vm.prank(admin);
        ledger.grantRoles(miner, Roles.REFINER);
        vm.expectEmit(address(ledger));
        emit IParticipantRegistry.RolesChanged(miner, Roles.REFINER);
        vm.prank(admin);
        ledger.revokeRoles(miner, Roles.MINER);
        assertEq(ledger.participant(miner).roles, Roles.REFINER, "roles");
        assertFalse(ledger.hasAnyRole(miner, Roles.MINER), "miner role gone");
    }

    function test_revokeRoles_allRolesLeavesARegisteredParticipantWithNoRole() public {
        vm.prank(admin);
        ledger.revokeRoles(miner, Roles.MINER);
        ParticipantInfo memory p = ledger.participant(miner);
        assertTrue(p.registered, "still registered");
        assertEq(p.roles, 0, "no roles");
        assertFalse(ledger.hasAnyRole(miner, Roles.ALL), "no role at all");
    }

    function test_revokeRoles_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryUnauthorizedAdmin.selector, outsider));
        vm.prank(outsider);
        ledger.revokeRoles(miner, Roles.MINER);
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryNotRegistered.selector, newcomer));
        vm.prank(admin);
        ledger.revokeRoles(newcomer, Roles.MINER);
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryInvalidRoles.selector, uint16(0)));
        vm.prank(admin);
        ledger.revokeRoles(miner, 0);
    }

    // ------------------------------------------------------------------------ suspend/reinstate

    function test_suspend_barsEveryRoleUntilReinstated() public {
        vm.expectEmit(address(ledger));
        emit IParticipantRegistry.ParticipantSuspended(miner, keccak256("key leak"));
        vm.prank(admin);
        ledger.suspend(miner, keccak256("key leak"));
        assertTrue(ledger.participant(miner).suspended, "suspended");
        assertFalse(ledger.hasAnyRole(miner, Roles.MINER), "role inactive while suspended");

        bytes memory denied =
            abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryUnauthorized.selector, miner, Roles.MINTERS);
        vm.expectRevert(denied);
        vm.prank(miner);
        ledger.mint(_nickelSpec());

        vm.expectEmit(address(ledger));
        emit IParticipantRegistry.ParticipantReinstated(miner);
        vm.prank(admin);
        ledger.reinstate(miner);
        assertFalse(ledger.participant(miner).suspended, "reinstated");
        _mint(miner, _nickelSpec());
    }

    function test_suspend_reinstate_revert() public {
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryUnauthorizedAdmin.selector, miner));
        vm.prank(miner);
        ledger.suspend(refiner, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryNotRegistered.selector, newcomer));
        vm.prank(admin);
        ledger.suspend(newcomer, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryUnauthorizedAdmin.selector, miner));
        vm.prank(miner);
        ledger.reinstate(refiner);
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryNotRegistered.selector, newcomer));
        vm.prank(admin);
        ledger.reinstate(newcomer);
    }

    function test_unregistered_isDeniedEverything() public {
        assertFalse(ledger.hasAnyRole(outsider, Roles.ALL), "outsider has no role");
        ParticipantInfo memory p = ledger.participant(outsider);
        assertFalse(p.registered, "not registered");
        assertEq(p.roles, 0, "no roles");
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryUnauthorized.selector, outsider, Roles.MINTERS));
        vm.prank(outsider);
        ledger.mint(_nickelSpec());
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryUnauthorized.selector, outsider, uint16(0)));
        vm.prank(outsider);
        ledger.offer(bytes32(uint256(1)), miner);
    }

    // ------------------------------------------------------------------------- admin handover

    function test_adminHandover_twoSteps() public {
        vm.expectEmit(address(ledger));
        emit IParticipantRegistry.AdminTransferStarted(admin, successor);
        vm.prank(admin);
        ledger.transferAdmin(successor);
        assertEq(ledger.pendingAdmin(), successor, "pending");
        assertEq(ledger.admin(), admin, "old admin still in charge");

        vm.expectEmit(address(ledger));
        emit IParticipantRegistry.AdminTransferred(admin, successor);
        vm.prank(successor);
        ledger.acceptAdmin();
        assertEq(ledger.admin(), successor, "new admin");
        assertEq(ledger.pendingAdmin(), address(0), "pending cleared");

        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryUnauthorizedAdmin.selector, admin));
        vm.prank(admin);
        ledger.register(newcomer, Roles.MINER, bytes32(0), bytes32(0));
        vm.prank(successor);
        ledger.register(newcomer, Roles.MINER, bytes32(0), bytes32(0));
    }

    function test_acceptAdmin_revertsForOthers() public {
        vm.prank(admin);
        ledger.transferAdmin(successor);
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryNotPendingAdmin.selector, outsider));
        vm.prank(outsider);
        ledger.acceptAdmin();
    }

    function test_acceptAdmin_revertsWithoutPendingAdmin() public {
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryNotPendingAdmin.selector, successor));
        vm.prank(successor);
        ledger.acceptAdmin();
        // The zero address can never take over, even though it equals the empty pending slot.
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryNotPendingAdmin.selector, address(0)));
        vm.prank(address(0));
        ledger.acceptAdmin();
    }

    function test_transferAdmin_zeroCancelsHandover() public {
        vm.prank(admin);
        ledger.transferAdmin(successor);
        vm.prank(admin);
        ledger.transferAdmin(address(0));
        assertEq(ledger.pendingAdmin(), address(0), "cancelled");
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryNotPendingAdmin.selector, successor));
        vm.prank(successor);
        ledger.acceptAdmin();
    }

    function test_transferAdmin_revertsForNonAdmin() public {
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryUnauthorizedAdmin.selector, successor));
        vm.prank(successor);
        ledger.transferAdmin(successor);
    }

    function test_everyRegistryChangeAdvancesTheHead() public {
        uint64 s0 = _sequence();
        vm.startPrank(admin);
        ledger.register(newcomer, Roles.MINER, bytes32(0), bytes32(0));
        ledger.grantRoles(newcomer, Roles.OEM);
        ledger.revokeRoles(newcomer, Roles.OEM);
        ledger.suspend(newcomer, bytes32(0));
        ledger.reinstate(newcomer);
        ledger.transferAdmin(successor);
        vm.stopPrank();
        vm.prank(successor);
        ledger.acceptAdmin();
        assertEq(_sequence(), s0 + 7, "seven events");
    }
}
