// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {ParticipantInfo} from "../types/LedgerTypes.sol";

/// @title IParticipantRegistry
/// @notice Who may act on the ledger, in which roles. Deny by default: an address that the admin has
/// not registered, or has suspended, can do nothing. The admin hands over in two steps.
interface IParticipantRegistry {
    /// @notice The caller is not the admin.
    error ParticipantRegistryUnauthorizedAdmin(address account);
    /// @notice The caller is not the pending admin.
    error ParticipantRegistryNotPendingAdmin(address account);
    /// @notice The account is already registered.
    error ParticipantRegistryAlreadyRegistered(address account);
    /// @notice The account is not registered.
    error ParticipantRegistryNotRegistered(address account);
    /// @notice The role bits are empty or name roles that do not exist.
    error ParticipantRegistryInvalidRoles(uint16 roles);
    /// @notice The account is not an active participant holding any of `roles` (0: any role).
    error ParticipantRegistryUnauthorized(address account, uint16 roles);
    /// @notice The zero address cannot be a participant or admin.
    error ParticipantRegistryZeroAddress();

    /// @notice Emitted when the admin registers `account` with `roles`.
    /// @param account The new participant.
    /// @param roles Its role bits.
    /// @param nameHash keccak256 of the display name.
    /// @param metadataHash Hash of the off-chain metadata document (accreditation, addresses).
    event ParticipantRegistered(address indexed account, uint16 roles, bytes32 nameHash, bytes32 metadataHash);
    /// @notice Emitted when the role bits of `account` changed to `roles`.
    /// @param account The participant.
    /// @param roles Its role bits after the change.
    event RolesChanged(address indexed account, uint16 roles);
    /// @notice Emitted when `account` was suspended.
    /// @param account The participant.
    /// @param reason Hash of the reason document.
    event ParticipantSuspended(address indexed account, bytes32 reason);
    /// @notice Emitted when `account` was reinstated after a suspension.
    /// @param account The participant.
    event ParticipantReinstated(address indexed account);
    /// @notice Emitted when the admin named `pendingAdmin` as its successor.
    /// @param admin The current admin.
    /// @param pendingAdmin The successor, who must call `acceptAdmin`.
    event AdminTransferStarted(address indexed admin, address indexed pendingAdmin);
    /// @notice Emitted when the admin changed (also at deployment, from the zero address).
    /// @param previousAdmin The former admin.
    /// @param newAdmin The new admin.
    event AdminTransferred(address indexed previousAdmin, address indexed newAdmin);

    /// @notice Register `account` with `roles`. Admin only.
    /// @param account The new participant.
    /// @param roles Its role bits (non-empty).
    /// @param nameHash keccak256 of the display name.
    /// @param metadataHash Hash of the off-chain metadata document.
    function register(address account, uint16 roles, bytes32 nameHash, bytes32 metadataHash) external;

    /// @notice Add `roles` to a registered participant. Admin only.
    /// @param account The participant.
    /// @param roles Role bits to add.
    function grantRoles(address account, uint16 roles) external;

    /// @notice Remove `roles` from a registered participant. Admin only.
    /// @param account The participant.
    /// @param roles Role bits to remove.
    function revokeRoles(address account, uint16 roles) external;

    /// @notice Bar `account` from every action until reinstated (e.g. after a key leak). Admin only.
    /// @param account The participant.
    /// @param reason Hash of the reason document.
    function suspend(address account, bytes32 reason) external;

    /// @notice Lift the suspension of `account`. Admin only.
    /// @param account The participant.
    function reinstate(address account) external;

    /// @notice Name `newAdmin` as successor; it takes over when it calls `acceptAdmin`. Admin only.
    /// @param newAdmin The successor (zero cancels a pending handover).
    function transferAdmin(address newAdmin) external;

    /// @notice Take over as admin. Pending admin only.
    function acceptAdmin() external;

    /// @notice The current admin.
    /// @return The admin address.
    function admin() external view returns (address);

    /// @notice The admin-elect, or zero.
    /// @return The pending admin address.
    function pendingAdmin() external view returns (address);

    /// @notice The stored record of `account`.
    /// @param account Any address.
    /// @return The participant record (all zero when unregistered).
    function participant(address account) external view returns (ParticipantInfo memory);

    /// @notice Whether `account` is registered, not suspended, and holds any of `roles`.
    /// @param account Any address.
    /// @param roles Role bits, any of which suffices.
    /// @return True when the account may act in one of the roles now.
    function hasAnyRole(address account, uint16 roles) external view returns (bool);
}
