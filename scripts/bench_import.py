#!/usr/bin/env python3
"""`rinne lot import` of a CSV file: a first import, then the same file again (every lot already on the
ledger, all skipped), in lots/s, against the library's `Ledger.mint_many` of as many other lots on the
same node in the same run (the reference: what the command adds to the library).

Usage: python scripts/bench_import.py [--lots 100000] [--json]

One bulk Anvil (mining on request, 1G-gas blocks); the installed `rinne` runs as a real subprocess
with its own keystore and data folder (the parties are made with `rinne account new --fund`,
`rinne deploy`, `rinne party register`). Wall time of each command includes its start-up.

Then `rinne lot show` of one imported lot (the index already synced by the imports' checks), median of
9 runs, beside `rinne --help` in the same run: issue 16 asks < 0.6 s and < 0.3 s.

Each import's CPU time (user + system, every thread of the process) is reported per lot beside its wall
time: on a shared machine it is the steadier figure for comparing two builds.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_common import Timer, emit, log, machine, print_table, verdict

from ledger import Composition, Ledger, LotSpec, start_node, stop_node

RINNE = Path(sys.executable).with_name("rinne")
#: The goals of issue 16.
GOAL_FIRST, GOAL_AGAIN = 5_000, 20_000
GOAL_SHOW_S = 0.6
SHOW_RUNS = 9


def _median_wall(env: dict[str, str], *args: str) -> float:
    """Median wall time of `rinne ARGS` over SHOW_RUNS fresh processes (after one warm-up run)."""
    times = []
    for k in range(SHOW_RUNS + 1):
        t0 = time.perf_counter()
        proc = subprocess.run([str(RINNE), *args], env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        elapsed = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"rinne {' '.join(args)} failed ({proc.returncode}): {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
        if k:
            times.append(elapsed)
    return sorted(times)[len(times) // 2]


def _rinne(env: dict[str, str], *args: str) -> dict:
    """Run `rinne ARGS --json`; its answer, with the CPU seconds the process used (user + system) as "_cpu_s"."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(
        [str(RINNE), *args, "--json"], env=env, capture_output=True, text=True, timeout=3600, stdin=subprocess.DEVNULL
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"rinne {' '.join(args)} failed ({proc.returncode}): {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
    out: dict = json.loads(proc.stdout)
    out["_cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return out


def write_csv(path: Path, lots: int, prefix: str) -> None:
    """A lot file as users write it: masses with units, element shares, an origin."""
    with path.open("w") as f:
        f.write("lot_id,material,mass,Ni,Co,origin\n")
        for k in range(lots):
            f.write(f"{prefix}-{k:06d},NiSO4,{1 + k % 97}.5t,22%,1%,FI:Harjavalta\n")


def run(lots: int) -> dict:
    """Set up a node and a refiner through the CLI, then time the imports and the reference."""
    tmp = Path(tempfile.mkdtemp(prefix="rinne-bench-import-"))
    node = start_node(tmp / "node-data", persist=False, bulk=True)
    try:
        # Without PYTHONDONTWRITEBYTECODE: an installed rinne has its bytecode cached (bench_startup.py).
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RINNE_", "ETH_RPC_URL", "PYTHONDONTWRITEBYTECODE"))}
        env.update(
            RINNE_HOME=str(tmp / "home"),
            RINNE_KEYSTORE_DIR=str(tmp / "keys"),
            RINNE_SCRYPT_N="1024",
            RINNE_INSECURE_FAST_KEYS="1",
            RINNE_PASSWORD="bench password",
            ETH_RPC_URL=node.rpc_url,
            NO_COLOR="1",
        )
        for name in ("admin", "refiner"):
            _rinne(env, "account", "new", name, "--fund")
        _rinne(env, "deploy", "--account", "admin", "--yes")
        _rinne(env, "party", "register", "refiner", "--roles", "REFINER", "--name", "refiner", "--account", "admin", "--yes")
        csv = tmp / "lots.csv"
        write_csv(csv, lots, "IMP")
        log(f"import: rinne lot import of {lots:,} lots ...")
        with Timer() as t1:
            first = _rinne(env, "lot", "import", str(csv), "--account", "refiner", "--yes")
        log("import: the same file again (all on the ledger) ...")
        with Timer() as t2:
            again = _rinne(env, "lot", "import", str(csv), "--account", "refiner", "--yes")
        if first["minted"] != lots or again["skipped"] != lots or again["minted"] != 0:
            raise SystemExit(f"import minted {first['minted']}, re-run skipped {again['skipped']} of {lots}")
        log("import: rinne lot show and rinne --help, median of 9 ...")
        show_s = _median_wall(env, "lot", "show", f"IMP-{lots // 2:06d}")
        help_s = _median_wall(env, "--help")
        # Reference: the library on the same node, as many other lots, already-parsed specs.
        from eth_account import Account

        base = Ledger.connect(node.rpc_url, data_dir=tmp / "lib")
        admin = base.with_account(Account.create())
        base.fund(admin.address, 10**24)
        admin.deploy(record=False)
        admin.register(admin.address, _all_roles(), "bench")
        comp = Composition.of({"Ni": 220_000, "Co": 10_000})
        specs = [LotSpec(lot_id=f"REF-{k:06d}", material="NiSO4", mass=1_000_000, composition=comp) for k in range(lots)]
        log("import: reference Ledger.mint_many ...")
        with Timer() as t3:
            admin.mint_many(specs)
        with Timer() as t4:
            skipped = admin.mint_many(specs)
        if skipped.skipped != lots:
            raise SystemExit(f"reference re-run skipped {skipped.skipped} of {lots}")
    finally:
        stop_node(tmp / "node-data")
    return {
        "lots": lots,
        "import_seconds": round(t1.s, 2),
        "import_again_seconds": round(t2.s, 2),
        "import_lots_per_s": round(lots / t1.s),
        "import_again_lots_per_s": round(lots / t2.s),
        "library_mint_many_lots_per_s": round(lots / t3.s),
        "library_all_skipped_lots_per_s": round(lots / t4.s),
        "import_vs_library": round(t3.s / t1.s, 2),
        # CPU of the command itself (all its threads): on a shared, loaded machine it moves far less than wall time.
        "import_cpu_us_per_lot": round(first["_cpu_s"] / lots * 1e6),
        "import_again_cpu_us_per_lot": round(again["_cpu_s"] / lots * 1e6),
        "import_again_vs_library": round(t4.s / t2.s, 2),
        "transactions": first["transactions"],
        "lot_show_s": round(show_s, 3),
        "rinne_help_same_run_s": round(help_s, 3),
    }


def _all_roles() -> Any:
    from ledger import Role

    return Role(sum(int(r) for r in Role))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lots", type=int, default=100_000, help="lots in the file (default 100,000)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.lots < 1:
        raise SystemExit("--lots must be at least 1")
    if not RINNE.exists():
        raise SystemExit(f"{RINNE} is missing: pip install -e . into this interpreter's environment")
    t0 = time.perf_counter()
    result: dict = {"benchmark": "import", **run(args.lots)}
    result["goals"] = {
        "import_lots_per_s": {"goal": f">= {GOAL_FIRST}", "verdict": verdict(result["import_lots_per_s"], GOAL_FIRST)},
        "import_again_lots_per_s": {"goal": f">= {GOAL_AGAIN}", "verdict": verdict(result["import_again_lots_per_s"], GOAL_AGAIN)},
        "lot_show_s": {"goal": f"< {GOAL_SHOW_S}", "verdict": verdict(result["lot_show_s"], GOAL_SHOW_S, at_most=True)},
    }
    result["total_seconds"] = round(time.perf_counter() - t0, 1)
    result["machine"] = machine()
    if args.json:
        emit(result, True)
        return 0
    g = result["goals"]
    print_table(
        f"rinne lot import of {args.lots:,} lots (load {result['machine']['load_avg_1m']})",
        [
            ("rinne lot import, first", result["import_lots_per_s"], result["import_seconds"], g["import_lots_per_s"]["verdict"]),
            (
                "rinne lot import, again (all skipped)",
                result["import_again_lots_per_s"],
                result["import_again_seconds"],
                g["import_again_lots_per_s"]["verdict"],
            ),
            (
                "reference: Ledger.mint_many",
                result["library_mint_many_lots_per_s"],
                "",
                f"import at {result['import_vs_library']:.2f}",
            ),
            (
                "reference: Ledger.mint_many, all skipped",
                result["library_all_skipped_lots_per_s"],
                "",
                f"re-run at {result['import_again_vs_library']:.2f}",
            ),
            ("rinne lot import, first: CPU µs a lot", "", "", result["import_cpu_us_per_lot"]),
            ("rinne lot import, again: CPU µs a lot", "", "", result["import_again_cpu_us_per_lot"]),
            ("rinne lot show (s, median of 9)", "", result["lot_show_s"], g["lot_show_s"]["verdict"]),
            ("rinne --help, same run (s, median of 9)", "", result["rinne_help_same_run_s"], ""),
        ],
        ("step", "lots/s", "seconds", "vs goal / reference"),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
