// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IParticipantRegistry} from "./IParticipantRegistry.sol";
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
    UnitInfo
} from "../types/LedgerTypes.sol";

/// @title IRinneLedger
/// @notice Material lots with one holder each, two-phase custody, conservation-checked transforms, and
/// battery units with passports, for the battery material loop. Storage keeps a commitment to each
/// lot's composition; the composition itself travels in events and in the calldata of later
/// operations, which the contract checks against the commitment.
interface IRinneLedger is IParticipantRegistry {
    /// @notice The caller does not hold the lot.
    error RinneLedgerNotHolder(bytes32 lotId, address account);
    /// @notice A lot with this id exists already (ids are never reused).
    error RinneLedgerLotExists(bytes32 lotId);
    /// @notice The lot is not active (it does not exist, was consumed or is frozen).
    error RinneLedgerLotNotActive(bytes32 lotId, LotState state);
    /// @notice The material and composition given for the lot do not match its stored commitment.
    error RinneLedgerCommitmentMismatch(bytes32 lotId);
    /// @notice A composition is out of range: a lane at or above 2**56 g, recycled above total, or
    /// elements above the lot's mass (or zero mass, or zero id).
    error RinneLedgerInvalidComposition(bytes32 lotId);
    /// @notice The consumed part of an input exceeds what the lot holds, or leaves an invalid remainder.
    error RinneLedgerInvalidUsage(bytes32 lotId);
    /// @notice A part of a lot (a partial use, or a split output) does not have the lot's composition pro rata
    /// by mass: some lane of its total, pre- or post-consumer vector is neither the floor nor the ceiling of
    /// the lot's lane times part mass / lot mass.
    error RinneLedgerNotProRata(bytes32 lotId);
    /// @notice Outputs plus declared loss differ from what the inputs gave, for some element.
    error RinneLedgerConservationViolated();
    /// @notice Outputs claim more recycled mass than the inputs gave, for some element.
    error RinneLedgerRecycledCreditExceeded();
    /// @notice A split or merge does not conserve mass.
    error RinneLedgerMassMismatch();
    /// @notice A split or merge mixes materials.
    error RinneLedgerMaterialMismatch(bytes32 lotId);
    /// @notice Too few or too many inputs or outputs.
    error RinneLedgerInvalidCount(uint256 inputs, uint256 outputs);
    /// @notice The same lot appears twice among the inputs.
    error RinneLedgerDuplicateInput(bytes32 lotId);
    /// @notice The recipient of an offer is not an active participant, or is the holder.
    error RinneLedgerInvalidRecipient(address recipient);
    /// @notice There is no current offer of the lot to the caller.
    error RinneLedgerNoCurrentOffer(bytes32 lotId, address account);
    /// @notice The lot is of the wrong kind for the operation (material where a unit is needed or back).
    error RinneLedgerWrongKind(bytes32 lotId);
    /// @notice The passport status cannot move from `from` to `to`.
    error RinneLedgerInvalidTransition(bytes32 unitId, PassportStatus from, PassportStatus to);
    /// @notice A state-of-health record commits to nothing (a zero root), withdraws a claim of use the unit
    /// already had (`used` false after true), or (a correction) has no record to correct. Its values are behind
    /// the root: their physical bounds are checked by the recorder's client and the authority's audit.
    error RinneLedgerInvalidSoh(bytes32 unitId);
    /// @notice The caller is neither the unit's holder nor a diagnostician the holder authorised for it.
    error RinneLedgerNotAuthorised(bytes32 unitId, address account);
    /// @notice Recovered lots must be entirely post-consumer recycled content when the unit reached an end user
    /// and was used (`UnitInfo.postConsumer`), and entirely pre-consumer otherwise.
    error RinneLedgerInvalidRecovered(bytes32 lotId);
    /// @notice An output carries a larger recycled share of some element (pre- or post-consumer) than the
    /// consumed inputs gave (ISO 22095 controlled blending; for one output of several, beyond the rounding
    /// of whole grams).
    error RinneLedgerRecycledShareExceeded(bytes32 lotId);
    /// @notice A unit's rated energy does not fit 40 bits (1.1 TWh), or is above what the units it is made from were
    /// rated (modules together above their pack, a rebuilt unit above its parts).
    error RinneLedgerInvalidRating(bytes32 unitId);
    /// @notice The lot is not frozen.
    error RinneLedgerNotFrozen(bytes32 lotId);
    /// @notice The two arrays of a batch call differ in length.
    error RinneLedgerLengthMismatch();

