"""`rinne lot`: material lots."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

import ledger as rinne
from ledger import ChainError

from . import _specs
from ._core import (
    CliError,
    Interrupted,
    OrderedGroup,
    Session,
    jsonable,
    note,
    open_index,
    parsed,
    pass_session,
    read_command,
    trust_index_option,
    user_input,
    write_command,
)
from ._output import Column, Names, emit_rows, listing_command, load_names, remember, scope_of, write_rows
from ._units import format_elements, format_mass, format_time, parse_elements, parse_mass, parse_time, parse_time_end, parse_use

if TYPE_CHECKING:
    from ledger import Lot, LotRow, LotSpec

ELEMENT_HELP = "Element content: Ni=5200kg,Co=640kg or shares of the mass, Ni=52%."


@click.group(cls=OrderedGroup)
def lot() -> None:
    """Create, inspect and process material lots.

    A lot has one holder, a material code (NiSO4, CAM-NMC811, ...), a mass in
    grams, its element content (Li, Ni, Co, Mn, C, Fe, Cu, Al) with the
    pre-/post-consumer recycled part of each, an origin and an evidence hash.
    Lot ids and material codes are labels of up to 32 bytes (or 0x-hex).
    Masses take units: 12.5t, 500kg, 250g (a bare integer is grams).

    Mint needs MINER or REFINER; transform a producer role; split and merge
    only need to hold the lots; freeze needs AUDITOR. Element masses are
    conserved: what outputs carry plus the declared loss equals what the inputs
    gave, and recycled content can only be passed on, never grow.

    \b
    Examples:
      rinne lot mint R-NI-001 --material NiSO4 --mass 12.5t --elements Ni=22%,Co=1% \\
          --origin FI:Harjavalta --evidence assay.pdf --account refiner
      rinne lot show R-NI-001
      rinne lot split R-NI-001 R-NI-001a=5t R-NI-001b=7.5t --account refiner
      rinne lot transform --in R-NI-001a --in R-CO-001 --out CAM-001:CAM-NMC811:6t --account cam-maker
      rinne lot import lots.csv --account refiner
      rinne lot list --holder refiner --material NiSO4 --origin FI --state active
      rinne lot export --csv -o lots.csv
      rinne lot history CAM-001 --json
    """


# ------------------------------------------------------------------------------- formatting


def lot_json(lot: Lot, names: Names | None = None) -> dict[str, Any]:
    """The JSON shape of a lot (with `names`, the holder's local account and registered display names beside it)."""
    names = names or Names()
    return {
        "lot_id": lot.lot_id,
        "label": lot.label,
        "kind": lot.kind.name.lower(),
        "state": lot.state.name.lower(),
        "holder": lot.holder,
        "holder_account": names.account(lot.holder),
        "holder_name": names.party(lot.holder),
        "material": lot.material,
        "material_label": lot.material_label,
        "mass_g": lot.mass,
        "composition": jsonable(lot.composition) if lot.composition else None,
        "epoch": lot.epoch,
        "updated_block": lot.updated_block,
        "commitment": lot.commitment,
        "offer": {"to": lot.offered_to, "current": lot.offer_current} if lot.offered_to else None,
    }


def lot_lines(lot: Lot, names: Names | None = None) -> list[str]:
    """The human form of a lot (with `names`, the holder shows with its name)."""
    names = names or Names()
    comp = lot.composition or rinne.Composition()
    lines = [
        f"lot        {lot.label}" + (f"  ({lot.lot_id})" if lot.label != lot.lot_id else ""),
        f"material   {lot.material_label or '-'}",
        f"mass       {format_mass(lot.mass)}",
        f"elements   {format_elements(comp.as_dict('total'))}",
        f"recycled   pre-consumer {format_elements(comp.as_dict('pre'))}; post-consumer {format_elements(comp.as_dict('post'))}",
        f"state      {lot.state.name.lower()} {lot.kind.name.lower()}, held by {names.who(lot.holder)}",
    ]
    if lot.offered_to:
        lines.append(f"offer      to {lot.offered_to} ({'current' if lot.offer_current else 'stale: cannot be accepted'})")
    lines.append(f"updated    block {lot.updated_block} (epoch {lot.epoch})")
    return lines


def fetch_lot(session: Session, lot_id: str, *, light: bool = False) -> Lot:
    """Read a lot, failing with one line when it does not exist (with `light`, without web3: :meth:`Session.reader`)."""
    ledger = session.reader() if light else session.ledger()
    found = ledger.lot(lot_id)
    if found.state == rinne.LotState.NONE:
        raise CliError(f"no lot {rinne.label_of(found.lot_id)} on chain {ledger.chain_id}")
    return found


def _spec_summary(spec: LotSpec) -> str:
    return f"{rinne.label_of(spec.lot_id)} ({rinne.label_of(spec.material)}, {format_mass(spec.mass)})"


def _id(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is None:
        return None
    try:
        if isinstance(value, tuple):
            return tuple(_specs.bytes32(v, "lot id") for v in value)
        return _specs.bytes32(value, "lot id")
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


def _history_line(e: dict[str, Any], names: Names | None = None) -> str:
    names = names or Names()
    who = names.who
    ev = e["event"]
    head = f"{e['block']:>6}  {e.get('time') or '-'}  {ev:<16}"
    if ev == "LotCreated":
        origin = e.get("origin")
        place = names.place(origin, rinne.origin_country(origin)) if origin and int(origin, 16) else None
        what = (
            f"by {who(e['holder'])}: {rinne.label_of(e['material'])}, {format_mass(e['mass_g'])}, {format_elements(e['composition']['total'])}"
            + (f", origin {place}" if place else "")
        )
    elif ev == "LotUpdated":
        what = f"now {format_mass(e['mass_g'])}, {format_elements(e['composition']['total'])}"
    elif ev == "OfferMade":
        what = f"{who(e['from'])} → {who(e['to'])}"
    elif ev == "OfferAccepted":
        what = f"{who(e['to'])} took it from {who(e['from'])}"
    elif ev in ("OfferCancelled", "OfferRejected"):
        what = f"offer to {who(e['to'])}"
    elif ev in ("LotFrozen", "LotUnfrozen"):
        what = f"by {who(e['auditor'])}"
        if e.get("reason") in names.reasons:
            what += f": {names.reasons[e['reason']]!r}"
    elif ev == "LotsTransformed":
        ins = ", ".join(rinne.label_of(i) for i in e["inputs"])
        outs = ", ".join(rinne.label_of(o) for o in e["outputs"])
        what = f"{e['kind']} by {who(e['operator'])}: {ins} → {outs} (this lot: {e['role']})"
    elif ev == "UnitCreated":
        parents = ", ".join(rinne.label_of(p) for p in e["parents"]) or "none"
        what = f"rated {e['rated_wh']} Wh, parents {parents}"
    elif ev in ("SohRecorded", "SohCorrected"):
        root = str(e["root"])
        shown = (
            names.soh.get(root) or f"record {root[:10]}… ({'used' if e['used'] else 'not used'}), values not disclosed to this tier"
        )
        what = f"by {who(e['recorder'])}: {shown}"
    elif ev == "DiagnosticianAuthorised":
        what = f"{'authorised' if e['authorised'] else 'withdrawn'}: {who(e['diagnostician'])} by {who(e['holder'])}"
    elif ev == "StatusChanged":
        what = f"{e['from']} → {e['to']}"
    elif ev == "Attested":
        what = f"{format_mass(e['emissions_grams'])} CO2e by {who(e['signer'])}{' (self-declared)' if e['self_declared'] else ''}, uid {e['uid']}"
    elif ev == "InventoryAttested":
        what = (
            f"{e['energy_wh'] / 1000:,.1f} kWh ({e['renewable_bps'] / 100:g}% renewable), water {e['water_consumed_litres'] / 1000:,.3f} m³ "
            f"consumed, by {who(e['signer'])}{' (self-declared)' if e['self_declared'] else ''}, uid {e['uid']}"
        )
    elif ev == "Revoked":
        what = f"attestation {e['uid']} by {who(e['revoker'])}"
        if e.get("reason") in names.reasons:
            what += f": {names.reasons[e['reason']]!r}"
    else:
        what = ""
    return f"{head}  {what}".rstrip()


# ---------------------------------------------------------------------------------- commands


@lot.command()
@click.argument("lot_id")
@click.option("--material", "-m", required=True, metavar="CODE", help="Material code, e.g. NiSO4, Li2CO3, ORE-SPODUMENE.")
@click.option("--mass", required=True, metavar="MASS", help="Total mass: 12.5t, 500kg, or grams.")
@click.option("--elements", "-e", metavar="ELEMENTS", help=ELEMENT_HELP)
@click.option("--recycled-pre", metavar="ELEMENTS", help="Pre-consumer recycled part: Co=120kg or shares of the element, Co=16%.")
@click.option("--recycled-post", metavar="ELEMENTS", help="Post-consumer recycled part, same forms.")
@click.option("--origin", metavar="CC:SITE", help="Country (ISO 3166 alpha-2) and site, e.g. AU:Greenbushes.")
@click.option("--evidence", metavar="FILE|HASH", help="Assay certificate: a file (hashed with keccak256) or its 0x hash.")
@write_command
@pass_session
def mint(
    session: Session,
    lot_id: str,
    material: str,
    mass: str,
    elements: str | None,
    recycled_pre: str | None,
    recycled_post: str | None,
    origin: str | None,
    evidence: str | None,
) -> None:
    """Create a lot from nothing (MINER, REFINER): ore, or bought-in feedstock.

    Minting the same lot again with the same content does nothing, so a
    retried command is safe.

    \b
    Example:
      rinne lot mint R-NI-001 --material NiSO4 --mass 12.5t --elements Ni=22%,Co=1% \\
          --recycled-pre Ni=5% --origin FI:Harjavalta --evidence assay.pdf --account refiner
    """
    with user_input():
        grams = _mass(mass)
        spec = _specs.lot_spec(
            lot_id,
            material,
            grams,
            elements=elements,
            pre=recycled_pre,
            post=recycled_post,
            origin_text=origin,
            evidence_text=evidence,
        )
    ledger = session.signer()
    session.confirm(f"Mint lot {_spec_summary(spec)} {session.who()}")
    with session.busy("minting"):
        receipt = ledger.mint(spec)
    if receipt is None:
        session.done(
            None,
            f"lot {rinne.label_of(spec.lot_id)} exists already with this content: nothing to do",
            lot_id=spec.lot_id,
            created=False,
        )
        return
    word = ledger.committed_origin(spec.lot_id)
    if origin and word:
        # The chain holds a salted commitment to the site: only this book (and the vault) can show it.
        remember(session, sites={word: _site_text(origin)})
    session.done(receipt, f"minted lot {_spec_summary(spec)}", lot_id=spec.lot_id, created=True)


def _site_text(origin: str) -> str:
    """ "CC:Site" as the origin word was made from it (country upper-cased, spaces trimmed)."""
    country, _, site = origin.partition(":")
    return f"{country.strip().upper()}:{site.strip()}"


def _mass(text: str) -> int:
    grams = parse_mass(text)
    if grams <= 0:
        raise ValueError(f"mass {text!r} must be more than zero")
    return grams


@lot.command()
@click.argument("lot_id", callback=_id)
@read_command
@pass_session
def show(session: Session, lot_id: str) -> None:
    """Show a lot: holder, state, material, mass, element content, pending offer.

    \b
    Example:
      rinne lot show R-NI-001 --json
    """
    found = fetch_lot(session, lot_id, light=True)
    names = load_names(session, scope_of(session.reader()))
    session.emit(lot_json(found, names), lot_lines(found, names))


@lot.command()
@click.argument("lot_id", callback=_id)
@trust_index_option
@read_command
@pass_session
def history(session: Session, lot_id: str, trust_index: bool) -> None:
    """List every event that mentions a lot, oldest first, from the event index.

    Its creation and updates, offers and transfers, freezes, the splits, merges
    and transforms it went into or came out of, passport events of a unit, and
    GWP attestations of it and their revocations. The index is synced with the
    chain and checked against its ledger heads first.

    \b
    Example:
      rinne lot history CAM-001
    """
    ledger = session.ledger()
    with open_index(session, trust=trust_index) as index:
        events = rinne.lot_history(index, lot_id)
    if not events:
        raise CliError(f"no events mention lot {rinne.label_of(lot_id)} on chain {ledger.chain_id}")
    names = load_names(session, scope_of(ledger))
    names.reasons = _opened_reasons(session, events)
    names.soh = _opened_soh(session, events)
    session.emit(events, [_history_line(e, names) for e in events])


def _opened_soh(session: Session, events: list[dict[str, Any]]) -> dict[str, str]:
    """The SOH records among `events` that this machine's vault opens, each verified against its root and unit."""
    vault = session.vault(create=False)
    out: dict[str, str] = {}
    if vault is None:
        return out
    for e in events:
        root = e.get("root")
        if e["event"] not in ("SohRecorded", "SohCorrected") or not root or rinne.soh_vault_id(root) not in vault:
            continue
        try:
            v = rinne.open_soh(root, vault.openings(rinne.soh_vault_id(root)), e["unit_id"])
        except (rinne.DisclosureError, rinne.InvalidInput):
            continue  # not this record's opening: shown as not disclosed
        out[root] = f"SOCE {v['soceBp'] / 100:g} %, {v['cycles']} cycles"
    return out


def _opened_reasons(session: Session, events: list[dict[str, Any]]) -> dict[str, str]:
    """The freeze and revocation reasons among `events` that this machine's vault opens, each verified
    against its word and subject (a vault gives confidentiality, not authenticity)."""
    vault = session.vault(create=False)
    out: dict[str, str] = {}
    if vault is None:
        return out
    for e in events:
        kind, subject = {"LotFrozen": ("freeze", e.get("lot_id")), "Revoked": ("revoke", e.get("uid"))}.get(e["event"], (None, None))
        word = e.get("reason")
        if kind is None or not word or int(word, 16) == 0 or rinne.evidence_vault_id(word) not in vault:
            continue
        try:
            opened = vault.openings(rinne.evidence_vault_id(word))
            out[word] = str(rinne.verify_evidence(word, rinne.disclose(opened, ["reason"]), kind, subject)["reason"])
        except (rinne.DisclosureError, rinne.InvalidInput):
            continue  # not this word's opening, or not about this lot: shown as the word alone
    return out


@lot.command()
@click.argument("lot_id", callback=_id)
@click.argument("parts", nargs=-1, required=True, metavar="NEW_ID=MASS...")
@write_command
@pass_session
def split(session: Session, lot_id: str, parts: tuple[str, ...]) -> None:
    """Split a lot into new lots of the same material.

    Element content is shared by mass. When the parts weigh less than the lot,
    the rest stays in the original lot.

    \b
    Example:
      rinne lot split R-NI-001 R-NI-001a=5t R-NI-001b=2.5t --account refiner
    """
    with user_input():
        pieces = []
        for text in parts:
            new_id, grams = parse_use(text)
            if grams is None:
                raise ValueError(f"{text!r}: give each part as NEW_ID=MASS, e.g. {text}=5t")
            pieces.append((_specs.bytes32(new_id, "lot id"), grams))
    ledger = session.signer()
    desc = ", ".join(f"{rinne.label_of(i)}={format_mass(m)}" for i, m in pieces)
    session.confirm(f"Split lot {rinne.label_of(lot_id)} into {desc} {session.who()}")
    with session.busy("splitting"):
        receipt = ledger.split(lot_id, pieces)
    session.done(receipt, f"split {rinne.label_of(lot_id)} into {desc}", lot_id=lot_id, outputs=[i for i, _ in pieces])


@lot.command()
@click.argument("lot_ids", nargs=-1, required=True, callback=_id, metavar="LOT_ID...")
@click.option("--into", "new_id", required=True, callback=_id, help="Id of the merged lot.")
@click.option("--evidence", metavar="FILE|HASH", help="Process record of the merge.")
@write_command
@pass_session
def merge(session: Session, lot_ids: tuple[str, ...], new_id: str, evidence: str | None) -> None:
    """Merge whole lots of one material into a new lot.

    \b
    Example:
      rinne lot merge R-NI-001a R-NI-002 --into R-NI-M1 --account refiner
    """
    with user_input():
        document = _specs.evidence(evidence) if evidence else None
    if len(lot_ids) < 2:
        raise click.UsageError("merge needs at least two lots")
    ledger = session.signer()
    names = ", ".join(rinne.label_of(i) for i in lot_ids)
    session.confirm(f"Merge {names} into {rinne.label_of(new_id)} {session.who()}")
    with session.busy("merging"):
        receipt = ledger.merge(list(lot_ids), new_id, document=document)
    session.done(receipt, f"merged {names} into {rinne.label_of(new_id)}", lot_id=new_id, inputs=list(lot_ids))


@lot.command()
@click.option(
    "--in",
    "inputs",
    multiple=True,
    required=True,
    metavar="LOT[=MASS]",
    help="Input lot, whole or the given mass of it (repeat for several).",
)
@click.option(
    "--out",
    "outs",
    multiple=True,
    metavar="ID:MATERIAL:MASS[:ELEMENTS]",
    help="Output lot (repeat for several). Without ELEMENTS a single output takes all the inputs give; ELEMENTS 'none' means no tracked elements.",
)
@click.option(
    "--outputs",
    "outputs_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Output lots from a CSV or JSON file (the `lot import` format).",
)
@click.option("--loss", metavar="ELEMENTS", help="Declared loss, e.g. Ni=50kg.  [default: whatever the outputs do not carry]")
@click.option("--recycled-pre", metavar="ELEMENTS", help="Pre-consumer recycled part of a single --out with ELEMENTS.")
@click.option("--recycled-post", metavar="ELEMENTS", help="Post-consumer recycled part of a single --out with ELEMENTS.")
@click.option(
    "--require-grade",
    "grades",
    multiple=True,
    metavar="[LOT=]GRADE",
    help="Refuse inputs below a grade (Ni-class1, Li2CO3-battery, NiSO4-battery): for every input, or LOT=GRADE (repeat).",
)
@write_command
@pass_session
def transform(
    session: Session,
    inputs: tuple[str, ...],
    outs: tuple[str, ...],
    outputs_file: Path | None,
    loss: str | None,
    recycled_pre: str | None,
    recycled_post: str | None,
    grades: tuple[str, ...],
) -> None:
    """Consume input lots and create output lots of other materials (producer roles).

    Element masses must balance: outputs plus loss equal what the inputs give.
    Recycled content carries over when a single output takes everything;
    otherwise give it per output.

    \b
    Examples:
      rinne lot transform --in R-NI-001 --in R-CO-001=500kg --out PRE-001:PRE-NMC811:9t --account cam-maker
      rinne lot transform --in PRE-001 --in LI-001 --require-grade LI-001=Li2CO3-battery \\
          --out CAM-001:CAM-NMC811:10t:Ni=4.8t,Co=0.6t,Mn=0.56t,Li=0.7t --account cam-maker
    """
    with user_input():
        required = _required_grades(grades)
        used = _specs.uses(inputs)
        loss_comp = rinne.Composition.of(parse_elements(loss)) if loss else None
        inherit = _specs.used_composition(session.ledger(), used) if len(outs) == 1 and not outputs_file else None
        specs = _specs.outputs(outs, outputs_file, inherit=inherit, pre=recycled_pre, post=recycled_post)
    ledger = session.signer()
    ins = ", ".join(rinne.label_of(u.lot_id) + (f"={format_mass(u.mass)}" if u.mass else "") for u in used)
    outs_desc = ", ".join(_spec_summary(s) for s in specs)
    session.confirm(f"Transform {ins} into {outs_desc} {session.who()}")
    attested = None
    if required is not None:
        # A grade the element content cannot decide is met only by a verified attestation, which the index holds.
        with open_index(session) as index:
            attested = {u.lot_id: rinne.lot_grade(index, u.lot_id) for u in used}
    with session.busy("transforming"):
        receipt = ledger.transform(used, specs, loss_comp, require_grade=required, attested_grades=attested)
    session.done(receipt, f"transformed {ins} into {outs_desc}", inputs=[u.lot_id for u in used], outputs=[s.lot_id for s in specs])


def _required_grades(values: tuple[str, ...]) -> str | dict[str, str] | None:
    """--require-grade values: one GRADE for every input, or LOT=GRADE pairs."""
    if not values:
        return None
    pairs = [v.split("=", 1) for v in values]
    if all(len(p) == 1 for p in pairs) and len(values) == 1:
        return values[0]
    if any(len(p) == 1 for p in pairs):
        raise click.UsageError("--require-grade: give one GRADE for every input, or LOT=GRADE for each")
    return {_specs.bytes32(lot, "lot id"): grade for lot, grade in pairs}


@lot.command()
@click.argument("lot_id", callback=_id)
@click.option("--reason", default="", help="Why (stored as a salted commitment; the text in your vault).")
@click.option("--lineage", is_flag=True, help="Also freeze every active lot made from it (split, merged, transformed, built).")
@write_command
@pass_session
def freeze(session: Session, lot_id: str, reason: str, lineage: bool) -> None:
    """Freeze a lot under investigation (AUDITOR): nobody can move or use it.

    With --lineage the lot and all its active descendants are frozen in one transaction (found from the
    ledger's events up to the latest block), so material under investigation cannot escape by being
    split or transformed just before the freeze; a consumed lot itself is skipped.

    \b
    Example:
      rinne lot freeze R-NI-001 --reason "assay dispute" --account auditor
      rinne lot freeze NISO4-01 --lineage --reason "assay dispute" --account auditor
    """
    ledger = session.signer()
    what = f"lot {rinne.label_of(lot_id)} and every active lot made from it" if lineage else f"lot {rinne.label_of(lot_id)}"
    session.confirm(f"Freeze {what} {session.who()}")
    if lineage:
        frozen = ledger.freeze_lineage(lot_id, reason)
        names = ", ".join(rinne.label_of(i) for i in frozen) or "nothing (no active lot in the lineage)"
        session.done(
            None, f"froze {len(frozen)} lot(s) of the lineage of {rinne.label_of(lot_id)}: {names}", lot_id=lot_id, frozen=frozen
        )
        return
    receipt = ledger.freeze(lot_id, reason)
    session.done(receipt, f"froze lot {rinne.label_of(lot_id)}", lot_id=lot_id)


@lot.command()
@click.argument("lot_id", callback=_id)
@write_command
@pass_session
def unfreeze(session: Session, lot_id: str) -> None:
    """Release a frozen lot (AUDITOR).

    \b
    Example:
      rinne lot unfreeze R-NI-001 --account auditor
    """
    ledger = session.signer()
    session.confirm(f"Unfreeze lot {rinne.label_of(lot_id)} {session.who()}")
    receipt = ledger.unfreeze(lot_id)
    session.done(receipt, f"unfroze lot {rinne.label_of(lot_id)}", lot_id=lot_id)


@lot.command("import")
@click.argument("file", type=click.Path(allow_dash=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "jsonl"]), help="File format.  [default: from the file name]")
@click.option("--dry-run", is_flag=True, help="Check the file and which lots exist on-chain already, and send nothing.")
@write_command
@pass_session
def import_(session: Session, file: Path, fmt: str | None, dry_run: bool) -> None:
    """Mint many lots from a CSV, JSON or JSON Lines file, in batches.

    Columns (CSV header or JSON keys): lot_id, material, mass (12.5t, 500kg or
    grams), and optionally elements (Ni=22%,Co=1%), recycled_pre, recycled_post,
    origin (CC:SITE), evidence (0x hash). Element columns named after the
    element (Ni, Co, ...) may replace the elements column. The whole file is
    checked before anything is sent: every bad row is reported with its line
    (exit 2). Lots that exist already with the same content are skipped, so
    after an interruption (Ctrl-C, exit 130) run the same command again;
    --dry-run says what would be minted and sends nothing.

    \b
    Example (lots.csv):
      lot_id,material,mass,Ni,Co,origin
      R-NI-101,NiSO4,12.5t,22%,1%,FI:Harjavalta
      R-NI-102,NiSO4,8t,1.76t,80kg,FI:Harjavalta
    \b
      rinne lot import lots.csv --dry-run
      rinne lot import lots.csv --account refiner
    """
    if str(file) != "-" and not file.exists():
        raise click.BadParameter(f"{file} does not exist", param_hint="FILE")
    with user_input():
        loaded = _specs.load_lot_file(file, fmt)
    if loaded.problems:
        _refuse(loaded.name, loaded.problems, f"{len(loaded.problems)} bad row(s) of {loaded.rows}", usage=True)
    specs = loaded.specs
    ledger = session.ledger()
    with session.busy("checking which lots exist"):
        existing = _on_chain(ledger, [s.lot_id for s in specs])
    todo: list[LotSpec] = []
    conflicts: list[str] = []
    # Rows that differ only in their id share one composition (see _specs.load_lot_file): hash each once.
    commitments: dict[int, tuple[Any, str, str]] = {}
    for spec, place in zip(specs, loaded.places):
        found = existing.get(spec.lot_id.lower())
        if found is None:
            todo.append(spec)
            continue
        key = id(spec.composition)
        known = commitments.get(key)
        if known is None or known[0] is not spec.composition or known[1] != spec.material:
            known = commitments[key] = (spec.composition, spec.material, rinne.commitment(spec.material, spec.composition).lower())
        # Mass is stored beside the commitment (which covers material and composition): a row with another
        # mass is another lot's content even when its element grams are the same.
        if found != (spec.mass, known[2]):
            conflicts.append(f"{loaded.what} {place}: lot {rinne.label_of(spec.lot_id)} exists already with other content")
    if conflicts:
        _refuse(loaded.name, conflicts, f"{len(conflicts)} lot(s) exist already with other content", usage=False)
    skipped = len(specs) - len(todo)
    report = {"minted": 0, "skipped": skipped, "transactions": 0, "gas_used": 0}
    mass = format_mass(sum(s.mass for s in todo))
    if dry_run:
        grams = sum(s.mass for s in todo)
        session.emit(
            {"dry_run": True, "lots": len(specs), "to_mint": len(todo), "skipped": skipped, "to_mint_mass_g": grams},
            f"would mint {len(todo)} lots ({mass}) and skip {skipped} that exist already: nothing was sent (--dry-run)",
        )
        return
    if not todo:
        # Nothing to sign: no unlock, no prompt, so a re-run of a finished import costs one batch of reads.
        session.emit(report, f"all {skipped} lots exist already with this content: nothing to do")
        return
    signer = session.signer()
    session.confirm(
        f"Mint {len(todo)} lots ({mass}) from {file}" + (f", skipping {skipped} existing," if skipped else "") + f" {session.who()}"
    )
    sent = [0]

    def advance(n: int) -> None:
        sent[0] += n
        if bar is not None:
            bar.update(n)

    bar: Any = None
    try:
        if sys.stderr.isatty():
            with click.progressbar(length=len(todo), label="minting", file=sys.stderr, show_pos=True) as bar:
                result = _mint_many(signer, todo, advance, checked=session.yes)
        else:
            result = _mint_many(signer, todo, advance, checked=session.yes)
    except KeyboardInterrupt:
        # Each mintBatch is one transaction, all or nothing: lots are either on the ledger or not.
        raise Interrupted(
            f"interrupted: {sent[0]} of {len(todo)} lots minted so far (transactions in flight may still land); "
            "run the same command again to mint the rest (lots on the ledger are skipped)"
        ) from None
    # The chain holds salted commitments to the sites: only this book (and the vault) can show them.
    sites = {w: f"{rinne.origin_country(w)}:{s.site}" for s in todo if s.site and (w := signer.committed_origin(s.lot_id))}
    if sites:
        remember(session, sites=sites)
    report.update(minted=result.done, skipped=skipped + result.skipped, transactions=result.transactions, gas_used=result.gas_used)
    session.emit(
        report,
        f"minted {result.done} lots, skipped {skipped + result.skipped} existing, in {result.transactions} transactions ({result.gas_used} gas)",
    )


#: Problems of a lot file shown one per line before the refusal; the rest are counted.
PROBLEM_LIMIT = 20


def _refuse(name: str, problems: list[str], summary: str, *, usage: bool) -> None:
    """Report every problem (up to PROBLEM_LIMIT, then a count) on stderr and fail: nothing was sent."""
    error = click.UsageError if usage else CliError
    if len(problems) == 1:
        raise error(f"{name}: {problems[0]}: nothing was sent")
    for problem in problems[:PROBLEM_LIMIT]:
        note(f"{name}: {problem}")
    if len(problems) > PROBLEM_LIMIT:
        note(f"{name}: … and {len(problems) - PROBLEM_LIMIT} more")
    raise error(f"{name}: {summary} (listed above): nothing was sent")


def _on_chain(ledger: Any, lot_ids: list[str]) -> dict[str, tuple[int, str]]:
    """Lowercase lot id → (mass, commitment) of the lots that exist on-chain."""
    return ledger.lots_on_chain(lot_ids)


def _mint_many(ledger: Any, specs: list[LotSpec], progress: Any, *, checked: bool) -> Any:
    # `checked`: no prompt since the import read which lots exist, so the library need not read them again
    # (a lot minted in between makes its transaction revert; the re-run skips it). After a prompt it reads again.
    try:
        return ledger.mint_many(specs, progress=progress, checked=checked)
    except ChainError:
        note("nothing is lost: run the same command again; lots already on the ledger are skipped", fg="yellow")
        raise


# ------------------------------------------------------------------------------ list, export


def _country(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, str | None] | None:
    """--origin CC or CC:SITE → (country, "CC:Site" or None)."""
    if value is None:
        return None
    text = value.strip()
    if re.fullmatch(r"[A-Za-z]{2}", text):
        return text.upper(), None
    try:
        _specs.origin(text)  # refuses what is no CC:SITE
        return text[:2].upper(), _site_text(text)
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: give an ISO 3166 alpha-2 country such as FI, or COUNTRY:SITE such as FI:Harjavalta", ctx=ctx, param=param
        ) from None


