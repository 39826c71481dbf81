// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {RinneTest} from "./utils/RinneTest.sol";
import {GwpAttestations} from "../GwpAttestations.sol";
import {GwpAttestation, LifeCycleStage} from "../interfaces/IGwpAttestations.sol";
import {IRinneLedger} from "../interfaces/IRinneLedger.sol";
import {LotSpec} from "../types/LedgerTypes.sol";

/// @notice Known-answer test: the contract's EIP-712 digest equals one computed independently by
/// eth-account's generic typed-data encoder, and a signature made by eth-account verifies on-chain.
contract Eip712VectorTest is RinneTest {
    // Produced by `.venv/bin/python scripts/eip712_vector.py` (eth-account 0.14 `encode_typed_data(full_message=...)`
    // with domain {name "Rinne GWP Attestations", version "1", chainId 31337, verifyingContract CONTRACT}, where
    // CONTRACT is the CREATE address of DEPLOYER at nonce 0, and `Account.sign_message` with key 0xA11CE).
    address internal constant DEPLOYER = 0x000000000000000000000000000000000000d3f1;
    address internal constant CONTRACT = 0xbe9DB7Eb9A6a7e0Ea027386Ec6D4804D7F2c26c9;
    bytes32 internal constant LOT_ID = 0xd23fd676453cf85c1603a1f3228a8b5c8115a3080422266e15704f9292ebbd4a;
    bytes32 internal constant EVIDENCE = 0xc4cc711b30f85e55273a8ccebf5485a301619909d63e245da247c65389d3d2c3;
    bytes32 internal constant DOMAIN_SEPARATOR = 0x34cb4ac30b112f61581a26a7e24a6c4dd1802df66ad5c5024a2c8b999fe8fbcc;
    bytes32 internal constant STRUCT_HASH = 0x1abd686be9bf72f676d162bf36f23cfe14a83e5977a47ac03740bcead72841ef;
    bytes32 internal constant DIGEST = 0x956ec2bab8fec340c89ba5a78556e6979e8653b889a2add51c3bbd896926ec6d;
    address internal constant SIGNER = 0xe05fcC23807536bEe418f142D19fa0d21BB0cfF7;
    bytes internal constant SIGNATURE =
        hex"723ccf2f53d299a740be00c67470dfbe10de31b7a26dd14d5953ec14eb0c33ad4048d8029706fac6cf120afcdec35504e23c5eb5839e96420f00292bf48f31841b";

    GwpAttestations internal att;

    function setUp() public {
        vm.warp(1_767_225_600);
        _deploy();
        vm.prank(DEPLOYER);
        att = new GwpAttestations(IRinneLedger(address(ledger)));
        LotSpec memory s = _nickelSpec();
        s.lotId = LOT_ID;
        _mint(miner, s);
    }

    function _vector() internal pure returns (GwpAttestation memory a) {
        a.lotId = LOT_ID;
        a.emissionsGrams = 2_450_000;
        a.stage = LifeCycleStage.MainProduction;
        a.methodology = "ISO14067:2018";
        a.evidence = EVIDENCE;
        a.issuedAt = 1_767_225_600;
        a.validUntil = 1_798_761_600;
        a.nonce = 42;
        a.deadline = 1_767_312_000;
    }

    function test_vector_deployedAtTheVectorsAddress() public view {
        assertEq(block.chainid, 31337, "forge's default chain id");
        assertEq(address(att), CONTRACT, "CREATE address of DEPLOYER at nonce 0");
    }

    function test_vector_digestMatchesEthAccount() public view {
        GwpAttestation memory a = _vector();
        assertEq(att.domainSeparator(), DOMAIN_SEPARATOR, "domain separator");
        bytes32 structHash = keccak256(
            abi.encode(
                att.ATTESTATION_TYPEHASH(),
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
        );
        assertEq(structHash, STRUCT_HASH, "struct hash");
        assertEq(att.hashAttestation(a), DIGEST, "hashAttestation");
    }

    function test_vector_ethAccountSignatureVerifiesOnChain() public {
        assertEq(SIGNER, verifier, "the vector's key is the test verifier's");
        bytes32 uid = att.attest(_vector(), SIGNER, SIGNATURE);
        assertEq(uid, DIGEST, "uid is the digest");
        assertTrue(att.isValid(uid), "valid");
    }
}
