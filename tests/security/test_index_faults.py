"""The event index under faults: chain reorganisations while it syncs, and a corrupted or deleted
index file. The index is a cache of the chain: it corrects itself from the chain, and the audit
never passes on an index that differs from what the chain says.
"""

from __future__ import annotations

import os
import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Suite, start_suite
from hypothesis import HealthCheck, given, settings, strategies as st

from ledger import Composition, LotSpec, errors
from ledger.auditor.run import audit
from ledger.chain import node as _node
from ledger.chain.abi import contract_abi
from ledger.chain.rpc import call
from ledger.index.store import EventIndex
from ledger.index.sync import SyncProgress

pytestmark = pytest.mark.chain

MINT = contract_abi("RinneLedger").fn("mint")


def ore(lot_id: str, ni: int = 10) -> LotSpec:
    return LotSpec(lot_id=lot_id, material="ORE-NI", mass=1_000, composition=Composition.of({"Ni": ni}))


def head(s: Suite) -> int:
    return int(call(s.base.w3, "eth_blockNumber", []), 16)


def reorg(s: Suite, fork: int, new_lots: list[str]) -> None:
    """Replace blocks `fork`..head by as many new blocks (anvil_reorg); the first carries mints of `new_lots`."""
    w3 = s.base.w3
    depth = head(s) - fork + 1
    nonce = int(call(w3, "eth_getTransactionCount", [s.miner.address, hex(fork - 1)]), 16)
    sender = s.miner._sender()
    txs = []
    for k, lot in enumerate(new_lots):
        raw = sender.sign(s.base.deployment.ledger, MINT.encode(ore(lot, ni=99).abi()), 400_000, nonce + k, (10**11, 10**9))
        txs.append(["0x" + raw.hex(), 0])
    call(w3, "anvil_reorg", [depth, txs])
    sender.resync()


def rows(ix: EventIndex) -> list[tuple[Any, ...]]:
    return ix.conn.execute("SELECT * FROM events ORDER BY id").fetchall()


def fresh_rows(s: Suite, tmp: Path) -> list[tuple[Any, ...]]:
    ref = EventIndex.open(tmp / f"reference-{random.getrandbits(32)}.sqlite")
    ref.sync(s.base)
    out = rows(ref)
    ref.close()
    return out


@pytest.fixture
def suite(tmp_path: Path) -> Iterator[Suite]:
    s = start_suite(tmp_path / "node")
    for i in range(40):  # one lot per block
        s.miner.mint(ore(f"A{i:02d}", ni=i + 1))
    yield s
    _node.stop(s.data_dir)


@pytest.mark.parametrize("when", ["between chunks, reaching back into indexed blocks", "between two syncs"])
def test_reorg_while_indexing_is_corrected(suite: Suite, tmp_path: Path, when: str) -> None:
    ix = EventIndex.open(tmp_path / "index.sqlite")
    d = suite.base.deployment.block
    fork = d + 12
    if when.startswith("between chunks"):
        done: list[int] = []

        def progress(p: SyncProgress) -> None:
            done.append(p.block)
            if len(done) == 2:  # blocks d..d+15 are indexed; the chain now forks at d+12
                reorg(suite, fork, ["NEW-1", "NEW-2"])

        try:
            ix.sync(suite.base, progress, chunk_blocks=8)
        except errors.ChainError:
            pass  # noticing the reorg mid-sync and stopping is fine; what counts is the next sync
        assert len(done) >= 2
    else:
        ix.sync(suite.base)
        reorg(suite, fork, ["NEW-1", "NEW-2"])
    result = ix.sync(suite.base, chunk_blocks=8)
    assert ix.has_lot("NEW-1") and ix.has_lot("NEW-2")
    assert not ix.has_lot("A20") and ix.has_lot("A05")
    assert rows(ix) == fresh_rows(suite, tmp_path)
    assert result.reorged_from is None or result.reorged_from <= fork
    report = audit(suite.base, ix, sync=False)
    assert report.passed, report.flags


def test_confirmation_depth_keeps_a_shallow_reorg_out_of_the_index(suite: Suite, tmp_path: Path) -> None:
    ix = EventIndex.open(tmp_path / "index.sqlite")
    first = ix.sync(suite.base, confirmations=5)
    reorg(suite, head(suite) - 3, ["NEW-1"])  # 4 blocks deep, the index stays 5 behind the head
    second = ix.sync(suite.base, confirmations=5)
    assert second.reorged_from is None and first.to_block < head(suite) - 3
    suite.miner.mint(ore("AFTER"))
    for _ in range(5):
        call(suite.base.w3, "evm_mine", [])
    ix.sync(suite.base, confirmations=5)
    assert ix.has_lot("NEW-1") and not ix.has_lot("A39")
    assert rows(ix) == fresh_rows(suite, tmp_path)


# ------------------------------------------------------------------------------- corrupted index


class Indexed(tuple):  # type: ignore[type-arg]
    """(suite, index file bytes, event rows), with a short repr for hypothesis' failure reports."""

    def __repr__(self) -> str:
        return f"<indexed chain, {len(self[1])}-byte index, {len(self[2])} events>"


def rows_trusted(ix: EventIndex) -> list[tuple[Any, ...]]:
    """Event rows without tx_hash: the one column nothing in the library reads (nor checks)."""
    return [r[:3] + r[4:] for r in rows(ix)]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Indexed]:
    """A chain with a few hundred events and the bytes of its (closed, checkpointed) index file."""
    tmp = tmp_path_factory.mktemp("indexed")
    s = start_suite(tmp / "node")
    s.miner.mint_many([ore(f"C{i:03d}", ni=i + 1) for i in range(300)], batch_size=50)
    for i in range(5):
        s.miner.mint(ore(f"S{i}"))
    ix = EventIndex.open(tmp / "good.sqlite")
    ix.sync(s.base)
    good_rows = rows_trusted(ix)
    ix.close()
    yield Indexed((s, (tmp / "good.sqlite").read_bytes(), good_rows))
    _node.stop(s.data_dir)


