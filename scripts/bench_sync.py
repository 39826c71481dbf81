#!/usr/bin/env python3
"""Index sync alone: `EventIndex.sync` of a new index against a raw eth_getLogs fetch of the same
range, both in fresh processes against the same node, alternately, in the same run.

Usage: python scripts/bench_sync.py [--events 100000] [--repeat 3] [--against REV] [--process] [--index URL] [--profile FILE] [--json]

The events are made as scripts/bench_replay.py makes them (half LotCreated, a quarter each
OfferMade and OfferAccepted, on a bulk node). `raw` is bench_replay.py's reference: plain POSTs of
eth_getLogs in pieces of about 10,000 logs, `json.loads`, nothing else. `sync` is a full
`EventIndex.sync` into a new SQLite file (fetch, decode, every block check, store). Each runs
`--repeat` times, alternately; the figure is median sync rate / median raw rate.

`--against REV` also times, in the same rounds, the sync of git revision REV: a copy of this tree's
`ledger/` with `ledger/index/` and `ledger/chain/` as they are at REV. `--process` also times, in the
same rounds, this tree's sync with its fetch in a forked process instead of a thread
(RINNE_SYNC_FETCH=process; that sync's peak RSS is the syncing process's, the fetch process's not
counted). `--profile FILE` adds one more sync under cProfile and writes its statistics (main thread)
to FILE. `--index URL` also times, in the same rounds, a sync into a new schema of that PostgreSQL
database (issue 15's shared index).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench_common import ROOT, emit, fresh_chain, log, machine, peak_rss_mb, print_table, run_child, verdict
from bench_queries import MAKER_ROLES
from bench_replay import make_events

from ledger import Deployment, Role

#: The goal of issue 16: a sync at 80 % of the raw fetch rate, or better.
GOAL = 0.80
#: The parts of the library a sync runs: what --against takes from the other revision.
SYNC_CODE = ("ledger/index", "ledger/chain")


def child_sync(rpc_url: str, deployment: Deployment, workdir: str, profile: str | None, index_url: str | None = None) -> dict:
    """Sync a new index from scratch (a SQLite file, or a new schema at `index_url`); return events,
    seconds and peak RSS (and write a profile)."""
    import ledger
    from ledger import EventIndex, Ledger

    ledger_ = Ledger.connect(rpc_url, data_dir=workdir, deployment=deployment)
    path = Path(workdir) / f"sync-{time.time_ns()}.sqlite"
    schema = f"bench_{time.time_ns()}"
    ix = EventIndex.open(f"{index_url}{'&' if '?' in index_url else '?'}schema={schema}" if index_url else path)
    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    t0, c0 = time.perf_counter(), time.process_time()
    result = ix.sync(ledger_)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    if prof is not None:
        prof.disable()
        prof.dump_stats(profile)
    stored = ix.event_count()
    if index_url:
        ix.conn.execute(f"DROP SCHEMA {schema} CASCADE")
    ix.close()
    for p in path.parent.glob(path.name + "*"):
        p.unlink()
    return {
        "events": result.events,
        "stored": stored,
        "seconds": seconds,
        "cpu_seconds": cpu,  # every thread of this process (not a fetch process's)
        "peak_rss_mb": own_peak_rss_mb(),
        "library": str(Path(ledger.__file__).parent),
    }


def own_peak_rss_mb() -> float:
    """Peak RSS of this process's own address space, MB (VmHWM). Not getrusage's ru_maxrss: Linux
    keeps that across execve, so a child started by a parent that held the events reports the parent's."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mb()


@contextmanager
def revision_tree(rev: str) -> Iterator[Path]:
    """A temporary folder holding this tree's `ledger/` with the sync's code (SYNC_CODE) of `rev`."""
    with tempfile.TemporaryDirectory(prefix="rinne-bench-rev-") as tmp:
        dest = Path(tmp)
        shutil.copytree(ROOT / "ledger", dest / "ledger", ignore=shutil.ignore_patterns("__pycache__"))
        for part in SYNC_CODE:
            listed = subprocess.run(
                ["git", "-C", str(ROOT), "ls-tree", "-r", "--name-only", rev, "--", part],
                capture_output=True,
                text=True,
            )
            if listed.returncode != 0 or not listed.stdout.strip():
                raise SystemExit(f"--against {rev}: git has no {part} at that revision ({listed.stderr.strip()})")
            for name in listed.stdout.split():
                shown = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:{name}"], capture_output=True, check=True)
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                (dest / name).write_bytes(shown.stdout)
        yield dest


