"""Who may call what: the access-control matrix of the Rinne contracts, as the design states it.

This module is data, transcribed from DESIGN.md §3 and the NatSpec of the interfaces
(IParticipantRegistry, IRinneLedger, IGwpAttestations), not read from the contract code:

- the registry is governed by one admin with a two-step handover; "deny by default: an address that
  the admin has not registered, or has suspended, can do nothing";
- lots have one holder; only the holder offers, cancels, splits, merges, transforms or consumes them;
  only the recipient of a current offer accepts or rejects it;
- role gates: MINER or REFINER mint; the producing roles transform; CELL_MAKER or PACK_ASSEMBLER
  build units; SECOND_LIFE repurposes; PACK_ASSEMBLER, SECOND_LIFE or RECYCLER
  dismantle a unit into modules; PACK_ASSEMBLER or SECOND_LIFE remanufacture; RECYCLER recycles; AUDITOR freezes; the holder, or a
  DIAGNOSTICIAN the holder authorised for that unit, records and corrects SOH (issue 11 class 4);
  anyone relays a signed attestation or process inventory; its signer or an AUDITOR revokes it.

`tests/security/test_access_matrix.py` checks every cell against a real deployment and
`scripts/security_matrix.py` renders the same data as the table in docs/security.md.
"""

from __future__ import annotations

from dataclasses import dataclass

# Role bits (contracts/types/LedgerTypes.sol, ledger.models.Role).
MINER, REFINER, PRECURSOR_MAKER, CATHODE_MAKER, CELL_MAKER, PACK_ASSEMBLER = (1 << i for i in range(6))
OEM, SECOND_LIFE, DIAGNOSTICIAN, RECYCLER, GWP_VERIFIER, AUDITOR = (1 << i for i in range(6, 12))
ALL_ROLES = (1 << 12) - 1
# Module-level second life (contracts/types/LedgerTypes.sol, Roles.DISMANTLERS and Roles.REMANUFACTURERS).
DISMANTLERS = PACK_ASSEMBLER | SECOND_LIFE | RECYCLER
REMANUFACTURERS = PACK_ASSEMBLER | SECOND_LIFE
ROLE_NAMES = [
    "MINER",
    "REFINER",
    "PRECURSOR_MAKER",
    "CATHODE_MAKER",
    "CELL_MAKER",
    "PACK_ASSEMBLER",
    "OEM",
    "SECOND_LIFE",
    "DIAGNOSTICIAN",
    "RECYCLER",
    "GWP_VERIFIER",
    "AUDITOR",
]

MINTERS = MINER | REFINER
#: The roles that turn inputs into other materials along the loop (refinery to pack, and recycling).
PRODUCERS = REFINER | PRECURSOR_MAKER | CATHODE_MAKER | CELL_MAKER | PACK_ASSEMBLER | RECYCLER
BUILDERS = CELL_MAKER | PACK_ASSEMBLER


@dataclass(frozen=True)
class Caller:
    """A column of the matrix: who calls."""

    key: str  # column id
    label: str  # column header in the table
    roles: int = 0
    registered: bool = True
    suspended: bool = False
    admin: bool = False

    @property
    def active(self) -> bool:
        return self.registered and not self.suspended


CALLERS: list[Caller] = [
    Caller("admin", "admin", registered=False, admin=True),
    *[Caller(name.lower(), name, roles=1 << i) for i, name in enumerate(ROLE_NAMES)],
    Caller("no_roles", "no roles", roles=0),  # registered, every role revoked afterwards
    Caller("suspended", "suspended", roles=ALL_ROLES, suspended=True),  # every role, then suspended
    Caller("outsider", "unregistered", registered=False),
]
CALLER_BY_KEY = {c.key: c for c in CALLERS}


@dataclass(frozen=True)
class Rule:
    """Who may call a function, in the design's words."""

    text: str  # as the table states it
    anyone: bool = False  # no caller check at all (relaying a signed attestation)
    admin: bool = False  # the registry admin only
    pending_admin: bool = False  # the admin-elect only
    roles: int = 0  # an active participant holding any of these roles (0: no role needed)
    relation: bool = False  # the caller must stand in the case's relation (holder, recipient, signer)
    or_roles: int = 0  # ... or hold any of these roles instead of the relation


@dataclass(frozen=True)
class Case:
    """A row of the matrix: one state-changing function in one situation."""

    key: str
    contract: str  # "ledger" (RinneLedger and its registry) or "attestations" (GwpAttestations)
    function: str
    situation: str
    rule: Rule
    #: Whether the caller stands in the rule's relation: "own" (its own lot, offer, unit or
    #: attestation; only registered parties can have one) or "other" (someone else's) or "named"
    #: (the admin named the caller as its successor just before the call).
    relation: str = "own"


