#!/usr/bin/env python3
"""Replay and index: ledger events made by the bulk path, then an index sync from scratch and a full
audit replay, in events/s and peak RSS, against a raw eth_getLogs fetch of the same range in the
same run, on a fresh Anvil this script starts.

Usage: python scripts/bench_replay.py [--events 100000] [--sizes 10000,100000,1000000] [--chart PNG] [--quick] [--json]
                                     [--index-backend sqlite,postgresql] [--pg-url postgresql://...]

Events: half LotCreated (Ledger.mint_many), a quarter OfferMade (offer_many) and a quarter
OfferAccepted (accept_many), plus the registry's, plus at every size the same traced unit: 1,000 ore
lots transformed 50 at a time into one battery unit (about 1,030 events), so that the trace time is
measured on indexes of each size (`--sizes`). Each measurement runs in its own fresh process
(so its peak RSS is its own), against the same node:

- raw: plain JSON-RPC eth_getLogs POSTs over the deployment's range, in pieces of about 10,000
  events, JSON-parsed and dropped: the floor any reader pays. It runs before each backend's replay and
  once more after them (at least three times); the ratios use the median.
- sync: EventIndex.sync into a new SQLite file (fetch, decode, store); with `--index-backend
  sqlite,postgresql` also into a new PostgreSQL schema, each in its own process against the same node
  and chain (issue 15). Without `--pg-url` a throwaway server is started by scripts/pg-test-server.sh
  (with fsync and synchronous_commit back on) and stopped at the end.
- audit: ledger.audit on that index (replay every event into state, both ledger heads
  recomputed and compared with ledgerHead(), every lot and unit compared with contract storage,
  signatures re-verified).
- replay_events_per_s: events / (sync + audit seconds): chain to audited state, end to end.
- trace: provenance.trace(index, the unit, up) right after the sync (`trace_cold_ms`: loads the material
  graph of the whole index) and best of 5 on the open index (`trace_ms`).
- mint_lots_per_s: the bulk path's ingest rate while the events were made.

`--chart PNG` draws the `--sizes` runs (events/s of each step, peak RSS, trace time against ledger size)
with matplotlib (`pip install -e '.[bench]'`; `make bench` does).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import statistics
import sys
import time
from pathlib import Path

from bench_common import (
    Timer,
    current_rss_mb,
    emit,
    fresh_chain,
    log,
    machine,
    parse_backends,
    peak_rss_mb,
    pg_server,
    pg_settings,
    print_table,
    process_peak_rss_mb,
    run_child,
    verdict,
)

from ledger import Composition, Deployment, LotSpec, Role

COMP = Composition.of({"Ni": 20_000, "Co": 2_500, "Mn": 2_000, "Li": 1_500})
TARGET_LOGS_PER_REQUEST = 10_000


#: Ore lots upstream of the traced unit at every size.
TRACE_ANCESTORS = 1_000


def make_events(b, events: int, quiet: bool) -> dict:
    """Mint events/2 lots, offer half of them to the refiner, who accepts: about `events` events; then the traced unit."""
    from bench_queries import build_trace_tree

    lots = max(2, events // 2)
    miner, refiner = b["miner"], b["refiner"]
    specs = [LotSpec(lot_id=f"R-{k}", material="ORE-NMC", mass=1_000_000 + k, composition=COMP) for k in range(lots)]
    moved = [s.lot_id for s in specs[: lots // 2]]
    t0 = time.perf_counter()
    step = 100_000
    for i in range(0, lots, step):
        miner.mint_many(specs[i : i + step])
        log(f"replay: minted {min(i + step, lots):,}/{lots:,} lots ({time.perf_counter() - t0:.0f} s)", quiet=quiet)
    mint_seconds = time.perf_counter() - t0
    for i in range(0, len(moved), step):
        miner.offer_many([(x, refiner.address) for x in moved[i : i + step]])
        refiner.accept_many(moved[i : i + step])
    traced = build_trace_tree(b, TRACE_ANCESTORS, quiet)
    log(f"replay: {lots:,} lots minted, {len(moved):,} handed over, {traced} built in {time.perf_counter() - t0:.0f} s", quiet=quiet)
    return {
        "lots": lots,
        "handed_over": len(moved),
        "make_seconds": round(time.perf_counter() - t0, 1),
        "mint_lots_per_s": round(lots / mint_seconds),
        "traced": traced,
    }


# ------------------------------------------------------------------------------------ children


def child_raw(rpc_url: str, deployment: Deployment, events_hint: int) -> dict:
    """Fetch the deployment's logs with plain POSTs and json.loads; return count and seconds."""
    import requests

    session = requests.Session()
    headers = {"Content-Type": "application/json"}

    def post(method: str, params: list) -> object:
        r = session.post(rpc_url, data=json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}), headers=headers)
        return r.json()["result"]

    head = int(post("eth_blockNumber", []), 16)
    blocks = head - deployment.block + 1
    span = max(1, blocks * TARGET_LOGS_PER_REQUEST // max(events_hint, 1))
    count = 0
    with Timer() as t:
        start = deployment.block
        while start <= head:
            end = min(start + span - 1, head)
            logs = post(
                "eth_getLogs",
                [{"address": [deployment.ledger, deployment.attestations], "fromBlock": hex(start), "toBlock": hex(end)}],
            )
            count += len(logs)  # type: ignore[arg-type]
            del logs
            start = end + 1
    return {"events": count, "seconds": t.s, "peak_rss_mb": peak_rss_mb()}


def child_replay(rpc_url: str, deployment: Deployment, workdir: str, traced: str, pg_url: str | None = None) -> dict:
    """Sync a new index (a SQLite file, or with `pg_url` a new PostgreSQL schema), trace the unit, and
    audit; return seconds of each, the audit's verdict, and peak RSS."""
    from ledger import EventIndex, Ledger, audit, trace

    base_rss = current_rss_mb()
    ledger = Ledger.connect(rpc_url, data_dir=workdir, deployment=deployment)
    path = Path(workdir) / f"index-{time.time_ns()}.sqlite"
    schema = f"bench_{time.time_ns()}"
    ix = EventIndex.open(f"{pg_url}{'&' if '?' in pg_url else '?'}schema={schema}" if pg_url else path)
    samples: list[tuple[int, float]] = []

    def progress(p) -> None:
        samples.append((p.events, current_rss_mb()))

    with Timer() as ts:
        result = ix.sync(ledger, progress)
    sync_rss = peak_rss_mb()
    with Timer() as tc:
        t = trace(ix, traced, direction="up")
    if len(t.mines) != TRACE_ANCESTORS:
        raise SystemExit(f"trace found {len(t.mines)} mines, expected {TRACE_ANCESTORS}")
    warm = []
    for _ in range(5):
        with Timer() as tw:
            trace(ix, traced, direction="up")
        warm.append(tw.s)
    with Timer() as ta:
        report = audit(ledger, ix, sync=False)
    out = {
        "events": result.events,
        "sync_seconds": ts.s,
        "audit_seconds": ta.s,
        "trace_cold_ms": round(tc.s * 1000, 1),
        "trace_ms": round(min(warm) * 1000, 1),
        "audit_passed": report.passed,
        "audit_flags": sorted(report.flag_codes()),
        "lots": report.lots,
        "base_rss_mb": base_rss,
        "sync_peak_rss_mb": sync_rss,
        "peak_rss_mb": peak_rss_mb(),
        "rss_during_sync": samples[:: max(1, len(samples) // 8)],
    }
    # After the peak is read: what the claims are, to compare two builds' audits of one chain (read one at a time).
    digest = hashlib.sha256()
    for claim in report.claims:
        digest.update(claim.model_dump_json().encode() + b"\n")
    out["claims"] = len(report.claims)
    out["claims_sha256"] = digest.hexdigest()
    if pg_url:
        # The schema's tables with their indexes and TOAST; the server's backend of this connection
        # (its peak RSS is the server's share of the work, outside this process).
        out["index_mb"] = round(
            ix.conn.execute(
                "SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = ? AND c.relkind = 'r'",
                (schema,),
            ).fetchone()[0]
            / 2**20,
            1,
        )
        out["server_backend_peak_rss_mb"] = process_peak_rss_mb(ix.conn.raw.info.backend_pid)  # type: ignore[attr-defined]
        ix.conn.execute(f"DROP SCHEMA {schema} CASCADE")
        ix.close()
        return out
    # The WAL holds what SQLite has not checkpointed into the main file yet.
    out["index_mb"] = round(sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 2**20, 1)
    ix.close()
    for p in path.parent.glob(path.name + "*"):
        p.unlink()
    return out


# ------------------------------------------------------------------------------------- driver


def draw_chart(scaling: list[dict], path: Path) -> None:
    """Three panels against ledger size (log scale): events/s of each step, peak RSS, trace time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [s["events"] for s in scaling]
    fig, (rate, mem, tr) = plt.subplots(1, 3, figsize=(13, 4), constrained_layout=True)
    for key, label in (
        ("raw_getlogs_events_per_s", "raw eth_getLogs"),
        ("index_sync_events_per_s", "index sync"),
        ("audit_events_per_s", "full audit"),
        ("replay_events_per_s", "sync + audit"),
    ):
        rate.plot(xs, [s[key] for s in scaling], marker="o", label=label)
    rate.plot(xs, [s["mint_lots_per_s"] for s in scaling], marker="s", linestyle="--", label="bulk mint (lots/s)")
    rate.set(xscale="log", yscale="log", xlabel="events in the ledger", ylabel="per second", title="Rates")
    rate.legend(fontsize=8)
    mem.plot(xs, [s["replay_peak_rss_mb"] for s in scaling], marker="o", label="sync + audit process")
    mem.plot(xs, [s["sync_peak_rss_mb"] for s in scaling], marker="o", label="after sync")
    mem.axhline(300, color="grey", linestyle=":", label="goal 300 MB")
    mem.set_ylim(bottom=0)
    mem.set(xscale="log", xlabel="events in the ledger", ylabel="MB", title="Peak RSS")
    mem.legend(fontsize=8)
    tr.plot(xs, [s["trace_cold_ms"] for s in scaling], marker="o", label="first trace after sync")
    tr.plot(xs, [s["trace_ms"] for s in scaling], marker="o", label="open index, best of 5")
    tr.set(xscale="log", xlabel="events in the ledger", ylabel="ms", title=f"Trace of a unit with {TRACE_ANCESTORS:,} ore lots")
    tr.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(events: int, quiet: bool, backends: tuple[str, ...] = ("sqlite",), pg_url: str | None = None) -> dict:
    """One chain of about `events` events; the raw fetch, then a sync + audit per backend (the first one's
    figures are the result's top-level keys; all of them, in order, its ``backends`` list)."""
    out: dict = {}
    from bench_queries import MAKER_ROLES

    with fresh_chain({"miner": Role.MINER, "refiner": Role.REFINER, "maker": MAKER_ROLES}, bulk=True) as b:
        out.update(make_events(b, events, quiet))
        d = b.admin.deployment.model_dump_json()
        url = b.node.rpc_url
        raw_args = ["--child", "raw", "--rpc-url", url, "--deployment", d, "--events", str(events)]
        # The raw fetch runs before, between and after the replays, and its median is the reference: on a
        # shared machine one fetch can meet a burst of other work, and a ratio against it would say more
        # about that burst than about the sync.
        raws = []
        reps = {}
        for backend in backends:
            log("replay: raw eth_getLogs fetch (fresh process) ...", quiet=quiet)
            raws.append(run_child("bench_replay.py", raw_args))
            log(f"replay: index sync + audit on {backend} (fresh process) ...", quiet=quiet)
            args = ["--child", "replay", "--rpc-url", url, "--deployment", d, "--workdir", str(b.data_dir), "--traced", out["traced"]]
            reps[backend] = run_child("bench_replay.py", args + (["--pg-url", pg_url] if backend == "postgresql" and pg_url else []))
        for _ in range(max(1, 3 - len(raws))):
            log("replay: raw eth_getLogs fetch (fresh process) ...", quiet=quiet)
            raws.append(run_child("bench_replay.py", raw_args))
        out["chain_blocks"] = b.head()
    raw = {
        "events": raws[0]["events"],
        "seconds": statistics.median(r["seconds"] for r in raws),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in raws),
    }
    if any(r["events"] != raw["events"] for r in raws):
        raise SystemExit(f"the raw fetches saw different event counts: {[r['events'] for r in raws]}")
    out["raw_seconds"] = [round(r["seconds"], 3) for r in raws]
    for backend, rep in reps.items():
        if raw["events"] != rep["events"]:
            raise SystemExit(f"raw fetch saw {raw['events']} events, the {backend} index {rep['events']}")
    out["backends"] = [_figures(backend, rep, raw) for backend, rep in reps.items()]
    rep = reps[backends[0]]
    n = rep["events"]
    out.update(
        events=n,
        raw_getlogs_events_per_s=round(n / raw["seconds"]),
        index_sync_events_per_s=round(n / rep["sync_seconds"]),
        audit_events_per_s=round(n / rep["audit_seconds"]),
        replay_events_per_s=round(n / (rep["sync_seconds"] + rep["audit_seconds"])),
        sync_seconds=round(rep["sync_seconds"], 2),
        audit_seconds=round(rep["audit_seconds"], 2),
        trace_cold_ms=rep["trace_cold_ms"],
        trace_ms=rep["trace_ms"],
        audit_passed=rep["audit_passed"],
        audit_flags=rep["audit_flags"],
        replay_peak_rss_mb=round(rep["peak_rss_mb"], 1),
        replay_base_rss_mb=round(rep["base_rss_mb"], 1),
        sync_peak_rss_mb=round(rep["sync_peak_rss_mb"], 1),
        raw_peak_rss_mb=round(raw["peak_rss_mb"], 1),
        index_mb=rep["index_mb"],
        rss_during_sync=[(e, round(r, 1)) for e, r in rep["rss_during_sync"]],
    )
    out["sync_vs_raw"] = round(out["index_sync_events_per_s"] / out["raw_getlogs_events_per_s"], 2)
    out["replay_vs_raw"] = round(out["replay_events_per_s"] / out["raw_getlogs_events_per_s"], 2)
    return out


def _figures(backend: str, rep: dict, raw: dict) -> dict:
    """One backend's row of the by-backend table."""
    n = rep["events"]
    return {
        "backend": backend,
        "events": n,
        "raw_getlogs_events_per_s": round(n / raw["seconds"]),
        "index_sync_events_per_s": round(n / rep["sync_seconds"]),
        "audit_events_per_s": round(n / rep["audit_seconds"]),
        "replay_events_per_s": round(n / (rep["sync_seconds"] + rep["audit_seconds"])),
        "sync_seconds": round(rep["sync_seconds"], 2),
        "audit_seconds": round(rep["audit_seconds"], 2),
        "audit_passed": rep["audit_passed"],
        "trace_cold_ms": rep["trace_cold_ms"],
        "trace_ms": rep["trace_ms"],
        "raw_peak_rss_mb": round(raw["peak_rss_mb"], 1),
        "sync_peak_rss_mb": round(rep["sync_peak_rss_mb"], 1),
        "replay_peak_rss_mb": round(rep["peak_rss_mb"], 1),
        "server_backend_peak_rss_mb": rep.get("server_backend_peak_rss_mb"),
        "index_mb": rep["index_mb"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="events to make and replay (default 100,000)")
    parser.add_argument("--sizes", default="", help="comma-separated event counts: a full run at each (fresh node and processes)")
    parser.add_argument("--quick", action="store_true", help="20,000 events")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--child", choices=("raw", "replay"), help=argparse.SUPPRESS)
    parser.add_argument("--rpc-url", help=argparse.SUPPRESS)
    parser.add_argument("--deployment", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--traced", help=argparse.SUPPRESS)
    parser.add_argument("--chart", metavar="PNG", help="draw the --sizes runs into this PNG file (matplotlib)")
    parser.add_argument(
        "--index-backend",
        default="sqlite",
        help="comma-separated: sqlite, postgresql; each syncs and audits the same chain (default sqlite)",
    )
    parser.add_argument("--pg-url", help="PostgreSQL server to use (default: a throwaway one from scripts/pg-test-server.sh)")
    args = parser.parse_args(argv)
    if args.child:
        d = Deployment.model_validate_json(args.deployment)
        res = (
            child_raw(args.rpc_url, d, args.events)
            if args.child == "raw"
            else child_replay(args.rpc_url, d, args.workdir, args.traced, args.pg_url)
        )
        print(json.dumps(res))
        return 0
    if args.quick:
        args.events = min(args.events, 20_000)
    backends = tuple(parse_backends(args.index_backend))
    with contextlib.ExitStack() as stack:
        pg_url = stack.enter_context(pg_server(args.pg_url)) if "postgresql" in backends else None
        return _measure(args, backends, pg_url)


def _measure(args: argparse.Namespace, backends: tuple[str, ...], pg_url: str | None) -> int:
    result: dict = {"benchmark": "replay", **run(args.events, False, backends, pg_url)}
    by_backend = list(result["backends"])
    scaling = []
    for size in [int(x) for x in args.sizes.split(",") if x.strip()]:
        if size == args.events:
            r = result
        else:
            log(f"replay: scaling run at {size:,} events ...")
            r = run(size, False, backends, pg_url)
            by_backend += r["backends"]
        scaling.append(
            {
                k: r[k]
                for k in (
                    "events",
                    "raw_getlogs_events_per_s",
                    "index_sync_events_per_s",
                    "audit_events_per_s",
                    "replay_events_per_s",
                    "replay_peak_rss_mb",
                    "sync_peak_rss_mb",
                    "index_mb",
                    "make_seconds",
                    "mint_lots_per_s",
                    "trace_cold_ms",
                    "trace_ms",
                )
            }
        )
    if scaling:
        result["scaling"] = scaling
        if args.chart:
            draw_chart(scaling, Path(args.chart))
            log(f"replay: chart written to {args.chart}")
    # Issue 16's goals.
    result["goals"] = {
        "replay_vs_raw": {"goal": ">= 0.50", "verdict": verdict(result["replay_vs_raw"], 0.50)},
        "sync_vs_raw": {"goal": ">= 0.80", "verdict": verdict(result["sync_vs_raw"], 0.80)},
        "replay_peak_rss_mb": {"goal": "< 300", "verdict": verdict(result["replay_peak_rss_mb"], 300, at_most=True)},
    }
    result["by_backend"] = by_backend
    if pg_url:
        result["postgresql"] = pg_settings(pg_url)
    result["machine"] = machine()
    if args.json:
        emit(result, True)
        return 0
    n = result["events"]
    rows = [
        ("raw eth_getLogs + json.loads", result["raw_getlogs_events_per_s"], "", result["raw_peak_rss_mb"], ""),
        (
            "EventIndex.sync (fetch, decode, SQLite)",
            result["index_sync_events_per_s"],
            result["sync_seconds"],
            result["sync_peak_rss_mb"],
            f"{result['sync_vs_raw']:.0%} of raw; >= 80 %: {result['goals']['sync_vs_raw']['verdict']}",
        ),
        (
            "audit replay (state, heads, storage, sigs)",
            result["audit_events_per_s"],
            result["audit_seconds"],
            result["replay_peak_rss_mb"],
            "",
        ),
        (
            "end to end: sync + audit",
            result["replay_events_per_s"],
            round(result["sync_seconds"] + result["audit_seconds"], 2),
            result["replay_peak_rss_mb"],
            f"{result['replay_vs_raw']:.0%} of raw; >= 50 %: {result['goals']['replay_vs_raw']['verdict']}",
        ),
        ("trace of the unit, first after the sync (ms)", "", result["trace_cold_ms"], "", ""),
        ("trace of the unit, open index, best of 5 (ms)", "", result["trace_ms"], "", ""),
    ]
    print_table(
        f"Replay and index of {n:,} events (audit passed: {result['audit_passed']})",
        rows,
        ("step", "events/s", "seconds", "peak RSS MB", "vs goal"),
    )
    if scaling:
        print_table(
            "By size (fresh node and processes each)",
            [
                (
                    s["events"],
                    s["mint_lots_per_s"],
                    s["raw_getlogs_events_per_s"],
                    s["index_sync_events_per_s"],
                    s["audit_events_per_s"],
                    s["replay_events_per_s"],
                    s["replay_peak_rss_mb"],
                    s["trace_cold_ms"],
                    s["trace_ms"],
                    s["index_mb"],
                )
                for s in scaling
            ],
            (
                "events",
                "mint lots/s",
                "raw/s",
                "sync/s",
                "audit/s",
                "end-to-end/s",
                "peak RSS MB",
                "trace cold ms",
                "trace ms",
                "index MB",
            ),
        )
    if len(backends) > 1:
        print_table(
            "By index backend (one chain per size, each backend synced and audited in its own process)",
            [
                (
                    r["events"],
                    r["backend"],
                    r["raw_getlogs_events_per_s"],
                    r["index_sync_events_per_s"],
                    r["audit_events_per_s"],
                    r["replay_events_per_s"],
                    r["sync_seconds"],
                    r["audit_seconds"],
                    r["replay_peak_rss_mb"],
                    r["server_backend_peak_rss_mb"] or "",
                    r["index_mb"],
                    r["audit_passed"],
                )
                for r in by_backend
            ],
            (
                "events",
                "backend",
                "raw/s",
                "sync/s",
                "audit/s",
                "end-to-end/s",
                "sync s",
                "audit s",
                "peak RSS MB",
                "server RSS MB",
                "index MB",
                "passed",
            ),
        )
        if pg_url:
            print(f"PostgreSQL: {result['postgresql']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