def run_sync_child(args: list[str], tree: Path | None, *, process: bool = False) -> dict:
    """One sync child, with the library of `tree` first on its path when given (`process`: its fetch in a process)."""
    if process:
        os.environ["RINNE_SYNC_FETCH"] = "process"
        try:
            return run_sync_child(args, tree)
        finally:
            del os.environ["RINNE_SYNC_FETCH"]
    if tree is None:
        return run_child("bench_sync.py", args)
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(tree) + (os.pathsep + before if before else "")
    try:
        out = run_child("bench_sync.py", args)
    finally:
        if before is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = before
    if not out["library"].startswith(str(tree)):
        raise SystemExit(f"the reference sync ran {out['library']}, not the copy in {tree}")
    return out


def run(
    events: int, repeat: int, against: str | None, profile: str | None, index_url: str | None = None, process: bool = False
) -> dict:
    """Make the events, then time raw, sync (and the sync of `against`) alternately; return medians."""
    with (
        fresh_chain({"miner": Role.MINER, "refiner": Role.REFINER, "maker": MAKER_ROLES}, bulk=True) as b,
        contextmanager_or_none(against) as tree,
    ):
        made = make_events(b, events, False)
        d = b.admin.deployment.model_dump_json()
        url = b.node.rpc_url
        sync_args = ["--child", "sync", "--rpc-url", url, "--deployment", d, "--workdir", str(b.data_dir)]
        raws, syncs, refs, pgs, procs = [], [], [], [], []
        for k in range(repeat):
            log(f"sync: run {k + 1}/{repeat}: raw fetch, then index sync{' and the sync of ' + against if against else ''} ...")
            raws.append(run_child("bench_replay.py", ["--child", "raw", "--rpc-url", url, "--deployment", d, "--events", str(events)]))
            syncs.append(run_sync_child(sync_args, None))
            if process:
                procs.append(run_sync_child(sync_args, None, process=True))
            if tree is not None:
                refs.append(run_sync_child(sync_args, tree))
            if index_url:
                pgs.append(run_sync_child([*sync_args, "--index", index_url], None))
        if profile:
            run_sync_child([*sync_args, "--profile", profile], None)
    n = syncs[0]["events"]
    for r in [*raws, *syncs, *refs, *pgs, *procs]:
        if r["events"] != n or r.get("stored", n) != n:
            raise SystemExit(f"a run saw {r['events']} events (stored {r.get('stored')}), the first sync {n}")
    raw_s = statistics.median(r["seconds"] for r in raws)
    sync_s = statistics.median(s["seconds"] for s in syncs)
    out = {
        "events": n,
        "make_seconds": made["make_seconds"],
        "repeat": repeat,
        "raw_seconds": [round(r["seconds"], 3) for r in raws],
        "sync_seconds": [round(s["seconds"], 3) for s in syncs],
        "raw_median_seconds": round(raw_s, 3),
        "sync_median_seconds": round(sync_s, 3),
        "raw_getlogs_events_per_s": round(n / raw_s),
        "index_sync_events_per_s": round(n / sync_s),
        "sync_vs_raw": round(raw_s / sync_s, 2),
        "sync_peak_rss_mb": round(max(s["peak_rss_mb"] for s in syncs), 1),
        # (bench_replay's raw child reports getrusage's ru_maxrss, which is the parent's after exec: left out)
    }
    if procs:
        pr_s = statistics.median(s["seconds"] for s in procs)
        out |= {
            "process_sync_seconds": [round(s["seconds"], 3) for s in procs],
            "process_sync_median_seconds": round(pr_s, 3),
            "process_sync_events_per_s": round(n / pr_s),
            "process_sync_vs_raw": round(raw_s / pr_s, 2),
            "process_sync_peak_rss_mb": round(max(s["peak_rss_mb"] for s in procs), 1),
        }
    if pgs:
        pg_s = statistics.median(s["seconds"] for s in pgs)
        out |= {
            "pg_sync_seconds": [round(s["seconds"], 3) for s in pgs],
            "pg_sync_median_seconds": round(pg_s, 3),
            "pg_sync_events_per_s": round(n / pg_s),
            "pg_sync_vs_raw": round(raw_s / pg_s, 2),
            "pg_sync_peak_rss_mb": round(max(s["peak_rss_mb"] for s in pgs), 1),
        }
    if refs:
        ref_s = statistics.median(s["seconds"] for s in refs)
        out |= {
            "against": against,
            "against_sync_seconds": [round(s["seconds"], 3) for s in refs],
            "against_sync_median_seconds": round(ref_s, 3),
            "against_sync_events_per_s": round(n / ref_s),
            "against_sync_vs_raw": round(raw_s / ref_s, 2),
            "against_sync_peak_rss_mb": round(max(s["peak_rss_mb"] for s in refs), 1),
            "sync_vs_against": round(ref_s / sync_s, 2),
        }
    return out


