"""`rinne trace | verify | audit | passport`: proof, recomputed from the chain's own events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

import ledger as rinne

from ._core import (
    CliError,
    Session,
    account_options,
    index_option,
    jsonable,
    open_index,
    pass_session,
    read_command,
    trust_index_option,
)
from ._output import load_names, scope_of
from ._units import FiniteFloat
from .lot import _id

if TYPE_CHECKING:
    from ledger import EventIndex


def _index(session: Session, *, trust: bool = False) -> EventIndex:
    """Open this deployment's event index, bring it up to date and check it (see :func:`open_index`)."""
    return open_index(session, trust=trust)


def _write(text: str, output: Path | None) -> None:
    if output is None:
        click.echo(text)
    else:
        output.write_text(text)
        click.echo(f"wrote {output}", err=True)


@click.command()
@click.argument("lot_id", callback=_id)
@click.option(
    "--direction",
    type=click.Choice(["up", "down", "both"]),
    default="both",
    show_default=True,
    help="Upstream to the mines, downstream to units and recovered lots, or both.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "dot", "html"]),
    default="text",
    show_default=True,
    help="text: a list; json; dot: Graphviz; html: a self-contained page that draws the graph.",
)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE instead of stdout.")
@trust_index_option
@read_command
@pass_session
def trace(session: Session, lot_id: str, direction: str, fmt: str, output: Path | None, trust_index: bool) -> None:
    """Show where a lot or unit came from and where it went.

    The graph is built from the local event index (synced and checked first),
    so it shows every step as recorded on-chain: mines, refining, cathode,
    cells, packs, repurposing and recycling. As text it is a tree, like
    `npm ls`: each lot with its mass, kg CO2e (whole lot) and assurance, each
    edge with the operation, who ran it and the mass used; a lot already shown
    is marked "(as above)". JSON, DOT and HTML hold the whole graph.

    \b
    Examples:
      rinne trace LF005 --direction up
      rinne trace NI-ORE-AU-01 --direction down --format json
      rinne trace LF005 --format html -o lf005.html
    """
    with _index(session, trust=trust_index) as index:
        # The page draws each lot's footprint, recycled share and assurance: computed only where shown.
        t = rinne.trace(index, lot_id, direction=direction, figures=fmt == "html" and not session.json)
        figures = _tree_figures(index, t) if fmt == "text" and not session.json else {}
    if session.json or fmt == "json":
        _write(t.to_json(), output)
    elif fmt == "dot":
        _write(t.to_dot(), output)
    elif fmt == "html":
        _write(t.to_html(), output)
    else:
        names = load_names(session, scope_of(session.ledger()))
        _write("\n".join(_tree(t, figures, direction, names)), output)


#: At most this many lines of a trace tree; the rest is counted (the JSON, DOT and HTML forms hold everything).
_TREE_LINES = 400


def _tree_figures(index: EventIndex, t: Any) -> dict[str, Any]:
    """kg CO2e of the whole lot (as minted, like the mass the tree shows) and assurance of the root and
    every upstream lot of a trace; and, under the key "cut", the recycling operations that are cut off."""
    ids = [bytes.fromhex(lot.id[2:]) for lot in t.lots if lot.role in ("root", "upstream")]
    if not ids or len(ids) > _TREE_LINES:
        return {}
    st = index.substate(index.upstream_lots(bytes.fromhex(t.root[2:])))
    at = index.chain_timestamp or st.last_timestamp
    out: dict[str, Any] = {}
    for i in ids:
        if i in st.lots:
            fp = rinne.footprint(st, i, at=at)
            whole = fp.kg_co2e * fp.minted_mass_g / fp.mass_g if fp.state != "consumed" and fp.mass_g else fp.kg_co2e
            out["0x" + i.hex()] = (whole, fp.assurance)
    out["cut"] = {f"op-{op.pos >> 24}-{op.pos & 0xFFFFFF}" for op in st.ops if any(rinne.cut_off(st, op, i) for i in op.inputs)}
    return out


