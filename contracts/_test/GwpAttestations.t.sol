// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {RinneTest} from "./utils/RinneTest.sol";
import {Vm} from "./utils/Vm.sol";
import {GwpAttestations} from "../GwpAttestations.sol";
import {
    IGwpAttestations,
    GwpAttestation,
    AttestationRecord,
    LifeCycleStage,
    ProcessInventory,
    ProcessRoute
} from "../interfaces/IGwpAttestations.sol";
import {IRinneLedger} from "../interfaces/IRinneLedger.sol";
import {ERC1271WalletMock} from "../mocks/ERC1271WalletMock.sol";
import {LotSpec, Roles} from "../types/LedgerTypes.sol";

/// @notice EIP-712 GWP attestations: signature forms, replay protection, accreditation, self-declaration
/// and revocation.
contract GwpAttestationsTest is RinneTest {
    uint256 internal constant SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    bytes32 internal lotId;
    ERC1271WalletMock internal wallet;

    function setUp() public {
        vm.warp(1_767_225_600); // 2026-01-01
        _deploy();
        lotId = _mintNickel(refiner).lotId;
        wallet = new ERC1271WalletMock(verifier);
        vm.prank(admin);
        ledger.register(address(wallet), Roles.GWP_VERIFIER, keccak256("Wallet verifier"), bytes32(0));
    }

    function _attest(GwpAttestation memory a, address signer, bytes memory sig) internal returns (bytes32) {
        vm.prank(outsider); // anyone may relay
        return attestations.attest(a, signer, sig);
    }

    function _attestSigned(uint256 nonce) internal returns (bytes32 uid, GwpAttestation memory a) {
        a = _attestationFor(lotId, nonce);
        uid = _attest(a, verifier, _signAttestation(VERIFIER_KEY, a));
    }

    // ---------------------------------------------------------------------------------- attest

    function test_attest_recordsAndEmits() public {
        GwpAttestation memory a = _attestationFor(lotId, 1);
        bytes memory sig = _signAttestation(VERIFIER_KEY, a);
        bytes32 expectedUid = attestations.hashAttestation(a);
        (uint64 seq,) = attestations.ledgerHead();
        vm.expectEmit(address(attestations));
        emit IGwpAttestations.Attested(expectedUid, lotId, verifier, a, false, sig);
        bytes32 uid = _attest(a, verifier, sig);

        assertEq(uid, expectedUid, "uid is the EIP-712 digest");
        AttestationRecord memory r = attestations.attestation(uid);
        assertEq(r.signer, verifier, "signer");
        assertEq(r.lotId, lotId, "lot");
        assertEq(uint8(r.stage), uint8(LifeCycleStage.MainProduction), "stage");
        assertEq(r.validUntil, a.validUntil, "validUntil");
        assertFalse(r.selfDeclared, "verified, not self-declared");
        assertFalse(r.revoked, "not revoked");
        assertTrue(attestations.isValid(uid), "valid");
        assertTrue(attestations.nonceUsed(verifier, 1), "nonce used");
        (uint64 seq2, bytes32 head) = attestations.ledgerHead();
        assertEq(seq2, seq + 1, "head advanced");
        bytes32 eventHash =
            keccak256(bytes.concat(abi.encode(IGwpAttestations.Attested.selector, uid, lotId, verifier), abi.encode(a, false, sig)));
        assertEq(uint256(head) >> 64, uint256(keccak256(abi.encode(uint256(0), eventHash))) >> 64, "head hash is keccak(prev, event)");
    }

    function test_attest_validityEndsAtValidUntil() public {
        (bytes32 uid, GwpAttestation memory a) = _attestSigned(1);
        vm.warp(a.validUntil);
        assertTrue(attestations.isValid(uid), "valid at the last second");
        vm.warp(uint256(a.validUntil) + 1);
        assertFalse(attestations.isValid(uid), "expired");
        assertEq(attestations.attestation(uid).signer, verifier, "record stays");
    }

    function test_attest_rejectsHighSCopy() public {
        GwpAttestation memory a = _attestationFor(lotId, 1);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(VERIFIER_KEY, attestations.hashAttestation(a));
        // (r, n - s, v ^ 1) is the same signature mathematically; only the low-s form is accepted.
        bytes memory malleable = abi.encodePacked(r, bytes32(SECP256K1_N - uint256(s)), v == 27 ? uint8(28) : uint8(27));
        vm.expectRevert(abi.encodeWithSelector(IGwpAttestations.GwpAttestationsInvalidSignature.selector, verifier));
        _attest(a, verifier, malleable);
        // The canonical form still works, once.
        _attest(a, verifier, abi.encodePacked(r, s, v));
    }

    function test_attest_rejectsWrongChainId() public {
        GwpAttestation memory a = _attestationFor(lotId, 1);
        bytes memory sig = _signAttestation(VERIFIER_KEY, a); // signed for chain 31337
        vm.chainId(1);
        vm.expectRevert(abi.encodeWithSelector(IGwpAttestations.GwpAttestationsInvalidSignature.selector, verifier));
        _attest(a, verifier, sig);
        vm.chainId(31337);
        _attest(a, verifier, sig); // back on the chain it was signed for
    }

    function test_attest_rejectsSignatureForAnotherDeployment() public {
        GwpAttestations other = new GwpAttestations(IRinneLedger(address(ledger)));
        GwpAttestation memory a = _attestationFor(lotId, 1);
        bytes memory sigForOther = _sign(VERIFIER_KEY, other.hashAttestation(a));
        assertTrue(other.hashAttestation(a) != attestations.hashAttestation(a), "domains differ");
        vm.expectRevert(abi.encodeWithSelector(IGwpAttestations.GwpAttestationsInvalidSignature.selector, verifier));
        _attest(a, verifier, sigForOther);
        other.attest(a, verifier, sigForOther); // where it belongs, it verifies
    }

    function test_attest_rejectsWrongKeyAndBadLength() public {
        GwpAttestation memory a = _attestationFor(lotId, 1);
        bytes memory sigA1 = _signAttestation(OTHER_VERIFIER_KEY, a);
        vm.expectRevert(abi.encodeWithSelector(IGwpAttestations.GwpAttestationsInvalidSignature.selector, verifier));
        _attest(a, verifier, sigA1);
        bytes memory sig = _signAttestation(VERIFIER_KEY, a);
        bytes memory short = new bytes(64);
        for (uint256 i; i < 64; ++i) {
            short[i] = sig[i];
        }
        vm.expectRevert(abi.encodeWithSelector(IGwpAttestations.GwpAttestationsInvalidSignature.selector, verifier));
        _attest(a, verifier, short);
        // A tampered field changes the digest, so the signature no longer matches.
        a.emissionsGrams -= 1;
        vm.expectRevert(abi.encodeWithSelector(IGwpAttestations.GwpAttestationsInvalidSignature.selector, verifier));
        _attest(a, verifier, sig);
    }

    /// @dev The figures are not in storage, only in the `Attested` event: a relayer (or the signer, relaying
    /// again) cannot make the ledger show figures other than the signed ones. Every field changed after signing
    /// is refused, and the one event recorded carries the signed message, whose digest is the stored uid.
    function test_attest_relayerCannotRecordOtherFigures() public {
        GwpAttestation memory a = _attestationFor(lotId, 1);
        bytes memory sig = _signAttestation(VERIFIER_KEY, a);
        for (uint256 field; field < 9; ++field) {
            GwpAttestation memory b = _attestationFor(lotId, 1);
            if (field == 0) b.lotId = _mintNickel(refiner).lotId; // another existing lot
            if (field == 1) b.emissionsGrams = 1;
            if (field == 2) b.stage = LifeCycleStage.EndOfLife;
            if (field == 3) b.methodology = "EU-BATT-CFB-2024";
            if (field == 4) b.evidence = bytes32(uint256(b.evidence) ^ 1);
            if (field == 5) b.issuedAt -= 1;
            if (field == 6) b.validUntil += 365 days;
            if (field == 7) b.nonce += 1;
            if (field == 8) b.deadline += 1;
            vm.expectRevert(abi.encodeWithSelector(IGwpAttestations.GwpAttestationsInvalidSignature.selector, verifier));
            _attest(b, verifier, sig);
        }
        vm.recordLogs();
        bytes32 uid = _attest(a, verifier, sig);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        uint256 found;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter != address(attestations) || logs[i].topics[0] != IGwpAttestations.Attested.selector) continue;
            ++found;
            assertEq(logs[i].topics[1], uid, "event names the uid");
            (GwpAttestation memory e,,) = abi.decode(logs[i].data, (GwpAttestation, bool, bytes));
            assertEq(attestations.hashAttestation(e), uid, "the event's message hashes to the uid");
            assertEq(e.emissionsGrams, a.emissionsGrams, "signed emissions");
            assertEq(e.issuedAt, a.issuedAt, "signed issue time");
        }
        assertEq(found, 1, "one Attested event");
        // Relaying it again (with the same or another signature form) adds no second event with other figures.
        vm.expectRevert(abi.encodeWithSelector(IGwpAttestations.GwpAttestationsNonceUsed.selector, verifier, 1));
        _attest(a, verifier, sig);
    }

    function test_attest_rejectsUsedNonce() public {
        (, GwpAttestation memory a) = _attestSigned(42);
        bytes memory sig = _signAttestation(VERIFIER_KEY, a);
        vm.expectRevert(abi.encodeWithSelector(IGwpAttestations.GwpAttestationsNonceUsed.selector, verifier, 42));
        _attest(a, verifier, sig);
        // A different message with the same nonce is refused too.
        GwpAttestation memory b = _attestationFor(lotId, 42);
        b.emissionsGrams = 1;
        bytes memory sigB2 = _signAttestation(VERIFIER_KEY, b);
        vm.expectRevert(abi.encodeWithSelector(IGwpAttestations.GwpAttestationsNonceUsed.selector, verifier, 42));
        _attest(b, verifier, sigB2);
    }

    function test_attest_noncesAreIndependentBits() public {
        uint256[5] memory nonces = [uint256(0), 255, 256, 1 << 200, type(uint256).max];
        for (uint256 i; i < nonces.length; ++i) {
            assertFalse(attestations.nonceUsed(verifier, nonces[i]), "unused before");
            _attestSigned(nonces[i]);
            assertTrue(attestations.nonceUsed(verifier, nonces[i]), "used after");
        }
        assertFalse(attestations.nonceUsed(verifier, 1), "neighbour of 0 untouched");
        assertFalse(attestations.nonceUsed(verifier, 254), "neighbour of 255 untouched");
        assertFalse(attestations.nonceUsed(otherVerifier, 0), "per signer");
    }

    function test_attest_rejectsExpiredDeadline() public {
        GwpAttestation memory a = _attestationFor(lotId, 1);
        bytes memory sig = _signAttestation(VERIFIER_KEY, a);
        vm.warp(uint256(a.deadline) + 1);
        vm.expectRevert(abi.encodeWithSelector(IGwpAttestations.GwpAttestationsExpiredDeadline.selector, a.deadline));
        _attest(a, verifier, sig);
        vm.warp(a.deadline); // the deadline itself is still in time
        _attest(a, verifier, sig);
    }

    function test_attest_rejectsInvalidPeriod() public {
        GwpAttestation memory a = _attestationFor(lotId, 1);
        a.validUntil = a.issuedAt;
        bytes memory sigA3 = _signAttestation(VERIFIER_KEY, a);
        vm.expectRevert(abi.encodeWithSelector(IGwpAttestations.GwpAttestationsInvalidPeriod.selector, a.issuedAt, a.validUntil));
        _attest(a, verifier, sigA3);
        GwpAttestation memory b = _attestationFor(lotId, 2);
        b.issuedAt = uint64(block.timestamp + 1); // issued in the future
        bytes memory sigB4 = _signAttestation(VERIFIER_KEY, b);
        vm.expectRevert(abi.encodeWithSelector(IGwpAttestations.GwpAttestationsInvalidPeriod.selector, b.issuedAt, b.validUntil));
        _attest(b, verifier, sigB4);
    }

    function test_attest_rejectsUnknownLot() public {
        GwpAttestation memory a = _attestationFor(keccak256("no such lot"), 1);
        bytes memory sigA5 = _signAttestation(VERIFIER_KEY, a);
        vm.expectRevert(abi.encodeWithSelector(IGwpAttestations.GwpAttestationsUnknownLot.selector, a.lotId));
        _attest(a, verifier, sigA5);
    }

    function test_attest_rejectsVerifierWhoseRoleWasRevoked() public {
        GwpAttestation memory a = _attestationFor(lotId, 1);
        bytes memory sig = _signAttestation(VERIFIER_KEY, a); // signed while accredited
        vm.prank(admin);
        ledger.revokeRoles(verifier, Roles.GWP_VERIFIER);
        vm.expectRevert(abi.encodeWithSelector(IGwpAttestations.GwpAttestationsUnauthorizedSigner.selector, verifier));
        _attest(a, verifier, sig);
        assertFalse(attestations.nonceUsed(verifier, 1), "the failed attempt used no nonce");
    }

    function test_attest_rejectsSuspendedVerifier() public {
        GwpAttestation memory a = _attestationFor(lotId, 1);
        bytes memory sig = _signAttestation(VERIFIER_KEY, a);
        vm.prank(admin);
        ledger.suspend(verifier, keccak256("accreditation lapsed"));
        vm.expectRevert(abi.encodeWithSelector(IGwpAttestations.GwpAttestationsUnauthorizedSigner.selector, verifier));
        _attest(a, verifier, sig);
    }

    function test_attest_selfDeclaredByHolder() public {
        LotSpec memory s = _nickelSpec();
        _mint(keyedMiner, s);
        GwpAttestation memory a = _attestationFor(s.lotId, 1);
        bytes memory sig = _signAttestation(MINER_KEY, a);
        bytes32 expectedUid = attestations.hashAttestation(a);
        vm.expectEmit(address(attestations));
        emit IGwpAttestations.Attested(expectedUid, s.lotId, keyedMiner, a, true, sig);
        bytes32 uid = _attest(a, keyedMiner, sig);
        AttestationRecord memory r = attestations.attestation(uid);
        assertTrue(r.selfDeclared, "self-declared");
        assertEq(r.signer, keyedMiner, "holder signed");
        assertTrue(attestations.isValid(uid), "valid (as a self-declaration)");
    }

    function test_attest_selfDeclarationNeedsTheActiveHolder() public {
        // keyedMiner does not hold `lotId` (the refiner does): not accredited, not the holder.
        GwpAttestation memory a = _attestationFor(lotId, 1);
        bytes memory sigA6 = _signAttestation(MINER_KEY, a);
        vm.expectRevert(abi.encodeWithSelector(IGwpAttestations.GwpAttestationsUnauthorizedSigner.selector, keyedMiner));
        _attest(a, keyedMiner, sigA6);

        // The holder, once suspended, cannot self-declare either.
        LotSpec memory s = _nickelSpec();
        _mint(keyedMiner, s);
        GwpAttestation memory b = _attestationFor(s.lotId, 2);
        vm.prank(admin);
        ledger.suspend(keyedMiner, bytes32(0));
        bytes memory sigB7 = _signAttestation(MINER_KEY, b);
        vm.expectRevert(abi.encodeWithSelector(IGwpAttestations.GwpAttestationsUnauthorizedSigner.selector, keyedMiner));
        _attest(b, keyedMiner, sigB7);
    }

    function test_attest_erc1271ValidThenSwitchedOff() public {
        GwpAttestation memory a = _attestationFor(lotId, 1);
        bytes32 uid = _attest(a, address(wallet), _signAttestation(VERIFIER_KEY, a));
        AttestationRecord memory r = attestations.attestation(uid);
        assertEq(r.signer, address(wallet), "the wallet is the signer");
        assertFalse(r.selfDeclared, "accredited wallet");
        assertTrue(attestations.nonceUsed(address(wallet), 1), "wallet nonce used");
        assertFalse(attestations.nonceUsed(verifier, 1), "owner key's nonce untouched");

        vm.expectEmit(address(wallet));
        emit ERC1271WalletMock.EnabledChanged(false);
        vm.prank(verifier);
        wallet.setEnabled(false);
        GwpAttestation memory b = _attestationFor(lotId, 2);
        bytes memory sigB8 = _signAttestation(VERIFIER_KEY, b);
        vm.expectRevert(abi.encodeWithSelector(IGwpAttestations.GwpAttestationsInvalidSignature.selector, address(wallet)));
        _attest(b, address(wallet), sigB8);
        assertTrue(attestations.isValid(uid), "an earlier attestation stays on record");
    }

    function test_attest_erc1271RejectsOtherKeys() public {
        GwpAttestation memory a = _attestationFor(lotId, 1);
        bytes memory sigA9 = _signAttestation(OTHER_VERIFIER_KEY, a);
        vm.expectRevert(abi.encodeWithSelector(IGwpAttestations.GwpAttestationsInvalidSignature.selector, address(wallet)));
        _attest(a, address(wallet), sigA9);
    }

    function test_walletMock_onlyOwnerSwitches() public {
        vm.expectRevert(abi.encodeWithSelector(ERC1271WalletMock.ERC1271WalletMockUnauthorized.selector, outsider));
        vm.prank(outsider);
        wallet.setEnabled(false);
    }

    /// @dev The uid is the digest, which does not name the signer: a second signer of the very same
    /// message must not overwrite (or un-revoke) the first record.
    function test_attest_sameMessageBySecondSignerCannotOverwrite() public {
        (bytes32 uid, GwpAttestation memory a) = _attestSigned(5);
        vm.prank(auditor);
        attestations.revoke(uid, keccak256("wrong figure"));
        bytes memory sigA10 = _signAttestation(OTHER_VERIFIER_KEY, a);
        vm.expectRevert(abi.encodeWithSelector(IGwpAttestations.GwpAttestationsNonceUsed.selector, verifier, 5));
        _attest(a, otherVerifier, sigA10);
        AttestationRecord memory r = attestations.attestation(uid);
        assertEq(r.signer, verifier, "first signer kept");
        assertTrue(r.revoked, "still revoked");
        assertFalse(attestations.nonceUsed(otherVerifier, 5), "second signer's nonce untouched");
    }

    // ------------------------------------------------------------------------ process inventory

    function _inventory(ProcessInventory memory p, address signer, bytes memory sig) internal returns (bytes32) {
        vm.prank(outsider); // anyone may relay
        return attestations.attestInventory(p, signer, sig);
    }

    function test_inventory_recordsAndEmits() public {
        ProcessInventory memory p = _inventoryFor(lotId, 1);
        bytes memory sig = _signInventory(VERIFIER_KEY, p);
        bytes32 expectedUid = attestations.hashInventory(p);
        (uint64 seq,) = attestations.ledgerHead();
        vm.expectEmit(address(attestations));
        emit IGwpAttestations.InventoryAttested(expectedUid, lotId, verifier, p, false, sig);
        bytes32 uid = _inventory(p, verifier, sig);
        assertEq(uid, expectedUid, "uid is the EIP-712 digest");
        assertTrue(attestations.isValid(uid), "valid");
        assertTrue(attestations.nonceUsed(verifier, 1), "nonce used");
        (uint64 seq2,) = attestations.ledgerHead();
        assertEq(seq2, seq + 1, "the head advanced over the event");
        vm.warp(uint256(p.validUntil) + 1);
        assertFalse(attestations.isValid(uid), "expired");
    }

    function test_inventory_sharesTheNonceBitmapWithAttestations() public {
        // A nonce spent on an emissions figure cannot be spent again on an inventory, and the other way round.
        _attestSigned(7);
        ProcessInventory memory p = _inventoryFor(lotId, 7);
        bytes memory sig = _signInventory(VERIFIER_KEY, p);
        vm.expectRevert(abi.encodeWithSelector(IGwpAttestations.GwpAttestationsNonceUsed.selector, verifier, 7));
        _inventory(p, verifier, sig);
        ProcessInventory memory q = _inventoryFor(lotId, 8);
        _inventory(q, verifier, _signInventory(VERIFIER_KEY, q));
        GwpAttestation memory a = _attestationFor(lotId, 8);
        bytes memory sigA = _signAttestation(VERIFIER_KEY, a);
        vm.expectRevert(abi.encodeWithSelector(IGwpAttestations.GwpAttestationsNonceUsed.selector, verifier, 8));
        _attest(a, verifier, sigA);
    }

    function test_inventory_rejectsReplayExpiryAndTampering() public {
        ProcessInventory memory p = _inventoryFor(lotId, 3);
        bytes memory sig = _signInventory(VERIFIER_KEY, p);
        vm.warp(uint256(p.deadline) + 1);
        vm.expectRevert(abi.encodeWithSelector(IGwpAttestations.GwpAttestationsExpiredDeadline.selector, p.deadline));
        _inventory(p, verifier, sig);
        vm.warp(p.deadline);
        _inventory(p, verifier, sig);
        vm.expectRevert(abi.encodeWithSelector(IGwpAttestations.GwpAttestationsNonceUsed.selector, verifier, 3));
        _inventory(p, verifier, sig);
        ProcessInventory memory q = _inventoryFor(lotId, 4);
        bytes memory sigQ = _signInventory(VERIFIER_KEY, q);
        q.energyWh -= 1; // less energy than was signed
        vm.expectRevert(abi.encodeWithSelector(IGwpAttestations.GwpAttestationsInvalidSignature.selector, verifier));
        _inventory(q, verifier, sigQ);
    }

    function test_inventory_rejectsImpossibleFigures() public {
        ProcessInventory memory p = _inventoryFor(lotId, 1);
        p.renewableBps = 10_001;
        bytes memory sigP = _signInventory(VERIFIER_KEY, p);
        vm.expectRevert(abi.encodeWithSelector(IGwpAttestations.GwpAttestationsInvalidInventory.selector, lotId));
        _inventory(p, verifier, sigP);
        ProcessInventory memory q = _inventoryFor(lotId, 2);
        q.waterConsumedLitres = q.waterWithdrawnLitres + 1;
        bytes memory sigQ = _signInventory(VERIFIER_KEY, q);
        vm.expectRevert(abi.encodeWithSelector(IGwpAttestations.GwpAttestationsInvalidInventory.selector, lotId));
        _inventory(q, verifier, sigQ);
        ProcessInventory memory r = _inventoryFor(lotId, 3);
        r.renewableBps = 10_000; // all renewable, all withdrawn water consumed: possible
        r.waterConsumedLitres = r.waterWithdrawnLitres;
        _inventory(r, verifier, _signInventory(VERIFIER_KEY, r));
    }

    function test_inventory_aCompetitorCannotSignForAnothersLot() public {
        // keyedMiner is registered but neither accredited nor the holder of the refiner's lot.
        ProcessInventory memory p = _inventoryFor(lotId, 1);
        p.energyWh = 1; // a flattering figure for a lot it does not hold
        bytes memory sig = _signInventory(MINER_KEY, p);
        vm.expectRevert(abi.encodeWithSelector(IGwpAttestations.GwpAttestationsUnauthorizedSigner.selector, keyedMiner));
        _inventory(p, keyedMiner, sig);
        assertFalse(attestations.nonceUsed(keyedMiner, 1), "the failed attempt used no nonce");
    }

    function test_inventory_selfDeclaredByHolderWhileActive() public {
        LotSpec memory s = _nickelSpec();
        _mint(keyedMiner, s);
        ProcessInventory memory p = _inventoryFor(s.lotId, 1);
        bytes memory sig = _signInventory(MINER_KEY, p);
        vm.expectEmit(address(attestations));
        emit IGwpAttestations.InventoryAttested(attestations.hashInventory(p), s.lotId, keyedMiner, p, true, sig);
        _inventory(p, keyedMiner, sig);
        // Once handed on, the former holder may no longer declare anything about it.
        _transfer(s.lotId, keyedMiner, refiner);
        ProcessInventory memory q = _inventoryFor(s.lotId, 2);
        bytes memory sigQ = _signInventory(MINER_KEY, q);
        vm.expectRevert(abi.encodeWithSelector(IGwpAttestations.GwpAttestationsUnauthorizedSigner.selector, keyedMiner));
        _inventory(q, keyedMiner, sigQ);
    }

    function test_inventory_revokedBySignerOrAuditorOnly() public {
        ProcessInventory memory p = _inventoryFor(lotId, 1);
        bytes32 uid = _inventory(p, verifier, _signInventory(VERIFIER_KEY, p));
        vm.expectRevert(abi.encodeWithSelector(IGwpAttestations.GwpAttestationsUnauthorizedRevoker.selector, otherVerifier));
        vm.prank(otherVerifier);
        attestations.revoke(uid, bytes32(0));
        vm.expectEmit(address(attestations));
        emit IGwpAttestations.Revoked(uid, verifier, keccak256("superseded"));
        vm.prank(verifier);
        attestations.revoke(uid, keccak256("superseded"));
        assertFalse(attestations.isValid(uid), "revoked");
        vm.expectRevert(abi.encodeWithSelector(IGwpAttestations.GwpAttestationsAlreadyRevoked.selector, uid));
        vm.prank(auditor);
        attestations.revoke(uid, bytes32(0));
        assertEq(attestations.attestation(uid).signer, address(0), "an inventory is not an emissions record");
    }

    function test_hashInventory_bindsEveryFieldAndDiffersFromAttestations() public view {
        ProcessInventory memory p = _inventoryFor(lotId, 1);
        bytes32 base = attestations.hashInventory(p);
        p.route = ProcessRoute.Pyrometallurgy;
        assertTrue(attestations.hashInventory(p) != base, "route bound");
        p = _inventoryFor(lotId, 1);
        p.waterConsumedLitres += 1;
        assertTrue(attestations.hashInventory(p) != base, "water bound");
        p = _inventoryFor(lotId, 1);
        p.grade = bytes32(0);
        assertTrue(attestations.hashInventory(p) != base, "grade bound");
        assertTrue(base != attestations.hashAttestation(_attestationFor(lotId, 1)), "its own type");
    }

    // ---------------------------------------------------------------------------------- revoke

    function test_revoke_bySigner() public {
        (bytes32 uid,) = _attestSigned(1);
        vm.expectEmit(address(attestations));
        emit IGwpAttestations.Revoked(uid, verifier, keccak256("superseded"));
        vm.prank(verifier);
        attestations.revoke(uid, keccak256("superseded"));
        AttestationRecord memory r = attestations.attestation(uid);
        assertTrue(r.revoked, "revoked");
        assertEq(r.signer, verifier, "record kept");
        assertEq(r.lotId, lotId, "lot kept");
        assertFalse(attestations.isValid(uid), "no longer valid");
    }

    function test_revoke_byAuditor() public {
        (bytes32 uid,) = _attestSigned(1);
        vm.expectEmit(address(attestations));
        emit IGwpAttestations.Revoked(uid, auditor, keccak256("audit finding"));
        vm.prank(auditor);
        attestations.revoke(uid, keccak256("audit finding"));
        assertTrue(attestations.attestation(uid).revoked, "revoked");
    }

    function test_revoke_signerMayRevokeEvenAfterLosingAccreditation() public {
        (bytes32 uid,) = _attestSigned(1);
        vm.prank(admin);
        ledger.revokeRoles(verifier, Roles.GWP_VERIFIER);
        vm.prank(verifier);
        attestations.revoke(uid, bytes32(0));
        assertTrue(attestations.attestation(uid).revoked, "revoked");
    }

    function test_revoke_suspendedSignerCannotRevoke() public {
        // A suspended (leaked) verifier key must not withdraw figures: a revocation is permanent.
        (bytes32 uid,) = _attestSigned(1);
        vm.prank(admin);
        ledger.suspend(verifier, keccak256("key leaked"));
        vm.expectRevert(abi.encodeWithSelector(IGwpAttestations.GwpAttestationsUnauthorizedRevoker.selector, verifier));
        vm.prank(verifier);
        attestations.revoke(uid, bytes32(0));
        assertTrue(attestations.isValid(uid), "still valid");
        vm.prank(auditor);
        attestations.revoke(uid, keccak256("key leaked"));
        assertFalse(attestations.isValid(uid), "the auditor can");
    }

    function test_revoke_reverts() public {
        (bytes32 uid,) = _attestSigned(1);
        vm.expectRevert(abi.encodeWithSelector(IGwpAttestations.GwpAttestationsUnauthorizedRevoker.selector, otherVerifier));
        vm.prank(otherVerifier);
        attestations.revoke(uid, bytes32(0));
        // A suspended auditor is not an auditor.
        vm.prank(admin);
        ledger.suspend(auditor, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(IGwpAttestations.GwpAttestationsUnauthorizedRevoker.selector, auditor));
        vm.prank(auditor);
        attestations.revoke(uid, bytes32(0));

        vm.prank(verifier);
        attestations.revoke(uid, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(IGwpAttestations.GwpAttestationsAlreadyRevoked.selector, uid));
        vm.prank(verifier);
        attestations.revoke(uid, bytes32(0));

        bytes32 unknown = keccak256("unknown uid");
        vm.expectRevert(abi.encodeWithSelector(IGwpAttestations.GwpAttestationsUnknown.selector, unknown));
        vm.prank(auditor);
        attestations.revoke(unknown, bytes32(0));
    }

    // ----------------------------------------------------------------------------------- views

    function test_views() public view {
        assertEq(attestations.ledger(), address(ledger), "ledger");
        assertEq(
            attestations.ATTESTATION_TYPEHASH(),
            keccak256(
                "GwpAttestation(bytes32 lotId,uint64 emissionsGrams,uint8 stage,bytes32 methodology,bytes32 evidence,uint64 issuedAt,uint64 validUntil,uint256 nonce,uint64 deadline)"
            ),
            "type hash"
        );
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("Rinne GWP Attestations"),
                keccak256("1"),
                block.chainid,
                address(attestations)
            )
        );
        assertEq(attestations.domainSeparator(), domain, "domain separator");
        (, string memory name, string memory version, uint256 chainId, address verifying,,) = attestations.eip712Domain();
        assertEq(keccak256(bytes(name)), keccak256("Rinne GWP Attestations"), "name");
        assertEq(keccak256(bytes(version)), keccak256("1"), "version");
        assertEq(chainId, block.chainid, "chain id");
        assertEq(verifying, address(attestations), "verifying contract");
        AttestationRecord memory none = attestations.attestation(keccak256("none"));
        assertEq(none.signer, address(0), "absent record is zero");
        assertFalse(attestations.isValid(keccak256("none")), "absent is not valid");
    }

    function test_hashAttestation_bindsEveryField() public view {
        GwpAttestation memory a = _attestationFor(lotId, 1);
        bytes32 h = attestations.hashAttestation(a);
        for (uint256 field; field < 9; ++field) {
            GwpAttestation memory b = _attestationFor(lotId, 1);
            if (field == 0) b.lotId = bytes32(uint256(b.lotId) ^ 1);
            if (field == 1) b.emissionsGrams += 1;
            if (field == 2) b.stage = LifeCycleStage.EndOfLife;
            if (field == 3) b.methodology = "EU-BATT-CFB-2024";
            if (field == 4) b.evidence = bytes32(uint256(b.evidence) ^ 1);
            if (field == 5) b.issuedAt -= 1;
            if (field == 6) b.validUntil += 1;
            if (field == 7) b.nonce += 1;
            if (field == 8) b.deadline += 1;
            assertTrue(attestations.hashAttestation(b) != h, string.concat("field ", _str(field), " is bound"));
        }
    }
}
