// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @notice Element content of a lot: element masses and their recycled parts, in grams.
/// @dev Each vector holds 8 elements as 64-bit lanes in two words: element `i` sits in word `i / 4`
/// at bits `[64 * (i % 4), 64 * (i % 4) + 64)`. The meaning of each index is fixed at deployment
/// (default order: Li, Ni, Co, Mn, C, Fe, Cu, Al). Every lane must stay below 2**56 grams so that sums
/// of up to 64 vectors never carry between lanes; the contracts check it wherever a vector enters.
struct Composition {
    uint256[2] total; // element masses, grams
    uint256[2] pre; // pre-consumer recycled part of each element, grams
    uint256[2] post; // post-consumer recycled part of each element, grams
}

/// @notice Everything needed to create a lot.
struct LotSpec {
    bytes32 lotId; // client-chosen, unique forever: a retried write cannot create a second lot
    bytes32 material; // material code, e.g. "NiSO4", "CAM-NMC811", "CELL-NMC811", "PACK-75KWH"
    uint64 mass; // total mass in grams (elements plus everything not tracked)
    bytes32 origin; // 2-byte ISO 3166 country code followed by the first 30 bytes of keccak256(site)
    bytes32 evidence; // hash of the assay certificate or process record, never the document itself
    Composition composition; // element content and recycled parts
}

/// @notice A lot consumed (wholly or partly) by a split, merge, transform, build, repurpose or recycle.
struct LotInput {
    bytes32 lotId; // lot to consume; the caller must hold it
    bytes32 material; // the lot's material, checked against the stored commitment
    Composition held; // the lot's current composition, checked against the stored commitment
    uint64 usedMass; // grams consumed; 0 consumes the whole lot
    Composition used; // the part consumed when `usedMass != 0` (pro rata to `held`: each lane floor or ceil of held * usedMass / mass)
}

/// @notice Passport fields of a battery unit (pack, module or ESS) at creation.
struct UnitSpec {
    bytes32 serialHash; // keccak256 of the manufacturer's serial number
    uint48 ratedWh; // rated energy in Wh
}

/// @notice A state-of-health record (EU Battery Regulation Annex VII part B), behind a salted commitment: its
/// values (state of certified energy, remaining capacity, full cycles, energy throughput, the diagnosis report's
/// hash) are Annex XIII point 4, for persons with a legitimate interest and authorities only
/// (docs/confidentiality.md). The recorder answers for their physical bounds; the authority's audit opens and
/// re-checks them.
struct SohRecord {
    bytes32 root; // salted Merkle root of record `soh:<unit id>:<nonce>` (never zero)
    bool used; // the recorder's claim that the energy throughput so far is non-zero (recycling reads it)
}

/// @notice Life-cycle state of a lot.
enum LotState {
    None,
    Active,
    Consumed,
    Frozen
}

/// @notice What a lot stands for: bulk material or a battery unit with a passport.
enum LotKind {
    Material,
    Unit
}

/// @notice Battery passport status (EU Battery Regulation vocabulary).
enum PassportStatus {
    None,
    Original,
    Reused,
    Repurposed,
    Remanufactured,
    Waste,
    Recycled
}

/// @notice Kind of a consuming operation, as reported in `LotsTransformed`.
enum OpKind {
    Transform,
    Split,
    Merge,
    Build,
    Repurpose,
    Recycle,
    Dismantle,
    Remanufacture
}

/// @notice A stored lot as returned by `lot`.
struct LotInfo {
    address holder; // current custodian
    LotState state; // Active, Consumed or Frozen (None: no such lot)
    LotKind kind; // Material or Unit
    uint32 epoch; // bumped by every change of holder, content, state, passport status or SOH; offers made in an older epoch are stale
    uint48 updatedBlock; // block of the last event that set the lot's composition
    address offeredTo; // pending recipient, or zero
    bool offerCurrent; // whether the pending offer can still be accepted
    uint64 mass; // grams
    bytes32 commitment; // keccak256(abi.encode(material, composition))
}

/// @notice A stored battery unit's passport as returned by `unit`.
struct UnitInfo {
    PassportStatus status; // current passport status
    uint48 ratedWh; // rated energy, Wh
    bytes32 sohRoot; // root of the latest state-of-health record (zero: none yet)
    bool used; // a state-of-health record claimed energy throughput (once set, never cleared)
    uint40 sohAt; // timestamp of the latest SOH record (0: none yet)
}

/// @notice Participant record as returned by `participant`.
struct ParticipantInfo {
    uint16 roles; // bit set of `Roles`
    bool registered; // admitted by the admin
    bool suspended; // temporarily barred from every action
    uint40 since; // timestamp of registration
}

/// @notice Role bits of the participant registry.
library Roles {
    uint16 internal constant MINER = 1 << 0;
    uint16 internal constant REFINER = 1 << 1;
    uint16 internal constant PRECURSOR_MAKER = 1 << 2;
    uint16 internal constant CATHODE_MAKER = 1 << 3;
    uint16 internal constant CELL_MAKER = 1 << 4;
    uint16 internal constant PACK_ASSEMBLER = 1 << 5;
    uint16 internal constant OEM = 1 << 6;
    uint16 internal constant SECOND_LIFE = 1 << 7;
    uint16 internal constant DIAGNOSTICIAN = 1 << 8;
    uint16 internal constant RECYCLER = 1 << 9;
    uint16 internal constant GWP_VERIFIER = 1 << 10;
    uint16 internal constant AUDITOR = 1 << 11;
    uint16 internal constant ALL = (1 << 12) - 1;

    /// @dev Roles that may create lots from nothing (ore, purchased feedstock).
    uint16 internal constant MINTERS = MINER | REFINER;
    /// @dev Roles that may run a transform (consume lots, produce other materials).
    uint16 internal constant PRODUCERS = REFINER | PRECURSOR_MAKER | CATHODE_MAKER | CELL_MAKER | PACK_ASSEMBLER | RECYCLER;
    /// @dev Roles whose custody of a unit means it reached an end user (ISO 14021 post-consumer).
    uint16 internal constant END_USERS = OEM | SECOND_LIFE;
    /// @dev Roles that may build battery units from cell lots.
    uint16 internal constant BUILDERS = CELL_MAKER | PACK_ASSEMBLER;
    /// @dev Roles that may take a unit apart into module units (a pack maker, second-life operator or recycler).
    uint16 internal constant DISMANTLERS = PACK_ASSEMBLER | SECOND_LIFE | RECYCLER;
    /// @dev Roles that may remanufacture a unit from used and new module units.
    uint16 internal constant REMANUFACTURERS = PACK_ASSEMBLER | SECOND_LIFE;
}