def _tree(t: Any, figures: dict[str, Any], direction: str, names: Any) -> list[str]:
    """The trace as `npm ls` draws a dependency tree: what each lot was made from (up), or what was made
    from it (down), with masses, kg CO2e and assurance per lot and the operation on each edge."""
    from ._units import format_mass

    lots = {lot.id: lot for lot in t.lots}
    ops = {op.id: op for op in t.ops}
    consumers: dict[str, list[Any]] = {}
    for op in t.ops:
        for lot_id, _ in op.inputs:
            consumers.setdefault(lot_id, []).append(op)
    lines: list[str] = []
    hidden = 0

    def node(lot: Any) -> str:
        what = f"{lot.label} ({lot.material}, {format_mass(lot.mass_g)}"
        if lot.kind == "unit":
            what += ", battery unit"
        if lot.made_by is None:
            what += ", minted" + (f" in {lot.origin_country}" if lot.origin_country else "")
        if lot.state != "active":
            what += f", {lot.state}"
        what += ")"
        if lot.id in figures:
            kg, level = figures[lot.id]
            what += f"  {kg:,.1f} kg CO2e, {level}"
        return what

    cut = figures.get("cut", set())
    printed: set[str] = set()

    def emit(text: str) -> bool:
        nonlocal hidden
        if len(lines) >= _TREE_LINES:
            hidden += 1
            return False
        lines.append(text)
        return True

    def walk(lot_id: str, prefix: str, up: bool, seen: frozenset[str]) -> None:
        if up:
            op = ops.get(lots[lot_id].made_by) if lots[lot_id].made_by else None
            edges = [(op, [(i, used) for i, used in op.inputs if i in lots])] if op else []
        else:
            edges = [(op, [(o, 0) for o in op.outputs if o in lots]) for op in consumers.get(lot_id, [])]
        for k, (op, children) in enumerate(edges):
            last_op = k == len(edges) - 1
            note_ = "; post-consumer: the first life keeps its burden" if op.id in cut else ""
            who = names.account(op.operator) or names.party(op.operator) or f"{op.operator[:10]}…"
            emit(f"{prefix}{'└─' if last_op else '├─'} {op.kind} by {who} (block {op.block}{note_})")
            inner = prefix + ("   " if last_op else "│  ")
            for j, (child, used) in enumerate(children):
                last = j == len(children) - 1
                amount = f"{format_mass(used)} of " if up and used else ""
                again = child in printed and (ops.get(lots[child].made_by) if up else consumers.get(child))
                if not emit(f"{inner}{'└─' if last else '├─'} {amount}{node(lots[child])}{'  (as above)' if again else ''}"):
                    continue
                if child not in seen and not again:
                    printed.add(child)
                    walk(child, inner + ("   " if last else "│  "), up, seen | {child})

    root = lots[t.root]
    emit(node(root))
    if direction in ("up", "both"):
        emit("made from:" if direction == "both" else "")
        walk(t.root, "", True, frozenset({t.root}))
    if direction in ("down", "both"):
        emit("went into:" if direction == "both" else "")
        walk(t.root, "", False, frozenset({t.root}))
    lines = [line for line in lines if line != ""]
    if hidden:
        lines.append(f"… and {hidden} more lines (--format json, dot or html shows the whole graph)")
    lines.append(f"{len(t.lots)} lots, {len(t.ops)} operations; minted: {', '.join(m.label for m in t.mines) or 'none'}")
    return lines


