"""`rinne lot`: material lots."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ledger import ChainError, Composition, Lot, LotSpec, LotState
from ledger._registry_logs import block_times, lot_history
from ledger.models import label_of

from . import _specs
from ._core import CliError, OrderedGroup, Session, jsonable, note, pass_session, read_command, user_input, write_command
from ._units import format_elements, format_mass, format_time, parse_elements, parse_mass, parse_use

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
      rinne lot history CAM-001 --json
    """


# ------------------------------------------------------------------------------- formatting


def lot_json(lot: Lot) -> dict[str, Any]:
    """The JSON shape of a lot."""
    return {
        "lot_id": lot.lot_id, "label": lot.label, "kind": lot.kind.name, "state": lot.state.name, "holder": lot.holder,
        "material": lot.material, "material_label": lot.material_label, "mass_g": lot.mass,
        "composition": jsonable(lot.composition) if lot.composition else None, "epoch": lot.epoch,
        "updated_block": lot.updated_block, "commitment": lot.commitment,
        "offer": {"to": lot.offered_to, "current": lot.offer_current} if lot.offered_to else None,
    }


def lot_lines(lot: Lot) -> list[str]:
    """The human form of a lot."""
    comp = lot.composition or Composition()
    lines = [
        f"lot        {lot.label}" + (f"  ({lot.lot_id})" if lot.label != lot.lot_id else ""),
        f"material   {lot.material_label or '-'}",
        f"mass       {format_mass(lot.mass)}",
        f"elements   {format_elements(comp.as_dict('total'))}",
        f"recycled   pre-consumer {format_elements(comp.as_dict('pre'))}; post-consumer {format_elements(comp.as_dict('post'))}",
        f"state      {lot.state.name.lower()} {lot.kind.name.lower()}, held by {lot.holder}",
    ]
    if lot.offered_to:
        lines.append(f"offer      to {lot.offered_to} ({'current' if lot.offer_current else 'stale: cannot be accepted'})")
    lines.append(f"updated    block {lot.updated_block} (epoch {lot.epoch})")
    return lines


def fetch_lot(session: Session, lot_id: str) -> Lot:
    """Read a lot, failing with one line when it does not exist."""
    ledger = session.ledger()
    found = ledger.lot(lot_id)
    if found.state == LotState.NONE:
        raise CliError(f"no lot {label_of(found.lot_id)} on chain {ledger.chain_id}")
    return found


def _spec_summary(spec: LotSpec) -> str:
    return f"{label_of(spec.lot_id)} ({label_of(spec.material)}, {format_mass(spec.mass)})"


