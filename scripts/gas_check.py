#!/usr/bin/env python3
"""Whole-transaction gas of the ledger's operations, checked against the committed `.gas-snapshot`.

Runs the forge suite contracts/_test/Gas.t.sol with `--isolate`, where every top-level call is its own
transaction, so each `snapshotGasLastCall` figure is what a receipt would show (21,000 base, calldata,
cold storage, refunds). Compares every figure with `.gas-snapshot` and fails when one grew by more
than the tolerance; prints the figures against the budgets of the Foundation issue.

    python3 scripts/gas_check.py                 check (exit 1 on a regression beyond 2 %)
    python3 scripts/gas_check.py --update        rewrite .gas-snapshot from a fresh run
    python3 scripts/gas_check.py --tolerance 0.5 a tighter check
    python3 scripts/gas_check.py --enforce-budgets  also fail when a budget is missed

`.gas-snapshot` uses forge's line format (`GasTest:<operation> (gas: N)`) but holds these
whole-transaction figures: regenerate it with this script, not with `forge snapshot`.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / ".gas-snapshot"
GROUP = "GasTest"
RESULTS = ROOT / "build" / "snapshots" / f"{GROUP}.json"
LINE = re.compile(r"^(?P<group>[^:]+):(?P<name>.+) \(gas: (?P<gas>\d+)\)$")

# Budgets from the Foundation issue, whole transaction. Each is (label, figure names, limit); a budget over
# several names applies to their sum, and "per extra input" to the difference 5->1 minus 4->1.
BUDGETS = [
    ("mint", ["mint"], 100_000),
    ("offer + accept", ["offer", "accept"], 65_000),
    ("transform 4->1", ["transform 4->1"], 160_000),
    ("transform, per extra input", ["transform 5->1", "-transform 4->1"], 12_000),
    ("attest (EOA)", ["attest (EOA)"], 150_000),
    ("attest (ERC-1271)", ["attest (ERC-1271)"], 150_000),
    ("split into 2", ["split into 2"], 180_000),
]


def run_forge() -> dict[str, int]:
    # The platform binary: node_modules/.bin/forge (an npm wrapper) does not pass on forge's exit status.
    found = sorted((ROOT / "node_modules" / "@foundry-rs").glob("forge-*/bin/forge"))
    if not found:
        sys.exit("no forge binary under node_modules/@foundry-rs/forge-*/bin: run `npm ci` first")
    forge = found[0]
    RESULTS.unlink(missing_ok=True)
    cmd = [str(forge), "test", "--isolate", "--match-path", "contracts/_test/Gas.t.sol"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0 or re.search(r"\b[1-9]\d* failed\b", proc.stdout):
        sys.stdout.write(proc.stdout[-4000:])
        sys.stderr.write(proc.stderr[-4000:])
        sys.exit("gas suite failed")
    if not RESULTS.exists():
        sys.exit(f"forge wrote no {RESULTS.relative_to(ROOT)}: are snapshots = 'build/snapshots' and gas_snapshot_emit on?")
    return {name: int(value) for name, value in json.loads(RESULTS.read_text()).items()}


def read_snapshot() -> dict[str, int]:
    figures = {}
    if SNAPSHOT.exists():
        for line in SNAPSHOT.read_text().splitlines():
            m = LINE.match(line.strip())
            if m and m["group"] == GROUP:
                figures[m["name"]] = int(m["gas"])
    return figures


def write_snapshot(figures: dict[str, int]) -> None:
    SNAPSHOT.write_text("".join(f"{GROUP}:{name} (gas: {gas})\n" for name, gas in sorted(figures.items())))


def budget_rows(figures: dict[str, int]) -> list[tuple[str, int | None, int]]:
    rows = []
    for label, names, limit in BUDGETS:
        total = 0
        for name in names:
            sign, key = (-1, name[1:]) if name.startswith("-") else (1, name)
            if key not in figures:
                total = None
                break
            total += sign * figures[key]
        rows.append((label, total, limit))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--update", action="store_true", help="rewrite .gas-snapshot")
    parser.add_argument("--tolerance", type=float, default=2.0, help="allowed growth in percent (default 2)")
    parser.add_argument("--enforce-budgets", action="store_true", help="fail when a budget is missed")
    args = parser.parse_args()

    current = run_forge()
    if args.update:
        write_snapshot(current)
        print(f"wrote {SNAPSHOT.name} ({len(current)} figures)")
    baseline = read_snapshot()

    failures = []
    print(f"{'operation (whole transaction)':34} {'gas':>9} {'baseline':>9} {'change':>8}")
    for name in sorted(set(current) | set(baseline)):
        now, then = current.get(name), baseline.get(name)
        if now is None:
            failures.append(f"{name}: in .gas-snapshot but no longer measured")
            print(f"{name:34} {'-':>9} {then:>9,}")
            continue
        if then is None:
            failures.append(f"{name}: measured but missing from .gas-snapshot (run with --update)")
            print(f"{name:34} {now:>9,} {'-':>9}")
            continue
        change = (now - then) / then * 100
        mark = ""
        if change > args.tolerance:
            failures.append(f"{name}: {then:,} -> {now:,} (+{change:.2f} % > {args.tolerance} %)")
            mark = "  REGRESSION"
        elif change < -args.tolerance:
            mark = "  improved: run with --update"
        print(f"{name:34} {now:>9,} {then:>9,} {change:>+7.2f}%{mark}")

    print(f"\n{'budget':34} {'gas':>9} {'budget':>9}")
    missed = []
    for label, total, limit in budget_rows(current):
        status = "n/a" if total is None else ("ok" if total <= limit else "MISSED")
        if status == "MISSED":
            missed.append(label)
        print(f"{label:34} {total if total is not None else '-':>9,} {limit:>9,}  {status}")

    if args.enforce_budgets and missed:
        failures.extend(f"budget missed: {label}" for label in missed)
    if failures:
        print("\ngas check FAILED:\n  " + "\n  ".join(failures))
        return 1
    print(f"\ngas check passed: {len(current)} figures within {args.tolerance} % of .gas-snapshot")
    return 0


if __name__ == "__main__":
    sys.exit(main())