    /// @notice Emitted when a lot was created (minted, or produced by an operation).
    /// @param lotId The new lot.
    /// @param holder Its first holder.
    /// @param material Material code.
    /// @param mass Mass in grams.
    /// @param origin Country code and site hash (zero for produced lots).
    /// @param evidence Hash of the assay or process record.
    /// @param composition Element content and recycled parts.
    event LotCreated(
        bytes32 indexed lotId,
        address indexed holder,
        bytes32 indexed material,
        uint64 mass,
        bytes32 origin,
        bytes32 evidence,
        Composition composition
    );
    /// @notice Emitted when part of a lot was consumed; gives what remains.
    /// @param lotId The lot.
    /// @param material Material code (unchanged; repeated so that this event alone describes the lot).
    /// @param mass Remaining mass, grams.
    /// @param composition Remaining composition.
    event LotUpdated(bytes32 indexed lotId, bytes32 material, uint64 mass, Composition composition);
    /// @notice Emitted when an operation consumed `inputs` and created `outputs`.
    /// @param kind Transform, Split, Merge, Build, Repurpose, Recycle, Dismantle or Remanufacture.
    /// @param operator The holder who ran it.
    /// @param inputs Consumed lots.
    /// @param usedMasses Grams consumed from each input; 0 when the input was wholly consumed (a partly
    /// consumed input's remainder is announced by the `LotUpdated` before this event).
    /// @param outputs Created lots (each announced by its `LotCreated` before this event).
    /// @param loss Declared process loss per element, grams (packed lanes).
    event LotsTransformed(
        OpKind indexed kind, address indexed operator, bytes32[] inputs, uint64[] usedMasses, bytes32[] outputs, uint256[2] loss
    );
    /// @notice Emitted when the holder offered a lot to `to`.
    /// @param lotId The lot.
    /// @param from The holder.
    /// @param to The recipient.
    /// @param epoch The lot epoch the offer is bound to.
    event OfferMade(bytes32 indexed lotId, address indexed from, address indexed to, uint32 epoch);
    /// @notice Emitted when `to` accepted the offer and became holder.
    /// @param lotId The lot.
    /// @param from The previous holder.
    /// @param to The new holder.
    event OfferAccepted(bytes32 indexed lotId, address indexed from, address indexed to);
    /// @notice Emitted when the recipient rejected the offer.
    /// @param lotId The lot.
    /// @param to The recipient who rejected it.
    event OfferRejected(bytes32 indexed lotId, address indexed to);
    /// @notice Emitted when the holder withdrew its offer.
    /// @param lotId The lot.
    /// @param to The recipient whose offer was withdrawn.
    event OfferCancelled(bytes32 indexed lotId, address indexed to);
    /// @notice Emitted when an auditor froze a lot.
    /// @param lotId The lot.
    /// @param auditor The auditor.
    /// @param reason Hash of the reason document.
    event LotFrozen(bytes32 indexed lotId, address indexed auditor, bytes32 reason);
    /// @notice Emitted when an auditor released a frozen lot.
    /// @param lotId The lot.
    /// @param auditor The auditor.
    event LotUnfrozen(bytes32 indexed lotId, address indexed auditor);
    /// @notice Emitted when a battery unit got its passport.
    /// @param unitId The unit (also a lot id).
    /// @param serialHash keccak256 of the serial number.
    /// @param ratedWh Rated energy, Wh.
    /// @param status First status (Original; Repurposed or Remanufactured for a unit built from used units; a
    /// module dismantled from a unit takes that unit's status).
    /// @param parents Parent units (repurposing), empty when built from cells.
    event UnitCreated(bytes32 indexed unitId, bytes32 serialHash, uint48 ratedWh, PassportStatus status, bytes32[] parents);
    /// @notice Emitted when a state-of-health record was added.
    /// @param unitId The unit.
    /// @param recorder Holder or diagnostician who recorded it.
    /// @param root Salted commitment to the record's values (opened to legitimate interest and authorities).
    /// @param used The recorder's claim that the unit's energy throughput is non-zero.
    event SohRecorded(bytes32 indexed unitId, address indexed recorder, bytes32 root, bool used);
    /// @notice Emitted when a state-of-health record superseded the latest one (a correction; the record
    /// corrected stays in the history as its `SohRecorded`).
    /// @param unitId The unit.
    /// @param recorder Holder or authorised diagnostician who corrected it.
    /// @param root Salted commitment to the corrected record's values (its time is that of the record it corrects).
    /// @param used The recorder's claim that the unit's energy throughput is non-zero.
    event SohCorrected(bytes32 indexed unitId, address indexed recorder, bytes32 root, bool used);
    /// @notice Emitted when the holder authorised a diagnostician to record the unit's state of health, or
    /// withdrew that; an authorisation also ends when the unit changes hands.
    /// @param unitId The unit.
    /// @param holder The holder.
    /// @param diagnostician The diagnostician.
    /// @param authorised True when authorised, false when withdrawn.
    event DiagnosticianAuthorised(bytes32 indexed unitId, address indexed holder, address indexed diagnostician, bool authorised);
    /// @notice Emitted when a unit's passport status changed.
    /// @param unitId The unit.
    /// @param from Previous status.
    /// @param to New status.
    /// @param evidence Hash of the decision record (e.g. the diagnosis).
    event StatusChanged(bytes32 indexed unitId, PassportStatus from, PassportStatus to, bytes32 evidence);

