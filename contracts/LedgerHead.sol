// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title LedgerHead
/// @notice A sequence number and running hash advanced by every event the contract emits, so that an
/// auditor replaying the logs can prove that it saw all of them, in order.
/// @dev One storage word: the top 192 bits are `keccak256(abi.encode(previousWord, eventHash))` with its
/// low 64 bits cleared, the low 64 bits the count of events so far. `eventHash` is
/// `keccak256(topic0 ‖ topic1 ‖ … ‖ data)` of the emitted log, which anyone can recompute from the log.
abstract contract LedgerHead {
    uint256 private constant _SEQUENCE_MASK = 0xFFFFFFFFFFFFFFFF;

    uint256 private _head;

    /// @notice The number of events recorded so far and the current head word.
    /// @return sequence Number of events recorded.
    /// @return head The packed head word (192-bit running hash ‖ 64-bit sequence).
    function ledgerHead() public view returns (uint64 sequence, bytes32 head) {
        uint256 h = _head;
        return (uint64(h & _SEQUENCE_MASK), bytes32(h));
    }

    /// @dev Advance the head over one emitted log whose `keccak256(topics ‖ data)` is `eventHash`.
    function _record(bytes32 eventHash) internal {
        uint256 h = _head;
        unchecked {
            _head = (uint256(keccak256(abi.encode(h, eventHash))) & ~_SEQUENCE_MASK) | ((h & _SEQUENCE_MASK) + 1);
        }
    }
}
