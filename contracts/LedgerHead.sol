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

    /// @dev Emit one log and advance the head over it, both from the same bytes, so that the head cannot drift
    /// from the logs. `entry` is the log's `topics` topics (1 to 4; topic0, the event selector, first), one
    /// word each, followed by its ABI-encoded data: `abi.encode(Event.selector, indexed..., data...)` when
    /// the data are static, `bytes.concat(abi.encode(Event.selector, indexed...), abi.encode(data...))`
    /// when they are not. Every event of the contract goes through here.
    function _emitRecorded(uint256 topics, bytes memory entry) internal {
        uint256 h = _head;
        uint256 next;
        assembly ("memory-safe") {
            let t := add(entry, 0x20)
            let size := mload(entry)
            let data := add(t, shl(5, topics))
            let dataSize := sub(size, shl(5, topics))
            // Most indexed first: mints, offers and acceptances (four topics) are the most frequent events.
            switch topics
            case 4 { log4(data, dataSize, mload(t), mload(add(t, 0x20)), mload(add(t, 0x40)), mload(add(t, 0x60))) }
            case 3 { log3(data, dataSize, mload(t), mload(add(t, 0x20)), mload(add(t, 0x40))) }
            case 2 { log2(data, dataSize, mload(t), mload(add(t, 0x20))) }
            default { log1(data, dataSize, mload(t)) }
            // The next head word: keccak256(abi.encode(h, eventHash)), hashed in scratch space.
            mstore(0x00, h)
            mstore(0x20, keccak256(t, size))
            next := keccak256(0x00, 0x40)
        }
        unchecked {
            _head = (next & ~_SEQUENCE_MASK) | ((h & _SEQUENCE_MASK) + 1);
        }
    }
}
