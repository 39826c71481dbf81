// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {Composition, LotSpec} from "../types/LedgerTypes.sol";

/// @title ProRata
/// @notice Whether a composition is a pro-rata part of another: a part of a homogeneous lot has the lot's
/// composition (DESIGN §3a, issue 11 class 1b), within the rounding of whole grams.
/// @dev A composition is six words of four 64-bit lanes (see `Composition`). Lane `p` of the part is pro
/// rata to lane `h` of the whole for the share `num / den` when `p` is `floor(h * num / den)` or
/// `ceil(h * num / den)`, that is when `|p * den - h * num| < den`. Every rounding that gives each lane its
/// floor or its ceiling passes (largest remainders, as the Python `Composition.take` uses, or plain floors).
/// Lanes are below 2**64 and masses below 2**64, so the products stay below 2**128: no overflow.
library ProRata {
    /// @dev Whether every lane of `part` is pro rata to `whole` for `num / den` (`den` > 0).
    function isPart(Composition calldata part, Composition calldata whole, uint256 num, uint256 den) internal pure returns (bool ok) {
        assembly ("memory-safe") {
            let m := 0xFFFFFFFFFFFFFFFF
            ok := 1
            for { let k := 0 } lt(k, 0xc0) { k := add(k, 0x20) } {
                let p := calldataload(add(part, k))
                let w := calldataload(add(whole, k))
                for { let s := 0 } lt(s, 256) { s := add(s, 64) } {
                    let a := mul(and(shr(s, p), m), den)
                    let b := mul(and(shr(s, w), m), num)
                    ok := and(ok, and(lt(a, add(b, den)), lt(b, add(a, den))))
                }
            }
        }
    }

    /// @dev Index of the first output of a split of `source` (`mass` grams) that is not a pro-rata part (by
    /// mass) of what the outputs before it left, or `outputs.length` when all are. The last output is not
    /// checked: it takes the rest, which conservation checks. An output as heavy as what is left, or heavier,
    /// fails (a later output would weigh nothing).
    function firstNotProRata(Composition calldata source, uint256 mass, LotSpec[] calldata outputs)
        internal
        pure
        returns (uint256 bad)
    {
        bad = outputs.length;
        assembly ("memory-safe") {
            // Whether each of the four lanes of word `p` is pro rata to word `w` for `num / den`.
            function wordOk(p, w, num, den) -> ok {
                ok := 1
                for { let s := 0 } lt(s, 256) { s := add(s, 64) } {
                    let a := mul(and(shr(s, p), 0xFFFFFFFFFFFFFFFF), den)
                    let b := mul(and(shr(s, w), 0xFFFFFFFFFFFFFFFF), num)
                    ok := and(ok, and(lt(a, add(b, den)), lt(b, add(a, den))))
                }
            }
            // What is left of the source, in scratch memory beyond the free pointer (not allocated: no
            // Solidity code runs until this block ends).
            let r := mload(0x40)
            calldatacopy(r, source, 0xc0)
            for { let i := 0 } lt(add(i, 1), outputs.length) { i := add(i, 1) } {
                // A LotSpec is 11 static words: lotId, material, mass, origin, evidence, composition (6).
                let o := add(outputs.offset, mul(i, 0x160))
                let num := calldataload(add(o, 0x40))
                let ok := lt(num, mass)
                for { let k := 0 } lt(k, 0xc0) { k := add(k, 0x20) } {
                    let p := calldataload(add(o, add(0xa0, k)))
                    let w := mload(add(r, k))
                    ok := and(ok, wordOk(p, w, num, mass))
                    // A pro-rata part of less than the whole is at most the whole, lane by lane: no borrows.
                    mstore(add(r, k), sub(w, p))
                }
                if iszero(ok) {
                    bad := i
                    break
                }
                mass := sub(mass, num)
            }
        }
    }
}
