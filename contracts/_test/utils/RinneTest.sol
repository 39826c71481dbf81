// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {Vm} from "./Vm.sol";
import {RinneLedger} from "../../RinneLedger.sol";
import {GwpAttestations} from "../../GwpAttestations.sol";
import {IRinneLedger} from "../../interfaces/IRinneLedger.sol";
import {GwpAttestation, LifeCycleStage, ProcessInventory, ProcessRoute} from "../../interfaces/IGwpAttestations.sol";
import {Composition, LotSpec, LotInput, UnitSpec, SohRecord, LotInfo, Roles} from "../../types/LedgerTypes.sol";

/// @notice Assertions that revert with a message (forge counts a reverting test as failed).
abstract contract Assertions {
    function assertTrue(bool c, string memory what) internal pure {
        if (!c) revert(string.concat("assertTrue failed: ", what));
    }

    function assertFalse(bool c, string memory what) internal pure {
        if (c) revert(string.concat("assertFalse failed: ", what));
    }

    function assertEq(uint256 a, uint256 b, string memory what) internal pure {
        if (a != b) revert(string.concat("assertEq failed: ", what, ": ", _str(a), " != ", _str(b)));
    }

    function assertEq(bytes32 a, bytes32 b, string memory what) internal pure {
        if (a != b) revert(string.concat("assertEq(bytes32) failed: ", what));
    }

    function assertEq(address a, address b, string memory what) internal pure {
        if (a != b) revert(string.concat("assertEq(address) failed: ", what));
    }

    function assertEq(bool a, bool b, string memory what) internal pure {
        if (a != b) revert(string.concat("assertEq(bool) failed: ", what));
    }

    function assertLe(uint256 a, uint256 b, string memory what) internal pure {
        if (a > b) revert(string.concat("assertLe failed: ", what, ": ", _str(a), " > ", _str(b)));
    }

    function _str(uint256 v) internal pure returns (string memory s) {
        if (v == 0) return "0";
        uint256 len;
        for (uint256 t = v; t != 0; t /= 10) {
            ++len;
        }
        bytes memory b = new bytes(len);
        for (; v != 0; v /= 10) {
            b[--len] = bytes1(uint8(48 + v % 10));
        }
        s = string(b);
    }
}