def _material(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return _specs.bytes32(value, "material code")
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


def _filter_options(f: Any) -> Any:
    """The filters `lot list` and `lot export` share."""
    for option in reversed(
        [
            click.option(
                "--holder",
                metavar="NAME|ADDRESS",
                help="Only lots held now by this account (a local account name, a display name registered from here, or an address).",
            ),
            click.option("--material", "-m", metavar="CODE", callback=_material, help="Only lots of this material code, e.g. NiSO4."),
            click.option(
                "--origin",
                metavar="CC[:SITE]",
                callback=_country,
                help="Only lots minted with this origin country (ISO 3166 alpha-2), or country and site.",
            ),
            click.option(
                "--state", type=click.Choice(["active", "consumed", "frozen"], case_sensitive=False), help="Only lots in this state."
            ),
            click.option(
                "--kind",
                type=click.Choice(["material", "unit"], case_sensitive=False),
                help="Only bulk material lots, or only battery units.",
            ),
            click.option(
                "--minted-from",
                metavar="TIME",
                callback=parsed(parse_time),
                help="Only lots minted at or after this time: 2027-06-30, 2027-06-30T12:00:00Z, @unix.",
            ),
            click.option(
                "--minted-to",
                metavar="TIME",
                callback=parsed(parse_time_end),
                help="Only lots minted at or before this time (a bare date includes the whole day).",
            ),
            click.option("--limit", type=click.IntRange(min=1), metavar="N", help="At most N lots (the oldest first)."),
            trust_index_option,
        ]
    ):
        f = option(f)
    return f


def _holder_address(session: Session, names: Names, text: str) -> str:
    """--holder as an address: an address, a local account name, or a display name registered from here."""
    if text and not text.startswith("0x") and names.find_party(text) and text not in {n for n in names.accounts.values()}:
        return str(names.find_party(text))
    try:
        return session.resolve_address(text, "--holder")
    except click.BadParameter:
        raise click.BadParameter(
            f"{text!r} is neither an address (0x + 40 hex digits), a local account name, nor a display name registered from here",
            param_hint="'--holder'",
        ) from None


def _query(
    session: Session,
    holder: str | None,
    material: str | None,
    origin: tuple[str, str | None] | None,
    state: str | None,
    kind: str | None,
    minted_from: int | None,
    minted_to: int | None,
    limit: int | None,
    trust_index: bool,
) -> tuple[list[LotRow], Names]:
    if minted_from is not None and minted_to is not None and minted_from > minted_to:
        raise click.BadParameter("--minted-from is after --minted-to", param_hint="'--minted-from'")
    names = load_names(session, scope_of(session.ledger()))
    holder_address = _holder_address(session, names, holder) if holder else None
    country, site_word = origin if origin else (None, None)
    with open_index(session, trust=trust_index) as index:
        rows = index.lots(
            holder=holder_address,
            material=material,
            country=country,
            state=state,
            kind=kind,
            minted_from=minted_from,
            minted_to=minted_to,
            limit=None if site_word else limit,
        )
    if site_word:
        # The chain holds a salted commitment to each site: only the sites minted from here (the names book) can match.
        rows = [r for r in rows if names.site(r.origin) == site_word][:limit]
    return rows, names


def _iso(unix: int) -> str | None:
    return format_time(unix) if unix else None


def lot_record(row: LotRow, names: Names) -> dict[str, Any]:
    """The listing's record of a lot (the JSON shape of `lot list`)."""
    site = names.site(row.origin)
    return {
        "lot_id": row.lot_id,
        "label": rinne.label_of(row.lot_id),
        "kind": row.kind.name.lower(),
        "state": row.state.name.lower(),
        "material": row.material,
        "material_label": rinne.label_of(row.material),
        "mass_g": row.mass_g,
        "holder": row.holder,
        "holder_account": names.account(row.holder),
        "holder_name": names.party(row.holder),
        "origin_country": row.country,
        "origin_site": site.split(":", 1)[1] if site else None,
        "minted_at": _iso(row.minted_at),
        "minted_block": row.minted_block,
    }


def lot_export_record(row: LotRow, names: Names) -> dict[str, Any]:
    """Every field of a lot, flat (the JSON and CSV shape of `lot export`): element masses as ``ni_g``,
    their pre- and post-consumer recycled parts as ``ni_pre_g`` and ``ni_post_g``."""
    rec = lot_record(row, names)
    zero = "0x" + "00" * 32
    rec.update(
        {
            "minted_mass_g": row.minted_mass_g,
            "creator": row.creator,
            "creator_account": names.account(row.creator),
            "creator_name": names.party(row.creator),
            "origin": None if row.origin == zero else row.origin,
            "evidence": None if row.evidence == zero else row.evidence,
            "made_by_operation": row.made_by_operation,
            "offered_to": row.offered_to,
        }
    )
    total, pre, post = row.composition
    for k, e in enumerate(rinne.ELEMENTS):
        rec[f"{e.lower()}_g"] = total[k]
    for k, e in enumerate(rinne.ELEMENTS):
        rec[f"{e.lower()}_pre_g"] = pre[k]
        rec[f"{e.lower()}_post_g"] = post[k]
    return rec


#: Keys of a `lot list` record and of a `lot export` record, in order (the CSV headers).
LIST_FIELDS = (
    "lot_id",
    "label",
    "kind",
    "state",
    "material",
    "material_label",
    "mass_g",
    "holder",
    "holder_account",
    "holder_name",
    "origin_country",
    "origin_site",
    "minted_at",
    "minted_block",
)
#: The fields of `lot export` besides the listing's (the element columns follow them, see :func:`export_fields`).
_EXPORT_EXTRA = (
    "minted_mass_g",
    "creator",
    "creator_account",
    "creator_name",
    "origin",
    "evidence",
    "made_by_operation",
    "offered_to",
)


def export_fields() -> tuple[str, ...]:
    """The fields of `lot export`: the listing's, then the rest and grams per element (read at call time: `rinne --help` loads no library)."""
    return (
        LIST_FIELDS
        + _EXPORT_EXTRA
        + tuple(f"{e.lower()}_g" for e in rinne.ELEMENTS)
        + tuple(f"{e.lower()}_{part}_g" for e in rinne.ELEMENTS for part in ("pre", "post"))
    )


def _columns(names: Names) -> list[Column]:
    return [
        Column("LOT", lambda r: r["label"]),
        Column("KIND", lambda r: r["kind"]),
        Column("STATE", lambda r: r["state"]),
        Column("MATERIAL", lambda r: r["material_label"]),
        Column("MASS", lambda r: format_mass(r["mass_g"]), right=True),
        Column("HOLDER", lambda r: names.who(r["holder"])),
        Column("ORIGIN", lambda r: (f"{r['origin_country']}:{r['origin_site']}" if r["origin_site"] else r["origin_country"]) or "-"),
        Column("MINTED", lambda r: r["minted_at"] or "-"),
    ]


@lot.command("list")
@_filter_options
@listing_command
@pass_session
def list_(
    session: Session,
    holder: str | None,
    material: str | None,
    origin: tuple[str, str | None] | None,
    state: str | None,
    kind: str | None,
    minted_from: int | None,
    minted_to: int | None,
    limit: int | None,
    trust_index: bool,
) -> None:
    """List lots and units as they stand now, oldest first, from the event index.

    The index (in the data directory) is synced with the chain and checked
    against its ledger heads first. Filters combine: all must match. Holders
    show with their local account name, or the display name they were
    registered with from this machine; origins as country and, where this
    machine minted or imported them, site (the chain stores the site's hash).
    Masses print as t/kg in the table and as grams (mass_g) in CSV and JSON.

    \b
    Examples:
      rinne lot list
      rinne lot list --holder refiner --material NiSO4 --state active
      rinne lot list --origin FI --minted-from 2027-01-01 --minted-to 2027-03-31 --csv
      rinne lot list --kind unit --json
    """
    rows, names = _query(session, holder, material, origin, state, kind, minted_from, minted_to, limit, trust_index)
    emit_rows(session, [lot_record(r, names) for r in rows], _columns(names), fields=LIST_FIELDS, empty="no lots match")


@lot.command()
@_filter_options
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write to FILE instead of stdout (the format from its name: .csv, .json, .jsonl/.ndjson).",
)
@listing_command
@pass_session
def export(
    session: Session,
    holder: str | None,
    material: str | None,
    origin: tuple[str, str | None] | None,
    state: str | None,
    kind: str | None,
    minted_from: int | None,
    minted_to: int | None,
    limit: int | None,
    trust_index: bool,
    output: Path | None,
) -> None:
    """Export lots with every field: the `lot list` filters, CSV by default.

    Beside the listing's fields: the mass at mint, creator, origin and
    evidence hashes, whether an operation made it, a pending offer, and the
    element content it holds now in grams (ni_g, ...) with its pre- and
    post-consumer recycled parts (ni_pre_g, ni_post_g, ...).

    \b
    Examples:
      rinne lot export -o lots.csv
      rinne lot export --holder cam-maker --state active --nl > lots.jsonl
      rinne lot export --material NiSO4 --json -o niso4.json
    """
    if output is not None and session.output is None:
        session.output = {".json": "json", ".jsonl": "nl", ".ndjson": "nl"}.get(output.suffix.lower(), "csv")
    if session.output == "table":
        raise click.UsageError("export writes --csv, --json or --nl (for a table, use `rinne lot list`)")
    if output is not None and not output.parent.is_dir():
        raise click.BadParameter(f"{output.parent} is not a folder", param_hint="'--output'")
    rows, names = _query(session, holder, material, origin, state, kind, minted_from, minted_to, limit, trust_index)
    records = [lot_export_record(r, names) for r in rows]
    if output is None:
        write_rows(session, records, [], fields=export_fields(), default="csv")
        return
    # Written next to the target and renamed, so a failed export never leaves half a file behind.
    tmp = output.with_name(f".{output.name}.part")
    try:
        with tmp.open("w", newline="") as fh:
            write_rows(session, records, [], fields=export_fields(), out=fh, default="csv")
        tmp.replace(output)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    note(f"wrote {len(records)} lots to {output}")
