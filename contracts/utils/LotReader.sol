// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IRinneLedger} from "../interfaces/IRinneLedger.sol";
import {LotInfo} from "../types/LedgerTypes.sol";

/// @title LotReader
/// @notice Reads the state, mass and commitment of up to 256 lots in one `eth_call`, never deployed: the call runs
/// this creation code (no `to`), whose constructor returns the figures instead of runtime code (so EIP-170 caps
/// them at 24,576 bytes, 96 a lot; the first byte, the high byte of a state, is never EIP-3541's 0xEF).
/// @dev A node answers one call per lot far slower than one call that reads hundreds of lots: an import's
/// re-run of 100,000 lots spent most of its time in per-request overhead. Reads only (`view` calls).
contract LotReader {
    /// @notice Return, for each of `lotIds`, three words: its state (0: no such lot), mass and commitment.
    /// @param ledger The ledger to read.
    /// @param lotIds The lots.
    constructor(IRinneLedger ledger, bytes32[] memory lotIds) {
        uint256 n = lotIds.length;
        bytes memory out = new bytes(n * 96);
        for (uint256 i; i < n; ++i) {
            LotInfo memory l = ledger.lot(lotIds[i]);
            uint256 state = uint256(l.state);
            uint256 mass = l.mass;
            bytes32 commitment = l.commitment;
            assembly ("memory-safe") {
                let o := add(add(out, 32), mul(i, 96))
                mstore(o, state)
                mstore(add(o, 32), mass)
                mstore(add(o, 64), commitment)
            }
        }
        assembly ("memory-safe") {
            return(add(out, 32), mload(out))
        }
    }
}
