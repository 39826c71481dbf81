#!/usr/bin/env python3
"""Incremental audit: a full audit of a ledger that writes a signed checkpoint, then 1,000 new events and
an audit from that checkpoint, against a full audit of the same grown ledger in the same run.

Usage: python scripts/bench_audit_incremental.py [--events 100000] [--new 1000] [--quick] [--json]
                                                [--sizes 100000,1000000]
                                                [--index-backend sqlite|postgresql] [--pg-url postgresql://...]

The ledger is made by the bulk path as scripts/bench_replay.py makes it (mints, offers, accepts). Figures:
the seconds of the full audit that writes the checkpoint, of the incremental audit of the new events
(checkpoint read, signature, block hash and both heads checked on-chain, state file verified and
loaded, new events replayed, their lots' storage and their signatures checked, every claim judged),
of a full audit of the grown ledger, and the ratio incremental / full. `--index-backend postgresql` keeps
the index in a PostgreSQL schema (a throwaway server from scripts/pg-test-server.sh unless `--pg-url`).
`--sizes` makes one such run at each size (a fresh node each) and prints a row a size.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path

from bench_common import (
    Timer,
    emit,
    fresh_chain,
    log,
    machine,
    parse_backends,
    peak_rss_mb,
    pg_server,
    pg_settings,
    print_table,
    verdict,
)
from bench_replay import COMP, make_events

from ledger import EventIndex, LotSpec, Role, audit


def run(events: int, new: int, quiet: bool, pg_url: str | None = None) -> dict:
    from bench_queries import MAKER_ROLES  # make_events' traced unit needs a maker of every kind

    with fresh_chain({"miner": Role.MINER, "refiner": Role.REFINER, "maker": MAKER_ROLES, "auditor": Role.AUDITOR}, bulk=True) as b:
        made = make_events(b, events, quiet)
        auditor = b["auditor"]
        work = Path(tempfile.mkdtemp(prefix="rinne-bench-cp-"))
        schema = f"bench_{time.time_ns()}"
        ix = EventIndex.open(f"{pg_url}{'&' if '?' in pg_url else '?'}schema={schema}" if pg_url else work / "index.sqlite")
        ix.sync(auditor, confirmations=0)
        checkpoint = work / "audit.checkpoint"
        log(f"incremental: full audit of {ix.event_count():,} events, writing the checkpoint ...", quiet=quiet)
        with Timer() as t_first:
            first = audit(auditor, ix, sync=False, save_checkpoint=checkpoint)
        lots = max(1, new)  # one LotCreated each
        b["miner"].mint_many([LotSpec(lot_id=f"N-{k}", material="ORE-NMC", mass=1_000_000 + k, composition=COMP) for k in range(lots)])
        ix.sync(auditor, confirmations=0)
        added = ix.event_count() - first.events
        log(f"incremental: {added:,} new events; audit from the checkpoint, then in full ...", quiet=quiet)
        with Timer() as t_inc:
            inc = audit(auditor, ix, sync=False, checkpoint=checkpoint)
        with Timer() as t_full:
            full = audit(auditor, ix, sync=False)
        if pg_url:
            ix.conn.execute(f"DROP SCHEMA {schema} CASCADE")
        ix.close()
        state_mb = round((checkpoint.with_name(checkpoint.name + ".state")).stat().st_size / 2**20, 1)
        claims_mb = round((checkpoint.with_name(checkpoint.name + ".claims")).stat().st_size / 2**20, 1)
    if (inc.events, inc.heads) != (full.events, full.heads) or not (inc.passed and full.passed):
        raise SystemExit("the incremental audit does not agree with the full one")
    return {
        **made,
        "events": full.events,
        "new_events": added,
        "first_audit_s": round(t_first.s, 2),
        "incremental_audit_s": round(t_inc.s, 3),
        "full_audit_s": round(t_full.s, 2),
        "incremental_vs_full": round(t_inc.s / t_full.s, 3),
        "checkpoint_state_mb": state_mb,
        "checkpoint_claims_mb": claims_mb,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "storage_checked_incremental": inc.storage_checked,
        "storage_checked_full": full.storage_checked,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="events of the ledger before the checkpoint (default 100,000)")
    parser.add_argument("--new", type=int, default=1_000, help="new events after it (about; default 1,000)")
    parser.add_argument("--sizes", default="", help="comma-separated event counts: a run at each (fresh node), a row each")
    parser.add_argument("--quick", action="store_true", help="20,000 events")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--index-backend", default="sqlite", help="sqlite or postgresql (default sqlite)")
    parser.add_argument("--pg-url", help="PostgreSQL server to use (default: a throwaway one from scripts/pg-test-server.sh)")
    args = parser.parse_args(argv)
    if args.quick:
        args.events = min(args.events, 20_000)
    backends = parse_backends(args.index_backend)
    if len(backends) != 1:
        raise SystemExit("--index-backend takes one backend here")
    with contextlib.ExitStack() as stack:
        pg_url = stack.enter_context(pg_server(args.pg_url)) if backends[0] == "postgresql" else None
        sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
        if sizes:
            return _by_size(sizes, args, backends[0], pg_url)
        result = {"benchmark": "audit_incremental", "backend": backends[0], **run(args.events, args.new, args.json, pg_url)}
        if pg_url:
            result["postgresql"] = pg_settings(pg_url)
    result["machine"] = machine()
    if args.json:
        emit(result, True)
        return 0
    print_table(
        f"Incremental audit ({result['backend']}): {result['new_events']:,} new events on {result['events'] - result['new_events']:,}",
        [
            ["full audit, writing the checkpoint", f"{result['first_audit_s']} s", ""],
            [
                "audit from the checkpoint",
                f"{result['incremental_audit_s']} s",
                verdict(result["incremental_audit_s"], 2.0, at_most=True),
            ],
            ["full audit of the same ledger (reference)", f"{result['full_audit_s']} s", ""],
            ["incremental / full", result["incremental_vs_full"], ""],
            ["checkpoint state file", f"{result['checkpoint_state_mb']} MB", ""],
            ["checkpoint claims file", f"{result['checkpoint_claims_mb']} MB", ""],
        ],
        ["figure", "value", "goal < 2 s"],
    )
    return 0


def _by_size(sizes: list[int], args: argparse.Namespace, backend: str, pg_url: str | None) -> int:
    """One run at each size, a row each (`--sizes`)."""
    rows = [run(size, args.new, args.json, pg_url) for size in sizes]
    if args.json:
        emit({"benchmark": "audit_incremental", "backend": backend, "sizes": rows, "machine": machine()}, True)
        return 0
    print_table(
        f"Incremental audit by ledger size ({backend})",
        [
            [
                f"{r['events'] - r['new_events']:,}",
                f"{r['new_events']:,}",
                r["first_audit_s"],
                r["incremental_audit_s"],
                r["full_audit_s"],
                r["incremental_vs_full"],
                f"{r['checkpoint_state_mb']} + {r['checkpoint_claims_mb']}",
                verdict(r["incremental_audit_s"], 2.0, at_most=True),
            ]
            for r in rows
        ],
        ["events", "new", "full + checkpoint s", "incremental s", "full s", "inc / full", "state + claims MB", "goal < 2 s"],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
