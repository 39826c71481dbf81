#!/usr/bin/env python3
"""Run the eight benchmarks (gas, index sync, CLI import, bulk ingest, replay and index, queries, signatures, CLI start-up), each in
its own process (the chain ones on their own fresh Anvil), and print one table, or with --json one
combined JSON object.

Usage: python scripts/bench_all.py [--quick] [--json] [--only gas,sync,import,ingest,replay,queries,verify,startup]

Default sizes (the replay at 10k, 100k and 1M events with the growth chart, an import of 100,000 lots)
take about 25 minutes on 2 cores; --quick about 2 minutes. Each line of the table says which script and
arguments reproduce it; the growth table follows it. Where PostgreSQL's server binaries are installed the
replay also syncs and audits each chain into a throwaway PostgreSQL server (issue 15), and a table by
backend follows; `--index-backend sqlite` leaves it out.
"""

from __future__ import annotations

import argparse
import glob
import shutil
import sys
import time
from pathlib import Path

from bench_common import emit, log, machine, print_table, run_child, verdict

#: key, goal text, goal value, at most?, which benchmark — issue 16's table, in its order.
GOALS = [
    ("sync_vs_raw", ">= 0.80 of raw fetch", 0.80, False, "sync"),
    ("replay_vs_raw", ">= 0.50 of raw fetch", 0.50, False, "replay"),
    ("replay_peak_rss_mb", "< 300 MB, flat to 1M", 300, True, "replay"),
    ("rinne_help_s", "< 0.3 s", 0.3, True, "startup"),
    ("lot_show_s", "< 0.6 s", 0.6, True, "import"),
    ("import_lots_per_s", ">= 5,000 lots/s", 5_000, False, "import"),
    ("import_again_lots_per_s", ">= 20,000 lots/s", 20_000, False, "import"),
    ("mint", "<= 90k gas", 90_000, True, "gas"),
    ("offer_plus_accept", "<= 80k gas", 80_000, True, "gas"),
    ("transform_4_1", "<= 155k gas", 155_000, True, "gas"),
    ("split_2", "<= 175k gas", 175_000, True, "gas"),
    ("attest_vs_eas", "<= 0.40 of EAS attestByDelegation", 0.40, True, "gas"),
    ("bulk_vs_naive", ">= 10x (wave 1)", 10, False, "ingest"),
    ("trace_10k_ms", "< 100 ms (wave 1)", 100, True, "queries"),
    ("rollup_1k_units_ms", "< 1,000 ms (wave 1)", 1_000, True, "queries"),
    ("verify_per_s", ">= 2,000/s (wave 1)", 2_000, False, "verify"),
]
#: Other keys worth a line in the table.
EXTRA = {
    "gas": [
        "attest",
        "erc1155_mint_new_id",
        "erc1155_transfer",
        "mint_vs_erc1155",
        "eas_attest_by_delegation_recorded",
        "offer",
        "accept",
        "mint_batch_per_lot",
        "offer_batch_per_lot",
        "accept_batch_per_lot",
        "split_8",
        "merge_2",
        "merge_8",
        "merge_32",
        "transform_1_1",
        "transform_16_1",
        "transform_16_2",
        "attest_erc1271",
        "revoke",
        "soh",
        "set_status",
        "build_unit",
        "repurpose",
        "recycle",
    ],
    "sync": ["raw_getlogs_events_per_s", "index_sync_events_per_s", "sync_peak_rss_mb"],
    "import": ["import_seconds", "import_again_seconds", "library_mint_many_lots_per_s", "rinne_help_same_run_s"],
    "ingest": ["bulk_lots_per_s", "naive_lots_per_s", "bulk_automine_lots_per_s", "node_ceiling_lots_per_s", "bulk_gas_per_lot"],
    # The replay's raw fetch, sync and their peak RSS are in the growth table (the same keys are the sync
    # benchmark's above).
    "replay": ["events", "audit_events_per_s", "replay_events_per_s", "trace_cold_ms", "trace_ms"],
    "queries": ["trace_10k_cold_ms", "footprint_reports_1k_units_ms", "index_events"],
    "verify": [],
    "startup": ["python_pass_s"],
}


#: Where `make bench` draws the growth chart of the replay runs.
CHART = str(Path(__file__).resolve().parent.parent / "docs" / "performance-growth.png")


def default_backends() -> str:
    """Both index backends when a PostgreSQL server can be started here (scripts/pg-test-server.sh), else SQLite."""
    return "sqlite,postgresql" if shutil.which("initdb") or glob.glob("/usr/lib/postgresql/*/bin/initdb") else "sqlite"


