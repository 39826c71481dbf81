"""Typed records of the ledger: pydantic v2, immutable, amounts as integer grams."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ledger.domain.composition import Composition
from ledger.domain.disclosure import Openings
from ledger.domain.enums import LotKind, LotState, PassportStatus, Role
from ledger.domain.identity import commit_soh
from ledger.domain.ids import Address, Bytes32, Grams, PositiveGrams, id_bytes, label_of
from ledger.errors import InvalidInput

# ------------------------------------------------------------------------------------- ids


# ----------------------------------------------------------------------------------- enums


# ----------------------------------------------------------------------------- composition


# ----------------------------------------------------------------------------------- lots


class LotSpec(BaseModel):
    """A lot to create: mint, or an output of a split, merge, transform, build, repurpose or recycle."""

    model_config = ConfigDict(frozen=True)

    lot_id: Bytes32
    material: Bytes32
    mass: PositiveGrams
    composition: Composition = Composition()
    origin: Bytes32 = "0x" + "00" * 32
    evidence: Bytes32 = "0x" + "00" * 32
    #: The mine or plant site, never sent: the client commits it (salted, bound to the lot) into the last 30
    #: bytes of `origin` when it creates the lot, and keeps the opening in its vault.
    site: str | None = Field(default=None, min_length=1, max_length=200, exclude=True)
    #: The content hash of the lot's evidence document (assay certificate, process record), never sent: the
    #: client commits it (salted, bound to the lot) into `evidence` and keeps the opening in its vault.
    document: Bytes32 | None = Field(default=None, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _site_of_origin(cls, data: Any) -> Any:
        # origin_code(country, site) carries the site to here (an OriginCode is the word and its site).
        if isinstance(data, dict) and getattr(data.get("origin"), "site", None) and data.get("site") is None:
            data = {**data, "site": data["origin"].site}
        return data

    @model_validator(mode="after")
    def _elements_within_mass(self) -> LotSpec:
        if self.composition.element_mass > self.mass:
            raise ValueError(f"elements weigh {self.composition.element_mass} g, more than the lot's mass {self.mass} g")
        return self

    def abi(self) -> tuple[Any, ...]:
        """Return the ABI tuple of the Solidity ``LotSpec``."""
        if self.document is not None:
            # Sent as is, the document would be lost (it is excluded): the client commits it into `evidence` first.
            raise InvalidInput(f"lot {self.lot_id}: its evidence document is committed by the client before it is sent")
        return (
            id_bytes(self.lot_id),
            id_bytes(self.material),
            self.mass,
            id_bytes(self.origin),
            id_bytes(self.evidence),
            self.composition.words(),
        )


class UnitSpec(BaseModel):
    """Passport fields of a new battery unit."""

    model_config = ConfigDict(frozen=True)

    serial: str | None = Field(default=None, min_length=1, max_length=200)
    rated_wh: Annotated[int, Field(gt=0, lt=1 << 48)]
    #: The ISO/IEC 15459 unique identifier (Art. 77(3)), committed with the serial when given.
    unique_identifier: str | None = Field(default=None, min_length=1, max_length=200)
    #: The on-chain ``serialHash``: the root of the unit's salted identity record, which the client commits
    #: when it creates the unit from `serial`; or any bytes32 a caller committed itself.
    serial_hash: Bytes32 | None = None

    @model_validator(mode="after")
    def _serial_or_hash(self) -> UnitSpec:
        if self.serial is None and self.serial_hash is None:
            raise ValueError("a unit needs its serial (committed by the client) or a precomputed serial_hash")
        return self

    def abi(self) -> tuple[Any, ...]:
        """Return the ABI tuple of the Solidity ``UnitSpec`` (needs `serial_hash`: the client commits it)."""
        if self.serial_hash is None:
            raise ValueError("the serial is not committed yet: create the unit through a Ledger, or pass serial_hash")
        return (id_bytes(self.serial_hash), self.rated_wh)


class SohRecord(BaseModel):
    """A state-of-health record (EU Battery Regulation Annex VII part B), in plaintext: what a recorder knows.

    The client never sends it: it commits it (:meth:`commit`, a salted root bound to the unit) and sends the
    root and ``used`` (throughput > 0), keeping the opening in its vault (Annex XIII point 4: legitimate
    interest and authorities). The bounds below are the model's; the ones that need the unit (rating,
    previous record, elapsed time) are :func:`ledger.domain.soh.soh_problems`.
    """

    model_config = ConfigDict(frozen=True)

    soce_bp: Annotated[int, Field(ge=0, le=10_000)]
    capacity_wh: Annotated[int, Field(ge=0, lt=1 << 48)]
    cycles: Annotated[int, Field(ge=0, lt=1 << 32)]
    throughput_wh: Annotated[int, Field(ge=0, lt=1 << 64)]
    #: The content hash of the diagnosis report, committed with the values (never sent in the clear).
    document: Bytes32 | None = None
    #: A caller's own word for the report (any bytes32), committed as the document when no document is given.
    evidence: Bytes32 | None = None

    @property
    def used(self) -> bool:
        """The one bit that goes on-chain in the clear: whether the unit has delivered energy (recycling reads it)."""
        return self.throughput_wh > 0

    def commit(self, unit_id: str | bytes) -> tuple[str, Openings]:
        """Commit the record for `unit_id`; return the on-chain root and the openings (secret)."""
        doc = self.document if self.document is not None else self.evidence
        return commit_soh(unit_id, self.soce_bp, self.capacity_wh, self.cycles, self.throughput_wh, doc)


class Lot(BaseModel):
    """A lot as stored on-chain, with its material and composition read from its latest event."""

    model_config = ConfigDict(frozen=True)

    lot_id: Bytes32
    holder: Address
    state: LotState
    kind: LotKind
    epoch: int
    updated_block: int
    offered_to: Address | None
    offer_current: bool
    mass: Grams
    commitment: Bytes32
    material: Bytes32 | None = None
    composition: Composition | None = None

    @property
    def label(self) -> str:
        """The lot id as text when it is a label."""
        return label_of(self.lot_id)

    @property
    def material_label(self) -> str | None:
        """The material code as text."""
        return label_of(self.material) if self.material else None


class Unit(BaseModel):
    """A battery unit's stored passport."""

    model_config = ConfigDict(frozen=True)

    unit_id: Bytes32
    status: PassportStatus
    rated_wh: int
    soh_root: Bytes32 | None  # root of the latest SOH record (its values: :meth:`ledger.Ledger.soh`), None before any
    used: bool  # an SOH record claimed energy throughput (once set, never cleared)
    soh_at: int
    reached_end_user: bool = False  # held at some point by an OEM or SECOND_LIFE party
    post_consumer: bool = False  # recycling it yields post-consumer material (reached an end user and was used)


