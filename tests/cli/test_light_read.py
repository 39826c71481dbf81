"""`rinne lot show` reads without web3 or eth-account (issue 16), and still refuses what Ledger refuses.

The installed `rinne` runs as a real subprocess with ``-X importtime`` (PYTHONPROFILEIMPORTTIME) against a
real Anvil: which modules load is checked, not how long they take (timing is flaky on a loaded runner; the
figure is in docs/performance.md). Its answer is compared with the library's :meth:`ledger.Ledger.lot`, and
the attacks on a read the light path must not let through are each a test: a deployment record pointing at a
contract that is not the shipped suite, a node serving another chain than asked for, a node that is gone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account

from ledger import Composition, Ledger, LedgerReader, LotSpec, Role, load_deployment, origin_code, to_bytes32
from ledger.chain.rpc import call

pytestmark = pytest.mark.chain

RINNE = Path(sys.executable).parent / "rinne"

#: Packages `rinne lot show` must not import: web3 and eth-account were most of its start, eth-abi 0.1 s (issue 16).
NOT_LOADED = ("web3", "eth_account", "eth_keyfile", "eth_abi", "eth_utils", "requests", "aiohttp")


@pytest.fixture
def home(anvil, tmp_path):
    """A data directory with a deployment and one minted lot, R-LIGHT; the chain reverted afterwards."""
    ledger = Ledger.connect(anvil.rpc_url, data_dir=tmp_path / "home")
    snapshot = call(ledger.w3, "evm_snapshot", [])
    admin, refiner = Account.create(), Account.create()
    for acct in (admin, refiner):
        ledger.fund(acct.address)
    ledger.with_account(admin).deploy()
    ledger.with_account(admin).register(refiner.address, Role.REFINER, "light refinery")
    spec = LotSpec(
        lot_id="R-LIGHT",
        material="NiSO4",
        mass=2_000_000,
        composition=Composition.of({"Ni": 440_000}),
        origin=origin_code("FI", "Harjavalta"),
    )
    ledger.with_account(refiner).mint(spec)
    yield tmp_path / "home"
    call(ledger.w3, "evm_revert", [snapshot])


def _env(home: Path, rpc_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RINNE_", "ETH_RPC_URL", "PYTHONPROFILEIMPORTTIME"))}
    env.update(RINNE_HOME=str(home), RINNE_KEYSTORE_DIR=str(home / "keys"), ETH_RPC_URL=rpc_url, NO_COLOR="1")
    env["PYTHONPROFILEIMPORTTIME"] = "1"  # -X importtime, also for the console script
    return env


def _run(home: Path, rpc_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(RINNE), *args], env=_env(home, rpc_url), capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )


def _imported(importtime: str) -> set[str]:
    return {line.split("|")[-1].strip() for line in importtime.splitlines() if line.startswith("import time:") and "|" in line}


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if not line.startswith("import time:")]


def test_lot_show_never_imports_web3_and_answers_as_the_library_does(anvil, home):
    proc = _run(home, anvil.rpc_url, "lot", "show", "R-LIGHT", "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    loaded = _imported(proc.stderr)
    assert "rinne_cli.main" in loaded, "no -X importtime output: the check would pass vacuously"
    assert not [m for m in NOT_LOADED if m in loaded], f"`rinne lot show` imported {[m for m in NOT_LOADED if m in loaded]}"
    shown = json.loads(proc.stdout)
    lot = Ledger.connect(anvil.rpc_url, data_dir=home).lot("R-LIGHT")
    assert shown["lot_id"] == lot.lot_id == to_bytes32("R-LIGHT")
    assert (shown["holder"], shown["mass_g"], shown["material"], shown["commitment"]) == (
        lot.holder,
        lot.mass,
        lot.material,
        lot.commitment,
    )
    assert shown["composition"]["total"] == {"Ni": 440_000}


def test_the_reader_and_the_ledger_read_the_same_lot(anvil, home):
    reader = LedgerReader.connect(anvil.rpc_url, data_dir=home)
    try:
        assert reader.check_deployment() == Ledger.connect(anvil.rpc_url, data_dir=home).check_deployment()
        assert reader.lot("R-LIGHT") == Ledger.connect(anvil.rpc_url, data_dir=home).lot("R-LIGHT")
        assert reader.lot("NO-SUCH-LOT").state == 0
    finally:
        reader.close()


def test_an_unknown_lot_is_one_line(anvil, home):
    proc = _run(home, anvil.rpc_url, "lot", "show", "NO-SUCH-LOT")
    assert proc.returncode == 1 and proc.stdout == ""
    assert _error_lines(proc.stderr) == [f"Error: no lot NO-SUCH-LOT on chain {anvil.chain_id}"]


def test_a_record_pointing_at_another_contract_is_refused(anvil, home):
    # Attack: whoever can write the data folder points the record's ledger at the attestation contract,
    # which would answer `lot()` with nothing; the light read checks the suite before it reads, as Ledger does.
    d = load_deployment(home, anvil.chain_id)
    record = home / "deployments" / f"{anvil.chain_id}.json"
    record.write_text(d.model_copy(update={"ledger": d.attestations}).model_dump_json())
    proc = _run(home, anvil.rpc_url, "lot", "show", "R-LIGHT")
    lines = _error_lines(proc.stderr)
    assert proc.returncode == 1 and proc.stdout == "" and len(lines) == 1, proc.stderr[-2000:]
    assert "is not the shipped RinneLedger" in lines[0]


def test_another_chain_than_asked_for_is_refused(anvil, home):
    proc = _run(home, anvil.rpc_url, "lot", "show", "R-LIGHT", "--chain-id", str(anvil.chain_id + 1))
    lines = _error_lines(proc.stderr)
    assert proc.returncode == 1 and len(lines) == 1 and f"serves chain {anvil.chain_id}, expected" in lines[0]


def test_no_deployment_recorded_is_one_line(anvil, tmp_path):
    proc = _run(tmp_path / "empty", anvil.rpc_url, "lot", "show", "R-LIGHT")
    lines = _error_lines(proc.stderr)
    assert proc.returncode == 1 and len(lines) == 1 and "rinne deploy" in lines[0], proc.stderr[-2000:]


def test_a_node_that_is_gone_is_one_line(home):
    url = "http://127.0.0.1:1"
    proc = _run(home, url, "lot", "show", "R-LIGHT")
    lines = _error_lines(proc.stderr)
    assert proc.returncode == 1 and len(lines) == 1 and f"cannot reach {url}" in lines[0] and "--rpc-url" in lines[0]
