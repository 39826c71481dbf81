"""The audit report: integrity findings, ledger-head checks and the assurance of every end product's claim."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

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
    claims: list[ClaimCheck] = Field(default_factory=list)
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