class Participant(BaseModel):
    """A registry record."""

    model_config = ConfigDict(frozen=True)

    address: Address
    roles: Role
    registered: bool
    suspended: bool
    since: int

    @field_validator("roles", mode="before")
    @classmethod
    def _roles(cls, v: Any) -> Role:
        return Role(v)


class Receipt(BaseModel):
    """The outcome of a mined transaction."""

    model_config = ConfigDict(frozen=True)

    tx_hash: str
    block_number: int
    gas_used: int
    status: int = 1


class Deployment(BaseModel):
    """Where the contract suite lives on one chain."""

    model_config = ConfigDict(frozen=True)

    chain_id: int
    ledger: Address
    attestations: Address
    block: int = Field(ge=0, description="block of the ledger's deployment: where replays start")
    admin: Address
    source_hash: str | None = None
    #: The authority tier's vault public key (0x-hex, 32 bytes): every SOH record's opening is wrapped to it,
    #: so no recorder can withhold one from the authority's audit (docs/confidentiality.md).
    authority_vault_key: str | None = Field(default=None, pattern=r"^0x[0-9a-f]{64}$")
    #: Which EVM build of the contracts was deployed (ledger/artifacts/, or ledger/artifacts/shanghai/ on a
    #: node without Cancun, such as Ganache 7.9): the code the trust check compares, and the reads' code.
    evm_version: Literal["cancun", "shanghai"] = "cancun"
    #: The participants' vault key registry (``VaultKeys``, bound to `ledger`); None in a deployment recorded
    #: before it existed: such a deployment resolves no recipient by name (docs/confidentiality.md).
    vault_keys: Address | None = None


class Offer(BaseModel):
    """A pending custody offer."""

    model_config = ConfigDict(frozen=True)

    lot_id: Bytes32
    holder: Address
    to: Address
    current: bool
