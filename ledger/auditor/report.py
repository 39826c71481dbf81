"""The audit report: integrity findings, ledger-head checks and the assurance of every end product's claim."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Literal, Protocol, overload

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler
from pydantic_core import core_schema

from ledger import errors
from ledger.domain.times import UnixTime
from ledger.figures.footprint import ASSURANCE_ORDER


class Flag(BaseModel):
    """One finding of the audit."""

    model_config = ConfigDict(frozen=True)

    code: str
    subject: str = Field(description="lot, unit, attestation uid or contract the flag is about")
    label: str
    message: str
    block: int | None = None


class HeadCheck(BaseModel):
    """The replayed ledger head of one contract against its ``ledgerHead()``."""

    model_config = ConfigDict(frozen=True)

    contract: Literal["RinneLedger", "GwpAttestations"]
    address: str
    replayed_sequence: int
    replayed_head: str
    chain_sequence: int
    chain_head: str

    @property
    def ok(self) -> bool:
        """Whether sequence and running hash both match."""
        return self.replayed_sequence == self.chain_sequence and self.replayed_head == self.chain_head


#: Claim levels that meet the strict audit: attested by an accredited verifier in time, or nothing to attest.
STRICT_LEVELS = ("verified", "n/a")


#: What a claim at each level rests on, for the report's one-line messages.
_LEVEL_TEXT = {
    "verified": "every figure it rests on was attested by an accredited verifier and valid when used",
    "self-declared": "rests on figures its makers declared themselves",
    "missing": "rests on steps nobody attested",
    "late": "rests on figures attested only after the lot was used",
    "expired": "rests on attestations that were no longer valid when the lot was used",
    "revoked": "rests on revoked attestations",
    "n/a": "no step it rests on needs an attestation",
}


class ClaimCheck(BaseModel):
    """The assurance of one end product's footprint: a live unit, or a live lot nothing live was made from."""

    model_config = ConfigDict(frozen=True)

    lot_id: str
    label: str
    kind: Literal["material", "unit"]
    level: str = Field(description="verified, self-declared, missing, late, expired, revoked or n/a")
    weakest: list[str] = Field(description="hex ids of the upstream lots at the weakest level")
    by_level: dict[str, float] = Field(default_factory=dict, description="kg CO2e resting on each level")
    late: list[str] = Field(default_factory=list, description="uids of accredited attestations relayed after their lot was used")
    message: str

    @property
    def strict_ok(self) -> bool:
        """Whether the claim meets the strict audit (verified, or nothing to attest)."""
        return self.level in STRICT_LEVELS


#: Every field of a ClaimCheck, the one `fields set` all claims built with model_construct share (frozen:
#: a model never changes it). A set of its own was ~500 B of a claim's ~1.7 KB, and an audit holds one claim
#: per end product (issue 16).
CLAIM_FIELDS_SET: frozenset[str] = frozenset(ClaimCheck.model_fields)


_new_claim = ClaimCheck.__new__


def claim_of(fields: dict[str, Any]) -> ClaimCheck:
    """A ClaimCheck around `fields` (every field, values already validated: an earlier audit's own claims),
    as model_construct builds it but without its per-field walk: 1.5 µs, not 8, a claim a checkpoint holds.
    `fields` becomes the claim's own."""
    claim = _new_claim(ClaimCheck)
    _set(claim, "__dict__", fields)
    _set(claim, "__pydantic_fields_set__", CLAIM_FIELDS_SET)
    _set(claim, "__pydantic_extra__", None)
    _set(claim, "__pydantic_private__", None)
    return claim


_set = object.__setattr__


class ClaimRows(Protocol):
    """Claims kept packed (a checkpoint's claims block): one is decoded when it is read."""

    def claim(self, row: int) -> ClaimCheck:
        """The claim at `row`, decoded."""
        ...


class ClaimList(Sequence[ClaimCheck]):
    """The claims of a report, in end-product order: runs of claims judged by this audit, and runs of rows
    of a checkpoint's claims block taken over unchanged, decoded only when read.

    An incremental audit of a ledger of 500,000 end products takes over nearly all of them: rebuilding each
    as a ClaimCheck was about half of that audit (issue 15), though a caller reads a few or none. Equal to any
    sequence of the same claims; serialized as a list of them."""

    __slots__ = ("_len", "_runs", "_starts")

    def __init__(self, runs: Iterable[list[ClaimCheck] | tuple[ClaimRows, int, int]] = ()) -> None:
        self._runs: list[list[ClaimCheck] | tuple[ClaimRows, int, int]] = []
        self._starts: list[int] = []
        n = 0
        for run in runs:
            size = len(run) if isinstance(run, list) else run[2] - run[1]
            if size > 0:
                self._runs.append(run)
                self._starts.append(n)
                n += size
        self._len = n

    @classmethod
    def of(cls, claims: Iterable[ClaimCheck]) -> ClaimList:
        """A ClaimList of `claims` (a ClaimList is returned as it is)."""
        return claims if isinstance(claims, ClaimList) else cls([list(claims)])

    def runs(self) -> list[list[ClaimCheck] | tuple[ClaimRows, int, int]]:
        """The runs: lists of claims, and (rows, start, stop) ranges of packed rows."""
        return list(self._runs)

    def __len__(self) -> int:
        return self._len

    @overload
    def __getitem__(self, i: int) -> ClaimCheck: ...

    @overload
    def __getitem__(self, i: slice) -> list[ClaimCheck]: ...

    def __getitem__(self, i: int | slice) -> ClaimCheck | list[ClaimCheck]:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(self._len))]
        if i < 0:
            i += self._len
        if not 0 <= i < self._len:
            raise IndexError("claim index out of range")
        k = bisect_right(self._starts, i) - 1
        run, offset = self._runs[k], i - self._starts[k]
        return run[offset] if isinstance(run, list) else run[0].claim(run[1] + offset)

    def __iter__(self) -> Iterator[ClaimCheck]:
        for run in self._runs:
            if isinstance(run, list):
                yield from run
            else:
                rows, start, stop = run
                for row in range(start, stop):
                    yield rows.claim(row)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, (str, bytes)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    __hash__ = None  # type: ignore[assignment]  # compared by content, like a list

    def __repr__(self) -> str:
        return f"ClaimList({self._len} claims)"

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        """Validated as a list of claims (a ClaimList is taken as it is: its packed rows a trusted checkpoint's),
        serialized as one."""
        as_list = handler.generate_schema(list[ClaimCheck])
        from_list = core_schema.no_info_after_validator_function(cls.of, as_list)
        return core_schema.json_or_python_schema(
            json_schema=from_list,
            python_schema=core_schema.union_schema([core_schema.is_instance_schema(cls), from_list]),
            serialization=core_schema.plain_serializer_function_ser_schema(list, return_schema=as_list),
        )