@click.command()
@click.argument("lot_id", callback=_id)
@click.option("--price", type=FiniteFloat(0), metavar="PER_TONNE", help="Carbon price per tonne CO2e, for a cost figure.")
@trust_index_option
@read_command
@pass_session
def verify(session: Session, lot_id: str, price: float | None, trust_index: bool) -> None:
    """Recompute a lot's or unit's claims and say what they rest on.

    Cradle-to-gate kg CO2e (per kWh and per EU Battery Regulation Art. 7
    stage for a battery unit), recycled content per element against the
    Art. 8 targets, the country-of-origin mix, and for a unit the embodied
    CO2e per kWh delivered over its lives. A partly used lot reports what it
    holds now. Each figure is judged when it was used (an expiry after use is
    no weakness). Exits 1 when any part of the footprint rests on a missing,
    self-declared, late, expired or revoked attestation (the weakest link is
    named): the same judgement as `rinne audit --strict`.

    \b
    Examples:
      rinne verify LF005
      rinne verify CAM-02 --price 85 --json
    """
    with _index(session, trust=trust_index) as index:
        fp = rinne.footprint(index, lot_id, price_per_tonne=price)
        rc = rinne.recycled_content(index, lot_id)
        om = rinne.origin_mix(index, lot_id)
        # Lifetime energy comes from SOH records (Annex XIII point 4): opened only with this machine's vault.
        life = rinne.lifetime_carbon(index, lot_id, openings=session.vault(create=False)) if fp.kind == "unit" else None
        inv = rinne.process_inventory(index, lot_id)
        made = rinne.operation_yields(index, lot_id)
    data: dict[str, Any] = {
        "footprint": json.loads(fp.to_json()),
        "recycled_content": json.loads(rc.to_json()),
        "origin": json.loads(om.to_json()),
        "lifetime": json.loads(life.to_json()) if life else None,
        "process_inventory": json.loads(inv.to_json()),
        "yields": made.model_dump(mode="json") if made else None,
    }
    held = f"{fp.mass_g / 1000:,.1f} kg" + (f" left of {fp.minted_mass_g / 1000:,.1f} kg" if fp.mass_g != fp.minted_mass_g else "")
    lines = [
        f"{fp.label} ({fp.material}, {held}{', used up' if fp.state == 'consumed' else ''}): {fp.kg_co2e:,.1f} kg CO2e cradle-to-gate"
    ]
    if fp.excluded_kg:
        # A revoked or expired figure is not zero emissions: say what was left out, and why.
        why = sorted({a.status for c in fp.contributions for a in c.attestations if a.status not in ("verified", "self-declared")})
        lines.append(f"  not counted: {fp.excluded_kg:,.1f} kg CO2e of {', '.join(why)} attestations")
    if fp.per_kwh:
        stages = ", ".join(f"{k} {v:.1f}" for k, v in fp.per_kwh.stages.items())
        lines.append(f"  {fp.per_kwh.kg_co2e_per_kwh:.1f} kg CO2e/kWh ({stages})")
    if fp.carbon_cost:
        lines.append(f"  carbon cost: {fp.carbon_cost.model_dump()}")
    # Assurance levels `verify` exits 0 on: the same as the strict audit's.
    assured = rinne.STRICT_LEVELS
    weakest = ", ".join(rinne.label_of(w) if w.startswith("0x") else w for w in fp.weakest)
    late = sorted({a.uid for c in fp.contributions for a in c.attestations if a.late and a.status == "verified"})
    lines.append(
        f"  assurance: {fp.assurance}"
        + (f" (weakest: {weakest})" if fp.assurance not in assured else "")
        + (f"; {len(late)} accredited attestation(s) came after the lot they cover was used" if late else "")
    )
    shares = ", ".join(f"{e.element} {100 * (e.recycled_share or 0):.0f}%" for e in rc.elements if e.total_g)
    declared = (
        f" ({rc.assurance}: declared at mint by {', '.join(rinne.label_of(x) for x in rc.declared_at_mint)})"
        if rc.declared_at_mint
        else ""
    )
    lines.append(
        f"  recycled: {shares or 'none'}{declared}; Art. 8 "
        + ", ".join(f"{y}: {'met' if m else 'missed' if m is False else 'n/a'}" for y, m in rc.meets.items())
    )
    lines.append(
        "  origin: "
        + "; ".join(
            f"{el} " + ", ".join(f"{c} {100 * s:.0f}%" for c, s in sorted(m.items(), key=lambda kv: -kv[1]))
            for el, m in om.shares.items()
        )
    )
    if life and life.undisclosed_records:
        lines.append(f"  lifetime: {life.undisclosed_records} SOH record(s) not disclosed to this tier: no delivered energy shown")
    elif life and life.delivered_kwh is not None and life.kg_co2e_per_kwh_delivered is not None:
        lines.append(
            f"  lifetime: {life.delivered_kwh:,.0f} kWh delivered, {life.kg_co2e_per_kwh_delivered:.3f} kg CO2e per kWh delivered"
        )
    lines += _inventory_lines(inv)
    if made is not None and made.yields:
        got = ", ".join(f"{e} {100 * y:.1f}%" for e, y in made.yields.items())
        lines.append(f"  yield of the {made.operation} that made it: {got} (product output over input, per element)")
        if made.by_product_lots:
            by = ", ".join(f"{e} {100 * y:.1f}%" for e, y in made.by_products.items() if y)
            lines.append(
                f"  by-products of that {made.operation} (residues, or lots whose content does not fit their material): "
                f"{by or 'none of the elements'} in {', '.join(made.by_product_lots)}, not in the yield"
            )
    session.emit(data, lines)
    if fp.assurance not in assured:
        # The report above is the data; the exit status is the verdict (like `audit --strict`).
        raise CliError(f"{rinne.label_of(lot_id)}'s footprint rests on {fp.assurance} attestations: {weakest}")