/// @notice Packed element vectors (8 elements as 64-bit lanes in two words, see `Composition`).
abstract contract CompositionBuilder {
    // Element indices of the default deployment.
    uint256 internal constant LI = 0;
    uint256 internal constant NI = 1;
    uint256 internal constant CO = 2;
    uint256 internal constant MN = 3;
    uint256 internal constant C = 4;
    uint256 internal constant FE = 5;
    uint256 internal constant CU = 6;
    uint256 internal constant AL = 7;
    uint256 internal constant LANE_LIMIT = 1 << 56;

    /// @dev Pack eight element masses; lanes are not range-checked so that tests can build invalid vectors.
    function _pack(uint256[8] memory e) internal pure returns (uint256[2] memory w) {
        for (uint256 i; i < 8; ++i) {
            require(e[i] <= type(uint64).max, "lane wider than 64 bits");
            w[i / 4] |= e[i] << (64 * (i % 4));
        }
    }

    /// @dev A vector with one element set.
    function _one(uint256 element, uint256 grams) internal pure returns (uint256[2] memory w) {
        uint256[8] memory e;
        e[element] = grams;
        return _pack(e);
    }

    function _lane(uint256[2] memory w, uint256 i) internal pure returns (uint256) {
        return (w[i / 4] >> (64 * (i % 4))) & type(uint64).max;
    }

    function _unpack(uint256[2] memory w) internal pure returns (uint256[8] memory e) {
        for (uint256 i; i < 8; ++i) {
            e[i] = _lane(w, i);
        }
    }

    /// @dev Composition with the given totals and no recycled content.
    function _virgin(uint256[8] memory total) internal pure returns (Composition memory c) {
        c.total = _pack(total);
    }

    function _comp(uint256[8] memory total, uint256[8] memory pre, uint256[8] memory post)
        internal
        pure
        returns (Composition memory c)
    {
        c.total = _pack(total);
        c.pre = _pack(pre);
        c.post = _pack(post);
    }

    /// @dev Entirely post-consumer recycled content (what `recycle` requires of recovered lots).
    function _recovered(uint256[8] memory total) internal pure returns (Composition memory c) {
        c.total = _pack(total);
        c.post = c.total;
    }

    function _sumElements(Composition memory c) internal pure returns (uint256 s) {
        for (uint256 i; i < 8; ++i) {
            s += _lane(c.total, i);
        }
    }

    /// @dev A deep copy (memory structs alias: `Composition memory c = s.composition` shares the arrays).
    function _copy(Composition memory c) internal pure returns (Composition memory r) {
        r.total = [c.total[0], c.total[1]];
        r.pre = [c.pre[0], c.pre[1]];
        r.post = [c.post[0], c.post[1]];
    }

    /// @dev Lane-wise `a - b` of every vector (caller guarantees no lane borrows).
    function _sub(Composition memory a, Composition memory b) internal pure returns (Composition memory r) {
        for (uint256 w; w < 2; ++w) {
            r.total[w] = a.total[w] - b.total[w];
            r.pre[w] = a.pre[w] - b.pre[w];
            r.post[w] = a.post[w] - b.post[w];
        }
    }

    /// @dev Lane-wise `a + b` of every vector (caller guarantees lanes stay below 2**64).
    function _addC(Composition memory a, Composition memory b) internal pure returns (Composition memory r) {
        for (uint256 w; w < 2; ++w) {
            r.total[w] = a.total[w] + b.total[w];
            r.pre[w] = a.pre[w] + b.pre[w];
            r.post[w] = a.post[w] + b.post[w];
        }
    }

    /// @dev The pro-rata part that goes with `m` grams of a lot of `whole` grams, cut as the Python
    /// `Composition.take` cuts it: every lane the floor or the ceiling of its share, the totals' ceilings
    /// given to the largest remainders while the rest would carry more elements than its mass, and
    /// recycled parts rounded so that neither the part nor the rest holds more recycled than total.
    function _take(Composition memory c, uint256 m, uint256 whole) internal pure returns (Composition memory) {
        if (m == whole) return _copy(c);
        uint256[8] memory t = _takeTotals(c, m, whole);
        (uint256[8] memory p, uint256[8] memory q) = _takeRecycled(c, t, m, whole);
        return _comp(t, p, q);
    }

    function _takeTotals(Composition memory c, uint256 m, uint256 whole) private pure returns (uint256[8] memory t) {
        uint256[8] memory rem;
        uint256 excess; // elements the rest would carry beyond its mass, if every lane were rounded down
        for (uint256 i; i < 8; ++i) {
            t[i] = _lane(c.total, i) * m / whole;
            rem[i] = _lane(c.total, i) * m % whole;
            excess += _lane(c.total, i) - t[i];
        }
        excess = excess > whole - m ? excess - (whole - m) : 0;
        for (; excess != 0; --excess) {
            uint256 best;
            for (uint256 i = 1; i < 8; ++i) {
                if (rem[i] > rem[best]) best = i;
            }
            require(rem[best] != 0, "take: no lane to round up");
            rem[best] = 0;
            t[best] += 1;
        }
    }

    function _takeRecycled(Composition memory c, uint256[8] memory t, uint256 m, uint256 whole)
        private
        pure
        returns (uint256[8] memory p, uint256[8] memory q)
    {
        for (uint256 i; i < 8; ++i) {
            uint256 pp = _lane(c.pre, i);
            uint256 qq = _lane(c.post, i);
            p[i] = pp * m / whole;
            q[i] = qq * m / whole;
            // The rest may hold at most its own total in recycled: pre + post of the part >= lo.
            uint256 lo = pp + qq + t[i] > _lane(c.total, i) ? pp + qq + t[i] - _lane(c.total, i) : 0;
            if (p[i] + q[i] < lo && pp * m % whole != 0) p[i] += 1;
            if (p[i] + q[i] < lo && qq * m % whole != 0) q[i] += 1;
        }
    }

    /// @dev Whether every lane of every vector of `part` is the floor or ceiling of `whole`'s times `num / den`
    /// (a naive model of the contract's `ProRata`).
    function _isProRata(Composition memory part, Composition memory whole, uint256 num, uint256 den) internal pure returns (bool) {
        for (uint256 i; i < 8; ++i) {
            if (!_laneProRata(_lane(part.total, i), _lane(whole.total, i), num, den)) return false;
            if (!_laneProRata(_lane(part.pre, i), _lane(whole.pre, i), num, den)) return false;
            if (!_laneProRata(_lane(part.post, i), _lane(whole.post, i), num, den)) return false;
        }
        return true;
    }

    function _laneProRata(uint256 p, uint256 h, uint256 num, uint256 den) internal pure returns (bool) {
        uint256 floor = h * num / den;
        uint256 ceil = floor + (h * num % den == 0 ? 0 : 1);
        return p == floor || p == ceil;
    }

    /// @dev A composition with the given totals whose recycled parts are `base`'s recycled shares of each
    /// element, rounded down (ISO 22095 controlled blending: what a transform's output may claim).
    function _blend(Composition memory base, uint256[2] memory total) internal pure returns (Composition memory r) {
        r.total = [total[0], total[1]];
        for (uint256 i; i < 8; ++i) {
            uint256 bt = _lane(base.total, i);
            if (bt == 0) continue;
            uint256 t = _lane(total, i);
            r.pre[i / 4] |= (_lane(base.pre, i) * t / bt) << (64 * (i % 4));
            r.post[i / 4] |= (_lane(base.post, i) * t / bt) << (64 * (i % 4));
        }
    }

    /// @dev Every lane of every vector multiplied by `num / den`, rounded down.
    function _scale(Composition memory c, uint256 num, uint256 den) internal pure returns (Composition memory r) {
        for (uint256 i; i < 8; ++i) {
            uint256 shift = 64 * (i % 4);
            r.total[i / 4] |= (_lane(c.total, i) * num / den) << shift;
            r.pre[i / 4] |= (_lane(c.pre, i) * num / den) << shift;
            r.post[i / 4] |= (_lane(c.post, i) * num / den) << shift;
        }
    }
}

