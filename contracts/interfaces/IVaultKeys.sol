// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IRinneLedger} from "./IRinneLedger.sol";

/// @title IVaultKeys
/// @notice The X25519 vault public keys of the ledger's participants, each published by the participant's own
/// account: the key a writer wraps a record's openings to (docs/confidentiality.md). Self-service, and only
/// while the account is an active participant of the ledger (registered, not suspended, holding a role).
interface IVaultKeys {
    /// @notice The caller is not an active participant of the ledger (unregistered, suspended or without a role).
    error VaultKeysNotParticipant(address account);
    /// @notice The key is not a usable X25519 public key (all zero).
    error VaultKeysInvalidKey(bytes32 key);
    /// @notice The ledger address given at deployment is zero.
    error VaultKeysZeroLedger();

    /// @notice Emitted when `account` published `key` as its vault public key (replacing `previous`, or zero).
    /// @param account The participant.
    /// @param key Its X25519 vault public key from now on.
    /// @param previous The key it replaced (zero for the first).
    event VaultKeyPublished(address indexed account, bytes32 key, bytes32 previous);

    /// @notice Publish the caller's X25519 vault public key, replacing any earlier one. Records written
    /// before keep the wraps they were written with. Active participants only.
    /// @param key The 32-byte X25519 public key (not zero).
    function publishVaultKey(bytes32 key) external;

    /// @notice The vault public key `account` published last, and whether it is an active participant now.
    /// @param account Any address.
    /// @return key The key (zero when it published none).
    /// @return active True when the account may act on the ledger now (a writer wraps to no other).
    function vaultKey(address account) external view returns (bytes32 key, bool active);

    /// @notice The ledger whose registry says who may publish.
    /// @return The ledger.
    function ledger() external view returns (IRinneLedger);
}