def _id(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is None:
        return None
    try:
        if isinstance(value, tuple):
            return tuple(_specs.bytes32(v, "lot id") for v in value)
        return _specs.bytes32(value, "lot id")
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


def _history_line(e: dict[str, Any], times: dict[int, int]) -> str:
    ev = e["event"]
    head = f"{e['block']:>6}  {format_time(times.get(e['block']))}  {ev:<16}"
    if ev == "LotCreated":
        what = f"by {e['holder']}: {label_of(e['material'])}, {format_mass(e['mass'])}, {format_elements(e['composition'].as_dict())}"
    elif ev == "LotUpdated":
        what = f"now {format_mass(e['mass'])}, {format_elements(e['composition'].as_dict())}"
    elif ev == "OfferMade":
        what = f"{e['from']} → {e['to']}"
    elif ev == "OfferAccepted":
        what = f"{e['to']} took it from {e['from']}"
    elif ev in ("OfferCancelled", "OfferRejected"):
        what = f"offer to {e['to']}"
    elif ev in ("LotFrozen", "LotUnfrozen"):
        what = f"by {e['auditor']}"
    elif ev == "LotsTransformed":
        ins = ", ".join(label_of(i) for i in e["inputs"])
        outs = ", ".join(label_of(o) for o in e["outputs"])
        what = f"{e['kind'].lower()} by {e['operator']}: {ins} → {outs} (this lot: {e['role']})"
    elif ev == "UnitCreated":
        parents = ", ".join(label_of(p) for p in e["parents"]) or "none"
        what = f"rated {e['ratedWh']} Wh, parents {parents}"
    elif ev == "SohRecorded":
        s = e["soh"]
        what = f"by {e['recorder']}: SOCE {s['soce_bp'] / 100:g} %, {s['cycles']} cycles"
    elif ev == "StatusChanged":
        what = f"{e['from'].lower()} → {e['to'].lower()}"
    elif ev == "Attested":
        what = f"{format_mass(e['emissionsGrams'])} CO2e by {e['signer']}{' (self-declared)' if e['selfDeclared'] else ''}, uid {e['uid']}"
    elif ev == "Revoked":
        what = f"attestation {e['uid']} by {e['revoker']}"
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
def mint(session: Session, lot_id: str, material: str, mass: str, elements: str | None, recycled_pre: str | None,
         recycled_post: str | None, origin: str | None, evidence: str | None) -> None:
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
        spec = _specs.lot_spec(lot_id, material, grams, elements=elements, pre=recycled_pre, post=recycled_post,
                               origin_text=origin, evidence_text=evidence)
    ledger = session.signer()
    session.confirm(f"Mint lot {_spec_summary(spec)} {session.who()}")
    with session.busy("minting"):
        receipt = ledger.mint(spec)
    if receipt is None:
        session.done(None, f"lot {label_of(spec.lot_id)} exists already with this content: nothing to do",
                     lot_id=spec.lot_id, created=False)
        return
    session.done(receipt, f"minted lot {_spec_summary(spec)}", lot_id=spec.lot_id, created=True)


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
    found = fetch_lot(session, lot_id)
    session.emit(lot_json(found), lot_lines(found))


@lot.command()
@click.argument("lot_id", callback=_id)
@read_command
@pass_session
def history(session: Session, lot_id: str) -> None:
    """List every event that mentions a lot, oldest first.

    Its creation and updates, offers and transfers, freezes, the splits, merges
    and transforms it went into or came out of, passport events of a unit, and
    GWP attestations of it.

    \b
    Example:
      rinne lot history CAM-001
    """
    ledger = session.ledger()
    with session.busy("reading events"):
        events = lot_history(ledger, lot_id)
        times = block_times(ledger, [e["block"] for e in events]) if events else {}
    if not events:
        raise CliError(f"no events mention lot {label_of(lot_id)} on chain {ledger.chain_id}")
    for e in events:
        e["time"] = times.get(e["block"])
    session.emit(events, [_history_line(e, times) for e in events])


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
    desc = ", ".join(f"{label_of(i)}={format_mass(m)}" for i, m in pieces)
    session.confirm(f"Split lot {label_of(lot_id)} into {desc} {session.who()}")
    with session.busy("splitting"):
        receipt = ledger.split(lot_id, pieces)
    session.done(receipt, f"split {label_of(lot_id)} into {desc}", lot_id=lot_id, outputs=[i for i, _ in pieces])


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
        evidence_word = _specs.evidence(evidence) if evidence else None
    if len(lot_ids) < 2:
        raise click.UsageError("merge needs at least two lots")
    ledger = session.signer()
    names = ", ".join(label_of(i) for i in lot_ids)
    session.confirm(f"Merge {names} into {label_of(new_id)} {session.who()}")
    with session.busy("merging"):
        receipt = ledger.merge(list(lot_ids), new_id, evidence=evidence_word)
    session.done(receipt, f"merged {names} into {label_of(new_id)}", lot_id=new_id, inputs=list(lot_ids))


@lot.command()
@click.option("--in", "inputs", multiple=True, required=True, metavar="LOT[=MASS]",
              help="Input lot, whole or the given mass of it (repeat for several).")
@click.option("--out", "outs", multiple=True, metavar="ID:MATERIAL:MASS[:ELEMENTS]",
              help="Output lot (repeat for several). Without ELEMENTS a single output takes all the inputs give; ELEMENTS 'none' means no tracked elements.")
@click.option("--outputs", "outputs_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Output lots from a CSV or JSON file (the `lot import` format).")
@click.option("--loss", metavar="ELEMENTS", help="Declared loss, e.g. Ni=50kg.  [default: whatever the outputs do not carry]")
@click.option("--recycled-pre", metavar="ELEMENTS", help="Pre-consumer recycled part of a single --out with ELEMENTS.")
@click.option("--recycled-post", metavar="ELEMENTS", help="Post-consumer recycled part of a single --out with ELEMENTS.")
@write_command
@pass_session
def transform(session: Session, inputs: tuple[str, ...], outs: tuple[str, ...], outputs_file: Path | None, loss: str | None,
              recycled_pre: str | None, recycled_post: str | None) -> None:
    """Consume input lots and create output lots of other materials (producer roles).

    Element masses must balance: outputs plus loss equal what the inputs give.
    Recycled content carries over when a single output takes everything;
    otherwise give it per output.

    \b
    Examples:
      rinne lot transform --in R-NI-001 --in R-CO-001=500kg --out PRE-001:PRE-NMC811:9t --account cam-maker
      rinne lot transform --in PRE-001 --in LI-001 \\
          --out CAM-001:CAM-NMC811:10t:Ni=4.8t,Co=0.6t,Mn=0.56t,Li=0.7t --account cam-maker
    """
    with user_input():
        used = _specs.uses(inputs)
        loss_comp = Composition.of(parse_elements(loss)) if loss else None
        inherit = _specs.used_composition(session.ledger(), used) if len(outs) == 1 and not outputs_file else None
        specs = _specs.outputs(outs, outputs_file, inherit=inherit, pre=recycled_pre, post=recycled_post)
    ledger = session.signer()
    ins = ", ".join(label_of(u.lot_id) + (f"={format_mass(u.mass)}" if u.mass else "") for u in used)
    outs_desc = ", ".join(_spec_summary(s) for s in specs)
    session.confirm(f"Transform {ins} into {outs_desc} {session.who()}")
    with session.busy("transforming"):
        receipt = ledger.transform(used, specs, loss_comp)
    session.done(receipt, f"transformed {ins} into {outs_desc}", inputs=[u.lot_id for u in used], outputs=[s.lot_id for s in specs])


@lot.command()
@click.argument("lot_id", callback=_id)
@click.option("--reason", default="", help="Why (stored as its hash).")
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
    what = f"lot {label_of(lot_id)} and every active lot made from it" if lineage else f"lot {label_of(lot_id)}"
    session.confirm(f"Freeze {what} {session.who()}")
    if lineage:
        frozen = ledger.freeze_lineage(lot_id, reason)
        names = ", ".join(label_of(i) for i in frozen) or "nothing (no active lot in the lineage)"
        session.done(None, f"froze {len(frozen)} lot(s) of the lineage of {label_of(lot_id)}: {names}", lot_id=lot_id, frozen=frozen)
        return
    receipt = ledger.freeze(lot_id, reason)
    session.done(receipt, f"froze lot {label_of(lot_id)}", lot_id=lot_id)


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
    session.confirm(f"Unfreeze lot {label_of(lot_id)} {session.who()}")
    receipt = ledger.unfreeze(lot_id)
    session.done(receipt, f"unfroze lot {label_of(lot_id)}", lot_id=lot_id)


@lot.command("import")
@click.argument("file", type=click.Path(allow_dash=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "jsonl"]), help="File format.  [default: from the file name]")
@write_command
@pass_session
def import_(session: Session, file: Path, fmt: str | None) -> None:
    """Mint many lots from a CSV, JSON or JSON Lines file, in batches.

    Columns (CSV header or JSON keys): lot_id, material, mass (12.5t, 500kg or
    grams), and optionally elements (Ni=22%,Co=1%), recycled_pre, recycled_post,
    origin (CC:SITE), evidence (0x hash). Element columns named after the
    element (Ni, Co, ...) may replace the elements column. The whole file is
    checked before anything is sent. Lots that exist already with the same
    content are skipped, so after an interruption run the same command again.

    \b
    Example (lots.csv):
      lot_id,material,mass,Ni,Co,origin
      R-NI-101,NiSO4,12.5t,22%,1%,FI:Harjavalta
      R-NI-102,NiSO4,8t,1.76t,80kg,FI:Harjavalta
    \b
      rinne lot import lots.csv --account refiner
    """
    if str(file) != "-" and not file.exists():
        raise click.BadParameter(f"{file} does not exist", param_hint="FILE")
    with user_input():
        specs = _specs.read_lot_file(file, fmt)
    ledger = session.signer()
    total_mass = sum(s.mass for s in specs)
    session.confirm(f"Mint {len(specs)} lots ({format_mass(total_mass)}) from {file} {session.who()}")
    if sys.stderr.isatty():
        with click.progressbar(length=len(specs), label="minting", file=sys.stderr, show_pos=True) as bar:
            result = _mint_many(ledger, specs, bar.update)
    else:
        result = _mint_many(ledger, specs, None)
    session.emit(
        {"minted": result.done, "skipped": result.skipped, "transactions": result.transactions, "gas_used": result.gas_used},
        f"minted {result.done} lots, skipped {result.skipped} existing, in {result.transactions} transactions ({result.gas_used} gas)",
    )


def _mint_many(ledger: Any, specs: list[LotSpec], progress: Any) -> Any:
    try:
        return ledger.mint_many(specs, progress=progress)
    except ChainError:
        note("nothing is lost: run the same command again; lots already on the ledger are skipped", fg="yellow")
        raise
