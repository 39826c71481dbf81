"""`rinne --help` and every manual page start without the chain stack (web3, eth-account, eth-abi,
eth-utils, coincurve): a fresh interpreter runs them and reports what it imported.

Only which modules load is checked; how long they take is scripts/bench_startup.py's (timing is
flaky under a loaded test runner).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import click
import pytest

from rinne_cli.main import cli

#: Top-level packages a manual page must not import: the chain stack the issue's 0.8 s came from.
HEAVY = ("web3", "eth_account", "eth_abi", "eth_utils", "coincurve")


def _paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for name, cmd in group.commands.items():
        out.append(prefix + (name,))
        if isinstance(cmd, click.Group):
            out += _paths(cmd, prefix + (name,))
    return out


#: `rinne --help` and each top-level command's or group's.
TOP = [(), *((name,) for name in cli.commands)]
#: Every command and group below the top, leaves included.
ALL = _paths(cli)


def _env(*, importtime: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RINNE_", "ETH_RPC_URL", "PYTHONPROFILEIMPORTTIME"))}
    env["NO_COLOR"] = "1"
    if importtime:
        env["PYTHONPROFILEIMPORTTIME"] = "1"  # -X importtime, also for the console script
    return env


def _rinne() -> list[str]:
    # The installed console script when there is one (what a user runs), else the module.
    script = Path(sys.executable).with_name("rinne")
    return [str(script)] if script.exists() else [sys.executable, "-m", "rinne_cli.main"]


def _culprits(importtime: str, module: str) -> str:
    """Who imported `module` first, from `-X importtime` output: its chain of importers inside rinne_cli
    and ledger (importtime lists a module before its importers, each indented one step less)."""
    lines = [line.split("|")[-1] for line in importtime.splitlines() if line.startswith("import time:") and "|" in line]
    names = [(len(n) - len(n.lstrip()), n.strip()) for n in lines]
    for k, (depth, name) in enumerate(names):
        if name == module:
            chain = []
            for d, n in names[k + 1 :]:
                if d < depth:
                    depth = d
                    if n.startswith(("rinne_cli", "ledger")):
                        chain.append(n)
            return " <- ".join(chain) or "?"
    return "?"


def _imported(importtime: str) -> set[str]:
    return {line.split("|")[-1].strip() for line in importtime.splitlines() if line.startswith("import time:") and "|" in line}


@pytest.mark.parametrize("path", TOP, ids=["rinne"] + [" ".join(p) for p in TOP[1:]])
def test_the_manual_page_starts_without_the_chain_stack(path: tuple[str, ...]) -> None:
    proc = subprocess.run([*_rinne(), *path, "--help"], capture_output=True, text=True, env=_env(importtime=True), timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Usage: rinne" in proc.stdout
    loaded = _imported(proc.stderr)
    assert "rinne_cli.main" in loaded, "no -X importtime output: the check would pass vacuously"
    heavy = {m: _culprits(proc.stderr, m) for m in HEAVY if m in loaded}
    page = " ".join(("rinne", *path, "--help"))
    assert not heavy, f"`{page}` imported " + "; ".join(f"{m} (via {how})" for m, how in heavy.items())


#: Shows every manual page (the paths in argv[2]), one after the other, in one fresh interpreter, and
#: writes to the file argv[1] which of the modules in argv[3] importing the command line loaded, then
#: which each page added: a page may also load modules when it is shown, not only when imported.
_WALK = textwrap.dedent(
    """
    import json, sys
    heavy = json.loads(sys.argv[3])
    from rinne_cli.main import cli
    report = {"import": [m for m in heavy if m in sys.modules]}
    seen = set(report["import"])
    for path in json.loads(sys.argv[2]):
        code = cli.main([*path, "--help"], prog_name="rinne", standalone_mode=False)
        new = [m for m in heavy if m in sys.modules and m not in seen]
        seen.update(new)
        report[" ".join(path)] = {"exit": code, "new": new}
    with open(sys.argv[1], "w") as fh:
        json.dump(report, fh)
    """
)


def test_every_manual_page_shows_without_the_chain_stack(tmp_path: Path) -> None:
    out = tmp_path / "modules.json"
    cmd = [sys.executable, "-c", _WALK, str(out), json.dumps(ALL), json.dumps(HEAVY)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(importtime=False), timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report.pop("import") == [], "importing rinne_cli.main loads the chain stack (see the per-page test for who)"
    assert set(report) == {" ".join(p) for p in ALL}
    failed = {page: r["exit"] for page, r in report.items() if r["exit"] != 0}
    assert not failed, failed
    heavy = {page: r["new"] for page, r in report.items() if r["new"]}
    assert not heavy, f"manual pages that load the chain stack: {heavy}"
