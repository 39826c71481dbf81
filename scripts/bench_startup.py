#!/usr/bin/env python3
"""Start-up: the median wall time of `rinne --help` over N runs, against `python -c pass` measured in
the same run (the interpreter's own start-up, which no change to Rinne can remove).

Usage: python scripts/bench_startup.py [--runs 20] [--json]

The two commands run alternately, each in a fresh process, after two warm-up runs of each (a warm
machine: files in the page cache, bytecode compiled). One more run under ``-X importtime`` says which
of the chain stack's packages the page imported and what each rinne_cli module costs to import.

Standalone on purpose: scripts/bench_common.py imports web3 and eth-account, the very start-up
cost measured here.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: The goal of the issue: `rinne --help` within 0.3 s on a warm machine.
GOAL_S = 0.3
#: Packages `--help` should not import (tests/cli/test_startup.py asserts the same).
HEAVY = ("web3", "eth_account", "eth_abi", "eth_utils", "coincurve", "pydantic")


def rinne_command() -> list[str]:
    """The installed `rinne` console script beside this interpreter, else the module."""
    script = Path(sys.executable).with_name("rinne")
    return [str(script)] if script.exists() else [sys.executable, "-m", "rinne_cli.main"]


def _env(**extra: str) -> dict[str, str]:
    # PYTHONDONTWRITEBYTECODE (set on some machines) would make every run compile Rinne's own modules
    # from source; an installed rinne has its bytecode cached, so the measured runs may write it.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPROFILEIMPORTTIME", "PYTHONDONTWRITEBYTECODE")}
    env.update(NO_COLOR="1", **extra)
    return env


def _checked(cmd: Sequence[str], proc: subprocess.CompletedProcess[str]) -> None:
    if proc.returncode != 0:
        last = (proc.stderr or "").strip().splitlines()[-1:] or ["no message"]
        raise SystemExit(f"{' '.join(cmd)} failed (exit {proc.returncode}): {last[0]}")


def wall(cmd: Sequence[str]) -> float:
    """Seconds from spawning `cmd` to its exit (stdout discarded); exits with one line when it fails."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=_env())
    seconds = time.perf_counter() - t0
    _checked(cmd, proc)
    return seconds


def import_profile(cmd: Sequence[str]) -> dict[str, Any]:
    """One run under -X importtime: the heavy packages it imported, and each rinne_cli module's cumulative ms."""
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(PYTHONPROFILEIMPORTTIME="1"))
    _checked(cmd, proc)
    cumulative: dict[str, int] = {}
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            _, cum, name = line.split("|")
            if cum.strip().isdigit():
                cumulative[name.strip()] = int(cum)
    return {
        "heavy_imported": [m for m in HEAVY if m in cumulative],
        "modules_ms": {m: round(us / 1000, 1) for m, us in sorted(cumulative.items()) if m.startswith("rinne_cli")},
    }


def run(runs: int) -> dict[str, Any]:
    """Time both commands alternately; return medians, their ratio and the import profile."""
    baseline_cmd = [sys.executable, "-c", "pass"]
    help_cmd = [*rinne_command(), "--help"]
    for _ in range(2):
        wall(baseline_cmd)
        wall(help_cmd)
    baseline, helps = [], []
    for _ in range(runs):
        baseline.append(wall(baseline_cmd))
        helps.append(wall(help_cmd))
    help_s, base_s = statistics.median(helps), statistics.median(baseline)
    return {
        "benchmark": "startup",
        "runs": runs,
        "rinne_help_s": round(help_s, 3),
        "python_pass_s": round(base_s, 3),
        "ratio": round(help_s / base_s, 1),
        "rinne_help_min_s": round(min(helps), 3),
        "rinne_help_max_s": round(max(helps), 3),
        "over_python_s": round(help_s - base_s, 3),
        **import_profile(help_cmd),
        "goals": {"rinne_help_s": {"goal": f"<= {GOAL_S}", "verdict": verdict(help_s, GOAL_S)}},
        "machine": {
            "python": platform.python_version(),
            "cores": os.cpu_count(),
            "load_avg_1m": round(os.getloadavg()[0], 2),
        },
    }


def verdict(value: float, goal: float) -> str:
    """'met' or 'missed by N%' for a time against its ceiling (the wording of scripts/bench_common.py)."""
    return "met" if value <= goal else f"missed by {(value - goal) / goal * 100:.0f}%"


def print_table(title: str, rows: Sequence[Sequence[Any]], header: Sequence[str]) -> None:
    """Print rows as an aligned plain-text table (numbers right-aligned)."""
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(cells[0], widths)))
    print("  ".join("-" * w for w in widths))
    for r in cells[1:]:
        print("  ".join(c.rjust(w) if c.replace(".", "", 1).isdigit() else c.ljust(w) for c, w in zip(r, widths)))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table, or with --json one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="timed runs of each command (default 20)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    result = run(max(1, args.runs))
    if args.json:
        print(json.dumps(result, separators=(",", ":")))
        return 0
    print_table(
        f"Start-up, median of {result['runs']} runs each (warm)",
        [
            ("python -c pass", result["python_pass_s"], "1.0", ""),
            (
                "rinne --help",
                result["rinne_help_s"],
                result["ratio"],
                f"<= {GOAL_S} s: {result['goals']['rinne_help_s']['verdict']}",
            ),
        ],
        ("command", "seconds", "x python", "vs goal"),
    )
    heavy = ", ".join(result["heavy_imported"]) or "none"
    print(f"\nimported by `rinne --help` of {', '.join(HEAVY)}: {heavy}")
    print_table("rinne_cli modules, cumulative import time", sorted(result["modules_ms"].items()), ("module", "ms"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
