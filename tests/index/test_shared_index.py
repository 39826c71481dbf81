"""Several processes on one index (issue 15): one syncs while others read, and readers never see half
a batch; a second syncer waits for the elected one, then finds its work done. No chain: batches of
synthetic logs go through :meth:`EventIndex.ingest`, each batch one transaction. The writer stops
inside a batch's transaction (its events stored, not committed) until the reader has looked, so the
test does not hope for an overlap: it makes one at every batch."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from index_backends import Targets, sql

from ledger.index.store import EventIndex

LEDGER_ADDR = "0x" + "11" * 20
PER_BATCH = 150
BATCHES = 4
FIRST_BLOCK = 100


def _logs(block: int) -> list[dict[str, Any]]:
    """PER_BATCH logs of one block (an unknown event: stored, no relation rows)."""
    bh = "0x" + f"{block:064x}"
    return [
        {
            "address": LEDGER_ADDR,
            "blockNumber": hex(block),
            "blockHash": bh,
            "logIndex": hex(i),
            "transactionHash": "0x" + f"{block:032x}{i:032x}",
            "topics": ["0x" + "ab" * 32, "0x" + f"{i:064x}"],
            "data": "0x" + f"{block * 1000 + i:064x}",
            "removed": False,
        }
        for i in range(PER_BATCH)
    ]


_WRITER = f"""
import sys, time
from pathlib import Path
sys.path[:0] = [{str(Path(__file__).resolve().parent)!r}, {str(Path(__file__).resolve().parents[1])!r}]
from test_shared_index import FIRST_BLOCK, BATCHES, LEDGER_ADDR, _logs
from ledger.index.store import EventIndex

target, folder = sys.argv[1], Path(sys.argv[2])
ix = EventIndex.open(target)
real = ix.conn.executemany
state = {{"batch": 0}}

def executemany(statement, rows):
    out = real(statement, rows)
    if "INTO blocks" in statement:  # inside the batch's transaction: its events stored, not committed
        k = state["batch"]
        (folder / f"mid-{{k}}").touch()
        deadline = time.monotonic() + 120
        while not (folder / f"go-{{k}}").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
    return out

ix.conn.executemany = executemany
for k in range(BATCHES):
    state["batch"] = k
    block = FIRST_BLOCK + k
    with ix.writing():
        ix.ingest(_logs(block), {{LEDGER_ADDR: 0}}, {{block: 1_700_000_000 + block}}, (block, bytes(32), 1_700_000_000 + block))
ix.close()
print("done")
"""


def _wait_for(path: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120  # a bound on a hung writer, not a timing being tested
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"the writer never reached {path.name}"
        time.sleep(0.01)


def _seen(target: str) -> tuple[int | None, int, int]:
    """(synced block, events, blocks) read in one statement: one snapshot of the index."""
    (row,) = sql(
        target,
        "SELECT (SELECT value FROM meta WHERE key='synced_block'), (SELECT COUNT(*) FROM events), (SELECT COUNT(*) FROM blocks)",
    )
    return (int(row[0]) if row[0] is not None else None), int(row[1]), int(row[2])


def test_readers_never_see_half_a_batch(index_at: Targets, tmp_path: Path) -> None:
    target = index_at("shared")
    EventIndex.open(target).close()
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, target, str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    reader = EventIndex.open(target)  # a library reader too, on its own connection
    try:
        for k in range(BATCHES):
            _wait_for(tmp_path / f"mid-{k}", proc)
            # The writer holds batch k's rows in an open transaction: every reader sees batch k-1's end.
            synced = None if k == 0 else FIRST_BLOCK + k - 1
            assert _seen(target) == (synced, PER_BATCH * k, k)
            assert (reader.synced_block, reader.event_count()) == (synced, PER_BATCH * k)
            assert len(list(reader.raw_events())) == PER_BATCH * k
            (tmp_path / f"go-{k}").touch()
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0 and out.strip() == "done", err
        assert _seen(target) == (FIRST_BLOCK + BATCHES - 1, PER_BATCH * BATCHES, BATCHES)
        reader.verify()
    finally:
        if proc.poll() is None:
            proc.kill()
        reader.close()


_SECOND = """
import sys
from ledger.index.store import EventIndex
with EventIndex.open(sys.argv[1]) as ix:
    print("waiting", flush=True)
    with ix.writing():
        print("elected", ix.synced_block, ix.event_count(), flush=True)