ADMIN = Rule("admin", admin=True)
HOLDER = Rule("holder", relation=True)
RECIPIENT = Rule("recipient of the offer", relation=True)
#: SOH records: the holder, or (the "-authorised" rows) a DIAGNOSTICIAN the holder authorised for the unit.
SOH_RECORDER = Rule("holder, or a DIAGNOSTICIAN it authorised", relation=True)
AUTHORISED_DIAGNOSTICIAN = Rule("holder, or a DIAGNOSTICIAN it authorised", roles=DIAGNOSTICIAN, relation=True)

CASES: list[Case] = [
    # Registry (inside RinneLedger).
    Case("register", "ledger", "register", "a new address", ADMIN),
    Case("grantRoles", "ledger", "grantRoles", "a participant", ADMIN),
    Case("revokeRoles", "ledger", "revokeRoles", "a participant", ADMIN),
    Case("suspend", "ledger", "suspend", "a participant", ADMIN),
    Case("reinstate", "ledger", "reinstate", "a suspended participant", ADMIN),
    Case("transferAdmin", "ledger", "transferAdmin", "any address", ADMIN),
    Case(
        "acceptAdmin-named", "ledger", "acceptAdmin", "caller was named successor", Rule("pending admin", pending_admin=True), "named"
    ),
    Case("acceptAdmin-not-named", "ledger", "acceptAdmin", "nobody was named", Rule("pending admin", pending_admin=True), "other"),
    # Lots.
    Case("mint", "ledger", "mint", "a new lot", Rule("MINER, REFINER", roles=MINTERS)),
    Case("mintBatch", "ledger", "mintBatch", "two new lots", Rule("MINER, REFINER", roles=MINTERS)),
    Case("offer", "ledger", "offer", "own lot", HOLDER),
    Case("offer-other", "ledger", "offer", "another's lot", HOLDER, "other"),
    Case("offerBatch", "ledger", "offerBatch", "own lot", HOLDER),
    Case("accept", "ledger", "accept", "lot offered to the caller", RECIPIENT),
    Case("accept-other", "ledger", "accept", "lot offered to another", RECIPIENT, "other"),
    Case("acceptBatch", "ledger", "acceptBatch", "lot offered to the caller", RECIPIENT),
    Case("reject", "ledger", "reject", "lot offered to the caller", RECIPIENT),
    Case("reject-other", "ledger", "reject", "lot offered to another", RECIPIENT, "other"),
    Case("cancel", "ledger", "cancel", "own lot, offer pending", HOLDER),
    Case("cancel-other", "ledger", "cancel", "another's lot, offer pending", HOLDER, "other"),
    Case("split", "ledger", "split", "own lot", HOLDER),
    Case("split-other", "ledger", "split", "another's lot", HOLDER, "other"),
    Case("merge", "ledger", "merge", "own lot", HOLDER),
    Case("merge-other", "ledger", "merge", "another's lot", HOLDER, "other"),
    Case("transform", "ledger", "transform", "own lot", Rule("holder with a producing role¹", roles=PRODUCERS, relation=True)),
    Case(
        "transform-other",
        "ledger",
        "transform",
        "another's lot",
        Rule("holder with a producing role¹", roles=PRODUCERS, relation=True),
        "other",
    ),
    Case("freeze", "ledger", "freeze", "any active lot", Rule("AUDITOR", roles=AUDITOR)),
    Case("freezeBatch", "ledger", "freezeBatch", "a lineage of lots", Rule("AUDITOR", roles=AUDITOR)),
    Case("unfreeze", "ledger", "unfreeze", "a frozen lot", Rule("AUDITOR", roles=AUDITOR)),
    # Units and passports.
    Case(
        "buildUnit", "ledger", "buildUnit", "own cell lot", Rule("holder, CELL_MAKER or PACK_ASSEMBLER", roles=BUILDERS, relation=True)
    ),
    Case(
        "buildUnit-other",
        "ledger",
        "buildUnit",
        "another's cell lot",
        Rule("holder, CELL_MAKER or PACK_ASSEMBLER", roles=BUILDERS, relation=True),
        "other",
    ),
    Case("recordSoh", "ledger", "recordSoh", "own unit", SOH_RECORDER),
    Case("recordSoh-other", "ledger", "recordSoh", "another's unit", SOH_RECORDER, "other"),
    Case("recordSoh-authorised", "ledger", "recordSoh", "another's unit, its holder authorised the caller", AUTHORISED_DIAGNOSTICIAN),
    Case("correctSoh", "ledger", "correctSoh", "own unit with an SOH record", SOH_RECORDER),
    Case("correctSoh-other", "ledger", "correctSoh", "another's unit with an SOH record", SOH_RECORDER, "other"),
    Case("correctSoh-authorised", "ledger", "correctSoh", "another's unit with a record, caller authorised", AUTHORISED_DIAGNOSTICIAN),
    Case("authoriseDiagnostician", "ledger", "authoriseDiagnostician", "own unit", HOLDER),
    Case("authoriseDiagnostician-other", "ledger", "authoriseDiagnostician", "another's unit", HOLDER, "other"),
    Case("setStatus", "ledger", "setStatus", "own unit", HOLDER),
    Case("setStatus-other", "ledger", "setStatus", "another's unit", HOLDER, "other"),
    Case("repurpose", "ledger", "repurpose", "own used unit", Rule("holder, SECOND_LIFE", roles=SECOND_LIFE, relation=True)),
    Case(
        "repurpose-other",
        "ledger",
        "repurpose",
        "another's used unit",
        Rule("holder, SECOND_LIFE", roles=SECOND_LIFE, relation=True),
        "other",
    ),
    Case(
        "dismantle",
        "ledger",
        "dismantle",
        "own unit",
        Rule("holder, PACK_ASSEMBLER, SECOND_LIFE or RECYCLER", roles=DISMANTLERS, relation=True),
    ),
    Case(
        "dismantle-other",
        "ledger",
        "dismantle",
        "another's unit",
        Rule("holder, PACK_ASSEMBLER, SECOND_LIFE or RECYCLER", roles=DISMANTLERS, relation=True),
        "other",
    ),
    Case(
        "remanufacture",
        "ledger",
        "remanufacture",
        "own unit",
        Rule("holder, PACK_ASSEMBLER or SECOND_LIFE", roles=REMANUFACTURERS, relation=True),
    ),
    Case(
        "remanufacture-other",
        "ledger",
        "remanufacture",
        "another's unit",
        Rule("holder, PACK_ASSEMBLER or SECOND_LIFE", roles=REMANUFACTURERS, relation=True),
        "other",
    ),
    Case("recycle", "ledger", "recycle", "own Waste unit", Rule("holder, RECYCLER", roles=RECYCLER, relation=True)),
    Case(
        "recycle-other", "ledger", "recycle", "another's Waste unit", Rule("holder, RECYCLER", roles=RECYCLER, relation=True), "other"
    ),
    # Attestations.
    Case("attest", "attestations", "attest", "relay a verifier's signature", Rule("anyone (the signer is checked)", anyone=True)),
    Case(
        "attestInventory",
        "attestations",
        "attestInventory",
        "relay a verifier's process inventory",
        Rule("anyone (the signer is checked)", anyone=True),
    ),
    Case("revoke", "attestations", "revoke", "own attestation", Rule("signer or AUDITOR", relation=True, or_roles=AUDITOR)),
    Case(
        "revoke-other",
        "attestations",
        "revoke",
        "another's attestation",
        Rule("signer or AUDITOR", relation=True, or_roles=AUDITOR),
        "other",
    ),
]
CASE_BY_KEY = {c.key: c for c in CASES}


