"""Scans of a PostgreSQL index through its server-side cursors (issue 15): every row once, at every batch
boundary, with other statements between the batches, and the session planned for scans read to their end."""

from __future__ import annotations

from pathlib import Path

import pytest
from index_backends import Targets

from ledger.index.store import EventIndex

BATCH = 4


@pytest.fixture
def pg_index(tmp_path: Path):
    targets = Targets("postgresql", tmp_path)
    ix = EventIndex.open(targets.fresh("scans"))
    try:
        yield ix
    finally:
        ix.close()
        targets.drop()


@pytest.mark.parametrize("rows", [0, 1, BATCH - 1, BATCH, BATCH + 1, 2 * BATCH, 2 * BATCH + 1])
def test_a_scan_yields_every_row_once_at_each_batch_boundary(pg_index: EventIndex, rows: int) -> None:
    # A scan stops at its first short batch: a result that is a whole number of batches must still be read to its end.
    pg_index.conn.executemany("INSERT INTO meta VALUES(?, ?)", [(f"k{i:03}", str(i)) for i in range(rows)])
    got = list(pg_index.conn.execute("SELECT key FROM meta WHERE key LIKE 'k%' ORDER BY key").rows(BATCH))  # type: ignore[attr-defined]
    assert got == [(f"k{i:03}",) for i in range(rows)]


def test_statements_between_batches_do_not_cut_the_scan_short(pg_index: EventIndex) -> None:
    pg_index.conn.executemany("INSERT INTO meta VALUES(?, ?)", [(f"k{i:03}", str(i)) for i in range(3 * BATCH)])
    seen = []
    for (key,) in pg_index.conn.execute("SELECT key FROM meta WHERE key LIKE 'k%' ORDER BY key").rows(BATCH):  # type: ignore[attr-defined]
        # What the audit does between two batches: lookups, and a write that commits.
        assert pg_index.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone() is not None
        pg_index.conn.execute("INSERT INTO meta VALUES(?, ?)", ("z" + key, "x"))
        seen.append(key)
    assert seen == [f"k{i:03}" for i in range(3 * BATCH)]


def test_the_session_plans_scans_to_be_read_whole(pg_index: EventIndex) -> None:
    # A WITH HOLD cursor is computed whole at its commit: a plan fast to its first rows only costs
    # (the freeze-event scan of every trace walked all events in id order instead of its partial index).
    assert pg_index.conn.execute("SHOW cursor_tuple_fraction").fetchone() == ("1",)


def test_building_the_indexes_after_a_bulk_load_gathers_statistics(pg_index: EventIndex) -> None:
    # Without them the planner sorted every event through a hash join for the audit's scan.
    pg_index._build_secondary_indexes()
    analysed = pg_index.conn.execute(
        "SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema() AND last_analyze IS NOT NULL"
    ).fetchall()
    assert {"events", "blocks", "lots", "op_in", "op_out", "attested"} <= {r[0] for r in analysed}
