// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title Lanes
/// @notice Arithmetic on words that pack four unsigned 64-bit lanes (see `Composition`).
/// @dev With every lane below 2**56, plain word addition of up to 256 words adds lane by lane
/// without carries, so conservation can be checked with a handful of word operations.
library Lanes {
    /// @dev Top 8 bits of every lane: must be clear for a lane to be below 2**56.
    uint256 internal constant OVERFLOW_BITS = 0xFF00000000000000FF00000000000000FF00000000000000FF00000000000000;
    /// @dev Bit 63 of every lane, used as a borrow guard in `le`.
    uint256 internal constant GUARD_BITS = 0x8000000000000000800000000000000080000000000000008000000000000000;
    uint256 private constant _LANE = 0xFFFFFFFFFFFFFFFF;

    /// @dev Whether every lane of `w` is below 2**56.
    function bounded(uint256 w) internal pure returns (bool) {
        return w & OVERFLOW_BITS == 0;
    }

    /// @dev Whether every lane of `a` is at most the same lane of `b`; lanes of both must be below 2**63.
    function le(uint256 a, uint256 b) internal pure returns (bool) {
        unchecked {
            return ((b | GUARD_BITS) - a) & GUARD_BITS == GUARD_BITS;
        }
    }

    /// @dev Sum of the four lanes of `w`.
    function sum(uint256 w) internal pure returns (uint256) {
        return (w & _LANE) + ((w >> 64) & _LANE) + ((w >> 128) & _LANE) + (w >> 192);
    }
}
