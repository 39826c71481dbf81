// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {RinneTest} from "./utils/RinneTest.sol";
import {Lanes} from "../libraries/Lanes.sol";
import {IRinneLedger} from "../interfaces/IRinneLedger.sol";
import {IGwpAttestations, GwpAttestation} from "../interfaces/IGwpAttestations.sol";
import {Composition, LotSpec, LotInput, LotInfo, LotState} from "../types/LedgerTypes.sol";

/// @notice Property tests: the contract agrees with a naive lane-by-lane model of validity,
/// conservation and recycled credit on random compositions.
contract FuzzTest is RinneTest {
    function setUp() public {
        _deploy();
    }

    // ---------------------------------------------------------------------------- model

    function _bound(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        return lo + x % (hi - lo + 1);
    }

    function _rand(uint256 seed, uint256 salt) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode(seed, salt)));
    }

    /// @dev Naive validity: every lane below 2**56, pre + post within total per element, elements within mass.
    function _modelValid(Composition memory c, uint256 mass) internal pure returns (bool) {
        uint256 sum;
        for (uint256 i; i < 8; ++i) {
            uint256 t = _lane(c.total, i);
            uint256 p = _lane(c.pre, i);
            uint256 q = _lane(c.post, i);
            if (t >= LANE_LIMIT || p >= LANE_LIMIT || q >= LANE_LIMIT || p + q > t) return false;
            sum += t;
        }
        return sum <= mass;
    }

    /// @dev A valid random composition with element masses below `maxLane` and its exact element sum.
    function _randomComposition(uint256 seed, uint256 maxLane) internal pure returns (Composition memory c, uint256 sum) {
        uint256[8] memory t;
        uint256[8] memory p;
        uint256[8] memory q;
        for (uint256 i; i < 8; ++i) {
            uint256 r = _rand(seed, i);
            t[i] = r % maxLane;
            if (r >> 128 & 3 == 0) t[i] = 0; // some elements absent
            p[i] = t[i] == 0 ? 0 : (r >> 64) % (t[i] + 1);
            q[i] = t[i] - p[i] == 0 ? 0 : (r >> 160) % (t[i] - p[i] + 1);
            sum += t[i];
        }
        c = _comp(t, p, q);
    }

    /// @dev A random part of `c` that leaves a valid remainder: each element's virgin, pre- and
    /// post-consumer masses are taken from independently, so part and rest are both valid.
    function _randomPart(uint256 seed, Composition memory c) internal pure returns (Composition memory part) {
        uint256[8] memory t;
        uint256[8] memory p;
        uint256[8] memory q;
        for (uint256 i; i < 8; ++i) {
            uint256 r = _rand(seed, 100 + i);
            uint256 pre = _lane(c.pre, i);
            uint256 post = _lane(c.post, i);
            uint256 virgin = _lane(c.total, i) - pre - post;
            p[i] = (r >> 64) % (pre + 1);
            q[i] = (r >> 128) % (post + 1);
            t[i] = r % (virgin + 1) + p[i] + q[i];
        }
        part = _comp(t, p, q);
    }

    function _min(uint256 a, uint256 b) internal pure returns (uint256) {
        return a < b ? a : b;
    }

    // ----------------------------------------------------------------------------- Lanes

    function testFuzz_lanes_matchNaiveLaneArithmetic(uint256 a, uint256 b) public pure {
        uint256 mask63 = 0x7FFFFFFFFFFFFFFF7FFFFFFFFFFFFFFF7FFFFFFFFFFFFFFF7FFFFFFFFFFFFFFF;
        uint256 a63 = a & mask63;
        uint256 b63 = b & mask63;
        bool le = true;
        bool bounded = true;
        uint256 sum;
        for (uint256 i; i < 4; ++i) {
            uint256 la = (a63 >> (64 * i)) & type(uint64).max;
            uint256 lb = (b63 >> (64 * i)) & type(uint64).max;
            if (la > lb) le = false;
            if (((a >> (64 * i)) & type(uint64).max) >= LANE_LIMIT) bounded = false;
            sum += (a >> (64 * i)) & type(uint64).max;
        }
        assertEq(Lanes.le(a63, b63), le, "le");
        assertEq(Lanes.bounded(a), bounded, "bounded");
        assertEq(Lanes.sum(a), sum, "sum");
    }

    // ------------------------------------------------------------------------------ mint

    function testFuzz_mint_acceptsExactlyTheValidCompositions(uint256 seed, uint64 mass, uint8 corrupt) public {
        (Composition memory c,) = _randomComposition(seed, 1 << 50);
        uint256 lane = corrupt % 8;
        uint256 w = lane / 4;
        uint256 shift = 64 * (lane % 4);
        uint256 kind = (corrupt >> 3) % 4;
        // Push one lane of one vector towards or over a limit.
        if (kind == 1) c.total[w] |= (_rand(seed, 7) % 256) << (shift + 56);
        if (kind == 2) c.pre[w] += 1 << shift; // may push pre + post over total
        if (kind == 3) c.post[w] = (c.post[w] & ~(uint256(type(uint64).max) << shift)) | ((_lane(c.total, lane) + 1) << shift);
        LotSpec memory s = _spec(_newId(), NISO4, mass, c);
        bool valid = mass != 0 && _modelValid(c, mass);
        if (!valid) vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerInvalidComposition.selector, s.lotId));
        vm.prank(miner);
        ledger.mint(s);
        if (valid) assertEq(_lot(s.lotId).commitment, ledger.commitmentOf(NISO4, c), "stored");
    }

    // ----------------------------------------------------------------------------- split

    /// @dev Random lot, random partial or whole use, random number of outputs with random shares:
    /// outputs plus remainder equal the original, element by element and in mass.
    function testFuzz_split_preservesTotals(uint256 seed, uint8 nOut, bool partly) public {
        (Composition memory c, uint256 elements) = _randomComposition(seed, 1 << 40);
        uint64 mass = uint64(elements + _bound(_rand(seed, 50), 1, 1 << 40));
        LotSpec memory s = _spec(_newId(), NISO4, mass, c);
        _mint(miner, s);

        Composition memory used = c;
        uint64 usedMass = 0;
        if (partly) (used, usedMass) = _randomUse(seed, c, mass);
        LotSpec[] memory outs = _shares(seed, used, partly ? usedMass : mass, _bound(nOut, 1, 8));
        vm.assume(_noZeroMass(outs));
        vm.prank(miner);
        ledger.split(partly ? _part(s.lotId, NISO4, c, usedMass, used) : _whole(s), outs);
        _checkSplit(s, outs, partly ? _sub(c, used) : used, partly);
    }

    /// @dev A random mass of a lot (less than all of it) and the pro-rata part that goes with it.
    function _randomUse(uint256 seed, Composition memory c, uint64 mass)
        internal
        pure
        returns (Composition memory used, uint64 usedMass)
    {
        vm.assume(mass > 1);
        usedMass = uint64(_bound(_rand(seed, 51), 1, uint256(mass) - 1));
        used = _take(c, usedMass, mass);
    }

    /// @dev `n` outputs of random masses, each but the last the pro-rata part of what the ones before it left.
    function _shares(uint256 seed, Composition memory used, uint256 massToSplit, uint256 n) internal returns (LotSpec[] memory outs) {
        vm.assume(massToSplit >= n);
        outs = new LotSpec[](n);
        Composition memory left = _copy(used);
        for (uint256 i; i + 1 < n; ++i) {
            uint256 shareMass = _bound(_rand(seed, 60 + i), 1, massToSplit - (n - 1 - i));
            outs[i] = _spec(_newId(), NISO4, uint64(shareMass), _take(left, shareMass, massToSplit));
            left = _sub(left, outs[i].composition);
            massToSplit -= shareMass;
        }
        outs[n - 1] = _spec(_newId(), NISO4, uint64(massToSplit), left);
    }

    /// @dev Stored outputs plus what is left of the source (`rest`, when partly used) equal the source.
    function _checkSplit(LotSpec memory s, LotSpec[] memory outs, Composition memory rest, bool partly) internal view {
        Composition memory total;
        uint256 totalMass;
        for (uint256 i; i < outs.length; ++i) {
            LotInfo memory o = _lot(outs[i].lotId);
            assertEq(o.commitment, ledger.commitmentOf(NISO4, outs[i].composition), "output commitment");
            total = _addC(total, outs[i].composition);
            totalMass += o.mass;
        }
        LotInfo memory src = _lot(s.lotId);
        if (partly) {
            assertEq(src.commitment, ledger.commitmentOf(NISO4, rest), "remainder commitment");
            total = _addC(total, rest);
            totalMass += src.mass;
        } else {
            assertEq(uint8(src.state), uint8(LotState.Consumed), "consumed");
        }
        assertEq(totalMass, s.mass, "mass conserved");
        for (uint256 w; w < 2; ++w) {
            assertEq(total.total[w], s.composition.total[w], "elements conserved");
            assertEq(total.pre[w], s.composition.pre[w], "pre-consumer conserved");
            assertEq(total.post[w], s.composition.post[w], "post-consumer conserved");
        }
    }

    function _noZeroMass(LotSpec[] memory outs) internal pure returns (bool) {
        for (uint256 i; i < outs.length; ++i) {
            if (outs[i].mass == 0) return false;
        }
        return true;
    }

    /// @dev Partial use: accepted exactly when the model says the part is valid and pro rata (every lane the
    /// floor or ceiling of held x usedMass / mass) and the remainder is valid; every accepted part is pro rata.
    function testFuzz_partialUse_acceptedIffModelValid(uint256 seed, uint64 massSeed, uint8 tweak) public {
        (Composition memory c, uint256 elements) = _randomComposition(seed, 1 << 30);
        LotSpec memory s = _spec(_newId(), NISO4, uint64(elements + 1 + (_rand(seed, 9) % (1 << 30))), c);
        _mint(miner, s);
        (Composition memory part, uint64 usedMass) =
            _candidatePart(seed, c, s.mass, uint64(_bound(massSeed, 1, uint256(s.mass) + 1)), tweak);
        // 0: accepted; 1: InvalidUsage (part or remainder invalid); 2: NotProRata
        uint256 verdict = _partialUseVerdict(c, s.mass, part, usedMass);
        if (verdict == 1) vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerInvalidUsage.selector, s.lotId));
        if (verdict == 2) vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerNotProRata.selector, s.lotId));
        vm.prank(miner);
        ledger.split(_part(s.lotId, NISO4, c, usedMass, part), _ones(_spec(_newId(), NISO4, usedMass, part)));
        if (verdict == 0) {
            assertEq(_lot(s.lotId).mass, s.mass - usedMass, "remaining mass");
            assertTrue(_isProRata(part, c, usedMass, s.mass), "accepted part is pro rata");
        }
    }

    /// @dev The model's verdict on a partial use, in the contract's order of checks.
    function _partialUseVerdict(Composition memory c, uint64 mass, Composition memory part, uint64 usedMass)
        internal
        pure
        returns (uint256)
    {
        if (usedMass >= mass || !_modelValid(part, usedMass)) return 1;
        if (!_isProRata(part, c, usedMass, mass)) return 2;
        return _modelValid(_sub(c, part), mass - usedMass) ? 0 : 1;
    }

    /// @dev A part to try: any part at all (almost never pro rata), the honest pro-rata part, that part
    /// with one lane of one vector moved by a gram (may stay within floor/ceil, or not), or the honest part
    /// declared in a much smaller mass (the nickel of a NiSO4 lot in 1 % of its mass).
    function _candidatePart(uint256 seed, Composition memory c, uint64 mass, uint64 usedMass, uint8 tweak)
        internal
        pure
        returns (Composition memory part, uint64)
    {
        if (tweak % 4 == 0) return (_randomPart(seed, c), usedMass);
        part = _take(c, _min(usedMass, mass), mass);
        if (tweak % 4 == 2) {
            _nudge(part, tweak, _rand(seed, 77) % 8);
        } else if (tweak % 4 == 3) {
            usedMass = uint64(_bound(usedMass, 1, _max(1, uint256(mass) / 100)));
        }
        return (part, usedMass);
    }

    /// @dev One gram more (or less, when there is one) in lane `lane` of the total, pre or post vector.
    function _nudge(Composition memory part, uint8 tweak, uint256 lane) internal pure {
        uint256 which = (tweak >> 2) % 3;
        uint256[2] memory v = which == 0 ? part.total : which == 1 ? part.pre : part.post;
        uint256 unit = 1 << (64 * (lane % 4));
        if (tweak & 0x80 != 0) v[lane / 4] += unit;
        else if (_lane(v, lane) != 0) v[lane / 4] -= unit;
    }

    function _max(uint256 a, uint256 b) internal pure returns (uint256) {
        return a > b ? a : b;
    }

    // ------------------------------------------------------------------------- transform

    /// @dev Outputs + loss must equal inputs lane by lane; any one-gram error in any lane is refused.
    function testFuzz_transform_conservationIsExactPerElement(uint256 seed, uint8 lane, bool up) public {
        (Composition memory c, uint256 elements) = _randomComposition(seed, 1 << 40);
        LotSpec memory s = _spec(_newId(), NISO4, uint64(elements + 1), c);
        _mint(refiner, s);
        Composition memory out = _blend(c, _randomPart(_rand(seed, 1), c).total); // keep some of everything...
        uint256[2] memory loss = [c.total[0] - out.total[0], c.total[1] - out.total[1]]; // ...lose the rest
        LotSpec memory o = _spec(_newId(), PCAM, uint64(elements + 1), out);

        uint256 i = lane % 8;
        uint256 one = 1 << (64 * (i % 4));
        bool canTweak = up ? _lane(loss, i) + 1 < LANE_LIMIT : _lane(loss, i) > 0;
        vm.assume(canTweak);
        uint256[2] memory wrong = [loss[0], loss[1]];
        wrong[i / 4] = up ? wrong[i / 4] + one : wrong[i / 4] - one;
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerConservationViolated.selector));
        vm.prank(refiner);
        ledger.transform(_ones(_whole(s)), _ones(o), wrong);

        vm.prank(refiner);
        ledger.transform(_ones(_whole(s)), _ones(o), loss);
        assertEq(_lot(o.lotId).commitment, ledger.commitmentOf(PCAM, out), "output");
    }

    /// @dev Output recycled claims are accepted exactly when every element's pre and post stay within
    /// what the inputs brought, each kind on its own.
    function testFuzz_transform_recycledCreditNeverGrows(uint256 seedA, uint256 seedB, uint256 seedOut) public {
        (Composition memory a, uint256 ea) = _randomComposition(seedA, 1 << 40);
        (Composition memory b, uint256 eb) = _randomComposition(seedB, 1 << 40);
        LotSpec memory sa = _spec(_newId(), NISO4, uint64(ea + 1), a);
        LotSpec memory sb = _spec(_newId(), COSO4, uint64(eb + 1), b);
        _mint(refiner, sa);
        _mint(refiner, sb);
        Composition memory inSum = _addC(a, b);
        // Same totals, random recycled claims within each element's total.
        Composition memory out;
        out.total = inSum.total;
        uint256[8] memory p;
        uint256[8] memory q;
        bool fair = true;
        for (uint256 i; i < 8; ++i) {
            uint256 t = _lane(inSum.total, i);
            uint256 r = _rand(seedOut, i);
            p[i] = t == 0 ? 0 : (r >> 8) % (t + 1);
            q[i] = t - p[i] == 0 ? 0 : (r >> 80) % (t - p[i] + 1);
            if (r & 1 == 0) {
                p[i] = _min(p[i], _lane(inSum.pre, i)); // mostly honest claims
                q[i] = _min(q[i], _lane(inSum.post, i));
            }
            if (p[i] > _lane(inSum.pre, i) || q[i] > _lane(inSum.post, i)) fair = false;
        }
        out.pre = _pack(p);
        out.post = _pack(q);
        LotSpec memory o = _spec(_newId(), PCAM, uint64(ea + eb + 2), out);
        if (!fair) vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerRecycledCreditExceeded.selector));
        vm.prank(refiner);
        ledger.transform(_pair(_whole(sa), _whole(sb)), _ones(o), _noLoss());
    }

    // ----------------------------------------------------------------------- attestations

    function testFuzz_attest_nonceSingleUse(uint256 nonce, uint256 other) public {
        vm.assume(nonce != other);
        LotSpec memory s = _mintNickel(miner);
        GwpAttestation memory a = _attestationFor(s.lotId, nonce);
        bytes memory sig = _signAttestation(VERIFIER_KEY, a);
        attestations.attest(a, verifier, sig);
        assertTrue(attestations.nonceUsed(verifier, nonce), "used");
        assertFalse(attestations.nonceUsed(verifier, other), "others untouched");
        vm.expectRevert(abi.encodeWithSelector(IGwpAttestations.GwpAttestationsNonceUsed.selector, verifier, nonce));
        attestations.attest(a, verifier, sig);
        GwpAttestation memory b = _attestationFor(s.lotId, other);
        attestations.attest(b, verifier, _signAttestation(VERIFIER_KEY, b));
    }

    function testFuzz_attest_deadline(uint32 delay) public {
        vm.warp(1_800_000_000);
        LotSpec memory s = _mintNickel(miner);
        GwpAttestation memory a = _attestationFor(s.lotId, 1);
        bytes memory sig = _signAttestation(VERIFIER_KEY, a);
        vm.warp(block.timestamp + delay);
        if (block.timestamp > a.deadline) {
            vm.expectRevert(abi.encodeWithSelector(IGwpAttestations.GwpAttestationsExpiredDeadline.selector, a.deadline));
        }
        attestations.attest(a, verifier, sig);
    }
}
