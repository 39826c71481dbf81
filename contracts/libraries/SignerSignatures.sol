// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";

/// @title SignerSignatures
/// @notice Whether a signature over a digest is the signer's: an ECDSA signature when the signer has no code
/// (an EOA), an ERC-1271 answer when it has (a contract wallet).
/// @dev The semantics of OpenZeppelin 5.4's `SignatureChecker.isValidSignatureNow(address,bytes32,bytes)`,
/// without its import of `utils/Bytes.sol`, whose inline assembly uses `mcopy` and so keeps the contracts
/// from compiling for an EVM before Cancun (the Shanghai build the library deploys on Ganache 7.9).
/// A contract signer's answer may change from one block to the next: the result holds for the current state.
library SignerSignatures {
    /// @dev Whether `signature` is `signer`'s over `digest`. Without code at `signer`: a 65-byte ECDSA signature
    /// that recovers to `signer`, with OpenZeppelin's checks (low `s`, no zero address). With code: the
    /// staticcall `isValidSignature(digest, signature)` succeeds and its first returned word is that
    /// function's selector, left-aligned (the ERC-1271 magic value).
    function isValid(address signer, bytes32 digest, bytes calldata signature) internal view returns (bool) {
        if (signer.code.length == 0) {
            (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, signature);
            return err == ECDSA.RecoverError.NoError && recovered == signer;
        }
        (bool success, bytes memory answer) = signer.staticcall(abi.encodeCall(IERC1271.isValidSignature, (digest, signature)));
        return success && answer.length >= 32 && abi.decode(answer, (bytes32)) == bytes32(IERC1271.isValidSignature.selector);
    }
}
