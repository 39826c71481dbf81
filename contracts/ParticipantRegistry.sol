// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";
import {ParticipantInfo, Roles} from "./types/LedgerTypes.sol";
import {LedgerHead} from "./LedgerHead.sol";

/// @title ParticipantRegistry
/// @notice Roles of the supply-chain parties, governed by one admin (a multisig or consortium contract
/// in production) with two-step handover. Lives inside the ledger so that role checks are plain
/// storage reads rather than external calls.
abstract contract ParticipantRegistry is IParticipantRegistry, LedgerHead {
    // Packed participant word: roles (16) | registered (8) | suspended (8) | since (40) | number (32).
    // `number` is given once at registration, counting from 1, and never reused (nobody is ever
    // deregistered): the ledger stores holders and offer recipients as numbers, which puts a lot's
    // holder, offer, state, epochs and mass in one storage word (see `RinneLedger`).
    struct Participant {
        uint16 roles;
        bool registered;
        bool suspended;
        uint40 since;
        uint32 number;
    }

    // Set while a participant is suspended, in its `_accounts` word (and in `Participant.suspended`).
    uint256 private constant _SUSPENDED = 1 << 160;

    mapping(address account => Participant) private _participants;
    // Participant number => account address, with `_SUSPENDED` set while suspended: `accept` learns the
    // holder's address and standing in one read. `suspend` and `reinstate` write both records.
    mapping(uint256 number => uint256 word) private _accounts;
    address private _admin;
    address private _pendingAdmin;
    uint32 private _registeredCount;

    modifier onlyAdmin() {
        if (msg.sender != _admin) revert ParticipantRegistryUnauthorizedAdmin(msg.sender);
        _;
    }

    constructor(address initialAdmin) {
        if (initialAdmin == address(0)) revert ParticipantRegistryZeroAddress();
        _admin = initialAdmin;
        _emitRecorded(3, abi.encode(AdminTransferred.selector, address(0), initialAdmin));
    }

    /// @inheritdoc IParticipantRegistry
    function register(address account, uint16 roles, bytes32 nameHash, bytes32 metadataHash) external onlyAdmin {
        if (account == address(0)) revert ParticipantRegistryZeroAddress();
        if (roles == 0 || roles & ~Roles.ALL != 0) revert ParticipantRegistryInvalidRoles(roles);
        if (_participants[account].registered) revert ParticipantRegistryAlreadyRegistered(account);
        uint32 number = ++_registeredCount;
        _participants[account] = Participant(roles, true, false, uint40(block.timestamp), number);
        _accounts[number] = uint160(account);
        _emitRecorded(2, abi.encode(ParticipantRegistered.selector, account, roles, nameHash, metadataHash));
    }

    /// @inheritdoc IParticipantRegistry
    function grantRoles(address account, uint16 roles) external onlyAdmin {
        if (roles == 0 || roles & ~Roles.ALL != 0) revert ParticipantRegistryInvalidRoles(roles);
        _setRoles(account, _registered(account).roles | roles);
    }

    /// @inheritdoc IParticipantRegistry
    function revokeRoles(address account, uint16 roles) external onlyAdmin {
        if (roles == 0 || roles & ~Roles.ALL != 0) revert ParticipantRegistryInvalidRoles(roles);
        _setRoles(account, _registered(account).roles & ~roles);
    }

    /// @inheritdoc IParticipantRegistry
    function suspend(address account, bytes32 reason) external onlyAdmin {
        _setSuspended(account, true);
        _emitRecorded(2, abi.encode(ParticipantSuspended.selector, account, reason));
    }

    /// @inheritdoc IParticipantRegistry
    function reinstate(address account) external onlyAdmin {
        _setSuspended(account, false);
        _emitRecorded(2, abi.encode(ParticipantReinstated.selector, account));
    }

    /// @inheritdoc IParticipantRegistry
    function transferAdmin(address newAdmin) external onlyAdmin {
        _pendingAdmin = newAdmin;
        _emitRecorded(3, abi.encode(AdminTransferStarted.selector, msg.sender, newAdmin));
    }

    /// @inheritdoc IParticipantRegistry
    function acceptAdmin() external {
        if (msg.sender != _pendingAdmin || msg.sender == address(0)) revert ParticipantRegistryNotPendingAdmin(msg.sender);
        address previous = _admin;
        _admin = msg.sender;
        delete _pendingAdmin;
        _emitRecorded(3, abi.encode(AdminTransferred.selector, previous, msg.sender));
    }

    /// @inheritdoc IParticipantRegistry
    function admin() external view returns (address) {
        return _admin;
    }

    /// @inheritdoc IParticipantRegistry
    function pendingAdmin() external view returns (address) {
        return _pendingAdmin;
    }

    /// @inheritdoc IParticipantRegistry
    function participant(address account) external view returns (ParticipantInfo memory) {
        Participant memory p = _participants[account];
        return ParticipantInfo(p.roles, p.registered, p.suspended, p.since);
    }

    /// @inheritdoc IParticipantRegistry
    function hasAnyRole(address account, uint16 roles) public view returns (bool) {
        Participant storage p = _participants[account];
        return p.registered && !p.suspended && p.roles & roles != 0;
    }

    /// @dev Revert unless `account` is active and holds one of `roles`.
    function _requireRole(address account, uint16 roles) internal view {
        if (!hasAnyRole(account, roles)) revert ParticipantRegistryUnauthorized(account, roles);
    }

    /// @dev Revert unless `account` is a registered participant that is not suspended; return its number.
    function _requireActive(address account) internal view returns (uint32 number) {
        number = _activeNumber(account);
        if (number == 0) revert ParticipantRegistryUnauthorized(account, 0);
    }

    /// @dev The participant number of `account` if it is registered and not suspended, else 0: one read of the
    /// participant word, whose bits 16-31 are `registered` and `suspended` (exactly 1 when registered, not
    /// suspended) and 72-103 `number`.
    function _activeNumber(address account) internal view returns (uint32) {
        Participant storage p = _participants[account];
        uint256 w;
        assembly ("memory-safe") {
            w := sload(p.slot)
        }
        return uint16(w >> 16) == 1 ? uint32(w >> 72) : 0;
    }

    /// @dev The participant number of `account`: 0 unless registered, so never that of a holder or recipient.
    function _numberOf(address account) internal view returns (uint32) {
        return _participants[account].number;
    }

    /// @dev The account registered as participant `number` (the zero address for 0).
    function _accountOf(uint32 number) internal view returns (address) {
        return address(uint160(_accounts[number]));
    }

    /// @dev The account registered as participant `number` and whether it is active (registered, not
    /// suspended), in one storage read.
    function _activeAccountOf(uint32 number) internal view returns (address account, bool active) {
        uint256 w = _accounts[number];
        return (address(uint160(w)), w != 0 && w & _SUSPENDED == 0);
    }

    function _registered(address account) private view returns (Participant storage p) {
        p = _participants[account];
        if (!p.registered) revert ParticipantRegistryNotRegistered(account);
    }

    /// @dev Suspend or reinstate `account`, in both records that hold its standing.
    function _setSuspended(address account, bool suspended) private {
        Participant storage p = _registered(account);
        p.suspended = suspended;
        uint256 n = p.number;
        _accounts[n] = suspended ? _accounts[n] | _SUSPENDED : _accounts[n] & ~_SUSPENDED;
    }

    function _setRoles(address account, uint16 roles) private {
        _participants[account].roles = roles;
        _emitRecorded(2, abi.encode(RolesChanged.selector, account, roles));
    }
}