    /// @notice Create a lot from nothing (ore at the mine, feedstock entering the ledger). MINER or REFINER.
    /// @param spec The lot.
    function mint(LotSpec calldata spec) external;

    /// @notice Create many lots in one transaction. MINER or REFINER.
    /// @param specs The lots.
    function mintBatch(LotSpec[] calldata specs) external;

    /// @notice Offer a held lot to `to`; replaces any earlier offer of the lot.
    /// @param lotId The lot.
    /// @param to An active participant other than the caller.
    function offer(bytes32 lotId, address to) external;

    /// @notice Offer many held lots, each to its recipient.
    /// @param lotIds The lots.
    /// @param recipients One recipient per lot.
    function offerBatch(bytes32[] calldata lotIds, address[] calldata recipients) external;

    /// @notice Accept a current offer and become the holder.
    /// @param lotId The lot.
    function accept(bytes32 lotId) external;

    /// @notice Accept many current offers.
    /// @param lotIds The lots.
    function acceptBatch(bytes32[] calldata lotIds) external;

    /// @notice Reject an offer made to the caller (an active participant).
    /// @param lotId The lot.
    function reject(bytes32 lotId) external;

    /// @notice Withdraw the caller's pending offer of a lot (the caller must be an active participant).
    /// @param lotId The lot.
    function cancel(bytes32 lotId) external;

    /// @notice Split (part of) one lot into several lots of the same material; mass and elements conserved.
    /// Each output but the last is a pro-rata part (by mass) of what the outputs before it left; the last
    /// takes the rest (this is how the Python `Composition.divide` cuts).
    /// @param input The lot and the part of it to split off (whole lot when `usedMass` is 0).
    /// @param outputs The new lots.
    function split(LotInput calldata input, LotSpec[] calldata outputs) external;

    /// @notice Merge lots of one material into one new lot; mass and elements conserved.
    /// @param inputs The lots (or parts of them).
    /// @param output The new lot.
    function merge(LotInput[] calldata inputs, LotSpec calldata output) external;

