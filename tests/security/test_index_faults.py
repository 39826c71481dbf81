"""The event index under faults: chain reorganisations while it syncs, and a corrupted or deleted
index file. The index is a cache of the chain: it corrects itself from the chain, and the audit
never passes on an index that differs from what the chain says. The reorg, damage and concurrency
tests run on SQLite and on the shared PostgreSQL index (`index_at`, tests/index_backends.py); the
byte-level damage of a file is SQLite's alone.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Suite, start_suite
from hypothesis import HealthCheck, given, settings, strategies as st
from index_backends import Targets, sql

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
def test_reorg_while_indexing_is_corrected(suite: Suite, tmp_path: Path, when: str, index_at: Targets) -> None:
    ix = EventIndex.open(index_at())
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


def test_confirmation_depth_keeps_a_shallow_reorg_out_of_the_index(suite: Suite, tmp_path: Path, index_at: Targets) -> None:
    ix = EventIndex.open(index_at())
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


def _judge(s: Suite, path: Path | str, good_rows: list[tuple[Any, ...]]) -> str:
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


def _rebuild(s: Suite, path: Path | str, good_rows: list[tuple[Any, ...]]) -> None:
    """What a user does with a refused or flagged index: delete it (drop its schema), sync again from the chain."""
    if str(path).startswith("postgresql://"):
        sql(str(path), "DROP SCHEMA " + str(path).rsplit("schema=", 1)[1] + " CASCADE")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    ix = EventIndex.open(path)
    assert audit(s.base, ix).passed
    assert rows_trusted(ix) == good_rows
    ix.close()


def test_deleted_index_is_rebuilt_from_the_chain(indexed: Any, tmp_path: Path) -> None:
    s, _, good_rows = indexed
    _rebuild(s, tmp_path / "index.sqlite", good_rows)


def _synced(target: str) -> int:
    return int(sql(target, "SELECT value FROM meta WHERE key='synced_block'")[0][0])


#: Damage anyone with write access to the index can do with SQL, on either backend (`sql` runs SQLite's SQL).
_SQL_DAMAGE: dict[str, Any] = {
    "synced_block ahead": lambda t: sql(t, "UPDATE meta SET value=? WHERE key='synced_block'", (str(_synced(t) + 1000),)),
    "synced_block behind": lambda t: sql(t, "UPDATE meta SET value=? WHERE key='synced_block'", (str(_synced(t) - 3),)),
    "block hash altered": lambda t: sql(t, "UPDATE blocks SET hash=? WHERE number=(SELECT MAX(number) FROM blocks)", (b"\1" * 32,)),
    "event deleted": lambda t: sql(t, "DELETE FROM events WHERE id=(SELECT id FROM events ORDER BY id LIMIT 1 OFFSET 10)"),
    "deployment swapped": lambda t: sql(
        t, "UPDATE meta SET value=replace(value, '\"chain_id\":31337', '\"chain_id\":1') WHERE key='deployment'"
    ),
    "event data altered": lambda t: sql(t, "UPDATE events SET data=? WHERE id=(SELECT MAX(id) FROM events)", (b"\0" * 64,)),
    "lot mass altered": lambda t: sql(t, "UPDATE lots SET mass=mass+1 WHERE event=(SELECT MIN(event) FROM lots)"),
    "schema version altered": lambda t: sql(t, "UPDATE meta SET value='0' WHERE key='schema'"),
}


@pytest.mark.parametrize(
    "damage",
    [
        "garbage",
        "empty",
        "truncated",
        "zeroed page",
        "header only",
        *_SQL_DAMAGE,
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
    if damage in _SQL_DAMAGE:
        _SQL_DAMAGE[damage](str(path))
    verdict = _judge(s, path, good_rows)
    assert verdict in ("refused", "flagged", "passed, equal to the chain")
    _rebuild(s, path, good_rows)


#: Damage only a database administrator does: a table gone or retyped under the index.
_PG_DAMAGE: dict[str, Any] = {
    "table dropped": lambda t: sql(t, "DROP TABLE op_out"),
    "column retyped": lambda t: sql(t, "ALTER TABLE events ALTER COLUMN data TYPE text USING encode(data, 'hex')"),
    "key constraint dropped": lambda t: sql(t, "ALTER TABLE events DROP CONSTRAINT events_pkey"),
}


@pytest.fixture(scope="module")
def shared_good(indexed: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Targets, list[tuple[Any, ...]]]]:
    """The `indexed` chain's events as a PostgreSQL index syncs them (skips without a server)."""
    targets = Targets("postgresql", tmp_path_factory.mktemp("shared"))
    yield targets, indexed[2]
    targets.drop()


@pytest.mark.parametrize("damage", [*_SQL_DAMAGE, *_PG_DAMAGE])
def test_damaged_shared_index_is_never_trusted_and_rebuilds(indexed: Any, shared_good: Any, damage: str) -> None:
    """The same SQL damage on the shared index, and a dropped table, retyped column or key (its
    administrator's doing, or anyone's with the schema's rights): refused, flagged or harmless."""
    s, _, good_rows = indexed
    targets, _ = shared_good
    target = targets.fresh(damage.replace(" ", "_"))
    with EventIndex.open(target) as ix:
        ix.sync(s.base)
        assert rows_trusted(ix) == good_rows
    {**_SQL_DAMAGE, **_PG_DAMAGE}[damage](target)
    verdict = _judge(s, target, good_rows)
    assert verdict in ("refused", "flagged", "passed, equal to the chain")
    _rebuild(s, target, good_rows)


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


def test_commands_syncing_one_index_at_once_all_succeed_and_agree(suite: Suite, tmp_path: Path, index_at: Targets) -> None:
    """Two `rinne` commands run side by side (a shell's `&`, a dashboard's parallel calls) sync the same
    index file: none may fail on events the other stored, and the file ends as a fresh sync's."""
    import subprocess
    import sys

    suite.miner.mint_many([ore(f"PAR-{i}") for i in range(120)])
    path = index_at("shared")
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
