"""Shared helpers of the benchmark scripts (scripts/bench_*.py): a fresh Anvil each script starts
itself, a deployed ledger with funded parties, facts about the machine, peak RSS, and output as a
human table or (``--json``) one JSON object on stdout.

Not a benchmark itself; ``python scripts/bench_all.py`` runs them all.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

import ledger
from ledger import Ledger, NodeInfo, Role, find_anvil, start_node, stop_node

ROOT = Path(__file__).resolve().parents[1]

ALL_ROLES = Role(sum(int(r) for r in Role))


@dataclass
class Bench:
    """A fresh Anvil with the Rinne contracts deployed and one funded Ledger per party."""

    data_dir: Path
    node: NodeInfo
    admin: Ledger
    parties: dict[str, Ledger] = field(default_factory=dict)
    accounts: dict[str, LocalAccount] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Ledger:
        return self.parties[name]

    @property
    def w3(self) -> Any:
        return self.admin.w3

    def rpc(self, method: str, params: list[Any] | None = None) -> Any:
        return self.admin.rpc(method, params or [])

    def head(self) -> int:
        return int(self.rpc("eth_blockNumber"), 16)

    def set_automine(self, on: bool) -> None:
        """Switch a bulk node between mining on request and one block per transaction."""
        self.rpc("evm_setAutomine", [on])
        for led in self.parties.values():
            led.resync()  # let each account notice the change
        self.admin.resync()


@contextmanager
def fresh_chain(parties: dict[str, Role], *, bulk: bool = True, extra_args: Sequence[str] = ()) -> Iterator[Bench]:
    """Start a throwaway Anvil (``bulk``: mining on request, 1G-gas blocks, zero base fee), deploy,
    fund and register `parties`; stop the node afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix="rinne-bench-"))
    node = start_node(tmp, persist=False, bulk=bulk, extra_args=list(extra_args))
    try:
        base = Ledger.connect(node.rpc_url, data_dir=tmp)
        accounts = {"admin": Account.create(), **{name: Account.create() for name in parties}}
        for acct in accounts.values():
            base.fund(acct.address, 10**24)
        admin = base.with_account(accounts["admin"])
        admin.deploy()
        bench = Bench(tmp, node, admin, accounts=accounts)
        for name, roles in parties.items():
            bench.parties[name] = admin.with_account(accounts[name])
            if roles:
                admin.register(accounts[name].address, roles, name)
        yield bench
    finally:
        stop_node(tmp)
        _rmtree(tmp)


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


# ------------------------------------------------------------------------------- measuring


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MB.

    From /proc (VmHWM): on Linux, getrusage's ru_maxrss of a child started by exec carries over its
    parent's peak, so every child would report at least the parent's."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    """Resident set size of this process now, MB (from /proc)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


class Timer:
    """``with Timer() as t: ...`` then ``t.s`` seconds."""

    def __enter__(self) -> Timer:
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.s = time.perf_counter() - self.t0


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        mem_gb = None
    try:
        anvil = subprocess.run([find_anvil(), "--version"], capture_output=True, text=True, timeout=10).stdout.split("\n")[0]
    except Exception:
        anvil = "unknown"
    import web3

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": mem_gb,
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "web3": web3.__version__,
        "anvil": anvil.replace("anvil Version: ", ""),
        "keccak": keccak_backend(),
    }


def keccak_backend() -> str:
    """Which Keccak implementation the library uses."""
    return ledger.keccak_backend()


def run_child(script: str, args: Sequence[str], timeout: float = 3600) -> dict[str, Any]:
    """Run another benchmark script with ``--json`` in a fresh process; return its JSON object."""
    cmd = [sys.executable, str(ROOT / "scripts" / script), *args, "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------- output


def verdict(value: float | None, goal: float, *, at_most: bool = False) -> str:
    """'met' or 'missed by N%' for a figure against its goal."""
    if value is None:
        return "n/a"
    ok = value <= goal if at_most else value >= goal
    if ok:
        return "met"
    gap = (value - goal) / goal * 100 if at_most else (goal - value) / goal * 100
    return f"missed by {gap:.0f}%"


def print_table(title: str, rows: Sequence[Sequence[Any]], header: Sequence[str]) -> None:
    """Print rows as an aligned plain-text table."""
    cells = [[str(c) for c in header]] + [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(cells[0], widths)))
    print("  ".join("-" * w for w in widths))
    for r in cells[1:]:
        print("  ".join(c.rjust(w) if _numeric(c) else c.ljust(w) for c, w in zip(r, widths)))