def expected(case: Case, caller: Caller) -> bool:
    """Whether the design allows `caller` to make the call of `case` (True) or it must be refused."""
    rule = case.rule
    if rule.anyone:
        return True
    if rule.admin:
        return caller.admin
    if rule.pending_admin:
        return case.relation == "named"
    if not caller.active:  # deny by default: unregistered or suspended
        return False
    if rule.or_roles and caller.roles & rule.or_roles:
        return True
    if rule.relation and case.relation != "own":
        return False
    if rule.roles and not caller.roles & rule.roles:
        return False
    return True


#: Cells where the deployed contracts differ from the design, each with what goes wrong. The test
#: marks them xfail(strict): when a contract fix lands they pass, and the entry must be removed.
DEVIATIONS: dict[tuple[str, str], str] = {}

#: Errors that mean "you may not do this" (an authorization refusal), as opposed to bad arguments.
AUTH_ERRORS = frozenset(
    {
        "ParticipantRegistryUnauthorized",
        "ParticipantRegistryUnauthorizedAdmin",
        "ParticipantRegistryNotPendingAdmin",
        "RinneLedgerNotHolder",
        "RinneLedgerNoCurrentOffer",
        "RinneLedgerNotAuthorised",
        "GwpAttestationsUnauthorizedRevoker",
    }
)


def markdown_table() -> str:
    """The matrix as a Markdown table (rows: functions in a situation; columns: callers)."""
    head = ["function", "situation", "design rule"] + [c.label for c in CALLERS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for case in CASES:
        cells = []
        for caller in CALLERS:
            mark = "✓" if expected(case, caller) else "✗"
            if (case.key, caller.key) in DEVIATIONS:
                mark += " ⚠"
            cells.append(mark)
        name = f"`{case.function}`" + (" (GwpAttestations)" if case.contract == "attestations" else "")
        lines.append("| " + " | ".join([name, case.situation, case.rule.text] + cells) + " |")
    return "\n".join(lines)


def deviations_markdown() -> str:
    """The known deviations as a Markdown list."""
    return "\n".join(
        f"- `{CASE_BY_KEY[case].function}` ({CASE_BY_KEY[case].situation}) by a {CALLER_BY_KEY[caller].label} "
        f"party: design ✗, contract ✓. {why}."
        for (case, caller), why in DEVIATIONS.items()
    )