"""


def test_second_syncer_waits_for_the_elected_one_then_finds_its_work(index_at: Targets) -> None:
    """On PostgreSQL the writer lock is an advisory lock: a second process asking for it waits (the server
    shows its lock request not granted) and, once the first has stored its batch, sees that batch."""
    if index_at.backend != "postgresql":
        pytest.skip("SQLite's flock is covered by test_commands_syncing_one_index_at_once_all_succeed_and_agree")
    target = index_at("elected")
    first = EventIndex.open(target)
    assert first.pg is not None
    key = first.pg.writer_key
    with first.writing():
        proc = subprocess.Popen([sys.executable, "-c", _SECOND, target], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        # classid/objid are the key's high and low 32 bits (as unsigned oids).
        high, low = (key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF
        query = "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = ? AND objid = ? AND NOT granted"
        while sql(target, query, (high, low))[0][0] == 0:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the second process never asked for the writer lock"
            time.sleep(0.01)
        block = FIRST_BLOCK
        first.ingest(_logs(block), {LEDGER_ADDR: 0}, {block: 1}, (block, bytes(32), 1))
        assert proc.poll() is None  # still waiting: the lock is held
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert out.split() == ["waiting", "elected", str(FIRST_BLOCK), str(PER_BATCH)]
    first.close()


def test_role_that_may_only_read_reads_and_is_told_it_may_not_write(index_at: Targets) -> None:
    """A reporting role with SELECT on the schema only: it opens and reads the index; its write is a
    one-line IndexReadOnly, never "the index is damaged"."""
    from ledger import errors
    from ledger.index._postgres import split_schema

    if index_at.backend != "postgresql":
        pytest.skip("a SQLite file has no roles")
    target = index_at("roles")
    with EventIndex.open(target) as ix:
        ix.ingest(_logs(FIRST_BLOCK), {LEDGER_ADDR: 0}, {FIRST_BLOCK: 1}, (FIRST_BLOCK, bytes(32), 1))
    base, schema = split_schema(target)
    role = f"r_{schema}"[:60]
    sql(target, f"CREATE ROLE {role} LOGIN")
    try:
        sql(target, f"GRANT USAGE ON SCHEMA {schema} TO {role}")
        sql(target, f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}")
        as_reader = target.replace("://" + target.split("://", 1)[1].split("@", 1)[0] + "@", f"://{role}@", 1)
        with EventIndex.open(as_reader) as ro:
            assert ro.event_count() == PER_BATCH and ro.synced_block == FIRST_BLOCK
            ro.verify()
            with pytest.raises(errors.IndexReadOnly, match="may not write") as caught:
                ro.rollback(FIRST_BLOCK)
            assert "\n" not in str(caught.value)
        # Mid-way through a first sync's bulk load (its secondary indexes dropped) the reader still opens.
        sql(target, "DROP INDEX events_key")
        with EventIndex.open(as_reader) as ro:
            assert ro.event_count() == PER_BATCH
        # A schema it may not create is a one-line IndexReadOnly too.
        with pytest.raises(errors.IndexReadOnly):
            EventIndex.open(as_reader.replace(f"schema={schema}", f"schema={schema}_new"))
    finally:
        sql(target, f"DROP OWNED BY {role}")
        sql(target, f"DROP ROLE {role}")


def test_reopened_index_reads_the_same_rows_on_its_own_connection(index_at: Targets) -> None:
    """What the passport service's audit does (ledger/service/app.py): the same index on a second connection."""
    with EventIndex.open(index_at("again")) as ix:
        ix.ingest(_logs(FIRST_BLOCK), {LEDGER_ADDR: 0}, {FIRST_BLOCK: 1}, (FIRST_BLOCK, bytes(32), 1))
        with ix.reopen() as other:
            assert other.conn is not ix.conn and other.path == ix.path
            assert [e.id for e in other.raw_events()] == [e.id for e in ix.raw_events()] and other.event_count() == PER_BATCH
