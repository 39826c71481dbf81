"""`rinne report`: figures over a period, recomputed from the chain's events."""

from __future__ import annotations

import click

import ledger as rinne

from ._core import OrderedGroup, Session, open_index, parsed, pass_session, read_command, trust_index_option
from ._units import format_mass, format_time, parse_time, parse_time_end


@click.group(cls=OrderedGroup)
def report() -> None:
    """Reports over a period: a recycler's recovery against EU 2023/1542 Annex XII.

    \b
    Example:
      rinne report recycling --recycler recycler --from 2027-01-01 --to 2027-12-31
    """


@report.command("recycling")
@click.option("--recycler", required=True, metavar="NAME|ADDRESS", help="The recycler: a local account name or an address.")
@click.option(
    "--from",
    "start",
    metavar="TIME",
    callback=parsed(parse_time),
    help="Start of the period (2027-01-01, @unix).  [default: the beginning]",
)
@click.option(
    "--to",
    "end",
    metavar="TIME",
    callback=parsed(parse_time_end),
    help="End of the period, inclusive (a bare date: to the end of that day).  [default: now]",
)
@trust_index_option
@read_command
@pass_session
def recycling(session: Session, recycler: str, start: int | None, end: int | None, trust_index: bool) -> None:
    """Recycling efficiency and material recovery per element of the units a
    recycler recycled in a period, against the Annex XII targets.

    Recovery counts an element only in recovered materials (a sulphate,
    carbonate, hydroxide or metal whose content fits its code), following
    intermediates such as black mass through the recycler's later steps and
    those of the next registered recyclers, so each step's declared loss counts;
    residues and slags recover nothing, and intermediates not yet refined are
    shown apart. Efficiency is the recycling outputs' mass over the units' mass
    (docs/methodology.md §8).

    \b
    Examples:
      rinne report recycling --recycler recycler --from 2027-01-01 --to 2027-12-31
      rinne report recycling --recycler 0x5aAe... --json
    """
    address = session.resolve_address(recycler, "--recycler")
    with open_index(session, trust=trust_index) as index:
        st = index.state()
        r = rinne.recycling_report(
            st, address, start=start or 0, end=end if end is not None else max(index.chain_timestamp, st.last_timestamp)
        )
    lines = [
        f"{recycler}: {len(r.units)} unit(s) recycled {format_time(r.start) if r.start else 'from the start'} to {format_time(r.end)}, "
        f"{format_mass(r.input_mass_g)} in, {format_mass(r.output_mass_g)} out of recycling",
        "recycling efficiency: " + (f"{100 * r.recycling_efficiency:.1f} %" if r.recycling_efficiency is not None else "n/a"),
        "process route: " + (", ".join(f"{w} ({a})" for w, a in r.routes.items()) or "none attested"),
    ]
    lines += [
        f"  {e}: {format_mass(r.recovered_g[e])} of {format_mass(g)} recovered, {100 * r.recovery[e]:.1f} %"
        + (f"; {format_mass(r.intermediate_g[e])} still in intermediates (not yet recovered)" if r.intermediate_g.get(e) else "")
        + (f"; {format_mass(r.lost_g[e])} lost or in residues" if r.lost_g.get(e) else "")
        for e, g in r.input_g.items()
    ]
    lines += [
        f"  Annex XII {t.what} by {t.deadline}: {100 * t.target:.0f} % "
        + ("met" if t.met else "missed" if t.met is False else "n/a (none taken in)")
        for t in r.targets
    ]
    session.emit(r.model_dump(mode="json"), lines)
