// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {Composition} from "../types/LedgerTypes.sol";

/// @title ProRata
/// @notice Whether a composition is a pro-rata part of another: a part of a homogeneous lot has the lot's
/// composition (DESIGN §3a, issue 11 class 1b), within the rounding of whole grams.
/// @dev A composition is six words of four 64-bit lanes (see `Composition`). Lane `p` of the part is pro
/// rata to lane `h` of the whole for the share `num / den` when `p` is `floor(h * num / den)` or
/// `ceil(h * num / den)`, that is when `|p * den - h * num| < den`. Every rounding that gives each lane its
/// floor or its ceiling passes (largest remainders, as the Python `Composition.take` uses, or plain floors).
/// Lanes are below 2**64 and `num`, `den` below 2**64, so the products stay below 2**128: no overflow.
/// Callers pass `den > 0`.
library ProRata {
    /// @dev Whether every lane of the calldata composition `part` is pro rata to `whole` (calldata) for `num / den`.
    function isPart(Composition calldata part, Composition calldata whole, uint256 num, uint256 den)
        internal
        pure
        returns (bool ok)
    {
        assembly ("memory-safe") {
            function lanesOk(p, w, n, d) -> r {
                let m := 0xFFFFFFFFFFFFFFFF
                let a := mul(and(p, m), d)
                let b := mul(and(w, m), n)
                r := and(lt(a, add(b, d)), lt(b, add(a, d)))
                a := mul(and(shr(64, p), m), d)
                b := mul(and(shr(64, w), m), n)
                r := and(r, and(lt(a, add(b, d)), lt(b, add(a, d))))
                a := mul(and(shr(128, p), m), d)
                b := mul(and(shr(128, w), m), n)
                r := and(r, and(lt(a, add(b, d)), lt(b, add(a, d))))
                a := mul(shr(192, p), d)
                b := mul(shr(192, w), n)
                r := and(r, and(lt(a, add(b, d)), lt(b, add(a, d))))
            }
            ok := 1
            for { let k := 0 } lt(k, 0xc0) { k := add(k, 0x20) } {
                ok := and(ok, lanesOk(calldataload(add(part, k)), calldataload(add(whole, k)), num, den))
            }
        }
    }

    /// @dev Whether every lane of the calldata composition `part` is pro rata to the six words `whole`
    /// (total, pre, post in memory) for `num / den`.
    function isPartOf(Composition calldata part, uint256[6] memory whole, uint256 num, uint256 den)
        internal
        pure
        returns (bool ok)
    {
        assembly ("memory-safe") {
            function lanesOk(p, w, n, d) -> r {
                let m := 0xFFFFFFFFFFFFFFFF
                let a := mul(and(p, m), d)
                let b := mul(and(w, m), n)
                r := and(lt(a, add(b, d)), lt(b, add(a, d)))
                a := mul(and(shr(64, p), m), d)
                b := mul(and(shr(64, w), m), n)
                r := and(r, and(lt(a, add(b, d)), lt(b, add(a, d))))
                a := mul(and(shr(128, p), m), d)
                b := mul(and(shr(128, w), m), n)
                r := and(r, and(lt(a, add(b, d)), lt(b, add(a, d))))
                a := mul(shr(192, p), d)
                b := mul(shr(192, w), n)
                r := and(r, and(lt(a, add(b, d)), lt(b, add(a, d))))
            }
            ok := 1
            for { let k := 0 } lt(k, 0xc0) { k := add(k, 0x20) } {
                ok := and(ok, lanesOk(calldataload(add(part, k)), mload(add(whole, k)), num, den))
            }
        }
    }
}