    /// @notice Consume inputs and produce outputs of other materials (refining, calcination, cell making).
    /// A partly used input gives a pro-rata part of its composition (every lane floor or ceiling of held x
    /// usedMass / mass), in this and every other consuming operation.
    /// Per element, outputs plus `loss` must equal what was consumed; recycled parts can only shrink, and
    /// (ISO 22095 controlled blending) the recycled share of each element, pre- and post-consumer, is at most
    /// the inputs' share: in the outputs together exactly, in each output within one gram's rounding.
    /// @param inputs The lots (or parts of them).
    /// @param outputs The new lots.
    /// @param loss Declared process loss per element (packed lanes).
    function transform(LotInput[] calldata inputs, LotSpec[] calldata outputs, uint256[2] calldata loss) external;

    /// @notice Freeze a lot under investigation: nothing moves it until unfrozen. AUDITOR.
    /// @param lotId The lot.
    /// @param reason Hash of the reason document.
    function freeze(bytes32 lotId, bytes32 reason) external;

    /// @notice Freeze many lots in one transaction (a lineage under investigation: a lot and its descendants,
    /// listed off-chain from the events). AUDITOR. Lots no longer active (consumed or frozen since they were
    /// listed) are skipped, so a split that front-runs the freeze does not void it; an unknown id reverts.
    /// @param lotIds The lots.
    /// @param reason Hash of the reason document.
    /// @return frozen How many lots this call froze.
    function freezeBatch(bytes32[] calldata lotIds, bytes32 reason) external returns (uint256 frozen);

    /// @notice Release a frozen lot; offers made before the freeze stay dead. AUDITOR.
    /// @param lotId The lot.
    function unfreeze(bytes32 lotId) external;

    /// @notice Build a battery unit (pack or module) from cell lots; status Original. CELL_MAKER or PACK_ASSEMBLER.
    /// The unit's recycled share of each element is at most the cells' (ISO 22095 controlled blending).
    /// @param cells The cell lots (or parts of them).
    /// @param unitLot The unit as a lot (kind Unit).
    /// @param unitSpec Passport fields.
    /// @param loss Declared loss per element.
    function buildUnit(LotInput[] calldata cells, LotSpec calldata unitLot, UnitSpec calldata unitSpec, uint256[2] calldata loss)
        external;

    /// @notice Record a state-of-health diagnosis: the holder, or a DIAGNOSTICIAN the holder authorised for the
    /// unit (`authoriseDiagnostician`). The values stay off-chain behind `soh.root` (Annex XIII point 4 is not
    /// for the public), so the contract cannot check their physical bounds: the recorder answers for them
    /// (its transaction signs the commitment) and the authority's audit opens and re-checks every record.
    /// The root is never zero, and `used` once claimed is never withdrawn (throughput does not go back).
    /// Kills any pending offer of the unit (the passport it described changed).
    /// @param unitId The unit.
    /// @param soh The record.
    function recordSoh(bytes32 unitId, SohRecord calldata soh) external;

    /// @notice Supersede the latest state-of-health record with a correction (same callers and rules as
    /// `recordSoh`); it keeps the corrected record's time, and may lower counters, not raise them (the audit
    /// checks the opened values).
    /// Both records stay in the history; the passport shows the correction. Kills any pending offer.
    /// @param unitId The unit.
    /// @param soh The corrected record.
    function correctSoh(bytes32 unitId, SohRecord calldata soh) external;

    /// @notice Authorise (or, with `authorised` false, stop authorising) a diagnostician to record and correct
    /// the unit's state of health. Holder only; the authorisation ends when the unit changes hands.
    /// @param unitId The unit.
    /// @param diagnostician The diagnostician (it also needs the DIAGNOSTICIAN role when it records).
    /// @param authorised Whether it is authorised from now on.
    function authoriseDiagnostician(bytes32 unitId, address diagnostician, bool authorised) external;

    /// @notice Move a unit's passport status along an allowed edge (Reused, Remanufactured, Waste). Holder.
    /// Kills any pending offer of the unit, as every status change does (also inside repurpose and recycle).
    /// @param unitId The unit.
    /// @param to New status; Repurposed and Recycled come only from `repurpose` and `recycle`.
    /// @param evidence Hash of the decision record.
    function setStatus(bytes32 unitId, PassportStatus to, bytes32 evidence) external;

