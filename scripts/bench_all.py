#!/usr/bin/env python3
"""Run the six benchmarks (gas, bulk ingest, replay and index, queries, signatures, CLI start-up), each in
its own process (the chain ones on their own fresh Anvil), and print one table, or with --json one
combined JSON object.

Usage: python scripts/bench_all.py [--quick] [--json] [--only gas,ingest,replay,queries,verify,startup]

Default sizes take about 5 minutes on 2 cores; --quick about 1 minute. Each line of the table says
which script and arguments reproduce it.
"""

from __future__ import annotations

import argparse
import sys
import time

from bench_common import emit, log, machine, print_table, run_child, verdict

#: key, goal text, goal value, at most?, which benchmark
GOALS = [
    ("mint", "<= 100k gas", 100_000, True, "gas"),
    ("offer_plus_accept", "<= 65k gas", 65_000, True, "gas"),
    ("transform_4_1", "<= 160k gas", 160_000, True, "gas"),
    ("transform_per_extra_input", "<= 12k gas", 12_000, True, "gas"),
    ("attest", "<= 150k gas", 150_000, True, "gas"),
    ("split_2", "<= 180k gas", 180_000, True, "gas"),
    ("bulk_lots_per_s", ">= 1,000/s", 1_000, False, "ingest"),
    ("bulk_vs_naive", ">= 10x", 10, False, "ingest"),
    ("replay_events_per_s", ">= 10,000/s", 10_000, False, "replay"),
    ("replay_vs_raw", ">= 0.70", 0.70, False, "replay"),
    ("sync_vs_raw", ">= 0.70", 0.70, False, "replay"),
    ("trace_10k_ms", "< 100 ms", 100, True, "queries"),
    ("rollup_1k_units_ms", "< 1,000 ms", 1_000, True, "queries"),
    ("verify_per_s", ">= 2,000/s", 2_000, False, "verify"),
    ("rinne_help_s", "<= 0.3 s", 0.3, True, "startup"),
]
#: Other keys worth a line in the table.
EXTRA = {
    "gas": [
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
    "ingest": ["naive_lots_per_s", "bulk_automine_lots_per_s", "node_ceiling_lots_per_s", "bulk_gas_per_lot"],
    "replay": [
        "events",
        "raw_getlogs_events_per_s",
        "index_sync_events_per_s",
        "audit_events_per_s",
        "replay_peak_rss_mb",
        "sync_peak_rss_mb",
    ],
    "queries": ["trace_10k_cold_ms", "footprint_reports_1k_units_ms", "index_events"],
    "verify": [],
    "startup": ["python_pass_s"],
}


def commands(quick: bool) -> dict[str, tuple[str, list[str]]]:
    q = ["--quick"] if quick else []
    return {
        "gas": ("bench_gas.py", []),
        "ingest": ("bench_ingest.py", q),
        "replay": ("bench_replay.py", q),
        "queries": ("bench_queries.py", q),
        "verify": ("bench_verify.py", ["--seconds", "1" if quick else "3"]),
        "startup": ("bench_startup.py", ["--runs", "5" if quick else "20"]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (about a minute)")
    parser.add_argument("--json", action="store_true", help="print one combined JSON object")
    parser.add_argument("--only", default="gas,ingest,replay,queries,verify,startup", help="comma-separated subset")
    args = parser.parse_args(argv)
    cmds = commands(args.quick)
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
            if k not in ("benchmark", "machine", "goals", "budgets", "scaling") and k not in combined:
                combined[k] = v
    goals = {}
    for key, text, goal, at_most, _bench in GOALS:
        if key in combined:
            goals[key] = {"value": combined[key], "goal": text, "verdict": verdict(combined[key], goal, at_most=at_most)}
    combined["goals"] = goals
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
    m = combined["machine"]
    print(
        f"\nmachine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB; Python {m['python']}, web3 {m['web3']}, anvil {m['anvil']}, "
        f"keccak {m['keccak']}; load {m['load_avg_1m']}; run time {sum(seconds.values()):.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