def _inventory_lines(inv: Any) -> list[str]:
    """The process inventory roll-up and the grade, as `rinne verify` prints them (issue 19)."""
    lines = []
    if not any(c.inventories for c in inv.contributions):
        lines.append("  energy, water: no process inventory upstream")
    else:
        renewable = f"{100 * inv.renewable_share:.0f}% renewable" if inv.renewable_share is not None else "no energy counted"
        routes = "".join(f"; {r} {kwh:,.0f} kWh" for r, kwh in sorted(inv.routes.items()))
        lines.append(
            f"  energy: {inv.energy_kwh:,.1f} kWh cradle-to-gate ({renewable}{routes}); water {inv.water_withdrawn_m3:,.2f} m³ withdrawn,"
            f" {inv.water_consumed_m3:,.2f} m³ consumed; assurance: {inv.assurance}"
        )
        if inv.excluded_energy_kwh:
            lines.append(
                f"  not counted: {inv.excluded_energy_kwh:,.1f} kWh of inventories that do not count (revoked, expired, late, not by the producer)"
            )
        if inv.per_kwh:
            pk = inv.per_kwh
            lines.append(
                f"  {pk.energy_kwh_per_kwh:.1f} kWh and {1000 * pk.water_consumed_m3_per_kwh:.1f} l water consumed per rated kWh"
                + (
                    f"; {pk.energy_kwh_per_kwh_delivered:.3f} kWh per kWh delivered"
                    if pk.energy_kwh_per_kwh_delivered is not None
                    else ""
                )
            )
    g = inv.grade
    if g is not None and g.basis == "derived":
        verdict = g.grade or f"below {g.candidate}"
        lines.append(
            f"  grade: {verdict} (derived from the creator's declared content, self-declared: purity {100 * g.purity:.2f}%, "
            f"needs {100 * g.required:.2f}%; {g.source})"
        )
    elif g is not None:
        lines.append(f"  grade: {g.grade} (attested, {g.assurance})")
    return lines


