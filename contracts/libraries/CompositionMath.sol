// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {Composition} from "../types/LedgerTypes.sol";
import {Lanes} from "./Lanes.sol";

/// @notice Lane-wise running sums of the three vectors of several compositions, and of their masses.
/// @dev The six words of a composition, in calldata order (total, pre, post; two words each), followed by
/// the mass: `CompositionMath.add` relies on this layout.
struct Sums {
    uint256 t0;
    uint256 t1;
    uint256 p0;
    uint256 p1;
    uint256 q0;
    uint256 q1;
    uint256 mass;
}

/// @title CompositionMath
/// @notice The arithmetic of compositions (see `Composition`): validity, sums, remainders, conservation,
/// recycled credit and recycled share, and the commitment that binds a lot to its composition.
/// @dev A composition is six words of four 64-bit lanes. Every lane of a valid composition is below 2**56,
/// so the sums of up to 64 of them (`Sums`, lanes below 2**62) are plain word additions without carries
/// between lanes. The checks return booleans: the caller reverts with its own error.
library CompositionMath {
    using Lanes for uint256;

    /// @dev Add `c` and `mass` to `s`. Callers only add validated (lane-bounded) compositions, at most 64 of
    /// them: no carries.
    function add(Sums memory s, Composition calldata c, uint256 mass) internal pure {
        assembly ("memory-safe") {
            for { let k := 0 } lt(k, 0xc0) { k := add(k, 0x20) } {
                mstore(add(s, k), add(mload(add(s, k)), calldataload(add(c, k))))
            }
            mstore(add(s, 0xc0), add(mload(add(s, 0xc0)), mass))
        }
    }

    /// @dev Whether `c` is a valid composition of `mass` grams: lanes below 2**56, recycled (pre + post)
    /// within total, and elements within `mass`. Reads `c` from calldata in place: copying it to memory cost
    /// more than the checks.
    function isValid(Composition calldata c, uint256 mass) internal pure returns (bool) {
        return _isValid(c.total[0], c.total[1], c.pre[0], c.pre[1], c.post[0], c.post[1], mass);
    }

    /// @dev What is left of `whole` when `part` is taken from it, and whether that is a valid composition of
    /// `mass` grams. `part` must be at most `whole`, lane by lane (a pro-rata part of less than the whole
    /// is): lanes are subtracted without borrow checks.
    function remainder(Composition calldata whole, Composition calldata part, uint256 mass)
        internal
        pure
        returns (Composition memory rest, bool valid)
    {
        unchecked {
            rest.total = [whole.total[0] - part.total[0], whole.total[1] - part.total[1]];
            rest.pre = [whole.pre[0] - part.pre[0], whole.pre[1] - part.pre[1]];
            rest.post = [whole.post[0] - part.post[0], whole.post[1] - part.post[1]];
        }
        valid = _isValid(rest.total[0], rest.total[1], rest.pre[0], rest.pre[1], rest.post[0], rest.post[1], mass);
    }

    /// @dev Whether `c` is all recycled of one kind: post-consumer when `postConsumer` (pre-consumer
    /// otherwise), every element wholly, and none of the other kind.
    function isAllRecycled(Composition calldata c, bool postConsumer) internal pure returns (bool) {
        (uint256[2] calldata none, uint256[2] calldata all) = postConsumer ? (c.pre, c.post) : (c.post, c.pre);
        return none[0] | none[1] == 0 && all[0] == c.total[0] && all[1] == c.total[1];
    }

    /// @dev Whether `made` plus `loss` equals `used`, element by element (`Lanes.bounded(loss[0]) &&
    /// Lanes.bounded(loss[1]) && used.t0 == made.t0 + loss[0] && used.t1 == made.t1 + loss[1]`, without
    /// branches). Bounded loss lanes keep `made + loss` free of carries, so word equality is lane equality;
    /// `made` lanes are below 2**62, so the additions do not overflow when the loss is bounded (and do not
    /// matter when it is not).
    function conserves(Sums memory used, Sums memory made, uint256[2] memory loss) internal pure returns (bool ok) {
        uint256 overflowBits = Lanes.OVERFLOW_BITS;
        assembly ("memory-safe") {
            let l0 := mload(loss)
            let l1 := mload(add(loss, 0x20))
            ok := and(
                iszero(and(or(l0, l1), overflowBits)),
                and(eq(mload(used), add(mload(made), l0)), eq(mload(add(used, 0x20)), add(mload(add(made, 0x20)), l1)))
            )
        }
    }

    /// @dev Whether the recycled parts of `made` (pre- and post-consumer) are at most those of `used`,
    /// element by element: recycled credit did not grow. `Lanes.le` on the four recycled words (`p0, p1, q0,
    /// q1`), without branches; their lanes are below 2**62.
    function recycledWithin(Sums memory made, Sums memory used) internal pure returns (bool ok) {
        uint256 guardBits = Lanes.GUARD_BITS;
        assembly ("memory-safe") {
            function le(a, b, g) -> r {
                r := eq(and(sub(or(b, g), a), g), g)
            }
            ok := and(
                and(
                    le(mload(add(made, 0x40)), mload(add(used, 0x40)), guardBits),
                    le(mload(add(made, 0x60)), mload(add(used, 0x60)), guardBits)
                ),
                and(
                    le(mload(add(made, 0x80)), mload(add(used, 0x80)), guardBits),
                    le(mload(add(made, 0xa0)), mload(add(used, 0xa0)), guardBits)
                )
            )
        }
    }

    /// @dev ISO 22095 controlled blending (proportional): whether, per element, the recycled share of `made`
    /// (pre- and post-consumer separately) is at most that of `used`, `made.recycled * used.total <=
    /// used.recycled * made.total` (plus `used.total - 1` when `roundUp`: the share's ceiling in whole grams,
    /// for one output of several). An element `used` lacks passes here; `recycledWithin` covers it. Lanes
    /// are sums of at most 64 lanes (below 2**62): products stay below 2**126.
    function shareWithin(Sums memory made, Sums memory used, bool roundUp) internal pure returns (bool ok) {
        assembly ("memory-safe") {
            // Lane by lane: rec * baseTot <= baseRec * tot (+ baseTot - 1 when rounding up).
            function wordOk(rec, tot, baseRec, baseTot, up) -> r {
                r := 1
                for { let s := 0 } lt(s, 256) { s := add(s, 64) } {
                    let bt := and(shr(s, baseTot), 0xFFFFFFFFFFFFFFFF)
                    let lhs := mul(and(shr(s, rec), 0xFFFFFFFFFFFFFFFF), bt)
                    let rhs := mul(and(shr(s, baseRec), 0xFFFFFFFFFFFFFFFF), and(shr(s, tot), 0xFFFFFFFFFFFFFFFF))
                    r := and(r, iszero(gt(lhs, add(rhs, mul(up, sub(bt, gt(bt, 0)))))))
                }
            }
            // Sums words: t0 t1 p0 p1 q0 q1 at 0x00..0xa0; pairs (p0, t0) (p1, t1) (q0, t0) (q1, t1).
            let t0 := mload(made)
            let t1 := mload(add(made, 0x20))
            let u0 := mload(used)
            let u1 := mload(add(used, 0x20))
            ok := and(
                and(
                    wordOk(mload(add(made, 0x40)), t0, mload(add(used, 0x40)), u0, roundUp),
                    wordOk(mload(add(made, 0x60)), t1, mload(add(used, 0x60)), u1, roundUp)
                ),
                and(
                    wordOk(mload(add(made, 0x80)), t0, mload(add(used, 0x80)), u0, roundUp),
                    wordOk(mload(add(made, 0xa0)), t1, mload(add(used, 0xa0)), u1, roundUp)
                )
            )
        }
    }

    /// @dev The commitment a lot stores for its material and composition: `keccak256(abi.encode(material, c))`.
    function commit(bytes32 material, Composition memory c) internal pure returns (bytes32) {
        return keccak256(abi.encode(material, c));
    }

    /// @dev `commit` of a calldata composition without copying it to memory first: a composition is six
    /// static words, so `abi.encode(material, c)` is `material` followed by those words.
    function commitCalldata(bytes32 material, Composition calldata c) internal pure returns (bytes32 h) {
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, material)
            calldatacopy(add(p, 0x20), c, 0xc0)
            h := keccak256(p, 0xe0)
        }
    }

    /// @dev `isValid` on the six words of a composition: totals `t0, t1`, pre `p0, p1`, post `q0, q1`.
    function _isValid(uint256 t0, uint256 t1, uint256 p0, uint256 p1, uint256 q0, uint256 q1, uint256 mass)
        private
        pure
        returns (bool)
    {
        if (!(t0 | t1 | p0 | p1 | q0 | q1).bounded()) return false;
        unchecked {
            return (p0 + q0).le(t0) && (p1 + q1).le(t1) && t0.sum() + t1.sum() <= mass;
        }
    }
}