@contextmanager
def contextmanager_or_none(rev: str | None) -> Iterator[Path | None]:
    """:func:`revision_tree` of `rev`, or None without one."""
    if rev is None:
        yield None
        return
    with revision_tree(rev) as tree:
        yield tree


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="events to make and sync (default 100,000)")
    parser.add_argument("--repeat", type=int, default=3, help="raw and sync runs each, alternately (default 3)")
    parser.add_argument("--against", metavar="REV", help="also time the sync code (ledger/index, ledger/chain) of git revision REV")
    parser.add_argument("--process", action="store_true", help="also time this tree's sync with its fetch in a forked process")
    parser.add_argument("--profile", help="write cProfile statistics of one more sync to this file")
    parser.add_argument("--index", metavar="URL", help="also time a sync into a new schema of this postgresql:// database")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--child", choices=("sync",), help=argparse.SUPPRESS)
    parser.add_argument("--rpc-url", help=argparse.SUPPRESS)
    parser.add_argument("--deployment", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        d = Deployment.model_validate_json(args.deployment)
        print(json.dumps(child_sync(args.rpc_url, d, args.workdir, args.profile, args.index)))
        return 0
    if args.events < 2 or args.repeat < 1:
        raise SystemExit("--events must be at least 2 and --repeat at least 1")
    t0 = time.perf_counter()
    result: dict = {"benchmark": "sync", **run(args.events, args.repeat, args.against, args.profile, args.index, args.process)}
    result["goals"] = {"sync_vs_raw": {"goal": f">= {GOAL:.2f}", "verdict": verdict(result["sync_vs_raw"], GOAL)}}
    result["machine"] = machine()
    result["total_seconds"] = round(time.perf_counter() - t0, 1)
    if args.json:
        emit(result, True)
        return 0
    n = result["events"]
    rows = [
        (
            "raw eth_getLogs + json.loads",
            n,
            result["raw_median_seconds"],
            result["raw_getlogs_events_per_s"],
            "1.00",
            "",
        ),
        (
            "EventIndex.sync (fetch, decode, checks, SQLite)",
            n,
            result["sync_median_seconds"],
            result["index_sync_events_per_s"],
            f"{result['sync_vs_raw']:.2f} (goal >= {GOAL:.2f}: {result['goals']['sync_vs_raw']['verdict']})",
            result["sync_peak_rss_mb"],
        ),
    ]
    if "process_sync_median_seconds" in result:
        rows.append(
            (
                "EventIndex.sync, its fetch in a process",
                n,
                result["process_sync_median_seconds"],
                result["process_sync_events_per_s"],
                f"{result['process_sync_vs_raw']:.2f}",
                result["process_sync_peak_rss_mb"],
            )
        )
    if "pg_sync_median_seconds" in result:
        rows.append(
            (
                "EventIndex.sync into PostgreSQL",
                n,
                result["pg_sync_median_seconds"],
                result["pg_sync_events_per_s"],
                f"{result['pg_sync_vs_raw']:.2f}",
                result["pg_sync_peak_rss_mb"],
            )
        )
    if "against" in result:
        rows.append(
            (
                f"EventIndex.sync at {result['against']}",
                n,
                result["against_sync_median_seconds"],
                result["against_sync_events_per_s"],
                f"{result['against_sync_vs_raw']:.2f} (this tree: {result['sync_vs_against']:.2f}x as fast)",
                result["against_sync_peak_rss_mb"],
            )
        )
    print_table(
        f"Index sync of {n:,} events, median of {args.repeat} (load {result['machine']['load_avg_1m']}, {result['total_seconds']} s)",
        [(a, f"{b:,}", f"{c:.2f}", d, e, f) for a, b, c, d, e, f in rows],
        ("step", "events", "seconds", "events/s", "vs raw", "peak RSS MB"),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
