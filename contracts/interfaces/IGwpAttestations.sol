// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @notice Life-cycle stage of an emission figure (EU Battery Regulation Art. 7).
enum LifeCycleStage {
    RawMaterialAcquisition,
    MainProduction,
    Distribution,
    EndOfLife
}

/// @notice The EIP-712 message a GWP verifier signs: one process step's own (gate-to-gate) emissions for a lot.
struct GwpAttestation {
    bytes32 lotId; // the lot the figure is for
    uint64 emissionsGrams; // the step's own emissions, grams CO2e
    LifeCycleStage stage; // life-cycle stage of the step
    bytes32 methodology; // methodology id, e.g. "ISO14067:2018" or "EU-BATT-CFB-2024"
    bytes32 evidence; // hash of the verification report
    uint64 issuedAt; // when the verifier issued it (unix seconds)
    uint64 validUntil; // when the figure stops being valid (unix seconds)
    uint256 nonce; // per-signer, single use, any order
    uint64 deadline; // last moment the signature may be submitted on-chain
}

/// @notice How a step processed its material; for recycling, the three routes recyclers run
/// (pyrometallurgy, hydrometallurgy, direct-to-cathode), whose recovery EU 2023/1542 Annex XII Part C measures.
enum ProcessRoute {
    Unspecified,
    Pyrometallurgy,
    Hydrometallurgy,
    DirectToCathode,
    Other
}

/// @notice The EIP-712 message for one process step's own (gate-to-gate) inventory beside its emissions:
/// energy used, its renewable share, water withdrawn and consumed, and the process route.
struct ProcessInventory {
    bytes32 lotId; // the lot the step made
    uint64 energyWh; // energy used by the step, Wh (electricity and fuels, final energy)
    uint16 renewableBps; // renewable share of that energy, basis points (0..10,000)
    uint64 waterWithdrawnLitres; // water withdrawn, litres (m³ × 1000)
    uint64 waterConsumedLitres; // water consumed (withdrawn and not returned), litres; at most withdrawn
    ProcessRoute route; // process route of the step
    bytes32 grade; // the grade the step's assay found (e.g. "Ni-class1"), zero when none is claimed
    bytes32 evidence; // hash of the inventory or assay report
    uint64 issuedAt; // when the signer issued it (unix seconds)
    uint64 validUntil; // when the figures stop being valid (unix seconds)
    uint256 nonce; // per-signer, single use, any order; the same bitmap as GWP attestations
    uint64 deadline; // last moment the signature may be submitted on-chain
}

/// @notice A stored attestation as returned by `attestation`: what later calls check. The signed figures
/// (emissions, issue time, methodology, evidence) are not stored: read them from the `Attested` event with
/// this uid and check that the event's message hashes to it (`hashAttestation`), which the contract ensured.
struct AttestationRecord {
    address signer; // verifier (EOA or ERC-1271 contract) or, when self-declared, the lot's holder
    uint64 validUntil; // end of validity
    LifeCycleStage stage; // life-cycle stage
    bool selfDeclared; // signed by the holder, not by an accredited verifier
    bool revoked; // revoked by the signer or an auditor (the record stays)
    bytes32 lotId; // the lot
}

/// @title IGwpAttestations
/// @notice Signed greenhouse-gas (GWP, kg CO2e) figures for lots. Anyone may relay a signed
/// attestation; the contract checks the EIP-712 signature (EOA low-s or ERC-1271), the signer's
/// accreditation at submission, the nonce and the deadline.
interface IGwpAttestations {
    /// @notice The signature does not belong to `signer` (or is malleable, or the wallet said no).
    error GwpAttestationsInvalidSignature(address signer);
    /// @notice The signer is neither an accredited verifier nor the lot's active holder.
    error GwpAttestationsUnauthorizedSigner(address signer);
    /// @notice The lot is no longer active (consumed or frozen; `state` as in `LotState`): its last holder may
    /// not self-declare a figure on it any more, only an accredited verifier may attest it.
    error GwpAttestationsSelfDeclarationClosed(bytes32 lotId, uint8 state);
    /// @notice The submission deadline has passed.
    error GwpAttestationsExpiredDeadline(uint64 deadline);
    /// @notice The nonce was used before by this signer.
    error GwpAttestationsNonceUsed(address signer, uint256 nonce);
    /// @notice The lot does not exist.
    error GwpAttestationsUnknownLot(bytes32 lotId);
    /// @notice The validity window is empty or the issue time lies in the future.
    error GwpAttestationsInvalidPeriod(uint64 issuedAt, uint64 validUntil);
    /// @notice No attestation with this uid.
    error GwpAttestationsUnknown(bytes32 uid);
    /// @notice The attestation was revoked already.
    error GwpAttestationsAlreadyRevoked(bytes32 uid);
    /// @notice The caller may not revoke this attestation (only its signer or an auditor may).
    error GwpAttestationsUnauthorizedRevoker(address account);
    /// @notice The inventory's figures are impossible: a renewable share above 100 % or more water consumed
    /// than withdrawn.
    error GwpAttestationsInvalidInventory(bytes32 lotId);

