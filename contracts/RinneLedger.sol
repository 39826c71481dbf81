// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IRinneLedger} from "./interfaces/IRinneLedger.sol";
import {ParticipantRegistry} from "./ParticipantRegistry.sol";
import {CompositionMath, Sums} from "./libraries/CompositionMath.sol";
import {ProRata} from "./libraries/ProRata.sol";
import {
    Composition,
    LotSpec,
    LotInput,
    UnitSpec,
    SohRecord,
    LotState,
    LotKind,
    PassportStatus,
    OpKind,
    LotInfo,
    UnitInfo,
    Roles
} from "./types/LedgerTypes.sol";

/// @title RinneLedger
/// @notice Lots, custody, conservation-checked transforms and battery passports of the battery
/// material loop, with the participant registry built in.
/// @dev A lot takes two storage words: (holder, offeredTo, state, kind, epoch, offerEpoch, updatedBlock,
/// mass), with holder and recipient as participant numbers (see `ParticipantRegistry`), and the commitment
/// `keccak256(abi.encode(material, composition))`. The composition itself is emitted in `LotCreated` /
/// `LotUpdated` and passed back in calldata by whoever consumes the lot, which keeps a mint at two fresh
/// storage words and an offer or acceptance at one write of a word already written. The arithmetic on
/// compositions is in `CompositionMath` and `ProRata`; every event is emitted by `_emitRecorded`
/// (`LedgerHead`), which advances the ledger head over the very bytes it logs.
contract RinneLedger is IRinneLedger, ParticipantRegistry {
    using CompositionMath for Composition;
    using CompositionMath for Sums;

    uint256 private constant _MAX_INPUTS = 64;
    uint256 private constant _MAX_OUTPUTS = 64;
    // Bits of the unit word a new SOH record replaces: sohAt (its time).
    uint256 private constant _SOH_AT = uint256(0xFFFFFFFF) << 200;
    // Allowed passport edges: bit (8 * from + to) is set when `from -> to` is allowed.
    // Original -> Reused | Repurposed | Remanufactured | Waste; Reused -> Repurposed | Remanufactured | Waste;
    // Repurposed -> Waste; Remanufactured -> Reused | Repurposed | Waste; Waste -> Repurposed | Recycled.
    uint256 private constant _EDGES = 0x482c20383c00;
    // Unit flags. END_USER: the unit was held by an OEM or SECOND_LIFE party (it reached an end user).
    // ENDED_USE: built from (or dismantled out of) units that had all reached an end user and were used.
    // HAS_SOH: a state-of-health record exists (`sohAt` is its time, not the creation time).
    // USED: a state-of-health record claimed energy throughput (the recorder's word; the audit opens it).
    uint8 private constant _END_USER = 1;
    uint8 private constant _ENDED_USE = 2;
    uint8 private constant _HAS_SOH = 4;
    uint8 private constant _USED = 8;
    // A lot's first word (see `Lot`) without its offer: offeredTo (bits 32-63) and offerEpoch (112-143) cleared.
    uint256 private constant _NO_OFFER = ~(uint256(0xFFFFFFFF) << 32 | uint256(0xFFFFFFFF) << 112);

    // Word 1 is exactly full: holder bits 0-31, offeredTo 32-63, state 64-71, kind 72-79, epoch 80-111,
    // offerEpoch 112-143, updatedBlock 144-191, mass 192-255 (`_offer` and `_accept` use these bits). `holder`
    // and `offeredTo` are participant numbers, never 0 for a holder (only registered parties create or accept
    // lots); 0 in `offeredTo` is no offer.
    struct Lot {
        uint32 holder;
        uint32 offeredTo;
        LotState state;
        LotKind kind;
        uint32 epoch;
        uint32 offerEpoch;
        uint48 updatedBlock;
        uint64 mass;
        bytes32 commitment;
    }

    // A unit's passport is one word, read and written whole (packed-struct code was too large for the
    // EIP-170 limit): status bits 0-7, ratedWh 8-47, bits 48-199 free (the SOH values moved behind
    // `_sohRoots`), sohAt 200-231, flags 232-239, custody 240-255. Rated energy fits 40 bits (1.1 TWh;
    // `_createUnit` checks it); sohAt holds the creation time until the first SOH record (flag `_HAS_SOH`);
    // custody counts changes of holder (wrapping) and binds diagnostician authorisations to one custody.

    mapping(bytes32 lotId => Lot) private _lots;
    mapping(bytes32 unitId => uint256 word) private _units;
    // The root of each unit's latest state-of-health record (its values are Annex XIII point 4: off-chain).
    mapping(bytes32 unitId => bytes32 root) private _sohRoots;
    mapping(bytes32 unitId => mapping(address diagnostician => uint256 authorisation)) private _diagnosticians;

    /// @param initialAdmin The registry admin (a multisig or consortium contract in production).
    constructor(address initialAdmin) ParticipantRegistry(initialAdmin) {}

    // ----------------------------------------------------------------------------------- lots

    /// @inheritdoc IRinneLedger
    function mint(LotSpec calldata spec) external {
        _requireRole(msg.sender, Roles.MINTERS);
        _create(spec, LotKind.Material);
    }

    /// @inheritdoc IRinneLedger
    function mintBatch(LotSpec[] calldata specs) external {
        _requireRole(msg.sender, Roles.MINTERS);
        for (uint256 i; i < specs.length; ++i) {
            _create(specs[i], LotKind.Material);
        }
    }

    /// @inheritdoc IRinneLedger
    function offer(bytes32 lotId, address to) external {
        _offer(lotId, to, _requireActive(msg.sender));
    }

    /// @inheritdoc IRinneLedger
    function offerBatch(bytes32[] calldata lotIds, address[] calldata recipients) external {
        if (lotIds.length != recipients.length) revert RinneLedgerLengthMismatch();
        uint32 me = _requireActive(msg.sender);
        for (uint256 i; i < lotIds.length; ++i) {
            _offer(lotIds[i], recipients[i], me);
        }
    }

    /// @inheritdoc IRinneLedger
    function accept(bytes32 lotId) external {
        _accept(lotId, _requireActive(msg.sender));
    }

    /// @inheritdoc IRinneLedger
    function acceptBatch(bytes32[] calldata lotIds) external {
        uint32 me = _requireActive(msg.sender);
        for (uint256 i; i < lotIds.length; ++i) {
            _accept(lotIds[i], me);
        }
    }

    /// @inheritdoc IRinneLedger
    function reject(bytes32 lotId) external {
        // A suspended (possibly leaked) key may not even clear offers: deny by default.
        _requireActive(msg.sender);
        Lot storage l = _lots[lotId];
        uint32 me = _numberOf(msg.sender);
        if (me == 0 || l.offeredTo != me) revert RinneLedgerNoCurrentOffer(lotId, msg.sender);
        l.offeredTo = 0;
        l.offerEpoch = 0;
        _emitRecorded(3, abi.encode(OfferRejected.selector, lotId, msg.sender));
    }

    /// @inheritdoc IRinneLedger
    function cancel(bytes32 lotId) external {
        _requireActive(msg.sender);
        Lot storage l = _lots[lotId];
        if (l.holder != _numberOf(msg.sender) || l.state == LotState.None) revert RinneLedgerNotHolder(lotId, msg.sender);
        uint32 to = l.offeredTo;
        if (to == 0) revert RinneLedgerNoCurrentOffer(lotId, msg.sender);
        l.offeredTo = 0;
        l.offerEpoch = 0;
        _emitRecorded(3, abi.encode(OfferCancelled.selector, lotId, _accountOf(to)));
    }

    /// @inheritdoc IRinneLedger
    function split(LotInput calldata input, LotSpec[] calldata outputs) external {
        _requireActive(msg.sender);
        uint256 n = outputs.length;
        if (n == 0 || n > _MAX_OUTPUTS) revert RinneLedgerInvalidCount(1, n);
        Sums memory used;
        uint64[] memory usedMasses = new uint64[](1);
        usedMasses[0] = _consume(input, LotKind.Material, true, used);
        for (uint256 i; i < n; ++i) {
            if (outputs[i].material != input.material) revert RinneLedgerMaterialMismatch(outputs[i].lotId);
        }
        (Sums memory made, bytes32[] memory outIds) = _createAll(outputs, LotKind.Material);
        if (made.mass != used.mass) revert RinneLedgerMassMismatch();
        uint256[2] memory noLoss;
        _requireBalanced(used, made, noLoss);
        _requireSplitProRata(usedMasses[0] == 0 ? input.held : input.used, used.mass, outputs);
        _emitTransformed(OpKind.Split, _one(input.lotId), usedMasses, outIds, noLoss);
    }

    /// @inheritdoc IRinneLedger
    function merge(LotInput[] calldata inputs, LotSpec calldata output) external {
        _requireActive(msg.sender);
        _checkCounts(inputs.length, 1);
        for (uint256 i; i < inputs.length; ++i) {
            if (inputs[i].material != output.material) revert RinneLedgerMaterialMismatch(inputs[i].lotId);
        }
        (Sums memory used, bytes32[] memory inIds, uint64[] memory usedMasses) = _consumeAll(inputs, LotKind.Material, true);
        Sums memory made;
        _create(output, LotKind.Material);
        made.add(output.composition, output.mass);
        if (made.mass != used.mass) revert RinneLedgerMassMismatch();
        uint256[2] memory noLoss;
        _requireBalanced(used, made, noLoss);
        _emitTransformed(OpKind.Merge, inIds, usedMasses, _one(output.lotId), noLoss);
    }

    /// @inheritdoc IRinneLedger
    function transform(LotInput[] calldata inputs, LotSpec[] calldata outputs, uint256[2] calldata loss) external {
        _requireRole(msg.sender, Roles.PRODUCERS);
        _checkCounts(inputs.length, outputs.length);
        (Sums memory used, bytes32[] memory inIds, uint64[] memory usedMasses) = _consumeAll(inputs, LotKind.Material, false);
        (Sums memory made, bytes32[] memory outIds) = _createAll(outputs, LotKind.Material);
        _requireBalanced(used, made, loss);
        _requireEachShare(used, made, outputs);
        _emitTransformed(OpKind.Transform, inIds, usedMasses, outIds, loss);
    }

    /// @inheritdoc IRinneLedger
    function freeze(bytes32 lotId, bytes32 reason) external {
        _requireRole(msg.sender, Roles.AUDITOR);
        LotState state = _lots[lotId].state;
        if (state != LotState.Active) revert RinneLedgerLotNotActive(lotId, state);
        _freeze(lotId, reason);
    }

    /// @inheritdoc IRinneLedger
    function freezeBatch(bytes32[] calldata lotIds, bytes32 reason) external returns (uint256 frozen) {
        _requireRole(msg.sender, Roles.AUDITOR);
        for (uint256 i; i < lotIds.length; ++i) {
            bytes32 id = lotIds[i];
            LotState state = _lots[id].state;
            if (state == LotState.None) revert RinneLedgerLotNotActive(id, state);
            // A lot consumed (or frozen) since the auditor listed the lineage is skipped, not an error:
            // a front-running split must not void the freeze of everything else.
            if (state == LotState.Active) {
                _freeze(id, reason);
                ++frozen;
            }
        }
    }

    /// @inheritdoc IRinneLedger
    function unfreeze(bytes32 lotId) external {
        _requireRole(msg.sender, Roles.AUDITOR);
        Lot storage l = _lots[lotId];
        if (l.state != LotState.Frozen) revert RinneLedgerNotFrozen(lotId);
        l.state = LotState.Active;
        l.epoch += 1;
        _emitRecorded(3, abi.encode(LotUnfrozen.selector, lotId, msg.sender));
    }

    // ---------------------------------------------------------------------------------- units

    /// @inheritdoc IRinneLedger
    function buildUnit(LotInput[] calldata cells, LotSpec calldata unitLot, UnitSpec calldata unitSpec, uint256[2] calldata loss)
        external
    {
        _requireRole(msg.sender, Roles.BUILDERS);
        _checkCounts(cells.length, 1);
        (Sums memory used, bytes32[] memory inIds, uint64[] memory usedMasses) = _consumeAll(cells, LotKind.Material, false);
        _createUnit(
            unitLot, unitSpec, PassportStatus.Original, new bytes32[](0), hasAnyRole(msg.sender, Roles.END_USERS) ? _END_USER : 0
        );
        Sums memory made;
        made.add(unitLot.composition, unitLot.mass);
        _requireBalanced(used, made, loss);
        _requireShare(used, made, false, unitLot.lotId);
        _emitTransformed(OpKind.Build, inIds, usedMasses, _one(unitLot.lotId), loss);
    }

    /// @inheritdoc IRinneLedger
    function recordSoh(bytes32 unitId, SohRecord calldata soh) external {
        _soh(unitId, soh, false);
    }

    /// @inheritdoc IRinneLedger
    function correctSoh(bytes32 unitId, SohRecord calldata soh) external {
        _soh(unitId, soh, true);
    }

    /// @inheritdoc IRinneLedger
    function authoriseDiagnostician(bytes32 unitId, address diagnostician, bool authorised) external {
        _requireActive(msg.sender);
        Lot storage l = _lots[unitId];
        _requireHeldActive(l, unitId);
        if (l.kind != LotKind.Unit) revert RinneLedgerWrongKind(unitId);
        _diagnosticians[unitId][diagnostician] = authorised ? _authorisation(_numberOf(msg.sender), uint16(_units[unitId] >> 240)) : 0;
        _emitRecorded(4, abi.encode(DiagnosticianAuthorised.selector, unitId, msg.sender, diagnostician, authorised));
    }

    /// @inheritdoc IRinneLedger
    function setStatus(bytes32 unitId, PassportStatus to, bytes32 evidence) external {
        _requireActive(msg.sender);
        Lot storage l = _lots[unitId];
        _requireHeldActive(l, unitId);
        if (l.kind != LotKind.Unit) revert RinneLedgerWrongKind(unitId);
        PassportStatus from = PassportStatus(uint8(_units[unitId]));
        if (to == PassportStatus.Repurposed || to == PassportStatus.Recycled || !_edge(from, to)) {
            revert RinneLedgerInvalidTransition(unitId, from, to);
        }
        _setStatus(unitId, from, to, evidence);
    }

    /// @inheritdoc IRinneLedger
    function repurpose(LotInput[] calldata parents, LotSpec calldata unitLot, UnitSpec calldata unitSpec, uint256[2] calldata loss)
        external
    {
        _requireRole(msg.sender, Roles.SECOND_LIFE);
        _rebuild(parents, unitLot, unitSpec, loss, PassportStatus.Repurposed, OpKind.Repurpose);
    }

    /// @inheritdoc IRinneLedger
    function remanufacture(LotInput[] calldata parts, LotSpec calldata unitLot, UnitSpec calldata unitSpec, uint256[2] calldata loss)
        external
    {
        _requireRole(msg.sender, Roles.REMANUFACTURERS);
        _rebuild(parts, unitLot, unitSpec, loss, PassportStatus.Remanufactured, OpKind.Remanufacture);
    }

    /// @inheritdoc IRinneLedger
    function dismantle(LotInput calldata unitInput, LotSpec[] calldata modules, UnitSpec[] calldata specs, uint256[2] calldata loss)
        external
    {
        _requireRole(msg.sender, Roles.DISMANTLERS);
        if (specs.length != modules.length) revert RinneLedgerLengthMismatch();
        _checkCounts(1, modules.length);
        bytes32 unitId = unitInput.lotId;
        if (unitInput.usedMass != 0) revert RinneLedgerInvalidUsage(unitId);
        Sums memory used;
        _consume(unitInput, LotKind.Unit, false, used);
        (Sums memory made, bytes32[] memory outIds) = _createModules(unitId, modules, specs);
        _requireBalanced(used, made, loss);
        _requireEachShare(used, made, modules);
        _emitTransformed(OpKind.Dismantle, _one(unitId), new uint64[](1), outIds, loss);
    }

    /// @inheritdoc IRinneLedger
    function recycle(LotInput calldata unitInput, LotSpec[] calldata recovered, uint256[2] calldata loss) external {
        _requireRole(msg.sender, Roles.RECYCLER);
        uint256 n = recovered.length;
        if (n == 0 || n > _MAX_OUTPUTS) revert RinneLedgerInvalidCount(1, n);
        bytes32 unitId = unitInput.lotId;
        if (unitInput.usedMass != 0) revert RinneLedgerInvalidUsage(unitId);
        PassportStatus from = PassportStatus(uint8(_units[unitId]));
        if (from != PassportStatus.Waste) revert RinneLedgerInvalidTransition(unitId, from, PassportStatus.Recycled);
        Sums memory used;
        uint64[] memory usedMasses = new uint64[](1);
        _consume(unitInput, LotKind.Unit, false, used);
        // ISO 14021: post-consumer material comes from a product that reached its end user and ended its
        // use; what is recovered from any other unit (never sold, never used) is pre-consumer.
        bool postConsumer = _postConsumer(_units[unitId]);
        for (uint256 i; i < n; ++i) {
            if (!recovered[i].composition.isAllRecycled(postConsumer)) revert RinneLedgerInvalidRecovered(recovered[i].lotId);
        }
        (Sums memory made, bytes32[] memory outIds) = _createAll(recovered, LotKind.Material);
        // The recycled-credit rule does not apply here: recycling is where recycled content comes from.
        _requireConserved(used, made, loss);
        _setStatus(unitId, from, PassportStatus.Recycled, bytes32(0));
        _emitTransformed(OpKind.Recycle, _one(unitId), usedMasses, outIds, loss);
    }

    // ---------------------------------------------------------------------------------- views

    /// @inheritdoc IRinneLedger
    function lot(bytes32 lotId) external view returns (LotInfo memory) {
        Lot storage l = _lots[lotId];
        bool current = l.offeredTo != 0 && l.offerEpoch == l.epoch && l.state == LotState.Active;
        return LotInfo(
            _accountOf(l.holder), l.state, l.kind, l.epoch, l.updatedBlock, _accountOf(l.offeredTo), current, l.mass, l.commitment
        );
    }

    /// @inheritdoc IRinneLedger
    function holderOf(bytes32 lotId) external view returns (address holder, LotState state) {
        Lot storage l = _lots[lotId];
        return (_accountOf(l.holder), l.state);
    }

    /// @inheritdoc IRinneLedger
    function unit(bytes32 unitId) external view returns (UnitInfo memory) {
        uint256 w = _units[unitId];
        // Fields of the unit word (see `_units`); sohAt holds the creation time until the first record.
        return UnitInfo(
            PassportStatus(uint8(w)),
            uint40(w >> 8),
            _sohRoots[unitId],
            (w >> 232) & _USED != 0,
            (w >> 232) & _HAS_SOH != 0 ? uint32(w >> 200) : 0
        );
    }

    /// @inheritdoc IRinneLedger
    function unitUse(bytes32 unitId) external view returns (bool reachedEndUser, bool postConsumer) {
        uint256 w = _units[unitId];
        return ((w >> 232) & _END_USER != 0, _postConsumer(w));
    }

    /// @inheritdoc IRinneLedger
    function commitmentOf(bytes32 material, Composition calldata composition) external pure returns (bytes32) {
        return CompositionMath.commitCalldata(material, composition);
    }

    // ------------------------------------------------------------------------------- internals

    /// @dev Offer and acceptance read and write the lot's first word whole (see `Lot` for its bits): one read
    /// and one write, where field by field Solidity reads and writes it once per field.
    /// `me` is the caller's participant number (never 0: the caller is active).
    function _offer(bytes32 lotId, address to, uint32 me) private {
        Lot storage l = _lots[lotId];
        uint256 w = _lotWord(l);
        _requireHeldActive(w, lotId, me);
        uint32 recipient = _activeNumber(to);
        if (to == msg.sender || recipient == 0) revert RinneLedgerInvalidRecipient(to);
        uint32 epoch = uint32(w >> 80);
        _setLotWord(l, (w & _NO_OFFER) | uint256(recipient) << 32 | uint256(epoch) << 112);
        _emitRecorded(4, abi.encode(OfferMade.selector, lotId, msg.sender, to, epoch));
    }

    function _accept(bytes32 lotId, uint32 me) private {
        Lot storage l = _lots[lotId];
        uint256 w = _lotWord(l);
        LotState state = LotState(uint8(w >> 64));
        if (state != LotState.Active) revert RinneLedgerLotNotActive(lotId, state);
        uint32 epoch = uint32(w >> 80);
        if (me == 0 || uint32(w >> 32) != me || uint32(w >> 112) != epoch) revert RinneLedgerNoCurrentOffer(lotId, msg.sender);
        (address from, bool fromActive) = _activeAccountOf(uint32(w));
        // An offer signed by a key that has since been suspended (leaked) must not complete.
        if (!fromActive) revert ParticipantRegistryUnauthorized(from, 0);
        // The new holder, the next epoch (checked: it never wraps), no offer.
        _setLotWord(l, (w & _NO_OFFER & ~uint256(0xFFFFFFFF) & ~(uint256(0xFFFFFFFF) << 80)) | me | uint256(epoch + 1) << 80);
        if (LotKind(uint8(w >> 72)) == LotKind.Unit) _custodyChanged(lotId, hasAnyRole(msg.sender, Roles.END_USERS));
        _emitRecorded(4, abi.encode(OfferAccepted.selector, lotId, from, msg.sender));
    }

    function _lotWord(Lot storage l) private view returns (uint256 w) {
        assembly ("memory-safe") {
            w := sload(l.slot)
        }
    }

    function _setLotWord(Lot storage l, uint256 w) private {
        assembly ("memory-safe") {
            sstore(l.slot, w)
        }
    }

    /// @dev Record (or, with `correction`, supersede the latest) state of health. The holder, or a DIAGNOSTICIAN
    /// the holder authorised for this unit during its current custody. The values are behind `soh.root`, so
    /// the physical bounds the contract used to check (state of certified energy at most 100 %, capacity at
    /// most the rating, throughput at most (cycles + 1) x rated x 2, counters never backwards, at most 4 cycles
    /// a day) are the recorder's to keep and the authority's audit's to re-check. What stays on-chain: a
    /// record is a non-zero root; `used` (throughput > 0) never goes from true to false, so a unit once used
    /// stays post-consumer; a correction needs a record and keeps its time, so it cannot reset the clock.
    function _soh(bytes32 unitId, SohRecord calldata soh, bool correction) private {
        Lot storage l = _lots[unitId];
        LotState state = l.state;
        if (state != LotState.Active) revert RinneLedgerLotNotActive(unitId, state);
        if (l.kind != LotKind.Unit) revert RinneLedgerWrongKind(unitId);
        uint32 holder = l.holder;
        uint256 w = _units[unitId];
        if (holder == _numberOf(msg.sender)) {
            _requireActive(msg.sender);
        } else {
            _requireRole(msg.sender, Roles.DIAGNOSTICIAN);
            if (_diagnosticians[unitId][msg.sender] != _authorisation(holder, uint16(w >> 240))) {
                revert RinneLedgerNotAuthorised(unitId, msg.sender);
            }
        }
        uint256 flags = w >> 232;
        if (soh.root == 0 || (flags & _USED != 0 && !soh.used) || (correction && flags & _HAS_SOH == 0)) {
            revert RinneLedgerInvalidSoh(unitId);
        }
        // A new record sets its time and HAS_SOH; a correction keeps both. `used` only ever sets its flag.
        uint256 next = w | (soh.used ? uint256(_USED) << 232 : 0);
        if (!correction) next = (next & ~_SOH_AT) | block.timestamp << 200 | uint256(_HAS_SOH) << 232;
        _units[unitId] = next;
        _sohRoots[unitId] = soh.root;
        // A new or corrected record changes the passport a buyer was offered: the offer must not complete.
        l.epoch += 1;
        // SohRecorded and SohCorrected have the same layout: emit either with one encoding.
        _emitRecorded(3, abi.encode(correction ? SohCorrected.selector : SohRecorded.selector, unitId, msg.sender, soh));
    }

    /// @dev What `_diagnosticians` holds for an authorisation by participant number `holder` during custody
    /// number `custody`: a change of holder (which counts up `custody`) or a later holder's own authorisation ends it.
    function _authorisation(uint32 holder, uint16 custody) private pure returns (uint256) {
        return uint256(holder) << 16 | custody;
    }

    function _freeze(bytes32 lotId, bytes32 reason) private {
        Lot storage l = _lots[lotId];
        l.state = LotState.Frozen;
        l.epoch += 1;
        _emitRecorded(3, abi.encode(LotFrozen.selector, lotId, msg.sender, reason));
    }

    /// @dev A unit changed hands: count the custody (ending diagnostician authorisations) and note when the
    /// new holder is an end user. One read and one write of the unit's word: `custody` is its top 16 bits
    /// (wrapping), `flags` the 8 below.
    function _custodyChanged(bytes32 unitId, bool endUser) private {
        unchecked {
            _units[unitId] = (_units[unitId] + (1 << 240)) | (endUser ? uint256(_END_USER) << 232 : 0);
        }
    }

    function _create(LotSpec calldata spec, LotKind kind) private {
        bytes32 id = spec.lotId;
        if (_lots[id].state != LotState.None) revert RinneLedgerLotExists(id);
        if (id == 0 || spec.mass == 0 || !spec.composition.isValid(spec.mass)) revert RinneLedgerInvalidComposition(id);
        _lots[id] = Lot({
            holder: _numberOf(msg.sender),
            offeredTo: 0,
            state: LotState.Active,
            kind: kind,
            epoch: 0,
            offerEpoch: 0,
            updatedBlock: uint48(block.number),
            mass: spec.mass,
            commitment: CompositionMath.commitCalldata(spec.material, spec.composition)
        });
        _emitRecorded(4, _lotCreated(spec));
    }

    /// @dev The log entry (see `_emitRecorded`) of `LotCreated(spec.lotId, msg.sender, spec.material,
    /// spec.mass, spec.origin, spec.evidence, spec.composition)`: four topics, then the data. A `LotSpec` is
    /// static, so the event's data (mass, origin, evidence, composition) are its last nine calldata words,
    /// copied as they are. The caller has read `spec.mass`, which makes Solidity reject a mass with dirty
    /// high bits before anything is logged.
    function _lotCreated(LotSpec calldata spec) private view returns (bytes memory entry) {
        bytes32 topic0 = LotCreated.selector;
        assembly ("memory-safe") {
            entry := mload(0x40)
            mstore(entry, 0x1a0)
            mstore(add(entry, 0x20), topic0)
            mstore(add(entry, 0x40), calldataload(spec))
            mstore(add(entry, 0x60), caller())
            mstore(add(entry, 0x80), calldataload(add(spec, 0x20)))
            calldatacopy(add(entry, 0xa0), add(spec, 0x40), 0x120)
            mstore(0x40, add(entry, 0x1c0))
        }
    }

    function _createAll(LotSpec[] calldata specs, LotKind kind) private returns (Sums memory made, bytes32[] memory ids) {
        ids = new bytes32[](specs.length);
        for (uint256 i; i < specs.length; ++i) {
            LotSpec calldata spec = specs[i];
            _create(spec, kind);
            made.add(spec.composition, spec.mass);
            ids[i] = spec.lotId;
        }
    }

    function _createUnit(
        LotSpec calldata unitLot,
        UnitSpec calldata unitSpec,
        PassportStatus status,
        bytes32[] memory parents,
        uint8 flags
    ) private {
        _create(unitLot, LotKind.Unit);
        bytes32 id = unitLot.lotId;
        uint48 rated = unitSpec.ratedWh;
        if (rated >> 40 != 0) revert RinneLedgerInvalidRating(id);
        // The unit word (see `_units`): status, rating, creation time in sohAt, flags; no SOH, custody 0.
        _units[id] = uint256(status) | uint256(rated) << 8 | block.timestamp << 200 | uint256(flags) << 232;
        _emitRecorded(2, bytes.concat(abi.encode(UnitCreated.selector, id), abi.encode(unitSpec.serialHash, rated, status, parents)));
    }

    /// @dev Consume one input (whole or part) held by the caller and add what it gave to `used`.
    /// Reads the lot's mass only where it is needed (partial use, or `needMass` for split and merge).
    function _consume(LotInput calldata input, LotKind kind, bool needMass, Sums memory used) private returns (uint64 usedMass) {
        bytes32 id = input.lotId;
        Lot storage l = _lots[id];
        _requireHeldActive(l, id);
        if (l.kind != kind) revert RinneLedgerWrongKind(id);
        if (l.commitment != CompositionMath.commitCalldata(input.material, input.held)) revert RinneLedgerCommitmentMismatch(id);
        usedMass = input.usedMass;
        if (usedMass == 0) {
            l.state = LotState.Consumed;
            l.epoch += 1;
            used.add(input.held, needMass ? l.mass : 0);
            return 0;
        }
        Composition calldata part = input.used;
        Composition calldata held = input.held;
        uint64 mass = l.mass;
        if (usedMass >= mass || !part.isValid(usedMass)) revert RinneLedgerInvalidUsage(id);
        // A part of a homogeneous lot has the lot's composition: declaring only the element grams taken
        // (the nickel of a NiSO4 lot, not its mass) would carry a fraction of its burden with all its nickel.
        if (!ProRata.isPart(part, held, usedMass, mass)) revert RinneLedgerNotProRata(id);
        unchecked {
            mass -= usedMass;
        }
        // No lane borrows: a pro-rata part of less than the whole mass is at most the whole, lane by lane.
        (Composition memory rest, bool valid) = held.remainder(part, mass);
        if (!valid) revert RinneLedgerInvalidUsage(id);
        l.mass = mass;
        l.commitment = CompositionMath.commit(input.material, rest);
        l.epoch += 1;
        l.updatedBlock = uint48(block.number);
        _emitRecorded(2, abi.encode(LotUpdated.selector, id, input.material, mass, rest));
        used.add(part, usedMass);
    }

    function _consumeAll(LotInput[] calldata inputs, LotKind kind, bool needMass)
        private
        returns (Sums memory used, bytes32[] memory ids, uint64[] memory usedMasses)
    {
        uint256 n = inputs.length;
        ids = new bytes32[](n);
        usedMasses = new uint64[](n);
        for (uint256 i; i < n; ++i) {
            bytes32 id = inputs[i].lotId;
            if (_contains(ids, i, id)) revert RinneLedgerDuplicateInput(id);
            ids[i] = id;
            usedMasses[i] = _consume(inputs[i], kind, needMass, used);
        }
    }

    /// @dev Every status change bumps the lot's epoch: an offer made for the unit as it was is stale.
    function _setStatus(bytes32 unitId, PassportStatus from, PassportStatus to, bytes32 evidence) private {
        _units[unitId] = (_units[unitId] & ~uint256(0xFF)) | uint256(to);
        _lots[unitId].epoch += 1;
        _emitRecorded(2, abi.encode(StatusChanged.selector, unitId, from, to, evidence));
    }

    function _emitTransformed(
        OpKind kind,
        bytes32[] memory inputs,
        uint64[] memory usedMasses,
        bytes32[] memory outputs,
        uint256[2] memory loss
    ) private {
        _emitRecorded(
            3, bytes.concat(abi.encode(LotsTransformed.selector, kind, msg.sender), abi.encode(inputs, usedMasses, outputs, loss))
        );
    }

    /// @dev Whether `id` is among the first `n` entries of `ids` (a plain scan: inputs are few).
    function _contains(bytes32[] memory ids, uint256 n, bytes32 id) private pure returns (bool found) {
        assembly ("memory-safe") {
            let p := add(ids, 0x20)
            for { let end := add(p, shl(5, n)) } lt(p, end) { p := add(p, 0x20) } {
                if eq(mload(p), id) {
                    found := 1
                    break
                }
            }
        }
    }

    /// @dev Outputs plus loss equal the inputs per element, and recycled parts did not grow.
    /// @dev A unit built from units (`repurpose`, `remanufacture`): wholly consumed parents move to `to`, the
    /// unit links to them all, is post-consumer only when every parent was, and is rated at most what its
    /// parents were (pro rata by mass for parts of units).
    function _rebuild(
        LotInput[] calldata parents,
        LotSpec calldata unitLot,
        UnitSpec calldata unitSpec,
        uint256[2] calldata loss,
        PassportStatus to,
        OpKind kind
    ) private {
        _checkCounts(parents.length, 1);
        (Sums memory used, bytes32[] memory inIds, uint64[] memory usedMasses) = _consumeAll(parents, LotKind.Unit, false);
        (uint8 flags, uint256 rated) = _retireParents(inIds, usedMasses, to, unitLot.lotId);
        if (unitSpec.ratedWh > rated) revert RinneLedgerInvalidRating(unitLot.lotId);
        _createUnit(unitLot, unitSpec, to, inIds, flags);
        Sums memory made;
        made.add(unitLot.composition, unitLot.mass);
        _requireBalanced(used, made, loss);
        _requireShare(used, made, false, unitLot.lotId);
        _emitTransformed(kind, inIds, usedMasses, _one(unitLot.lotId), loss);
    }

    /// @dev Move the wholly consumed parents of a rebuilt unit to `to`; return the unit's flags and the most it
    /// may be rated.
    function _retireParents(bytes32[] memory inIds, uint64[] memory usedMasses, PassportStatus to, bytes32 unitId)
        private
        returns (uint8 flags, uint256 rated)
    {
        flags = _END_USER | _ENDED_USE;
        for (uint256 i; i < inIds.length; ++i) {
            bytes32 parentId = inIds[i];
            uint256 w = _units[parentId];
            if (!_postConsumer(w)) flags = hasAnyRole(msg.sender, Roles.END_USERS) ? _END_USER : 0;
            uint256 part = usedMasses[i];
            // `_consume` left the rest of a partly used parent: its mass before was the rest plus the part.
            rated += part == 0 ? uint40(w >> 8) : uint40(w >> 8) * part / (_lots[parentId].mass + part);
            PassportStatus from = PassportStatus(uint8(w));
            if (!_edge(from, to)) revert RinneLedgerInvalidTransition(parentId, from, to);
            // A parent that gave only some modules keeps its passport status.
            if (part == 0) _setStatus(parentId, from, to, unitId);
        }
    }

    /// @dev The modules of a dismantled unit: each a unit linked to it, rated together at most what it was.
    function _createModules(bytes32 unitId, LotSpec[] calldata modules, UnitSpec[] calldata specs)
        private
        returns (Sums memory made, bytes32[] memory outIds)
    {
        uint256 w = _units[unitId];
        // A module is the unit in smaller parts: same status (a Waste pack gives Waste modules), same standing.
        // Its SOH starts again, so a post-consumer unit's modules carry that standing as ENDED_USE.
        uint8 flags = uint8(w >> 232) & _END_USER | (_postConsumer(w) ? _ENDED_USE : 0);
        bytes32[] memory parent = _one(unitId);
        outIds = new bytes32[](modules.length);
        uint256 rated;
        for (uint256 i; i < modules.length; ++i) {
            _createUnit(modules[i], specs[i], PassportStatus(uint8(w)), parent, flags);
            made.add(modules[i].composition, modules[i].mass);
            rated += specs[i].ratedWh;
            outIds[i] = modules[i].lotId;
        }
        if (rated > uint40(w >> 8)) revert RinneLedgerInvalidRating(unitId);
    }

    /// @dev ISO 22095 controlled blending: the outputs' recycled share is at most the inputs', for the outputs
    /// together and, with several outputs, for each one on its own within the rounding of whole grams.
    function _requireEachShare(Sums memory used, Sums memory made, LotSpec[] calldata outputs) private pure {
        _requireShare(used, made, false, outputs[0].lotId);
        for (uint256 i; i < outputs.length && outputs.length > 1; ++i) {
            Sums memory one = Sums(0, 0, 0, 0, 0, 0, 0);
            one.add(outputs[i].composition, 0);
            _requireShare(used, one, true, outputs[i].lotId);
        }
    }

    function _requireBalanced(Sums memory used, Sums memory made, uint256[2] memory loss) private pure {
        _requireConserved(used, made, loss);
        if (!made.recycledWithin(used)) revert RinneLedgerRecycledCreditExceeded();
    }

    function _requireConserved(Sums memory used, Sums memory made, uint256[2] memory loss) private pure {
        if (!used.conserves(made, loss)) revert RinneLedgerConservationViolated();
    }

    /// @dev The recycled share of `made` is at most that of `used` (see `CompositionMath.shareWithin`): declaring
    /// a loss of virgin material, or cutting several outputs, cannot concentrate the recycled credit.
    function _requireShare(Sums memory used, Sums memory made, bool roundUp, bytes32 lotId) private pure {
        if (!made.shareWithin(used, roundUp)) revert RinneLedgerRecycledShareExceeded(lotId);
    }

    /// @dev Whether recycling the unit yields post-consumer material: it reached an end user (held by an
    /// OEM or SECOND_LIFE party) and was used (an SOH record claimed energy throughput: the audit opens it), or
    /// it was repurposed from units that all were.
    function _postConsumer(uint256 w) private pure returns (bool) {
        uint256 f = w >> 232;
        return f & _ENDED_USE != 0 || (f & _END_USER != 0 && f & _USED != 0);
    }

    function _checkCounts(uint256 inputs, uint256 outputs) private pure {
        if (inputs == 0 || inputs > _MAX_INPUTS || outputs == 0 || outputs > _MAX_OUTPUTS) {
            revert RinneLedgerInvalidCount(inputs, outputs);
        }
    }

    function _requireHeldActive(Lot storage l, bytes32 lotId) private view {
        _requireHeldActive(_lotWord(l), lotId, _numberOf(msg.sender));
    }

    /// @dev As above, on the lot's first word `w`, for the caller's participant number `me`.
    function _requireHeldActive(uint256 w, bytes32 lotId, uint32 me) private view {
        LotState state = LotState(uint8(w >> 64));
        if (state != LotState.Active) revert RinneLedgerLotNotActive(lotId, state);
        if (uint32(w) != me) revert RinneLedgerNotHolder(lotId, msg.sender);
    }

    /// @dev Each output of a split but the last is a pro-rata part (by mass) of what the outputs before it
    /// left, as `Composition.divide` cuts: a split cannot put one element into a light output.
    function _requireSplitProRata(Composition calldata source, uint256 mass, LotSpec[] calldata outputs) private pure {
        uint256 bad = ProRata.firstNotProRata(source, mass, outputs);
        if (bad < outputs.length) revert RinneLedgerNotProRata(outputs[bad].lotId);
    }

    function _edge(PassportStatus from, PassportStatus to) private pure returns (bool) {
        return (_EDGES >> (uint256(from) * 8 + uint256(to))) & 1 == 1;
    }

    function _one(bytes32 id) private pure returns (bytes32[] memory ids) {
        ids = new bytes32[](1);
        ids[0] = id;
    }
}