@click.command()
@click.option(
    "--html", "html_out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the report as a self-contained HTML page."
)
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), help="Also write the JSON report to FILE.")
@click.option("--no-storage", is_flag=True, help="Skip comparing the rebuilt state with contract storage (faster on remote nodes).")
@click.option("--strict", is_flag=True, help="Also fail when any unit's or end lot's footprint rests on a claim weaker than verified.")
@click.option(
    "--checkpoint",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Start from this signed checkpoint of an earlier audit: replay only what came after it.",
)
@click.option(
    "--save-checkpoint",
    type=click.Path(dir_okay=False, path_type=Path),
    help="When the ledger passes, write a checkpoint of this audit, signed with --account (an AUDITOR).",
)
@click.option(
    "--trust",
    "trusted",
    multiple=True,
    metavar="ADDRESS|ACCOUNT",
    help="An auditor whose checkpoints to take (repeat).  [default: --account's own]",
)
@read_command
@account_options
@index_option
@pass_session
def audit(
    session: Session,
    html_out: Path | None,
    report: Path | None,
    no_storage: bool,
    strict: bool,
    checkpoint: Path | None,
    save_checkpoint: Path | None,
    trusted: tuple[str, ...],
) -> None:
    """Replay the whole ledger from its events: its integrity, then every claim.

    Integrity (PASSED/FAILED, the exit status): rebuilds the state from the
    deployment block, proves completeness with both contracts' ledger heads
    (sequence and running hash), compares the rebuilt state with contract
    storage, re-verifies every attestation signature offline, recomputes
    conservation for every transform and recycling, and flags unaccredited
    signers, custody gaps, and frozen lots used downstream.

    Claims: for every live unit and every live lot nothing live was made from,
    what its footprint rests on (verified, self-declared, missing, late,
    expired, revoked), judged when each figure was used, as `rinne verify`
    reports it. A weak claim is listed; it fails the run only with --strict.

    \b
    Examples:
      rinne audit
      rinne audit --strict
      rinne audit --html audit.html --report audit.json
      rinne audit --save-checkpoint audit.cp --account auditor
      rinne audit --checkpoint audit.cp --save-checkpoint audit.cp --account auditor

    With --checkpoint, the replay starts from the state an earlier audit
    signed, once its signer (--account's own, or one named by --trust) is
    an active AUDITOR, its block is still on the chain with that hash and
    both contracts' ledger heads at that block are the ones it names; only
    the events after it are replayed, checked against the chain's logs and
    compared with storage.
    """
    for out in (html_out, report, save_checkpoint):
        # Check every destination before writing any, so a bad one leaves no half-written output.
        if out is not None and not out.parent.is_dir():
            raise click.BadParameter(f"{out.parent} is not a folder", param_hint="--html/--report")
    incremental = checkpoint is not None
    ledger = session.signer() if (save_checkpoint is not None or (incremental and not trusted)) else session.ledger()
    trust = [session.resolve_address(t, "--trust") for t in trusted] if trusted else None
    # The authority tier opens every SOH record: this data directory's vault, when its key is the one the
    # deployment record names (anyone else's audit leaves SOH values unchecked, and says so).
    vault = session.vault(create=False)
    authority = ledger.deployment.authority_vault_key if ledger.deployment is not None else None
    soh_openings = vault if vault is not None and authority and "0x" + vault.public_key.hex() == authority else None
    with open_index(session, check=not incremental) as index:
        result = rinne.audit(
            ledger,
            index,
            sync=False,
            check_storage=not no_storage,
            index_checked=not incremental,
            checkpoint=checkpoint,
            trusted=trust,
            save_checkpoint=save_checkpoint,
            soh_openings=soh_openings,
        )
    if html_out:
        html_out.write_text(result.to_html())
    if report:
        report.write_text(result.to_json())
    data = json.loads(result.to_json())
    lines = [
        f"audit {'PASSED' if result.passed else 'FAILED'}: {result.events} events, {result.lots} lots, "
        f"{result.attestation_count} attestations, {result.signatures_checked} signatures, blocks {result.from_block}-{result.to_block}"
        + (f" (from the checkpoint at block {result.checkpoint_block})" if result.checkpoint_block is not None else "")
    ]
    if save_checkpoint is not None and result.passed:
        lines.append(
            f"checkpoint written: {save_checkpoint} (block {result.to_block}, signed by {ledger.account.address if ledger.account else '?'})"
        )
    lines += [f"  {f.code} {f.label}: {f.message}" for f in result.flags]
    weak = result.weak_claims()
    by_level: dict[str, list[str]] = {}
    for c in weak:
        by_level.setdefault(c.level, []).append(c.label)
    counts = [
        f"{n} {level}" + (f" ({_names(by_level[level])})" if level in by_level else "") for level, n in result.claim_counts().items()
    ]
    lines.append(f"claims: {', '.join(counts) if counts else 'none (no live unit or end lot)'}")
    lines += [f"  {c.level} {c.label}: {c.message}" for c in weak]
    # SOH values are off-chain (Annex XIII point 4): only the authority tier's vault key opens them all.
    lines.append(
        f"SOH records: {result.soh_records_opened} opened with the authority vault key and re-checked"
        if result.soh_records_opened is not None
        else "SOH records: values not checked (this data directory holds no authority vault key of the deployment)"
    )
    session.emit(data, lines)
    if not result.passed:
        raise CliError(f"audit flagged {len(result.flags)} problem(s): {', '.join(sorted(result.flag_codes()))}")
    if strict and weak:
        raise CliError(
            f"strict audit: {len(weak)} claim(s) weaker than verified: "
            + "; ".join(f"{level} {_names(labels)}" for level, labels in by_level.items())
        )


def _names(labels: list[str], limit: int = 5) -> str:
    """Return up to `limit` labels, comma-separated, saying how many more there are."""
    return ", ".join(labels[:limit]) + (f" and {len(labels) - limit} more" if len(labels) > limit else "")


def _identity(session: Session, unit: str, disclosure_file: Path | None) -> Any:
    """The unit's identity record to verify and show: a disclosure file, or the opening in the data directory's vault."""
    if disclosure_file is not None:
        try:
            return rinne.Disclosure.from_json(disclosure_file.read_bytes())
        except OSError as e:
            raise CliError(f"cannot read {disclosure_file}: {e.strerror or e}") from None
    vault = session.vault(create=False)
    record = rinne.unit_record_id(unit)
    if vault is None or record not in vault:
        return None
    try:
        return vault.openings(record)
    except rinne.errors.DisclosureError:
        return None  # in the vault, but not granted to this key: the passport shows no serial