    /// @notice Emitted when an attestation was recorded.
    /// @param uid Its id: the EIP-712 digest of the message.
    /// @param lotId The lot.
    /// @param signer The signer.
    /// @param attestation The signed message.
    /// @param selfDeclared True when signed by the holder rather than an accredited verifier.
    /// @param signature The signature, so that auditors can verify it offline.
    event Attested(
        bytes32 indexed uid,
        bytes32 indexed lotId,
        address indexed signer,
        GwpAttestation attestation,
        bool selfDeclared,
        bytes signature
    );
    /// @notice Emitted when a process inventory was recorded.
    /// @param uid Its id: the EIP-712 digest of the message.
    /// @param lotId The lot.
    /// @param signer The signer.
    /// @param inventory The signed message.
    /// @param selfDeclared True when signed by the holder rather than an accredited verifier.
    /// @param signature The signature, so that auditors can verify it offline.
    event InventoryAttested(
        bytes32 indexed uid,
        bytes32 indexed lotId,
        address indexed signer,
        ProcessInventory inventory,
        bool selfDeclared,
        bytes signature
    );
    /// @notice Emitted when an attestation (GWP or process inventory) was revoked; the record stays.
    /// @param uid The attestation.
    /// @param revoker Signer or auditor.
    /// @param reason Hash of the reason document.
    event Revoked(bytes32 indexed uid, address indexed revoker, bytes32 reason);

    /// @notice Record a signed attestation; callable by anyone. An accredited verifier (GWP_VERIFIER at
    /// submission) may attest any existing lot, also one already consumed (the record's block shows that it
    /// came later); anyone else only self-declares, and only for a lot it holds while the lot is Active.
    /// @param attestation The signed message.
    /// @param signer The claimed signer (EOA or ERC-1271 contract).
    /// @param signature 65-byte ECDSA signature (low s) or the wallet's ERC-1271 signature.
    /// @return uid The attestation id (the EIP-712 digest).
    function attest(GwpAttestation calldata attestation, address signer, bytes calldata signature) external returns (bytes32 uid);

    /// @notice Record a signed process inventory; callable by anyone. The same rules as `attest`: signature,
    /// nonce (one bitmap for both kinds), deadline, validity window, and who may sign (an accredited verifier
    /// for any existing lot; otherwise only the lot's active holder, as a self-declaration).
    /// @param inventory The signed message.
    /// @param signer The claimed signer (EOA or ERC-1271 contract).
    /// @param signature 65-byte ECDSA signature (low s) or the wallet's ERC-1271 signature.
    /// @return uid The inventory's id (the EIP-712 digest); `revoke` and `isValid` take it.
    function attestInventory(ProcessInventory calldata inventory, address signer, bytes calldata signature)
        external
        returns (bytes32 uid);

    /// @notice Revoke an attestation or a process inventory. Its signer (while an active participant) or an AUDITOR.
    /// @param uid The attestation.
    /// @param reason Hash of the reason document.
    function revoke(bytes32 uid, bytes32 reason) external;

    /// @notice Whether an attestation exists, is not revoked and has not expired.
    /// @param uid The attestation.
    /// @return True when it can be relied on now.
    function isValid(bytes32 uid) external view returns (bool);

    /// @notice The stored attestation: signer, validity, stage, flags and lot; the figures are in its `Attested` event.
    /// @param uid The attestation.
    /// @return The record (zero signer when absent).
    function attestation(bytes32 uid) external view returns (AttestationRecord memory);

    /// @notice Whether `signer` has used `nonce`.
    /// @param signer The signer.
    /// @param nonce The nonce.
    /// @return True when used.
    function nonceUsed(address signer, uint256 nonce) external view returns (bool);

    /// @notice The EIP-712 digest of an attestation under this contract's domain.
    /// @param attestation The message.
    /// @return The digest (also the uid).
    function hashAttestation(GwpAttestation calldata attestation) external view returns (bytes32);

    /// @notice The EIP-712 digest of a process inventory under this contract's domain.
    /// @param inventory The message.
    /// @return The digest (also the uid).
    function hashInventory(ProcessInventory calldata inventory) external view returns (bytes32);

    /// @notice The ledger whose registry and lots this contract consults.
    /// @return The ledger address.
    function ledger() external view returns (address);
}
