// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IVaultKeys} from "./interfaces/IVaultKeys.sol";
import {IRinneLedger} from "./interfaces/IRinneLedger.sol";
import {Roles} from "./types/LedgerTypes.sol";

/// @title VaultKeys
/// @notice The participants' vault public keys, beside the ledger rather than in it: RinneLedger is close to
/// EIP-170's size limit, and no ledger rule reads a key, so its events stay out of the ledger head.
contract VaultKeys is IVaultKeys {
    IRinneLedger private immutable _ledger;
    mapping(address account => bytes32 key) private _keys;

    /// @param ledger_ The ledger whose registry says who may publish.
    constructor(IRinneLedger ledger_) {
        if (address(ledger_) == address(0)) revert VaultKeysZeroLedger();
        _ledger = ledger_;
    }

    /// @inheritdoc IVaultKeys
    function publishVaultKey(bytes32 key) external {
        if (!_ledger.hasAnyRole(msg.sender, Roles.ALL)) revert VaultKeysNotParticipant(msg.sender);
        if (key == bytes32(0)) revert VaultKeysInvalidKey(key);
        bytes32 previous = _keys[msg.sender];
        _keys[msg.sender] = key;
        emit VaultKeyPublished(msg.sender, key, previous);
    }

    /// @inheritdoc IVaultKeys
    function vaultKey(address account) external view returns (bytes32 key, bool active) {
        return (_keys[account], _ledger.hasAnyRole(account, Roles.ALL));
    }

    /// @inheritdoc IVaultKeys
    function ledger() external view returns (IRinneLedger) {
        return _ledger;
    }
}