def commands(quick: bool, backends: str = "sqlite") -> dict[str, tuple[str, list[str]]]:
    q = ["--quick"] if quick else []
    # The full run: the replay at 10k, 100k and 1M events (its headline figures are the 100k run) with the
    # growth chart, and the import of 100,000 lots.
    replay = q if quick else ["--sizes", "10000,100000,1000000", "--chart", CHART]
    if backends != "sqlite":
        replay = [*replay, "--index-backend", backends]
    return {
        "gas": ("bench_gas.py", []),
        # The headline sync / raw ratio: the sync and the raw fetch alternately, median of each (the
        # replay's own ratio, one sync against the raw fetches around it, is in the growth table).
        "sync": ("bench_sync.py", ["--events", "20000", "--repeat", "3"] if quick else ["--repeat", "5"]),
        "import": ("bench_import.py", ["--lots", "5000" if quick else "100000"]),
        "ingest": ("bench_ingest.py", q),
        "replay": ("bench_replay.py", replay),
        "queries": ("bench_queries.py", q),
        "verify": ("bench_verify.py", ["--seconds", "1" if quick else "3"]),
        "startup": ("bench_startup.py", ["--runs", "5" if quick else "20"]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (about a minute)")
    parser.add_argument("--json", action="store_true", help="print one combined JSON object")
    parser.add_argument("--only", default="gas,sync,import,ingest,replay,queries,verify,startup", help="comma-separated subset")
    parser.add_argument(
        "--index-backend",
        default=None,
        help="index backends of the replay (default: sqlite,postgresql where PostgreSQL is installed, else sqlite)",
    )
    args = parser.parse_args(argv)
    cmds = commands(args.quick, args.index_backend or default_backends())
    results: dict[str, dict] = {}
    seconds: dict[str, float] = {}
    for name in [n.strip() for n in args.only.split(",") if n.strip()]:
        script, extra = cmds[name]
        log(f"bench_all: {name} ({script} {' '.join(extra)}) ...")
        t0 = time.perf_counter()
        results[name] = run_child(script, extra)
        seconds[name] = round(time.perf_counter() - t0, 1)
    combined: dict = {}
    for res in results.values():
        for k, v in res.items():
            if k not in ("benchmark", "machine", "goals", "budgets", "scaling", "by_backend", "backends") and k not in combined:
                combined[k] = v
    goals = {}
    for key, text, goal, at_most, _bench in GOALS:
        if key in combined:
            goals[key] = {"value": combined[key], "goal": text, "verdict": verdict(combined[key], goal, at_most=at_most)}
    combined["goals"] = goals
    growth = results.get("replay", {}).get("scaling")
    if growth:
        combined["growth"] = growth
    by_backend = results.get("replay", {}).get("by_backend")
    if by_backend and len({r["backend"] for r in by_backend}) > 1:
        combined["by_backend"] = by_backend
    combined["seconds"] = seconds
    combined["quick"] = args.quick
    combined["machine"] = machine()
    if args.json:
        emit(combined, True)
        return 0
    rows = []
    for key, text, _goal, _at_most, bench in GOALS:
        if key in combined:
            script, extra = cmds[bench]
            rows.append((key, combined[key], text, goals[key]["verdict"], f"scripts/{script} {' '.join(extra)}".strip()))
    for bench, keys in EXTRA.items():
        script, extra = cmds[bench]
        for key in keys:
            if key in combined:
                rows.append((key, combined[key], "", "", f"scripts/{script} {' '.join(extra)}".strip()))
    print_table("Rinne benchmarks" + (" (--quick)" if args.quick else ""), rows, ("key", "value", "goal", "verdict", "reproduce with"))
    if growth:
        cols = (
            "events",
            "mint_lots_per_s",
            "raw_getlogs_events_per_s",
            "index_sync_events_per_s",
            "audit_events_per_s",
            "replay_events_per_s",
            "sync_peak_rss_mb",
            "replay_peak_rss_mb",
            "trace_cold_ms",
            "trace_ms",
        )
        print_table("Growth (scripts/bench_replay.py --sizes ...)", [tuple(g[c] for c in cols) for g in growth], cols)
    if "by_backend" in combined:
        cols = (
            "events",
            "backend",
            "index_sync_events_per_s",
            "audit_events_per_s",
            "replay_events_per_s",
            "replay_peak_rss_mb",
            "index_mb",
            "audit_passed",
        )
        print_table(
            "By index backend (scripts/bench_replay.py --index-backend sqlite,postgresql)",
            [tuple(r[c] for c in cols) for r in combined["by_backend"]],
            cols,
        )
    m = combined["machine"]
    print(
        f"\nmachine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB; Python {m['python']}, web3 {m['web3']}, anvil {m['anvil']}, "
        f"keccak {m['keccak']}; load {m['load_avg_1m']}; run time {sum(seconds.values()):.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