/// @notice Deployment and cast of the reference story, plus builders for specs and inputs.
abstract contract RinneTest is Assertions, CompositionBuilder {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    bytes32 internal constant NISO4 = "NiSO4";
    bytes32 internal constant COSO4 = "CoSO4";
    bytes32 internal constant LI2CO3 = "Li2CO3";
    bytes32 internal constant PCAM = "pCAM-NMC811";
    bytes32 internal constant CAM = "CAM-NMC811";
    bytes32 internal constant CELL = "CELL-NMC811";
    bytes32 internal constant PACK = "PACK-75KWH";
    bytes32 internal constant ESS = "ESS-120KWH";
    bytes32 internal constant BLACK_MASS = "BLACK-MASS";
    // "ID" followed by the first 30 bytes of keccak256("Sorowako nickel mine").
    bytes32 internal constant ORIGIN = bytes32(uint256(0x4944) << 240 | uint256(keccak256("Sorowako nickel mine")) >> 16);

    RinneLedger internal ledger;
    GwpAttestations internal attestations;

    address internal admin = _actor("admin");
    address internal miner = _actor("miner");
    address internal refiner = _actor("refiner");
    address internal cathodeMaker = _actor("cathodeMaker");
    address internal cellMaker = _actor("cellMaker");
    address internal packer = _actor("packer");
    address internal oem = _actor("oem");
    address internal secondLife = _actor("secondLife");
    address internal diagnostician = _actor("diagnostician");
    address internal recycler = _actor("recycler");
    address internal auditor = _actor("auditor");
    address internal outsider = _actor("outsider");
    uint256 internal constant VERIFIER_KEY = 0xA11CE;
    uint256 internal constant OTHER_VERIFIER_KEY = 0xB0B;
    uint256 internal constant MINER_KEY = 0x3117E5;
    address internal verifier;
    address internal otherVerifier;
    address internal keyedMiner;

    uint256 private _idCounter;

    function _actor(string memory name) internal returns (address a) {
        a = address(uint160(uint256(keccak256(bytes(name)))));
        vm.label(a, name);
    }

    /// @dev Deploy ledger and attestations and register the cast (does not register `outsider`).
    function _deploy() internal {
        ledger = new RinneLedger(admin);
        attestations = new GwpAttestations(IRinneLedger(address(ledger)));
        verifier = vm.addr(VERIFIER_KEY);
        otherVerifier = vm.addr(OTHER_VERIFIER_KEY);
        keyedMiner = vm.addr(MINER_KEY);
        vm.label(verifier, "verifier");
        vm.label(otherVerifier, "otherVerifier");
        vm.label(keyedMiner, "keyedMiner");
        vm.startPrank(admin);
        ledger.register(miner, Roles.MINER, keccak256("PT Miner"), bytes32(0));
        ledger.register(keyedMiner, Roles.MINER, keccak256("Keyed Miner"), bytes32(0));
        ledger.register(refiner, Roles.REFINER, keccak256("Refiner"), bytes32(0));
        ledger.register(cathodeMaker, Roles.PRECURSOR_MAKER | Roles.CATHODE_MAKER, keccak256("Cathode"), bytes32(0));
        ledger.register(cellMaker, Roles.CELL_MAKER, keccak256("Cells"), bytes32(0));
        ledger.register(packer, Roles.PACK_ASSEMBLER, keccak256("Packs"), bytes32(0));
        ledger.register(oem, Roles.OEM, keccak256("OEM"), bytes32(0));
        ledger.register(secondLife, Roles.SECOND_LIFE, keccak256("Second life"), bytes32(0));
        ledger.register(diagnostician, Roles.DIAGNOSTICIAN, keccak256("Diag"), bytes32(0));
        ledger.register(recycler, Roles.RECYCLER, keccak256("Recycler"), bytes32(0));
        ledger.register(auditor, Roles.AUDITOR, keccak256("Auditor"), bytes32(0));
        ledger.register(verifier, Roles.GWP_VERIFIER, keccak256("Verifier"), bytes32(0));
        ledger.register(otherVerifier, Roles.GWP_VERIFIER, keccak256("Other verifier"), bytes32(0));
        vm.stopPrank();
    }

    // ------------------------------------------------------------------------------ builders

    function _newId() internal returns (bytes32) {
        return keccak256(abi.encode("lot", ++_idCounter));
    }

    /// @dev 1 t of nickel sulphate hexahydrate (22.3 % Ni).
    function _nickelComposition() internal pure returns (Composition memory) {
        return _virgin([uint256(0), 223_000, 0, 0, 0, 0, 0, 0]);
    }

    function _spec(bytes32 id, bytes32 material, uint64 mass, Composition memory c) internal pure returns (LotSpec memory s) {
        s.lotId = id;
        s.material = material;
        s.mass = mass;
        s.origin = ORIGIN;
        s.evidence = keccak256(abi.encode("assay", id));
        s.composition = c;
    }

    function _nickelSpec() internal returns (LotSpec memory) {
        return _spec(_newId(), NISO4, 1_000_000, _nickelComposition());
    }

    function _whole(LotSpec memory s) internal pure returns (LotInput memory i) {
        i.lotId = s.lotId;
        i.material = s.material;
        i.held = s.composition;
    }

    function _whole(bytes32 id, bytes32 material, Composition memory held) internal pure returns (LotInput memory i) {
        i.lotId = id;
        i.material = material;
        i.held = held;
    }

    function _part(bytes32 id, bytes32 material, Composition memory held, uint64 usedMass, Composition memory used)
        internal
        pure
        returns (LotInput memory i)
    {
        i.lotId = id;
        i.material = material;
        i.held = held;
        i.usedMass = usedMass;
        i.used = used;
    }

    function _mint(address who, LotSpec memory s) internal returns (bytes32) {
        vm.prank(who);
        ledger.mint(s);
        return s.lotId;
    }

    /// @dev Mint a fresh 1 t nickel sulphate lot held by `who` (via miner and an offer when needed).
    function _mintNickel(address who) internal returns (LotSpec memory s) {
        s = _nickelSpec();
        _mint(miner, s);
        if (who != miner) _transfer(s.lotId, miner, who);
    }

    function _transfer(bytes32 id, address from, address to) internal {
        vm.prank(from);
        ledger.offer(id, to);
        vm.prank(to);
        ledger.accept(id);
    }

    function _ones(LotInput memory a) internal pure returns (LotInput[] memory arr) {
        arr = new LotInput[](1);
        arr[0] = a;
    }

    function _ones(LotSpec memory a) internal pure returns (LotSpec[] memory arr) {
        arr = new LotSpec[](1);
        arr[0] = a;
    }

    function _pair(LotSpec memory a, LotSpec memory b) internal pure returns (LotSpec[] memory arr) {
        arr = new LotSpec[](2);
        arr[0] = a;
        arr[1] = b;
    }

    function _pair(LotInput memory a, LotInput memory b) internal pure returns (LotInput[] memory arr) {
        arr = new LotInput[](2);
        arr[0] = a;
        arr[1] = b;
    }

    function _noLoss() internal pure returns (uint256[2] memory) {}

    function _unitSpec(string memory serial, uint48 ratedWh) internal pure returns (UnitSpec memory) {
        return UnitSpec(keccak256(bytes(serial)), ratedWh);
    }

    /// @dev An SOH record of these values: a stand-in for the salted root the client commits (the values
    /// never reach the contract), and `used` as the recorder claims it (throughput > 0).
    function _soh(uint16 soceBp, uint32 cycles, uint64 throughputWh) internal pure returns (SohRecord memory) {
        return SohRecord(keccak256(abi.encode("soh", soceBp, cycles, throughputWh)), throughputWh != 0);
    }

    function _sequence() internal view returns (uint64 s) {
        (s,) = ledger.ledgerHead();
    }

    function _lot(bytes32 id) internal view returns (LotInfo memory) {
        return ledger.lot(id);
    }

    // ---------------------------------------------------------------------------- attestations

    function _attestationFor(bytes32 lotId, uint256 nonce) internal view returns (GwpAttestation memory a) {
        a.lotId = lotId;
        a.emissionsGrams = 2_450_000;
        a.stage = LifeCycleStage.MainProduction;
        a.methodology = "ISO14067:2018";
        a.evidence = keccak256(abi.encode("verification report", lotId, nonce));
        a.issuedAt = uint64(block.timestamp);
        a.validUntil = uint64(block.timestamp + 365 days);
        a.nonce = nonce;
        a.deadline = uint64(block.timestamp + 1 days);
    }

    /// @dev A hydrometallurgical step's inventory: 1,200 kWh, 35 % renewable, 4.5 m³ withdrawn, 1.2 m³ consumed.
    function _inventoryFor(bytes32 lotId, uint256 nonce) internal view returns (ProcessInventory memory p) {
        p.lotId = lotId;
        p.energyWh = 1_200_000;
        p.renewableBps = 3500;
        p.waterWithdrawnLitres = 4500;
        p.waterConsumedLitres = 1200;
        p.route = ProcessRoute.Hydrometallurgy;
        p.grade = "Ni-class1";
        p.evidence = keccak256(abi.encode("inventory report", lotId, nonce));
        p.issuedAt = uint64(block.timestamp);
        p.validUntil = uint64(block.timestamp + 365 days);
        p.nonce = nonce;
        p.deadline = uint64(block.timestamp + 1 days);
    }

    function _signInventory(uint256 key, ProcessInventory memory p) internal view returns (bytes memory) {
        return _sign(key, attestations.hashInventory(p));
    }

    function _sign(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    function _signAttestation(uint256 key, GwpAttestation memory a) internal view returns (bytes memory) {
        return _sign(key, attestations.hashAttestation(a));
    }

    // ------------------------------------------------------------------ cells and packs

    /// @dev Element grams of the 500 kg cell lot the unit tests build packs from.
    uint256[8] internal _cellEl = [uint256(28_000), 190_000, 24_000, 22_000, 60_000, 0, 30_000, 25_000];

    /// @dev A 500 kg cell lot minted by the refiner and handed to `holder`.
    function _cellLot(address holder) internal returns (LotSpec memory c) {
        c = _spec(_newId(), CELL, 500_000, _virgin(_cellEl));
        _mint(refiner, c);
        _transfer(c.lotId, refiner, holder);
    }

    /// @dev A 550 kg, 75 kWh pack built by the packer from one cell lot, then handed to `holder`.
    function _pack(address holder) internal returns (LotSpec memory p) {
        LotSpec memory c = _cellLot(packer);
        p = _spec(_newId(), PACK, 550_000, c.composition);
        vm.prank(packer);
        ledger.buildUnit(_ones(_whole(c)), p, _unitSpec(string(abi.encode(p.lotId)), 75_000), _noLoss());
        if (holder != packer) _transfer(p.lotId, packer, holder);
    }
}
