// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {
    IGwpAttestations,
    GwpAttestation,
    AttestationRecord,
    LifeCycleStage,
    ProcessInventory
} from "./interfaces/IGwpAttestations.sol";
import {IRinneLedger} from "./interfaces/IRinneLedger.sol";
import {LedgerHead} from "./LedgerHead.sol";
import {SignerSignatures} from "./libraries/SignerSignatures.sol";
import {LotState, ParticipantInfo, Roles} from "./types/LedgerTypes.sol";

/// @title GwpAttestations
/// @notice EIP-712 signed GWP figures for lots, relayable by anyone, bound to this chain and contract.
/// @dev Nonces are a per-signer bitmap (any order, each once) so that a verifier can sign many
/// attestations offline and hand them to different relayers. The uid is the EIP-712 digest.
contract GwpAttestations is IGwpAttestations, EIP712, LedgerHead {
    /// @notice EIP-712 type hash of `GwpAttestation`.
    bytes32 public constant ATTESTATION_TYPEHASH = keccak256(
        "GwpAttestation(bytes32 lotId,uint64 emissionsGrams,uint8 stage,bytes32 methodology,bytes32 evidence,uint64 issuedAt,uint64 validUntil,uint256 nonce,uint64 deadline)"
    );

    /// @notice EIP-712 type hash of `ProcessInventory`.
    bytes32 public constant INVENTORY_TYPEHASH = keccak256(
        "ProcessInventory(bytes32 lotId,uint64 energyWh,uint16 renewableBps,uint64 waterWithdrawnLitres,uint64 waterConsumedLitres,uint8 route,bytes32 grade,bytes32 evidence,uint64 issuedAt,uint64 validUntil,uint256 nonce,uint64 deadline)"
    );

    uint16 private constant _ALL_BPS = 10_000;

    /// @dev Two words: what a later call checks (signer, validity, flags, stage; the lot). The figures
    /// (emissions, issue time, methodology, evidence) live in the `Attested` event, whose message hashes to the uid.
    struct Record {
        address signer;
        uint64 validUntil;
        LifeCycleStage stage;
        bool selfDeclared;
        bool revoked;
        bytes32 lotId;
    }

    struct InventoryRecord {
        address signer;
        uint64 validUntil;
        bool selfDeclared;
        bool revoked;
        bytes32 lotId;
    }

    IRinneLedger private immutable _ledger;
    mapping(bytes32 uid => Record) private _records;
    /// @dev Process inventories: who signed, until when, and whether revoked; the figures live in the event.
    mapping(bytes32 uid => InventoryRecord) private _inventories;
    mapping(address signer => mapping(uint256 word => uint256 bits)) private _nonceBitmap;

    /// @param ledger_ The ledger whose registry accredits signers and whose lots are attested.
    constructor(IRinneLedger ledger_) EIP712("Rinne GWP Attestations", "1") {
        _ledger = ledger_;
    }

    /// @inheritdoc IGwpAttestations
    function attest(GwpAttestation calldata a, address signer, bytes calldata signature) external returns (bytes32 uid) {
        uid = _hash(a);
        // The uid does not name the signer: the same message signed by a second key must not replace
        // (or un-revoke) the record. Its nonce is spent already, by the first signer.
        bool selfDeclared =
            _admit(uid, _records[uid].signer, a.lotId, signer, signature, a.nonce, a.deadline, a.issuedAt, a.validUntil);
        _records[uid] = Record(signer, a.validUntil, a.stage, selfDeclared, false, a.lotId);
        _emitRecorded(4, bytes.concat(abi.encode(Attested.selector, uid, a.lotId, signer), abi.encode(a, selfDeclared, signature)));
    }

    /// @inheritdoc IGwpAttestations
    function attestInventory(ProcessInventory calldata p, address signer, bytes calldata signature) external returns (bytes32 uid) {
        // Water consumed is withdrawn water not returned: it cannot exceed the withdrawal.
        if (p.renewableBps > _ALL_BPS || p.waterConsumedLitres > p.waterWithdrawnLitres) {
            revert GwpAttestationsInvalidInventory(p.lotId);
        }
        uid = _hashInventory(p);
        bool selfDeclared =
            _admit(uid, _inventories[uid].signer, p.lotId, signer, signature, p.nonce, p.deadline, p.issuedAt, p.validUntil);
        _inventories[uid] = InventoryRecord(signer, p.validUntil, selfDeclared, false, p.lotId);
        _emitRecorded(
            4, bytes.concat(abi.encode(InventoryAttested.selector, uid, p.lotId, signer), abi.encode(p, selfDeclared, signature))
        );
    }

    /// @inheritdoc IGwpAttestations
    function revoke(bytes32 uid, bytes32 reason) external {
        Record storage r = _records[uid];
        if (r.signer != address(0)) {
            _checkRevoke(uid, r.signer, r.revoked);
            r.revoked = true;
        } else {
            InventoryRecord storage v = _inventories[uid];
            _checkRevoke(uid, v.signer, v.revoked);
            v.revoked = true;
        }
        _emitRecorded(3, abi.encode(Revoked.selector, uid, msg.sender, reason));
    }

    /// @inheritdoc IGwpAttestations
    function isValid(bytes32 uid) external view returns (bool) {
        Record storage r = _records[uid];
        if (r.signer != address(0)) return !r.revoked && block.timestamp <= r.validUntil;
        InventoryRecord storage v = _inventories[uid];
        return v.signer != address(0) && !v.revoked && block.timestamp <= v.validUntil;
    }

    /// @inheritdoc IGwpAttestations
    function attestation(bytes32 uid) external view returns (AttestationRecord memory) {
        Record memory r = _records[uid];
        return AttestationRecord(r.signer, r.validUntil, r.stage, r.selfDeclared, r.revoked, r.lotId);
    }

    /// @inheritdoc IGwpAttestations
    function nonceUsed(address signer, uint256 nonce) external view returns (bool) {
        return _nonceBitmap[signer][nonce >> 8] & (1 << (nonce & 0xff)) != 0;
    }

    /// @inheritdoc IGwpAttestations
    function hashAttestation(GwpAttestation calldata a) external view returns (bytes32) {
        return _hash(a);
    }

    /// @inheritdoc IGwpAttestations
    function hashInventory(ProcessInventory calldata p) external view returns (bytes32) {
        return _hashInventory(p);
    }

    /// @inheritdoc IGwpAttestations
    function ledger() external view returns (address) {
        return address(_ledger);
    }

    /// @notice The EIP-712 domain separator (chain id and this contract).
    /// @return The separator.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    function _hash(GwpAttestation calldata a) private view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    ATTESTATION_TYPEHASH,
                    a.lotId,
                    a.emissionsGrams,
                    a.stage,
                    a.methodology,
                    a.evidence,
                    a.issuedAt,
                    a.validUntil,
                    a.nonce,
                    a.deadline
                )
            )
        );
    }

    function _hashInventory(ProcessInventory calldata p) private view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    INVENTORY_TYPEHASH,
                    p.lotId,
                    p.energyWh,
                    p.renewableBps,
                    p.waterWithdrawnLitres,
                    p.waterConsumedLitres,
                    p.route,
                    p.grade,
                    p.evidence,
                    p.issuedAt,
                    p.validUntil,
                    p.nonce,
                    p.deadline
                )
            )
        );
    }

    /// @dev The one admission rule of both kinds of signed figure: deadline, validity window, signature, nonce,
    /// no second record under one uid, an existing lot, and who may sign. Returns whether it is self-declared.
    function _admit(
        bytes32 uid,
        address recorded,
        bytes32 lotId,
        address signer,
        bytes calldata signature,
        uint256 nonce,
        uint64 deadline,
        uint64 issuedAt,
        uint64 validUntil
    ) private returns (bool selfDeclared) {
        if (block.timestamp > deadline) revert GwpAttestationsExpiredDeadline(deadline);
        if (validUntil <= issuedAt || issuedAt > block.timestamp) revert GwpAttestationsInvalidPeriod(issuedAt, validUntil);
        if (!SignerSignatures.isValid(signer, uid, signature)) revert GwpAttestationsInvalidSignature(signer);
        _useNonce(signer, nonce);
        if (recorded != address(0)) revert GwpAttestationsNonceUsed(recorded, nonce);
        (address holder, LotState state) = _ledger.holderOf(lotId);
        if (state == LotState.None) revert GwpAttestationsUnknownLot(lotId);
        if (!_ledger.hasAnyRole(signer, Roles.GWP_VERIFIER)) {
            // Without accreditation a figure is only a self-declaration, and only the holder may make it,
            // while it holds the lot: nobody changes the figures of a lot once it was used (or is frozen).
            if (signer != holder || !_ledger.hasAnyRole(signer, Roles.ALL)) revert GwpAttestationsUnauthorizedSigner(signer);
            if (state != LotState.Active) revert GwpAttestationsSelfDeclarationClosed(lotId, uint8(state));
            selfDeclared = true;
        }
    }

    function _checkRevoke(bytes32 uid, address signer, bool revoked) private view {
        if (signer == address(0)) revert GwpAttestationsUnknown(uid);
        if (revoked) revert GwpAttestationsAlreadyRevoked(uid);
        // The signer may withdraw its own figure only while it is an active participant: a suspended
        // (leaked) verifier key must not be able to revoke, since a revocation cannot be undone.
        bool bySigner = msg.sender == signer && _isActive(msg.sender);
        if (!bySigner && !_ledger.hasAnyRole(msg.sender, Roles.AUDITOR)) {
            revert GwpAttestationsUnauthorizedRevoker(msg.sender);
        }
    }

    function _isActive(address account) private view returns (bool) {
        ParticipantInfo memory p = _ledger.participant(account);
        return p.registered && !p.suspended;
    }

    function _useNonce(address signer, uint256 nonce) private {
        uint256 bit = 1 << (nonce & 0xff);
        uint256 bits = _nonceBitmap[signer][nonce >> 8];
        if (bits & bit != 0) revert GwpAttestationsNonceUsed(signer, nonce);
        _nonceBitmap[signer][nonce >> 8] = bits | bit;
    }
}