def _fmt(c: Any) -> str:
    if isinstance(c, float):
        return f"{c:.2f}" if abs(c) < 10 else f"{c:,.1f}" if abs(c) < 100 else f"{c:,.0f}"
    if isinstance(c, int) and not isinstance(c, bool):
        return f"{c:,}"
    return str(c)


def _numeric(c: str) -> bool:
    return c.replace(",", "").replace(".", "").replace("-", "").isdigit()


def emit(result: dict[str, Any], as_json: bool) -> None:
    """With --json print the result object as one line (the last line of stdout)."""
    if as_json:
        print(json.dumps(result, separators=(",", ":")))


def log(msg: str, *, quiet: bool = False) -> None:
    """Progress on stderr (stdout carries only the table or the JSON object)."""
    if not quiet:
        print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------ PostgreSQL

#: The index backends the replay benchmarks compare (issue 15).
BACKENDS = ("sqlite", "postgresql")


def parse_backends(text: str) -> list[str]:
    """``sqlite,postgresql`` → the list, refusing a name that is not a backend."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in BACKENDS]
    if bad or not names:
        raise SystemExit(f"--index-backend takes {', '.join(BACKENDS)} (comma-separated), not {text!r}")
    return names


@contextmanager
def pg_server(url: str | None) -> Iterator[str]:
    """A PostgreSQL URL for the benchmark: `url` when given (left running), else a throwaway server from
    scripts/pg-test-server.sh, stopped at the end, also on Ctrl-C, SIGTERM or an error.

    The throwaway server is switched back to PostgreSQL's durable defaults (fsync, synchronous_commit,
    full_page_writes on; the test script turns them off): a benchmark of the index against SQLite in
    WAL mode should not compare it with a server that may lose or tear a committed batch."""
    if url:
        yield url
        return
    import signal

    proc = subprocess.run(["bash", str(ROOT / "scripts" / "pg-test-server.sh")], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise SystemExit(f"pg-test-server.sh failed: {proc.stderr.strip()[-500:]}")
    started = proc.stdout.strip().splitlines()[-1]
    data_dir = proc.stderr.split("stop: bash scripts/pg-test-server.sh stop ", 1)[1].split(")", 1)[0].strip()
    previous = signal.getsignal(signal.SIGTERM)

    def on_term(signum: int, frame: Any) -> None:
        raise SystemExit(143)  # unwinds through the finally below, which stops the server

    signal.signal(signal.SIGTERM, on_term)
    try:
        # The script sets them off on the server's command line, which no ALTER SYSTEM overrides: restart the
        # server with its other options only.
        from urllib.parse import urlsplit

        pg_bin = (Path(data_dir) / "bin").read_text().strip()
        opts = f"-c listen_addresses=127.0.0.1 -p {urlsplit(started).port} -k {data_dir} -c max_connections=200"
        run_as = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
        subprocess.run(
            [*run_as, f"{pg_bin}/pg_ctl", "-D", f"{data_dir}/data", "-l", f"{data_dir}/log", "-w", "-o", opts, "restart"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        log(f"bench: PostgreSQL server {started} (data {data_dir}; fsync, synchronous_commit on)")
        yield started
    finally:
        signal.signal(signal.SIGTERM, previous)
        subprocess.run(["bash", str(ROOT / "scripts" / "pg-test-server.sh"), "stop", data_dir], capture_output=True, timeout=120)


def pg_settings(url: str) -> dict[str, str]:
    """The server settings that decide what a commit costs, and the server's version."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        out = {k: conn.execute(f"SHOW {k}").fetchone()[0] for k in ("server_version", "fsync", "synchronous_commit", "shared_buffers")}
    return out


def process_peak_rss_mb(pid: int) -> float | None:
    """VmHWM of another process (a PostgreSQL backend on this machine), MB; None when /proc does not say."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None
