"""`rinne unit`: battery units (packs, modules, ESS) and their passports."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

import ledger as rinne

from . import _specs
from ._core import (
    CliError,
    OrderedGroup,
    Session,
    jsonable,
    open_index,
    pass_session,
    read_command,
    trust_index_option,
    user_input,
    write_command,
)
from ._units import (
    format_elements,
    format_energy,
    format_mass,
    format_time,
    parse_elements,
    parse_energy,
    parse_mass,
    parse_percent_bp,
)
from .lot import _id

if TYPE_CHECKING:
    from ledger import UnitSpec

F = TypeVar("F", bound=Callable[..., Any])

#: The statuses `unit status` sets, and its manual's table of moves: from the library's one table.
SETTABLE = list(
    dict.fromkeys(to.name.lower() for moves in rinne.PASSPORT_MOVES.values() for to, op in moves.items() if op == "set_status")
)


def _moves_text() -> str:
    rows = []
    for frm, moves in rinne.PASSPORT_MOVES.items():
        settable = [to.name.lower() for to, op in moves.items() if op == "set_status"]
        if settable:
            rows.append(f"{frm.name.lower():<15} → {', '.join(settable)}")
    return "\n      ".join(rows)  # the indent of the table in the docstring


def _from(op: str) -> str:
    names = [frm.name.lower() for frm, moves in rinne.PASSPORT_MOVES.items() if op in moves.values()]
    return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]


def _manual(**values: str) -> Callable[[F], F]:
    """Fill a command's docstring from the library's tables before click reads it."""

    def apply(f: F) -> F:
        f.__doc__ = (f.__doc__ or "").format(**values)
        return f

    return apply


@click.group(cls=OrderedGroup)
def unit() -> None:
    """Build battery units and keep their passports.

    A unit (pack, module or ESS) is a lot of kind "unit" with a passport: a
    serial (a salted commitment), rated energy, status, and state-of-health
    records. Status follows the EU passport vocabulary: original → reused |
    repurposed | remanufactured → waste → recycled, along allowed edges only.
    Energies take units: 75kWh, 1.2MWh (a bare integer is Wh).

    \b
    Examples:
      rinne unit build PACK-001 --cells CELL-001 --material PACK-75KWH --mass 450kg \\
          --serial VIN123-PACK --rated 75kWh --account pack-maker
      rinne unit soh PACK-001 --soh 82% --capacity 61kWh --cycles 900 --throughput 70MWh --account diag
      rinne unit status PACK-001 waste --account oem
      rinne unit dismantle PACK-001 --material MODULE-18KWH --module M1:110kg:18.75kWh \\
          --module M2:110kg:18.75kWh --account second-life
      rinne unit recycle PACK-001 --out BM-001:BLACK-MASS:300kg --account recycler
      rinne unit show PACK-001 --json
    """


def _unit_spec(serial: str, rated: int) -> UnitSpec:
    return rinne.UnitSpec(serial=serial, rated_wh=rated)


def _unit_lot(
    session: Session,
    unit_id: str,
    material: str,
    mass: str,
    elements: str | None,
    pre: str | None,
    post: str | None,
    evidence: str | None,
    inputs: list[Any],
) -> Any:
    grams = parse_mass(mass)
    if elements:
        return _specs.lot_spec(unit_id, material, grams, elements=elements, pre=pre, post=post, evidence_text=evidence)
    if pre or post:
        raise ValueError("--recycled-pre/--recycled-post go with --elements; without --elements the unit takes all the inputs give")
    inherit = _specs.used_composition(session.ledger(), inputs)
    return _specs.lot_spec(unit_id, material, grams, comp=inherit, evidence_text=evidence)


def _unit_options(f: Any) -> Any:
    for option in reversed(
        [
            click.option(
                "--material", "-m", required=True, metavar="CODE", help="Unit material code, e.g. PACK-NMC811-75KWH, ESS-200KWH."
            ),
            click.option("--mass", required=True, metavar="MASS", help="Mass of the unit: 450kg."),
            click.option(
                "--serial", required=True, metavar="SERIAL", help="Manufacturer's serial number (on-chain: a salted commitment)."
            ),
            click.option("--rated", required=True, metavar="ENERGY", help="Rated energy: 75kWh."),
            click.option("--elements", "-e", metavar="ELEMENTS", help="Element content.  [default: everything the inputs give]"),
            click.option("--recycled-pre", metavar="ELEMENTS", help="Pre-consumer recycled part (with --elements)."),
            click.option("--recycled-post", metavar="ELEMENTS", help="Post-consumer recycled part (with --elements)."),
            click.option("--loss", metavar="ELEMENTS", help="Declared loss.  [default: what the unit does not carry]"),
            click.option("--evidence", metavar="FILE|HASH", help="Build record: a file (hashed) or its 0x hash."),
        ]
    ):
        f = option(f)
    return f


@unit.command()
@click.argument("unit_id")
@click.option("--cells", "cells", multiple=True, required=True, metavar="LOT[=MASS]", help="Cell lot used, whole or part (repeat).")
@_unit_options
@write_command
@pass_session
def build(
    session: Session,
    unit_id: str,
    cells: tuple[str, ...],
    material: str,
    mass: str,
    serial: str,
    rated: str,
    elements: str | None,
    recycled_pre: str | None,
    recycled_post: str | None,
    loss: str | None,
    evidence: str | None,
) -> None:
    """Build a unit from cell lots (CELL_MAKER, PACK_ASSEMBLER); its passport starts as original.

    \b
    Example:
      rinne unit build PACK-001 --cells CELL-001=400kg --material PACK-NMC811-75KWH \\
          --mass 450kg --serial VIN123-PACK --rated 75kWh --account pack-maker
    """
    with user_input():
        used = _specs.uses(cells)
        spec = _unit_spec(serial, parse_energy(rated))
        loss_comp = rinne.Composition.of(parse_elements(loss)) if loss else None
        unit_lot = _unit_lot(session, unit_id, material, mass, elements, recycled_pre, recycled_post, evidence, used)
    ledger = session.signer()
    session.confirm(
        f"Build unit {rinne.label_of(unit_lot.lot_id)} ({format_energy(spec.rated_wh)}) from "
        f"{', '.join(rinne.label_of(u.lot_id) for u in used)} {session.who()}"
    )
    with session.busy("building"):
        receipt = ledger.build_unit(used, unit_lot, spec, loss_comp)
    session.done(receipt, f"built unit {rinne.label_of(unit_lot.lot_id)}", unit_id=unit_lot.lot_id, cells=[u.lot_id for u in used])


@unit.command()
@click.argument("unit_id", callback=_id)
@trust_index_option
@read_command
@pass_session
def show(session: Session, unit_id: str, trust_index: bool) -> None:
    """Show a unit's passport: status, rated energy, latest SOH, holder, parents.

    The passport is read from the chain; the parents from the event index,
    synced with the chain and checked against its ledger heads first.

    \b
    Example:
      rinne unit show ESS-001 --json
    """
    ledger = session.ledger()
    passport = ledger.unit(unit_id)
    lot = ledger.lot(unit_id)
    if passport.status == rinne.PassportStatus.NONE or lot.kind != rinne.LotKind.UNIT:
        raise CliError(
            f"no battery unit {rinne.label_of(unit_id)} on chain {ledger.chain_id}"
            + (" (it is a material lot: see `rinne lot show`)" if lot.state != rinne.LotState.NONE else "")
        )
    with open_index(session, trust=trust_index) as index:
        parents = rinne.unit_parents(index, unit_id) or []
    soh = None
    values = None
    if passport.soh_root is not None:
        # The values are behind the record's salted root: shown only from this machine's vault, verified.
        vault = session.vault(create=False)
        if vault is not None:
            ledger.use_vault(vault)
            values = ledger.soh(unit_id)
        soh = {
            "root": passport.soh_root,
            "used": passport.used,
            "recorded_at": rinne.iso_time(passport.soh_at),
            "disclosed": values is not None,
            "soce_bp": values.soce_bp if values else None,
            "capacity_wh": values.capacity_wh if values else None,
            "cycles": values.cycles if values else None,
            "throughput_wh": values.throughput_wh if values else None,
        }
    data = {
        "unit_id": passport.unit_id,
        "label": rinne.label_of(unit_id),
        "status": passport.status.name.lower(),
        "rated_wh": passport.rated_wh,
        "soh": soh,
        "holder": lot.holder,
        "state": lot.state.name.lower(),
        "material": lot.material,
        "material_label": lot.material_label,
        "mass_g": lot.mass,
        "composition": jsonable(lot.composition) if lot.composition else None,
        "parents": parents,
    }
    lines = [
        f"unit       {rinne.label_of(unit_id)}",
        f"status     {passport.status.name.lower()}",
        f"rated      {format_energy(passport.rated_wh)}",
        (
            f"soh        SOCE {values.soce_bp / 100:g} %, {format_energy(values.capacity_wh)} left, {values.cycles} cycles, "
            f"{format_energy(values.throughput_wh)} throughput ({format_time(passport.soh_at)})"
        )
        if values
        else f"soh        recorded {format_time(passport.soh_at)} ({'used' if passport.used else 'not used'}), values not disclosed to this tier"
        if soh
        else "soh        none recorded",
        f"material   {lot.material_label}, {format_mass(lot.mass)}: {format_elements((lot.composition or rinne.Composition()).as_dict())}",
        f"holder     {lot.holder} ({lot.state.name.lower()})",
        f"parents    {', '.join(rinne.label_of(p) for p in parents) or 'none (original build)'}",
    ]
    session.emit(data, lines)


@unit.command()
@click.argument("unit_id", callback=_id)
@click.option("--soh", "soce", required=True, metavar="PERCENT", help="State of certified energy: 87.5%.")
@click.option("--capacity", required=True, metavar="ENERGY", help="Remaining energy capacity: 65kWh.")
@click.option("--cycles", required=True, type=click.IntRange(0, 2**32 - 1), help="Full equivalent cycles so far.")
@click.option("--throughput", required=True, metavar="ENERGY", help="Cumulative energy throughput so far: 30MWh.")
@click.option("--evidence", metavar="FILE|HASH", help="Diagnosis report: a file (hashed) or its 0x hash.")
@click.option("--correct", is_flag=True, help="Supersede the latest record with these values (may lower the counters).")
@click.option(
    "--to",
    "recipients",
    multiple=True,
    metavar="KEY|NAME|ADDRESS",
    help="Also wrap the opening to this vault public key, or to the key this account published (the holder's); repeatable.",
)
@write_command
@pass_session
def soh(
    session: Session,
    unit_id: str,
    soce: str,
    capacity: str,
    cycles: int,
    throughput: str,
    evidence: str | None,
    correct: bool,
    recipients: tuple[str, ...],
) -> None:
    """Record a state-of-health diagnosis (the holder, or a DIAGNOSTICIAN the holder authorised).

    The values are Annex XIII point 4: only a salted commitment and whether the unit was used go on-chain;
    the opening goes to this data directory's vault, wrapped to this party, to each --to key (or the key an
    account published: `rinne account publish-vault-key`) and to the authority vault key of the deployment record. Cycles and throughput may not go down between records,
    and must be physically plausible: SOH at most 100 %, capacity at most the rating, throughput at most
    (cycles + 1) x rating x 2; the authority's audit re-checks every record, with at most 4 cycles a day
    since the latest record plus one. A wrong record is superseded with --correct, which may lower cycles
    and throughput; both stay in the unit's history.

    \b
    Example:
      rinne unit authorise PACK-001 diag --account oem
      rinne unit soh PACK-001 --soh 82% --capacity 61kWh --cycles 900 --throughput 70MWh \\
          --evidence bms-report.json --account diag
    """
    with user_input():
        record = rinne.SohRecord(
            soce_bp=parse_percent_bp(soce),
            capacity_wh=parse_energy(capacity),
            cycles=cycles,
            throughput_wh=parse_energy(throughput),
            document=_specs.evidence(evidence) if evidence else None,
        )
    ledger = session.signer()
    what = "Correct the latest SOH record to" if correct else "Record SOH"
    session.confirm(f"{what} {record.soce_bp / 100:g} % for {rinne.label_of(unit_id)} {session.who()}")
    keys = session.vault_recipients(recipients)  # the Ledger reads each account's key before it sends anything
    write = ledger.correct_soh if correct else ledger.record_soh
    receipt = write(unit_id, record, recipients=keys)
    done = "corrected the latest SOH record to" if correct else "recorded SOH"
    session.done(
        receipt,
        f"{done} {record.soce_bp / 100:g} % for {rinne.label_of(unit_id)}",
        unit_id=unit_id,
        soh=record.model_dump(),
        correction=correct,
    )


@unit.command()
@click.argument("unit_id", callback=_id)
@click.argument("diagnostician", metavar="DIAGNOSTICIAN")
@click.option("--withdraw", is_flag=True, help="Stop authorising it.")
@write_command
@pass_session
def authorise(session: Session, unit_id: str, diagnostician: str, withdraw: bool) -> None:
    """Authorise a diagnostician (an address or local account name) to record a unit's SOH (the holder).

    The authorisation ends when the unit changes hands, or with --withdraw.

    \b
    Example:
      rinne unit authorise PACK-001 diag --account oem
    """
    address = session.resolve_address(diagnostician, "DIAGNOSTICIAN")
    ledger = session.signer()
    verb = "Stop authorising" if withdraw else "Authorise"
    session.confirm(f"{verb} {address} to record the SOH of {rinne.label_of(unit_id)} {session.who()}")
    receipt = ledger.authorise_diagnostician(unit_id, address, not withdraw)
    done = "withdrew the SOH authorisation of" if withdraw else "authorised"
    session.done(
        receipt, f"{done} {address} for {rinne.label_of(unit_id)}", unit_id=unit_id, diagnostician=address, authorised=not withdraw
    )


@unit.command()
@_manual(
    settable=", ".join(SETTABLE[:-1]) + " or " + SETTABLE[-1],
    moves=_moves_text(),
    repurpose_from=_from("repurpose"),
    recycle_from=_from("recycle"),
)
@click.argument("unit_id", callback=_id)
@click.argument("status", metavar="STATUS", type=click.Choice(SETTABLE, case_sensitive=False))
@click.option("--evidence", metavar="FILE|HASH", help="Grading or decision record: a file (hashed) or its 0x hash.")
@write_command
@pass_session
def status(session: Session, unit_id: str, status: str, evidence: str | None) -> None:
    """Move a unit's passport status (the holder).

    \b
    Allowed moves (STATUS is {settable}):
      {moves}
    A unit becomes repurposed through `rinne unit repurpose`
    (from {repurpose_from})
    and recycled through `rinne unit recycle` (from {recycle_from}).

    \b
    Example:
      rinne unit status PACK-001 waste --evidence grading.pdf --account oem
    """
    with user_input():
        document = _specs.evidence(evidence) if evidence else None
    target = rinne.PassportStatus[status.upper()]
    ledger = session.signer()
    session.confirm(f"Set {rinne.label_of(unit_id)} to {status.lower()} {session.who()}")
    receipt = ledger.set_status(unit_id, target, document=document)
    session.done(receipt, f"{rinne.label_of(unit_id)} is now {status.lower()}", unit_id=unit_id, status=target.name.lower())


#: Verb forms of the operations that make a unit from units: (prompt, progress, done).
_REBUILD_WORDS = {
    "repurpose": ("Repurpose {names} into {unit}", "repurposing", "repurposed {names} into {unit}"),
    "remanufacture": ("Remanufacture {unit} from {names}", "remanufacturing", "remanufactured {unit} from {names}"),
}


def _rebuild(
    session: Session,
    op: str,
    unit_id: str,
    parts: tuple[str, ...],
    material: str,
    mass: str,
    serial: str,
    rated: str,
    elements: str | None,
    pre: str | None,
    post: str | None,
    loss: str | None,
    evidence: str | None,
) -> None:
    """Make a unit from units (`op`: repurpose or remanufacture), linked to every part."""
    with user_input():
        used = _specs.uses(parts)
        spec = _unit_spec(serial, parse_energy(rated))
        loss_comp = rinne.Composition.of(parse_elements(loss)) if loss else None
        unit_lot = _unit_lot(session, unit_id, material, mass, elements, pre, post, evidence, used)
    ledger = session.signer()
    words = {"names": ", ".join(rinne.label_of(u.lot_id) for u in used), "unit": rinne.label_of(unit_lot.lot_id)}
    prompt, busy, done = _REBUILD_WORDS[op]
    session.confirm(f"{prompt.format(**words)} {session.who()}")
    with session.busy(busy):
        receipt = getattr(ledger, op)(used, unit_lot, spec, loss_comp)
    session.done(receipt, done.format(**words), unit_id=unit_lot.lot_id, parents=[u.lot_id for u in used])


@unit.command()
@click.argument("unit_id")
@click.option("--from", "parents", multiple=True, required=True, metavar="UNIT", help="Parent unit consumed (repeat).")
@_unit_options
@write_command
@pass_session
def repurpose(
    session: Session,
    unit_id: str,
    parents: tuple[str, ...],
    material: str,
    mass: str,
    serial: str,
    rated: str,
    elements: str | None,
    recycled_pre: str | None,
    recycled_post: str | None,
    loss: str | None,
    evidence: str | None,
) -> None:
    """Build a new unit (e.g. an ESS) from used units, linked to every parent (SECOND_LIFE).

    \b
    Example:
      rinne unit repurpose ESS-001 --from LF003 --from LF004 --material ESS-120KWH \\
          --mass 900kg --serial ESS-2027-001 --rated 120kWh --account second-life
    """
    _rebuild(
        session, "repurpose", unit_id, parents, material, mass, serial, rated, elements, recycled_pre, recycled_post, loss, evidence
    )


def _module(text: str) -> tuple[str, int, int, str]:
    """ID:MASS:RATED[:SERIAL] of one module; the serial defaults to the id."""
    parts = text.split(":")
    if len(parts) not in (3, 4) or not all(parts):
        raise ValueError(f"--module {text!r}: expected ID:MASS:RATED[:SERIAL], e.g. LF003-M1:110kg:18.75kWh")
    return parts[0], parse_mass(parts[1]), parse_energy(parts[2]), parts[3] if len(parts) == 4 else parts[0]


@unit.command()
@click.argument("unit_id", callback=_id)
@click.option(
    "--module",
    "modules",
    multiple=True,
    required=True,
    metavar="ID:MASS:RATED[:SERIAL]",
    help="Module made (repeat): LF003-M1:110kg:18.75kWh. The serial defaults to the id.",
)
@click.option("--material", "-m", required=True, metavar="CODE", help="Module material code, e.g. MODULE-NMC811-18KWH.")
@click.option("--loss", metavar="ELEMENTS", help="Declared loss.  [default: what the modules do not carry]")
@write_command
@pass_session
def dismantle(session: Session, unit_id: str, modules: tuple[str, ...], material: str, loss: str | None) -> None:
    """Take a whole unit apart into modules, each a unit with its own passport linked to it
    (PACK_ASSEMBLER, SECOND_LIFE or RECYCLER).

    The unit's element content is divided among the modules by mass (housing and wiring carry no
    tracked element), so each module carries the unit's recycled share and its part of the
    footprint. Modules keep the unit's status and end-user standing; their rated energies add up to
    at most the unit's (the contract refuses more).

    \b
    Example:
      rinne unit dismantle LF003 --material MODULE-NMC811-18KWH --module LF003-M1:110kg:18.75kWh \\
          --module LF003-M2:110kg:18.75kWh --account second-life
    """
    with user_input():
        parsed = [_module(m) for m in modules]
        loss_comp = rinne.Composition.of(parse_elements(loss)) if loss else None
    ledger = session.signer()
    with user_input():
        lots = ledger.module_lots(unit_id, [(m_id, grams) for m_id, grams, _, _ in parsed], material)
        specs = [_unit_spec(serial, rated) for _, _, rated, serial in parsed]
    names = ", ".join(
        f"{rinne.label_of(lot.lot_id)} ({format_mass(lot.mass)}, {format_energy(sp.rated_wh)})" for lot, sp in zip(lots, specs)
    )
    session.confirm(f"Dismantle {rinne.label_of(unit_id)} into {names} {session.who()}")
    with session.busy("dismantling"):
        receipt = ledger.dismantle(unit_id, lots, specs, loss_comp)
    session.done(receipt, f"dismantled {rinne.label_of(unit_id)} into {names}", unit_id=unit_id, modules=[lot.lot_id for lot in lots])


@unit.command()
@click.argument("unit_id")
@click.option(
    "--from", "parts", multiple=True, required=True, metavar="UNIT[=MASS]", help="Module or unit consumed, whole or part (repeat)."
)
@_unit_options
@write_command
@pass_session
def remanufacture(
    session: Session,
    unit_id: str,
    parts: tuple[str, ...],
    material: str,
    mass: str,
    serial: str,
    rated: str,
    elements: str | None,
    recycled_pre: str | None,
    recycled_post: str | None,
    loss: str | None,
    evidence: str | None,
) -> None:
    """Rebuild a unit from used and new modules or units, linked to every part (PACK_ASSEMBLER or
    SECOND_LIFE); its status is remanufactured and it is rated at most what its parts were.

    \b
    Example:
      rinne unit remanufacture LF003-R --from LF003-M1 --from LF003-M2 --from NEW-M7 \\
          --material PACK-NMC811-56KWH --mass 330kg --serial LF003-R-2031 --rated 56kWh --account packs
    """
    _rebuild(
        session, "remanufacture", unit_id, parts, material, mass, serial, rated, elements, recycled_pre, recycled_post, loss, evidence
    )


@unit.command()
@click.argument("unit_id", callback=_id)
@click.option(
    "--out",
    "outs",
    multiple=True,
    metavar="ID:MATERIAL:MASS[:ELEMENTS]",
    help="Recovered lot (repeat). Without ELEMENTS a single output takes all the unit's content; 'none' means no tracked elements.",
)
@click.option(
    "--outputs",
    "outputs_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Recovered lots from a CSV or JSON file (the `lot import` format).",
)
@click.option("--loss", metavar="ELEMENTS", help="Declared loss.  [default: what the recovered lots do not carry]")
@write_command
@pass_session
def recycle(session: Session, unit_id: str, outs: tuple[str, ...], outputs_file: Path | None, loss: str | None) -> None:
    """Recycle a waste unit into recovered material lots (RECYCLER).

    Everything recovered counts as post-consumer recycled content when the unit reached an end user
    (an OEM or second-life operator held it) and was used (an SOH record shows energy throughput);
    otherwise it counts as pre-consumer (ISO 14021). The contract decides; `rinne unit show` tells.

    \b
    Example:
      rinne unit recycle PACK-001 --out BM-001:BLACK-MASS:300kg:Ni=40kg,Co=5kg,Li=6kg --account recycler
    """
    with user_input():
        inherit = None
        if len(outs) == 1 and not outputs_file:
            inherit = _specs.used_composition(session.ledger(), _specs.uses([unit_id]))
        specs = _specs.outputs(outs, outputs_file, inherit=inherit)
        loss_comp = rinne.Composition.of(parse_elements(loss)) if loss else None
    ledger = session.signer()
    desc = ", ".join(f"{rinne.label_of(s.lot_id)} ({rinne.label_of(s.material)}, {format_mass(s.mass)})" for s in specs)
    session.confirm(f"Recycle {rinne.label_of(unit_id)} into {desc} {session.who()}")
    with session.busy("recycling"):
        receipt = ledger.recycle(unit_id, specs, loss_comp)
    session.done(receipt, f"recycled {rinne.label_of(unit_id)} into {desc}", unit_id=unit_id, outputs=[s.lot_id for s in specs])