def _write(path: Path, data: bytes) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.write_bytes(data)


def _judge(s: Suite, path: Path, good_rows: list[tuple[Any, ...]]) -> str:
    """Open, sync, check (what trace, verify and passport do) and audit a possibly corrupted index.
    Allowed: a clean IndexCorrupt, a failing audit, or passing checks and audit of an index whose
    events equal the chain's. Anything else fails."""
    try:
        ix = EventIndex.open(path)
        ix.sync(s.base)
        ix.verify_heads(s.base.w3, deployment=s.base.deployment)
        assert rows_trusted(ix) == good_rows, "the index passed verify_heads but differs from the chain"
        report = audit(s.base, ix, sync=False)
    except errors.IndexCorrupt as exc:
        assert "\n" not in str(exc)
        return "refused"
    try:
        if report.passed:
            assert rows_trusted(ix) == good_rows, "the audit passed on an index that differs from the chain"
            return "passed, equal to the chain"
        return "flagged"
    finally:
        ix.close()


def _rebuild(s: Suite, path: Path, good_rows: list[tuple[Any, ...]]) -> None:
    """What a user does with a refused or flagged index: delete it, sync again from the chain."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    ix = EventIndex.open(path)
    assert audit(s.base, ix).passed
    assert rows_trusted(ix) == good_rows
    ix.close()


def test_deleted_index_is_rebuilt_from_the_chain(indexed: Any, tmp_path: Path) -> None:
    s, _, good_rows = indexed
    _rebuild(s, tmp_path / "index.sqlite", good_rows)


@pytest.mark.parametrize(
    "damage",
    [
        "garbage",
        "empty",
        "truncated",
        "zeroed page",
        "header only",
        "synced_block ahead",
        "synced_block behind",
        "block hash altered",
        "event deleted",
        "deployment swapped",
    ],
)
def test_damaged_index_is_never_trusted_and_rebuilds(indexed: Any, tmp_path: Path, damage: str) -> None:
    s, good, good_rows = indexed
    path = tmp_path / "index.sqlite"
    data = good
    if damage == "garbage":
        data = os.urandom(len(good))
    elif damage == "empty":
        data = b""
    elif damage == "truncated":
        data = good[: len(good) // 2]
    elif damage == "zeroed page":
        data = good[: len(good) // 2] + b"\0" * 4096 + good[len(good) // 2 + 4096 :]
    elif damage == "header only":
        data = good[:100]
    _write(path, data)
    if damage in ("synced_block ahead", "synced_block behind", "block hash altered", "event deleted", "deployment swapped"):
        db = sqlite3.connect(path)
        synced = int(db.execute("SELECT value FROM meta WHERE key='synced_block'").fetchone()[0])
        if damage == "synced_block ahead":
            db.execute("UPDATE meta SET value=? WHERE key='synced_block'", (str(synced + 1000),))
        elif damage == "synced_block behind":
            db.execute("UPDATE meta SET value=? WHERE key='synced_block'", (str(synced - 3),))
        elif damage == "block hash altered":
            db.execute("UPDATE blocks SET hash=? WHERE number=(SELECT MAX(number) FROM blocks)", (b"\1" * 32,))
        elif damage == "event deleted":
            db.execute("DELETE FROM events WHERE id=(SELECT id FROM events ORDER BY id LIMIT 1 OFFSET 10)")
        else:
            db.execute("UPDATE meta SET value=replace(value, '\"chain_id\":31337', '\"chain_id\":1') WHERE key='deployment'")
        db.commit()
        db.close()
    verdict = _judge(s, path, good_rows)
    assert verdict in ("refused", "flagged", "passed, equal to the chain")
    _rebuild(s, path, good_rows)


@settings(
    max_examples=int(os.environ.get("RINNE_INDEX_FUZZ_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(flips=st.lists(st.tuples(st.floats(0.0, 1.0, exclude_max=True), st.integers(1, 255)), min_size=1, max_size=40))
def test_random_byte_damage_is_never_trusted(indexed: Any, tmp_path: Path, flips: list[tuple[float, int]]) -> None:
    s, good, good_rows = indexed
    data = bytearray(good)
    for where, mask in flips:
        data[100 + int(where * (len(data) - 100))] ^= mask  # past the 100-byte file header
    path = tmp_path / f"fuzz-{random.getrandbits(48)}.sqlite"
    _write(path, bytes(data))
    _judge(s, path, good_rows)


_SYNC_ONE = """
import sys
from ledger import EventIndex, Ledger
ledger = Ledger.connect(sys.argv[1], data_dir=sys.argv[2])
with EventIndex.open(sys.argv[3]) as ix:
    ix.sync(ledger)
    print(ix.event_count())
"""


def test_commands_syncing_one_index_at_once_all_succeed_and_agree(suite: Suite, tmp_path: Path) -> None:
    """Two `rinne` commands run side by side (a shell's `&`, a dashboard's parallel calls) sync the same
    index file: none may fail on events the other stored, and the file ends as a fresh sync's."""
    import subprocess
    import sys

    suite.miner.mint_many([ore(f"PAR-{i}") for i in range(120)])
    path = tmp_path / "shared.sqlite"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _SYNC_ONE, suite.node.rpc_url, str(suite.data_dir), str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [err for _, err in results]
    counts = {int(out.split()[-1]) for out, _ in results}
    with EventIndex.open(path) as ix:
        assert rows(ix) == fresh_rows(suite, tmp_path)
        assert counts == {ix.event_count()}
