"""The managed node killed (SIGKILL, no chance to save) in the middle of a bulk import, restarted
from its state file, and the import run again: no lot lost, none doubled.

`ledger._node.start` runs Anvil with ``--state FILE --state-interval 2``: a SIGKILL loses up to the
last two seconds of blocks. Whatever the node kept and whatever it lost, re-running the same import
must end with every lot exactly once, with the content the import gave it.

Anvil 1.7.1's periodic dump can also catch the state of a block it has not saved yet: after the
restart, storage then holds lots whose LotCreated events are gone. Re-running the import cannot
bring those events back. `_node.start` detects it (an account's nonce ahead of its transactions in
the blocks) and refuses the chain; the SIGKILL case then ends as xfail. `_node.stop` stops mining
before it signals the node, so a stop by the library mid-import always saves a consistent state.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from conftest import start_suite

from ledger import Composition, ConnectionFailed, Ledger, LedgerError, LotSpec, NodeError
from ledger.auditor.run import audit
from ledger.chain import node as _node
from ledger.chain.abi import contract_abi
from ledger.chain.rpc import call
from ledger.index.store import EventIndex

pytestmark = [pytest.mark.chain, pytest.mark.slow]

LOTS = 4_000
BATCH = 20  # 200 transactions, about 3 s: the import spans a state save


def specs() -> list[LotSpec]:
    return [
        LotSpec(lot_id=f"IMP-{i:05d}", material="ORE-NI", mass=50_000 + i, composition=Composition.of({"Ni": 1_000 + i, "Co": i % 97}))
        for i in range(LOTS)
    ]


def created_per_lot(ledger: Ledger) -> dict[str, int]:
    d = ledger.deployment
    topic = "0x" + contract_abi("RinneLedger").events["LotCreated"].topic0.hex()
    logs = call(ledger.w3, "eth_getLogs", [{"address": d.ledger, "fromBlock": hex(d.block), "toBlock": "latest", "topics": [topic]}])
    out: dict[str, int] = {}
    for log in logs:
        out[log["topics"][1]] = out.get(log["topics"][1], 0) + 1
    return out


@pytest.mark.parametrize("how", ["SIGKILL", "rinne node stop"])
def test_node_killed_during_bulk_import_then_restart_and_rerun(tmp_path: Path, how: str) -> None:
    home = tmp_path / "home"
    s = start_suite(home, persist=True)
    node = s.node
    try:
        time.sleep(2.5)  # let a state save include the deployment and the registry
        done: list[int] = []
        killed = threading.Event()

        def kill_when_halfway() -> None:
            deadline = time.monotonic() + 60
            # Past a state save (more than 2 s of importing), and in any case well before the end.
            while time.monotonic() < deadline and not (
                (sum(done) >= LOTS // 4 and time.monotonic() - started > 2.3) or sum(done) >= LOTS * 3 // 4
            ):
                time.sleep(0.01)
            if how == "SIGKILL":
                os.kill(node.pid, signal.SIGKILL)
            else:
                _node.stop(home)  # the library's own stop, as `rinne node stop` from another terminal
            killed.set()

        started = time.monotonic()
        killer = threading.Thread(target=kill_when_halfway, daemon=True)
        killer.start()
        with pytest.raises(LedgerError) as failure:
            s.miner.mint_many(specs(), batch_size=BATCH, progress=done.append)
        killer.join()
        assert killed.is_set() and isinstance(failure.value, ConnectionFailed)
        assert "\n" not in str(failure.value)
        sent_before_kill = sum(done)
        assert 0 < sent_before_kill < LOTS
        _node._reap(node.pid)

        # Restart from the state file on the same port; the recorded deployment is found again.
        try:
            node = _node.start(home, port=node.port)
        except NodeError as exc:
            assert "is inconsistent" in str(exc) and "\n" not in str(exc)
            assert how == "SIGKILL", "a node stopped by the library saves a consistent state"
            pytest.xfail("Anvil's periodic state dump caught a block's state without the block (upstream): refused at restart")
        again = Ledger.connect(node.rpc_url, data_dir=home)
        again.check_deployment()
        # The node keeps what it had saved: some lots, maybe a few more than the client saw confirmed.
        kept = len(again.with_account(s.accounts["miner"])._existing([bytes.fromhex(x.lot_id[2:]) for x in specs()]))

        result = again.with_account(s.accounts["miner"]).mint_many(specs(), batch_size=BATCH)
        assert result.skipped == kept and result.done == LOTS - kept

        per_lot = created_per_lot(again)
        assert len(per_lot) == LOTS and set(per_lot.values()) == {1}  # none lost, none doubled
        index = EventIndex.open(tmp_path / "index.sqlite")
        report = audit(again, index)  # heads, storage and every commitment agree with the replay
        assert report.passed, report.flags
        assert report.lots == LOTS
    finally:
        _node.stop(home)


def test_state_ahead_of_its_blocks_is_refused_at_restart(tmp_path: Path) -> None:
    """The detector on its own: a killed node whose state file says an account sent one transaction
    more than the blocks hold is refused; the same file, consistent, starts."""
    home = tmp_path / "home"
    s = start_suite(home, persist=True)
    try:
        s.miner.mint(specs()[0])
        time.sleep(2.5)  # a state save with everything in it
        os.kill(s.node.pid, signal.SIGKILL)
        _node._reap(s.node.pid)
        state = Path(s.node.state_file)
        good = state.read_text()
        doc = json.loads(good)
        doc["accounts"][s.accounts["miner"].address.lower()]["nonce"] += 1
        state.write_text(json.dumps(doc))
        with pytest.raises(NodeError, match="is inconsistent"):
            _node.start(home, port=s.node.port)
        state.write_text(good)
        node = _node.start(home, port=s.node.port)
        again = Ledger.connect(node.rpc_url, data_dir=home)
        assert again.lot(specs()[0].lot_id).composition == specs()[0].composition
    finally:
        _node.stop(home)