    /// @notice Build a new unit (e.g. an ESS) from used units; it links to every parent. SECOND_LIFE.
    /// The unit's recycled share of each element is at most the parents' (ISO 22095 controlled blending), its
    /// rating at most the parents' (pro rata for parts of units).
    /// @param parents Parent units (or parts of them); wholly consumed parents become Repurposed.
    /// @param unitLot The new unit as a lot.
    /// @param unitSpec Its passport fields; status Repurposed.
    /// @param loss Declared loss per element.
    function repurpose(LotInput[] calldata parents, LotSpec calldata unitLot, UnitSpec calldata unitSpec, uint256[2] calldata loss)
        external;

    /// @notice Take a unit apart into module units, each with its own passport linked to the unit. DISMANTLERS.
    /// Modules keep the unit's passport status and its end-user standing (post-consumer when the unit was), their
    /// ratings add up to at most the unit's, and each module's recycled share is at most the unit's (ISO 22095).
    /// @param unitInput The unit, wholly consumed.
    /// @param modules The modules as lots.
    /// @param specs Their passport fields, one per module.
    /// @param loss Declared loss per element (housing, wiring and electronics not carried into a module).
    function dismantle(LotInput calldata unitInput, LotSpec[] calldata modules, UnitSpec[] calldata specs, uint256[2] calldata loss)
        external;

    /// @notice Build a remanufactured unit from used and new module units; it links to every part. REMANUFACTURERS.
    /// Its rating is at most the parts' (pro rata for parts of units), its recycled share of each element at most
    /// theirs; it is post-consumer only when every part was.
    /// @param parts Module units (or parts of units); wholly consumed parts become Remanufactured.
    /// @param unitLot The new unit as a lot.
    /// @param unitSpec Its passport fields; status Remanufactured.
    /// @param loss Declared loss per element.
    function remanufacture(LotInput[] calldata parts, LotSpec calldata unitLot, UnitSpec calldata unitSpec, uint256[2] calldata loss)
        external;

    /// @notice Recycle a Waste unit into recovered lots. RECYCLER. Their content is post-consumer recycled
    /// when the unit reached an end user and was used (ISO 14021; `UnitInfo.postConsumer`), pre-consumer
    /// otherwise. The recycled-share rule does not apply: recycling is where recycled content comes from.
    /// @param unitInput The unit, wholly consumed.
    /// @param recovered The recovered lots; each entirely post-consumer, or entirely pre-consumer, as above.
    /// @param loss Declared loss per element.
    function recycle(LotInput calldata unitInput, LotSpec[] calldata recovered, uint256[2] calldata loss) external;

    /// @notice The stored state of a lot.
    /// @param lotId The lot.
    /// @return The lot record (state None when absent).
    function lot(bytes32 lotId) external view returns (LotInfo memory);

    /// @notice Holder and state of a lot, cheaply (two storage reads).
    /// @param lotId The lot.
    /// @return holder The holder.
    /// @return state The state.
    function holderOf(bytes32 lotId) external view returns (address holder, LotState state);

    /// @notice The stored passport of a unit: its status, rating, and its latest state-of-health record's root,
    /// claim of use and time (the record's values are off-chain, behind the root).
    /// @param unitId The unit.
    /// @return The passport record (status None when absent).
    function unit(bytes32 unitId) external view returns (UnitInfo memory);

    /// @notice Whether a unit reached an end user, and whether recycling it yields post-consumer material.
    /// @dev ISO 14021 post-consumer: the unit was held at some point by an OEM or SECOND_LIFE party (an end
    /// user) and its latest SOH record shows energy throughput (it was used), or it was repurposed from units
    /// that all were. Otherwise what `recycle` recovers from it is pre-consumer.
    /// @param unitId The unit.
    /// @return reachedEndUser Held at some point by an OEM or SECOND_LIFE party.
    /// @return postConsumer Recovered material from it counts as post-consumer.
    function unitUse(bytes32 unitId) external view returns (bool reachedEndUser, bool postConsumer);

    /// @notice The commitment a lot's material and composition must hash to.
    /// @param material Material code.
    /// @param composition Composition.
    /// @return keccak256(abi.encode(material, composition)).
    function commitmentOf(bytes32 material, Composition calldata composition) external pure returns (bytes32);
}
