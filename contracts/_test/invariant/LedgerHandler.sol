// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {Vm} from "../utils/Vm.sol";
import {CompositionBuilder} from "../utils/RinneTest.sol";
import {RinneLedger} from "../../RinneLedger.sol";
import {GwpAttestations} from "../../GwpAttestations.sol";
import {GwpAttestation, LifeCycleStage} from "../../interfaces/IGwpAttestations.sol";
import {
    Composition,
    LotSpec,
    LotInput,
    LotInfo,
    UnitSpec,
    LotState,
    LotKind,
    PassportStatus,
    SohRecord
} from "../../types/LedgerTypes.sol";

/// @notice Drives the ledger with random operations for the invariant tests and keeps an independent
/// model of what the ledger should hold. The model follows the specification, not the contract's
/// bookkeeping: an offer is acceptable while it is the lot's latest offer and nothing has happened to
/// the lot since (no acceptance, cancel, reject, consumption, freeze, unfreeze or passport change).
/// @dev Every ledger call is wrapped in try/catch and compared with the model's expectation; a
/// mismatch is recorded in `violations` (the invariants require none), so the handler itself never
/// reverts and `fail_on_revert` catches only handler bugs.
contract LedgerHandler is CompositionBuilder {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    uint256 private constant _SEQ_MASK = 0xFFFFFFFFFFFFFFFF;
    uint256 private constant _MAX_LANE = 1 << 36; // minted element masses stay far below the 2**56 lane limit

    struct Model {
        bytes32 material;
        Composition comp;
        uint64 mass;
        address holder;
        LotState state;
        LotKind kind;
        uint32 epoch;
        PassportStatus status;
        uint256 currentOffer; // 1-based index into `offers` of the offer that may be accepted, or 0
        address pointer; // the recipient the ledger still names (cleared by accept, cancel, reject only)
        // Units: rated energy and the latest SOH counters. Every actor holds the OEM and SECOND_LIFE roles,
        // so every unit reached an end user; it is post-consumer once used (throughput) or when repurposed
        // from a unit that was (`ended`).
        uint48 rated;
        uint32 cycles;
        uint64 throughput;
        bool ended;
    }

    struct Offer {
        bytes32 lotId;
        address to;
    }

    struct Nonce {
        address signer;
        uint256 nonce;
    }

    RinneLedger public immutable ledger;
    GwpAttestations public immutable attestations;
    address public immutable admin;
    address public immutable auditor;
    address public immutable verifier;
    uint256 private immutable _verifierKey;
    address[] public actors;
    mapping(address => bool) public suspended;

    bytes32[] public ids;
    mapping(bytes32 => Model) internal _m;
    Offer[] public offers;
    Nonce[] internal _nonces;
    bytes32[] public uids;
    mapping(bytes32 => bool) public revoked;

    uint256[8] public minted; // per element, grams ever minted
    uint256[8] public mintedPre;
    uint256[8] public mintedPost;
    uint256[8] public lost; // per element, declared losses
    uint256[8] public recoveredPost; // post-consumer content created by `recycle` (units used by an end user)
    uint256[8] public recoveredPre; // pre-consumer content created by `recycle` (units never used)

    uint64 public expectedSeq; // ledger events the model expects
    uint64 public expectedAttSeq;
    uint256 public foldedHead; // ledger head recomputed from the recorded logs
    uint256 public foldedAttHead;

    string[] public violations;
    mapping(string => uint256) public calls; // how often each action did something, for the report

    uint256 private _idNonce;

    constructor(
        RinneLedger ledger_,
        GwpAttestations attestations_,
        address admin_,
        address auditor_,
        uint256 verifierKey,
        address[] memory actors_
    ) {
        ledger = ledger_;
        attestations = attestations_;
        admin = admin_;
        auditor = auditor_;
        _verifierKey = verifierKey;
        verifier = vm.addr(verifierKey);
        actors = actors_;
        (uint64 seq, bytes32 head) = ledger.ledgerHead();
        expectedSeq = seq;
        foldedHead = uint256(head);
        (seq, head) = attestations.ledgerHead();
        expectedAttSeq = seq;
        foldedAttHead = uint256(head);
    }

    // --------------------------------------------------------------------------- bookkeeping

    /// @dev Folds the logs of the action's successful call into the recomputed heads. forge's
    /// `getRecordedLogs` also returns logs of reverted calls, so only the last `k` logs of each
    /// emitter are taken, `k` being the number of events the model expects from the action: an event
    /// missing, extra or different then shows as a head or sequence mismatch.
    modifier recorded() {
        uint64 seq0 = expectedSeq;
        uint64 attSeq0 = expectedAttSeq;
        vm.recordLogs();
        _;
        Vm.Log[] memory logs = vm.getRecordedLogs();
        foldedHead = _foldLast(foldedHead, logs, address(ledger), expectedSeq - seq0);
        foldedAttHead = _foldLast(foldedAttHead, logs, address(attestations), expectedAttSeq - attSeq0);
    }

    function _foldLast(uint256 h, Vm.Log[] memory logs, address emitter, uint256 k) private pure returns (uint256) {
        uint256 first = logs.length;
        for (uint256 seen; first > 0 && seen < k;) {
            if (logs[--first].emitter == emitter) ++seen;
        }
        for (uint256 i = first; i < logs.length; ++i) {
            if (logs[i].emitter != emitter) continue;
            bytes memory packed;
            for (uint256 t; t < logs[i].topics.length; ++t) {
                packed = bytes.concat(packed, logs[i].topics[t]);
            }
            h = _fold(h, keccak256(bytes.concat(packed, logs[i].data)));
        }
        return h;
    }

    function _fold(uint256 h, bytes32 eventHash) private pure returns (uint256) {
        return (uint256(keccak256(abi.encode(h, eventHash))) & ~_SEQ_MASK) | ((h & _SEQ_MASK) + 1);
    }

    function _violation(string memory what) private {
        violations.push(what);
    }

    function violationCount() external view returns (uint256) {
        return violations.length;
    }

    function lotCount() external view returns (uint256) {
        return ids.length;
    }

    function nonceCount() external view returns (uint256) {
        return _nonces.length;
    }

    function usedNonce(uint256 i) external view returns (address, uint256) {
        return (_nonces[i].signer, _nonces[i].nonce);
    }

    function uidCount() external view returns (uint256) {
        return uids.length;
    }

    function model(bytes32 id) external view returns (Model memory) {
        return _m[id];
    }

    function _rand(uint256 seed, uint256 salt) private pure returns (uint256) {
        return uint256(keccak256(abi.encode(seed, salt)));
    }

    function _newId() private returns (bytes32) {
        return keccak256(abi.encode("invariant lot", ++_idNonce));
    }

    function _actor(uint256 seed) private view returns (address) {
        return actors[seed % actors.length];
    }

    function _material(uint256 seed) private pure returns (bytes32) {
        uint256 k = seed % 3;
        return k == 0 ? bytes32("NiSO4") : k == 1 ? bytes32("pCAM") : bytes32("CAM");
    }

    /// @dev A lot in `state` whose holder is not suspended (0 if none found). Half of the time it is one
    /// of the last lots offered, so that offers meet the changes that must kill them.
    function _pick(uint256 seed, LotState state, bool unit) private view returns (bytes32) {
        uint256 n = ids.length;
        if (n == 0) return 0;
        if (seed & 1 == 0 && offers.length != 0) {
            bytes32 id = offers[offers.length - 1 - (seed >> 1) % _min(offers.length, 4)].lotId;
            Model storage l = _m[id];
            if (l.state == state && (l.kind == LotKind.Unit) == unit && !suspended[l.holder]) return id;
        }
        for (uint256 i; i < 8; ++i) {
            bytes32 id = ids[_rand(seed, i) % n];
            Model storage l = _m[id];
            if (l.state == state && (l.kind == LotKind.Unit) == unit && !suspended[l.holder]) return id;
        }
        return 0;
    }

    /// @dev Index of mostly one of the latest offers (likely still pending, or just made stale), sometimes any.
    function _recentOffer(uint256 seed) private view returns (uint256) {
        uint256 n = offers.length;
        return seed & 3 != 0 ? n - 1 - (seed >> 2) % _min(n, 4) : seed % n;
    }

    function _min(uint256 a, uint256 b) private pure returns (uint256) {
        return a < b ? a : b;
    }

    function _elements(Composition memory c) private pure returns (uint256 s) {
        for (uint256 i; i < 8; ++i) {
            s += _lane(c.total, i);
        }
    }

    /// @dev A random part of `c` leaving a valid remainder (virgin, pre and post taken independently).
    function _part(uint256 seed, Composition memory c) private pure returns (Composition memory p) {
        uint256[8] memory t;
        uint256[8] memory pre;
        uint256[8] memory post;
        for (uint256 i; i < 8; ++i) {
            uint256 r = _rand(seed, 1000 + i);
            uint256 cp = _lane(c.pre, i);
            uint256 cq = _lane(c.post, i);
            pre[i] = (r >> 64) % (cp + 1);
            post[i] = (r >> 128) % (cq + 1);
            t[i] = r % (_lane(c.total, i) - cp - cq + 1) + pre[i] + post[i];
        }
        p = _comp(t, pre, post);
    }

    function _input(bytes32 id) private view returns (LotInput memory i) {
        Model storage l = _m[id];
        i.lotId = id;
        i.material = l.material;
        i.held = l.comp;
    }

    function _newLot(bytes32 id, bytes32 material, uint64 mass, Composition memory c, address holder, LotKind kind) private {
        ids.push(id);
        Model storage l = _m[id];
        l.material = material;
        l.comp = c;
        l.mass = mass;
        l.holder = holder;
        l.state = LotState.Active;
        l.kind = kind;
        if (kind == LotKind.Unit) l.status = PassportStatus.Original;
        expectedSeq += 1; // LotCreated
    }

    /// @dev The model's effect of any content/state change on custody: pending offers die.
    function _touch(bytes32 id) private {
        Model storage l = _m[id];
        l.epoch += 1;
        l.currentOffer = 0;
    }

    function _consumeWhole(bytes32 id) private {
        _touch(id);
        _m[id].state = LotState.Consumed;
    }

    function _spec(bytes32 id, bytes32 material, uint64 mass, Composition memory c) private pure returns (LotSpec memory s) {
        s.lotId = id;
        s.material = material;
        s.mass = mass;
        s.evidence = keccak256(abi.encode(id));
        s.composition = c;
    }

    function _addLoss(uint256[2] memory loss) private {
        for (uint256 i; i < 8; ++i) {
            lost[i] += _lane(loss, i);
        }
    }

    // ------------------------------------------------------------------------------- actions

    function mint(uint256 actorSeed, uint256 seed) external recorded {
        address who = _actor(actorSeed);
        uint256[8] memory t;
        uint256[8] memory p;
        uint256[8] memory q;
        uint256 sum;
        for (uint256 i; i < 8; ++i) {
            uint256 r = _rand(seed, i);
            if (r & 1 == 0) continue; // about half of the elements present
            t[i] = (r >> 8) % _MAX_LANE;
            p[i] = (r >> 80) % (t[i] / 4 + 1);
            q[i] = (r >> 160) % (t[i] / 4 + 1);
            sum += t[i];
        }
        Composition memory c = _comp(t, p, q);
        bytes32 id = _newId();
        uint64 mass = uint64(sum + 1 + seed % 1_000_000);
        bytes32 material = _material(seed >> 200);
        bool expectOk = !suspended[who];
        vm.prank(who);
        try ledger.mint(_spec(id, material, mass, c)) {
            if (!expectOk) return _violation("mint by a suspended actor succeeded");
            _newLot(id, material, mass, c, who, LotKind.Material);
            for (uint256 i; i < 8; ++i) {
                minted[i] += t[i];
                mintedPre[i] += p[i];
                mintedPost[i] += q[i];
            }
            calls["mint"]++;
        } catch {
            if (expectOk) _violation("valid mint reverted");
        }
    }

    function offer(uint256 lotSeed, uint256 toSeed) external recorded {
        bytes32 id = _pick(lotSeed, LotState.Active, (lotSeed >> 8) % 4 == 0);
        if (id == 0) return;
        Model storage l = _m[id];
        address to = _actor(toSeed);
        if (to == l.holder && toSeed & 7 != 0) to = actors[(toSeed % actors.length + 1) % actors.length]; // mostly a real recipient
        bool expectOk = to != l.holder && !suspended[to];
        vm.prank(l.holder);
        try ledger.offer(id, to) {
            if (!expectOk) return _violation("offer to an invalid recipient succeeded");
            offers.push(Offer(id, to));
            l.currentOffer = offers.length;
            l.pointer = to;
            expectedSeq += 1;
            calls["offer"]++;
        } catch {
            if (expectOk) _violation("valid offer reverted");
        }
    }

    /// @dev Any offer ever made, accepted by its recipient: succeeds exactly when it is still current.
    function accept(uint256 offerSeed) external recorded {
        if (offers.length == 0) return;
        uint256 k = _recentOffer(offerSeed);
        Offer memory o = offers[k];
        Model storage l = _m[o.lotId];
        // Accepting acts on the lot: a repeated identical offer (same recipient, nothing changed) is the same offer.
        bool current = l.currentOffer != 0 && offers[l.currentOffer - 1].to == o.to;
        bool expectOk = current && l.state == LotState.Active && !suspended[l.holder] && !suspended[o.to];
        vm.prank(o.to);
        try ledger.accept(o.lotId) {
            if (!current) return _violation("a stale offer was accepted");
            if (!expectOk) return _violation("accept succeeded for an inactive lot or party");
            l.holder = o.to;
            l.pointer = address(0);
            _touch(o.lotId);
            expectedSeq += 1;
            calls["accept"]++;
        } catch {
            if (expectOk) _violation("a current offer could not be accepted");
            else if (!current) calls["stale offer refused"]++;
        }
    }

    /// @dev The holder of a lot that was offered at some point withdraws whatever offer is pending.
    function cancel(uint256 offerSeed) external recorded {
        if (offers.length == 0) return;
        bytes32 id = offers[offerSeed % offers.length].lotId;
        Model storage l = _m[id];
        // Deny by default: a suspended holder may not even withdraw its offer.
        bool expectOk = l.pointer != address(0) && !suspended[l.holder];
        vm.prank(l.holder);
        try ledger.cancel(id) {
            if (!expectOk) return _violation("cancel without an offer succeeded");
            l.pointer = address(0);
            l.currentOffer = 0;
            expectedSeq += 1;
            calls["cancel"]++;
        } catch {
            if (expectOk) _violation("cancel of a pending offer reverted");
            else if (l.pointer != address(0)) calls["suspended cancel refused"]++;
        }
    }

    function reject(uint256 offerSeed) external recorded {
        if (offers.length == 0) return;
        Offer memory o = offers[_recentOffer(offerSeed)];
        Model storage l = _m[o.lotId];
        bool expectOk = l.pointer == o.to && !suspended[o.to];
        vm.prank(o.to);
        try ledger.reject(o.lotId) {
            if (!expectOk) return _violation("reject without an offer succeeded");
            l.pointer = address(0);
            l.currentOffer = 0;
            expectedSeq += 1;
            calls["reject"]++;
        } catch {
            if (expectOk) _violation("reject of a pending offer reverted");
            else if (l.pointer == o.to) calls["suspended reject refused"]++;
        }
    }

    function split(uint256 lotSeed, uint256 seed, bool partly) external recorded {
        bytes32 id = _pick(lotSeed, LotState.Active, false);
        if (id == 0) return;
        Model storage l = _m[id];
        Composition memory used = l.comp;
        uint64 usedMass;
        if (partly) {
            // A part of a lot is pro rata to it (the contract refuses any other): the library's cut.
            if (l.mass < 2) return;
            usedMass = uint64(1 + seed % (l.mass - 1));
            used = _take(l.comp, usedMass, l.mass);
        }
        uint256 n = 1 + seed % 3;
        LotSpec[] memory outs = new LotSpec[](n);
        Composition memory left = _copy(used);
        uint256 massLeft = partly ? usedMass : l.mass;
        if (massLeft < n) return;
        for (uint256 i; i + 1 < n; ++i) {
            uint256 shareMass = 1 + _rand(seed, 50 + i) % (massLeft - (n - 1 - i));
            outs[i] = _spec(_newId(), l.material, uint64(shareMass), _take(left, shareMass, massLeft));
            left = _sub(left, outs[i].composition);
            massLeft -= shareMass;
        }
        outs[n - 1] = _spec(_newId(), l.material, uint64(massLeft), left);
        LotInput memory input = _input(id);
        if (partly) (input.usedMass, input.used) = (usedMass, used);
        vm.prank(l.holder);
        try ledger.split(input, outs) {
            if (partly) {
                l.comp = _sub(l.comp, used);
                l.mass -= usedMass;
                _touch(id);
                expectedSeq += 1; // LotUpdated
            } else {
                _consumeWhole(id);
            }
            for (uint256 i; i < n; ++i) {
                _newLot(outs[i].lotId, l.material, outs[i].mass, outs[i].composition, l.holder, LotKind.Material);
            }
            expectedSeq += 1; // LotsTransformed
            calls[partly ? "split (part)" : "split (whole)"]++;
        } catch {
            _violation("valid split reverted");
        }
    }

    function merge(uint256 lotSeed) external recorded {
        bytes32 a = _pick(lotSeed, LotState.Active, false);
        if (a == 0) return;
        Model storage la = _m[a];
        bytes32 b;
        for (uint256 i; i < ids.length && b == 0; ++i) {
            Model storage lb = _m[ids[i]];
            if (
                ids[i] != a && lb.state == LotState.Active && lb.kind == LotKind.Material && lb.holder == la.holder
                    && lb.material == la.material
            ) {
                b = ids[i];
            }
        }
        if (b == 0) return;
        Model storage lb2 = _m[b];
        LotInput[] memory ins = new LotInput[](2);
        ins[0] = _input(a);
        ins[1] = _input(b);
        if (uint256(la.mass) + lb2.mass > type(uint64).max) return;
        LotSpec memory out = _spec(_newId(), la.material, la.mass + lb2.mass, _addC(la.comp, lb2.comp));
        vm.prank(la.holder);
        try ledger.merge(ins, out) {
            _consumeWhole(a);
            _consumeWhole(b);
            _newLot(out.lotId, out.material, out.mass, out.composition, la.holder, LotKind.Material);
            expectedSeq += 1;
            calls["merge"]++;
        } catch {
            _violation("valid merge reverted");
        }
    }

    /// @dev Whole input lot into one or two outputs of another material, with a declared loss. With
    /// `greedy`, output 0 claims one gram more post-consumer content than came in: must revert.
    function transform(uint256 lotSeed, uint256 seed, bool greedy) external recorded {
        bytes32 id = _pick(lotSeed, LotState.Active, false);
        if (id == 0) return;
        Model storage l = _m[id];
        Composition memory kept = _blend(l.comp, _part(seed, l.comp).total); // at the input's recycled shares
        uint256[2] memory loss = [l.comp.total[0] - kept.total[0], l.comp.total[1] - kept.total[1]];
        LotSpec[] memory outs = _outputsOf(seed, kept);
        if (greedy && !_claimOneMore(outs, l.comp.post)) return;
        vm.prank(l.holder);
        try ledger.transform(_ones(_input(id)), outs, loss) {
            if (greedy) return _violation("recycled credit grew in a transform");
            _consumeWhole(id);
            for (uint256 i; i < outs.length; ++i) {
                _newLot(outs[i].lotId, outs[i].material, outs[i].mass, outs[i].composition, l.holder, LotKind.Material);
            }
            _addLoss(loss);
            expectedSeq += 1;
            calls["transform"]++;
        } catch {
            if (!greedy) _violation("valid transform reverted");
            else calls["greedy transform refused"]++;
        }
    }

    /// @dev One or two outputs sharing `kept`, of random materials, each a little heavier than its elements.
    function _outputsOf(uint256 seed, Composition memory kept) private returns (LotSpec[] memory outs) {
        uint256 n = 1 + seed % 2;
        outs = new LotSpec[](n);
        Composition memory left = kept;
        for (uint256 i; i < n; ++i) {
            // Each output at the inputs' recycled shares, rounded down; the last takes the rest of the totals.
            // (Taking the rest of the recycled parts too can leave it more recycled than total once the
            // earlier outputs' parts were rounded down.)
            uint256[2] memory total = i + 1 == n ? left.total : _part(_rand(seed, 70 + i), left).total;
            Composition memory share = _blend(kept, total);
            left = _sub(left, share);
            uint64 mass = uint64(_elements(share) + 1 + seed % 1000);
            outs[i] = _spec(_newId(), _material(seed >> (8 * i + 100)), mass, share);
        }
    }

    /// @dev Make output 0 claim, for some element, all post-consumer credit the others left plus one gram.
    function _claimOneMore(LotSpec[] memory outs, uint256[2] memory inPost) private pure returns (bool) {
        Composition memory c = outs[0].composition;
        for (uint256 e; e < 8; ++e) {
            uint256 others;
            for (uint256 j = 1; j < outs.length; ++j) {
                others += _lane(outs[j].composition.post, e);
            }
            uint256 claim = _lane(inPost, e) - others + 1;
            if (_lane(c.pre, e) + claim <= _lane(c.total, e)) {
                uint256 shift = 64 * (e % 4);
                c.post[e / 4] = (c.post[e / 4] & ~(uint256(type(uint64).max) << shift)) | (claim << shift);
                return true;
            }
        }
        return false;
    }

    function _ones(LotInput memory i) private pure returns (LotInput[] memory a) {
        a = new LotInput[](1);
        a[0] = i;
    }

    function freeze(uint256 lotSeed, bool release) external recorded {
        if (ids.length == 0) return;
        bytes32 id = ids[lotSeed % ids.length];
        if (lotSeed & 1 == 0 && offers.length != 0) id = offers[offers.length - 1].lotId;
        Model storage l = _m[id];
        LotState want = release ? LotState.Frozen : LotState.Active;
        bool expectOk = l.state == want;
        vm.prank(auditor);
        if (release) {
            try ledger.unfreeze(id) {
                if (!expectOk) return _violation("unfreeze of a lot that is not frozen succeeded");
                l.state = LotState.Active;
            } catch {
                if (expectOk) _violation("unfreeze reverted");
                return;
            }
        } else {
            try ledger.freeze(id, bytes32(0)) {
                if (!expectOk) return _violation("freeze of an inactive lot succeeded");
                l.state = LotState.Frozen;
            } catch {
                if (expectOk) _violation("freeze reverted");
                return;
            }
        }
        _touch(id);
        expectedSeq += 1;
        calls[release ? "unfreeze" : "freeze"]++;
    }

    function suspend(uint256 actorSeed) external recorded {
        address who = _actor(actorSeed);
        // Mostly reinstate someone suspended, so that suspensions stay short and the others keep working.
        for (uint256 i; i < actors.length && actorSeed & 3 != 0; ++i) {
            if (suspended[actors[i]]) who = actors[i];
        }
        vm.prank(admin);
        if (suspended[who]) ledger.reinstate(who);
        else ledger.suspend(who, bytes32(0));
        suspended[who] = !suspended[who];
        expectedSeq += 1;
        calls["suspend/reinstate"]++;
    }

    function buildUnit(uint256 lotSeed) external recorded {
        bytes32 id = _pick(lotSeed, LotState.Active, false);
        if (id == 0) return;
        Model storage l = _m[id];
        LotSpec memory u = _spec(_newId(), "PACK", l.mass, l.comp);
        vm.prank(l.holder);
        try ledger.buildUnit(_ones(_input(id)), u, UnitSpec(keccak256(abi.encode(u.lotId)), 75_000), [uint256(0), 0]) {
            _consumeWhole(id);
            _newLot(u.lotId, u.material, u.mass, u.composition, l.holder, LotKind.Unit);
            _m[u.lotId].rated = 75_000;
            expectedSeq += 2; // UnitCreated, LotsTransformed
            calls["buildUnit"]++;
        } catch {
            _violation("valid buildUnit reverted");
        }
    }

    /// @dev The specification's passport edges for `setStatus` (Repurposed and Recycled only via their operations).
    function _settable(PassportStatus from, PassportStatus to) private pure returns (bool) {
        if (from == PassportStatus.Original) {
            return to == PassportStatus.Reused || to == PassportStatus.Remanufactured || to == PassportStatus.Waste;
        }
        if (from == PassportStatus.Reused) return to == PassportStatus.Remanufactured || to == PassportStatus.Waste;
        if (from == PassportStatus.Remanufactured) return to == PassportStatus.Reused || to == PassportStatus.Waste;
        if (from == PassportStatus.Repurposed) return to == PassportStatus.Waste;
        return false;
    }

    function _repurposable(PassportStatus from) private pure returns (bool) {
        return from == PassportStatus.Original || from == PassportStatus.Reused || from == PassportStatus.Remanufactured
            || from == PassportStatus.Waste;
    }

    function setStatus(uint256 lotSeed, uint8 toSeed) external recorded {
        bytes32 id = _pick(lotSeed, LotState.Active, true);
        if (id == 0) return;
        Model storage l = _m[id];
        PassportStatus to = toSeed & 1 == 0 ? PassportStatus.Waste : PassportStatus((toSeed >> 1) % 7);
        bool expectOk = _settable(l.status, to);
        vm.prank(l.holder);
        try ledger.setStatus(id, to, bytes32(0)) {
            if (!expectOk) return _violation("passport moved along a forbidden edge");
            l.status = to;
            _touch(id); // a status change kills pending offers
            expectedSeq += 1;
            calls["setStatus"]++;
        } catch {
            if (expectOk) _violation("allowed passport move reverted");
        }
    }

    function repurpose(uint256 lotSeed) external recorded {
        bytes32 id = _pick(lotSeed, LotState.Active, true);
        if (id == 0) return;
        Model storage l = _m[id];
        bool expectOk = _repurposable(l.status);
        LotSpec memory ess = _spec(_newId(), "ESS", l.mass, l.comp);
        uint48 rated = l.rated * 9 / 10; // a second life is rated at most what its parents were
        vm.prank(l.holder);
        try ledger.repurpose(_ones(_input(id)), ess, UnitSpec(keccak256(abi.encode(ess.lotId)), rated), [uint256(0), 0]) {
            if (!expectOk) return _violation("repurposed a unit whose status forbids it");
            _consumeWhole(id);
            l.status = PassportStatus.Repurposed;
            l.epoch += 1; // the status change bumps the epoch once more
            _newLot(ess.lotId, ess.material, ess.mass, ess.composition, l.holder, LotKind.Unit);
            _m[ess.lotId].status = PassportStatus.Repurposed;
            _m[ess.lotId].rated = rated;
            _m[ess.lotId].ended = _postConsumer(id);
            expectedSeq += 3; // StatusChanged (parent), UnitCreated, LotsTransformed
            calls["repurpose"]++;
        } catch {
            if (expectOk) _violation("valid repurpose reverted");
        }
    }

    /// @dev Mostly a Waste unit (the only kind recycling accepts), sometimes any unit.
    function recycle(uint256 lotSeed, uint256 seed) external recorded {
        bytes32 id = _pick(lotSeed, LotState.Active, true);
        for (uint256 i; i < ids.length && seed % 4 != 0; ++i) {
            Model storage u = _m[ids[i]];
            if (u.status == PassportStatus.Waste && u.state == LotState.Active && !suspended[u.holder]) {
                id = ids[i];
                break;
            }
        }
        if (id == 0) return;
        Model storage l = _m[id];
        bool expectOk = l.status == PassportStatus.Waste;
        Composition memory rec;
        rec.total = _part(seed, l.comp).total;
        bool post = _postConsumer(id);
        if (post) rec.post = rec.total;
        else rec.pre = rec.total;
        uint256[2] memory loss = [l.comp.total[0] - rec.total[0], l.comp.total[1] - rec.total[1]];
        LotSpec[] memory outs = new LotSpec[](1);
        outs[0] = _spec(_newId(), "BLACK-MASS", uint64(_elements(rec) + 1), rec);
        vm.prank(l.holder);
        try ledger.recycle(_input(id), outs, loss) {
            if (!expectOk) return _violation("recycled a unit that is not Waste");
            _consumeWhole(id);
            l.status = PassportStatus.Recycled;
            l.epoch += 1; // the status change bumps the epoch once more
            _newLot(outs[0].lotId, outs[0].material, outs[0].mass, rec, l.holder, LotKind.Material);
            _addLoss(loss);
            for (uint256 i; i < 8; ++i) {
                recoveredPost[i] += _lane(rec.post, i);
                recoveredPre[i] += _lane(rec.pre, i);
            }
            calls[post ? "recycle (post-consumer)" : "recycle (pre-consumer)"]++;
            expectedSeq += 2; // StatusChanged, LotsTransformed
            calls["recycle"]++;
        } catch {
            if (expectOk) _violation("valid recycle reverted");
        }
    }

    /// @dev Whether recycling the unit yields post-consumer material, by the model.
    function _postConsumer(bytes32 id) private view returns (bool) {
        Model storage l = _m[id];
        return l.ended || l.throughput != 0;
    }

    /// @dev The holder records a plausible state of health: at most one more cycle, throughput within
    /// (cycles + 1) x rated x 2.
    function soh(uint256 lotSeed, uint256 seed) external recorded {
        bytes32 id = _pick(lotSeed, LotState.Active, true);
        if (id == 0) return;
        Model storage l = _m[id];
        uint32 cycles = l.cycles + uint32(seed % 2);
        uint256 cap = (uint256(cycles) + 1) * l.rated * 2;
        uint256 thr = l.throughput + (seed >> 8) % 50_000;
        if (thr > cap) thr = cap;
        vm.prank(l.holder);
        try ledger.recordSoh(id, SohRecord(keccak256(abi.encode(id, seed, cycles, thr)), thr != 0)) {
            l.cycles = cycles;
            l.throughput = uint64(thr);
            _touch(id); // a new record kills pending offers
            expectedSeq += 1;
            calls["soh"]++;
        } catch {
            _violation("valid SOH record reverted");
        }
    }

    /// @dev Someone other than the holder tries to move, split or cancel a lot: must always fail.
    function intrude(uint256 lotSeed, uint256 actorSeed) external recorded {
        if (ids.length == 0) return;
        bytes32 id = ids[lotSeed % ids.length];
        Model storage l = _m[id];
        address who = _actor(actorSeed);
        if (who == l.holder) who = auditor; // the auditor holds nothing
        address to = _actor(actorSeed >> 8);
        vm.prank(who);
        try ledger.offer(id, to) {
            _violation("a non-holder offered a lot");
        } catch {}
        LotSpec[] memory outs = new LotSpec[](1);
        outs[0] = _spec(_newId(), l.material, l.mass, l.comp);
        vm.prank(who);
        try ledger.split(_input(id), outs) {
            _violation("a non-holder split a lot");
        } catch {}
        vm.prank(who);
        try ledger.cancel(id) {
            _violation("a non-holder cancelled an offer");
        } catch {}
        calls["intrusion refused"]++;
    }

    function attest(uint256 lotSeed, uint8 nonceSeed) external recorded {
        if (ids.length == 0) return;
        bytes32 id = ids[lotSeed % ids.length];
        uint256 nonce = nonceSeed % 24;
        bool used = attestations.nonceUsed(verifier, nonce);
        GwpAttestation memory a = GwpAttestation({
            lotId: id,
            emissionsGrams: uint64(lotSeed % 1e9),
            stage: LifeCycleStage(nonceSeed % 4),
            methodology: "ISO14067:2018",
            evidence: keccak256(abi.encode(lotSeed)),
            issuedAt: uint64(block.timestamp),
            validUntil: uint64(block.timestamp + 365 days),
            nonce: nonce,
            deadline: uint64(block.timestamp + 1 days)
        });
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(_verifierKey, attestations.hashAttestation(a));
        try attestations.attest(a, verifier, abi.encodePacked(r, s, v)) returns (bytes32 uid) {
            if (used) return _violation("a used nonce was accepted");
            _nonces.push(Nonce(verifier, nonce));
            uids.push(uid);
            expectedAttSeq += 1;
            calls["attest"]++;
        } catch {
            if (!used) _violation("a fresh attestation reverted");
        }
    }

    function revoke(uint256 uidSeed, bool byAuditor) external recorded {
        if (uids.length == 0) return;
        bytes32 uid = uids[uidSeed % uids.length];
        vm.prank(byAuditor ? auditor : verifier);
        try attestations.revoke(uid, bytes32(0)) {
            if (revoked[uid]) return _violation("revoked twice");
            revoked[uid] = true;
            expectedAttSeq += 1;
            calls["revoke"]++;
        } catch {
            if (!revoked[uid]) _violation("revoke by signer or auditor reverted");
        }
    }
}