@click.command()
@click.argument("lot_id", callback=_id)
@click.option("--pact", is_flag=True, help="Export a PACT product footprint (any lot) instead of a battery passport.")
@click.option(
    "--pact-version",
    type=click.Choice(["2.2", "3.0"]),
    default="3.0",
    show_default=True,
    help="PACT Technical Specification of the --pact export (3.0, the current one: declared unit, decimals as "
    "strings, verification; 2.2 for partners not yet on 3.0).",
)
@click.option(
    "--tier",
    type=click.Choice(["public", "legitimate-interest", "authority"]),
    default="authority",
    show_default=True,
    help="Access tier (Art. 77(2), Annex XIII points 1-4): export only the fields this tier may see.",
)
@click.option(
    "--declarations",
    "declarations_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON file of declared data the ledger does not hold (documents, addresses, rated values, Art. 7 inputs); "
    "it can never overwrite a ledger field.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["batterypass", "idta"]),
    default="batterypass",
    show_default=True,
    help="Passport data model: one member per Battery Pass 1.2.0 aspect, or the seven IDTA-02035 submodels "
    "(AAS value-only JSON, one member per submodel).",
)
@click.option("--html", "html_out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the passport as an HTML page.")
@click.option(
    "--qr",
    "qr_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the passport URL's QR code to FILE (.svg or .png); needs the declared identifier.",
)
@click.option(
    "--disclosure",
    "disclosure_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A disclosure of the unit's identity record (`rinne disclose --out`) to show with its proofs.  "
    "[default: the opening in this data directory's vault, if it holds it]",
)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write the JSON to FILE instead of stdout.")
@trust_index_option
@read_command
@pass_session
def passport(
    session: Session,
    lot_id: str,
    pact: bool,
    pact_version: str,
    tier: str,
    declarations_file: Path | None,
    disclosure_file: Path | None,
    fmt: str,
    html_out: Path | None,
    qr_out: Path | None,
    output: Path | None,
    trust_index: bool,
) -> None:
    """Export a battery passport (Battery Pass 1.2.0 aspect models) or a PACT footprint.

    The passport has one member per Battery Pass aspect (general product
    information, carbon footprint, circularity, material composition, labels,
    performance and durability 1.2.1, supply chain due diligence) and Rinne's own
    data under extensions.rinne, all recomputed from events; --declarations adds
    what only the economic operator can declare (docs/passport-mapping.md).
    --format idta exports the same figures as the seven IDTA-02035 submodels.

    \b
    Examples:
      rinne passport LF005 -o lf005-passport.json --html lf005.html
      rinne passport LF005 --tier public --declarations lf005-declared.json
      rinne passport LF005 --format idta -o lf005-idta.json
      rinne passport CAM-02 --pact
      rinne passport CAM-02 --pact --pact-version 2.2
    """
    if fmt == "idta" and (pact or html_out or qr_out):
        # The page, the QR code and PACT are built from the Battery Pass document or are not passports.
        raise click.UsageError("--format idta writes the submodels only: drop --pact, --html and --qr")
    qr_kind = None
    if qr_out is not None:
        qr_kind = qr_out.suffix.lower().lstrip(".")
        if qr_kind not in ("svg", "png") or pact:
            raise click.BadParameter("a passport's QR code is written to a .svg or .png file", param_hint="--qr")

    declarations = None
    if declarations_file is not None:
        try:
            declarations = json.loads(declarations_file.read_text())
        except (OSError, ValueError) as e:
            raise CliError(f"cannot read declarations {declarations_file}: {e}") from None
        if not isinstance(declarations, dict):
            raise CliError(f"declarations {declarations_file} must be a JSON object")
    identity = _identity(session, lot_id, disclosure_file)
    ledger = session.ledger()
    d = ledger.deployment
    with _index(session, trust=trust_index) as index:
        if pact:
            export = rinne.pact_footprint_v3 if pact_version == "3.0" else rinne.pact_footprint
            doc = export(index, lot_id, chain_id=d.chain_id, ledger_address=d.ledger)
        else:
            passport_of = rinne.idta_passport if fmt == "idta" else rinne.battery_passport
            doc = dict(
                passport_of(
                    index,
                    lot_id,
                    chain_id=d.chain_id,
                    ledger_address=d.ledger,
                    declarations=declarations,
                    tier=tier,
                    identity=identity,
                    soh_openings=session.vault(create=False),
                )
            )
    qr = rinne.passport_qr(doc, qr_kind) if qr_kind else None  # before any file is written: a missing URL leaves none
    if html_out and not pact:
        html_out.write_text(rinne.passport_html(doc))
    if qr_out is not None and qr is not None:
        qr_out.write_bytes(qr)
    _write(json.dumps(jsonable(doc), indent=2), output)