class AuditReport(BaseModel):
    """The result of an audit replay: ledger integrity (pass or fail, what was checked, every flag) and
    the claim assurance of every end product."""

    model_config = ConfigDict(frozen=True)

    chain_id: int
    ledger: str
    attestations: str
    from_block: int
    to_block: int
    at: UnixTime = Field(description="the time used to judge attestation validity (the last audited block's)")
    events: int
    lots: int
    operations: int
    units: int
    attestation_count: int
    participants: int
    heads: list[HeadCheck]
    storage_checked: int
    records_checked: int = Field(
        default=0, description="attestation and process inventory records (and isValid) compared with contract storage"
    )
    signatures_checked: int
    transforms_checked: int
    declared_checked: int
    flags: list[Flag] = Field(description="ledger integrity findings only; claim weaknesses are in `claims`")
    seconds: float
    claims: ClaimList = Field(default_factory=ClaimList, description="the claim of every end product, in chain order")
    checkpoint_block: int | None = Field(
        default=None, description="an incremental audit: the block of the signed checkpoint it started from"
    )
    soh_records_opened: int | None = Field(
        default=None,
        description="SOH records opened with the authority tier's vault and re-checked (None: audited without it, values unchecked)",
    )

    @property
    def passed(self) -> bool:
        """True when the ledger's integrity holds (no flag); weak claims do not fail it."""
        return not self.flags

    @property
    def strict_passed(self) -> bool:
        """True when integrity holds and every end product's footprint rests on verified figures only."""
        return self.passed and all(c.strict_ok for c in self.claims)

    def weak_claims(self) -> list[ClaimCheck]:
        """Return the claims weaker than verified (what fails the strict audit)."""
        return [c for c in self.claims if not c.strict_ok]

    def claim_counts(self) -> dict[str, int]:
        """Return the number of claims at each level, strongest first."""
        order = ["verified", "n/a", *reversed(ASSURANCE_ORDER)]
        counts: dict[str, int] = {}
        for c in sorted(self.claims, key=lambda c: order.index(c.level) if c.level in order else len(order)):
            counts[c.level] = counts.get(c.level, 0) + 1
        return counts

    def raise_for_flags(self, strict: bool = False) -> AuditReport:
        """Raise :class:`ledger.errors.AuditFailed` when anything was flagged (with `strict`, also when a
        claim is weaker than verified); return the report otherwise."""
        where = f"audit of chain {self.chain_id} blocks {self.from_block}-{self.to_block}"
        if self.flags:
            counts: dict[str, int] = {}
            for f in self.flags:
                counts[f.code] = counts.get(f.code, 0) + 1
            summary = ", ".join(f"{n} {code}" for code, n in sorted(counts.items()))
            raise errors.AuditFailed(f"{where} failed: {summary}")
        weak = self.weak_claims()
        if strict and weak:
            levels: dict[str, list[str]] = {}
            for c in weak:
                levels.setdefault(c.level, []).append(c.label)
            summary = "; ".join(f"{len(v)} {lv} ({', '.join(v[:5])}{', …' if len(v) > 5 else ''})" for lv, v in levels.items())
            raise errors.AuditFailed(f"{where} failed the strict check: claims weaker than verified: {summary}")
        return self

    def flag_codes(self) -> set[str]:
        """Return the set of flag codes raised."""
        return {f.code for f in self.flags}

    def to_json(self, indent: int | None = 2) -> str:
        """Return the report as JSON (with top-level "passed" (integrity) and "strict_passed")."""
        import json

        data = self.model_dump(mode="json")
        data = {"passed": self.passed, "strict_passed": self.strict_passed, **data}
        for h, model in zip(data["heads"], self.heads):
            h["ok"] = model.ok
        return json.dumps(data, indent=indent)

    def to_html(self) -> str:
        """Return a self-contained HTML report (no network needed to open it)."""
        from ledger.auditor.html import audit_html

        return audit_html(self)
