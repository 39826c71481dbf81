// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {RinneTest} from "./utils/RinneTest.sol";
import {VaultKeys} from "../VaultKeys.sol";
import {IVaultKeys} from "../interfaces/IVaultKeys.sol";
import {IRinneLedger} from "../interfaces/IRinneLedger.sol";
import {Roles} from "../types/LedgerTypes.sol";

/// @notice Participants publish their own vault keys, only while active; the ledger's head does not move.
contract VaultKeysTest is RinneTest {
    VaultKeys internal keys;
    bytes32 internal constant KEY = keccak256("oem vault key");
    bytes32 internal constant NEXT = keccak256("oem vault key, rotated");

    function setUp() public {
        _deploy();
        keys = new VaultKeys(IRinneLedger(address(ledger)));
    }

    function test_constructor_revertsOnZeroLedger() public {
        vm.expectRevert(abi.encodeWithSelector(IVaultKeys.VaultKeysZeroLedger.selector));
        new VaultKeys(IRinneLedger(address(0)));
    }

    function test_publish_storesTheKeyAndEmitsAfterwards() public {
        (uint64 seq,) = ledger.ledgerHead();
        vm.expectEmit(address(keys));
        emit IVaultKeys.VaultKeyPublished(oem, KEY, bytes32(0));
        vm.prank(oem);
        keys.publishVaultKey(KEY);
        (bytes32 key, bool active) = keys.vaultKey(oem);
        assertEq(key, KEY, "key");
        assertTrue(active, "active");
        (uint64 after_,) = ledger.ledgerHead();
        assertEq(after_, seq, "the ledger head does not move");
        assertEq(address(keys.ledger()), address(ledger), "ledger");
    }

    function test_publish_replacesAndNamesThePrevious() public {
        vm.prank(oem);
        keys.publishVaultKey(KEY);
        vm.expectEmit(address(keys));
        emit IVaultKeys.VaultKeyPublished(oem, NEXT, KEY);
        vm.prank(oem);
        keys.publishVaultKey(NEXT);
        (bytes32 key,) = keys.vaultKey(oem);
        assertEq(key, NEXT, "the later key");
    }

    function test_publish_onlyForTheCallersOwnAccount() public {
        vm.prank(oem);
        keys.publishVaultKey(KEY);
        (bytes32 other,) = keys.vaultKey(recycler);
        assertEq(other, bytes32(0), "no key for another account");
    }

    function test_publish_revertsForANonParticipant() public {
        vm.expectRevert(abi.encodeWithSelector(IVaultKeys.VaultKeysNotParticipant.selector, outsider));
        vm.prank(outsider);
        keys.publishVaultKey(KEY);
    }

    function test_publish_revertsForASuspendedParticipant() public {
        vm.prank(admin);
        ledger.suspend(oem, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(IVaultKeys.VaultKeysNotParticipant.selector, oem));
        vm.prank(oem);
        keys.publishVaultKey(KEY);
    }

    function test_publish_revertsForAParticipantWithoutRoles() public {
        vm.prank(admin);
        ledger.revokeRoles(oem, Roles.OEM);
        vm.expectRevert(abi.encodeWithSelector(IVaultKeys.VaultKeysNotParticipant.selector, oem));
        vm.prank(oem);
        keys.publishVaultKey(KEY);
    }

    function test_publish_revertsOnTheZeroKey() public {
        vm.expectRevert(abi.encodeWithSelector(IVaultKeys.VaultKeysInvalidKey.selector, bytes32(0)));
        vm.prank(oem);
        keys.publishVaultKey(bytes32(0));
    }

    function test_publish_revertsOnAShortKey() public {
        vm.prank(oem);
        (bool ok,) = address(keys).call(abi.encodePacked(IVaultKeys.publishVaultKey.selector, bytes16(KEY)));
        assertFalse(ok, "16 bytes of key");
    }

    function test_vaultKey_saysWhenTheHolderWasSuspended() public {
        vm.prank(oem);
        keys.publishVaultKey(KEY);
        vm.prank(admin);
        ledger.suspend(oem, bytes32(0));
        (bytes32 key, bool active) = keys.vaultKey(oem);
        assertEq(key, KEY, "the key stays");
        assertFalse(active, "not active");
    }
}
