"""The bulk import's writer thread (ledger.client._keeper): it keeps every queued chunk, coalesces what queues
while it writes, and hands its failure to the importing thread instead of dropping it."""

from __future__ import annotations

import threading

import pytest

from ledger.client._keeper import Keeper
from ledger.domain.disclosure import Openings, commit
from ledger.errors import ConfigError


def _openings(n: int) -> list[Openings]:
    return [commit({"site": f"Pit {k}"}, {"site": 3}, record_id=f"lot:{k}")[1] for k in range(n)]


def test_every_queued_chunk_is_kept_and_what_queues_during_a_write_goes_in_one_batch() -> None:
    ops = _openings(7)
    first_write = threading.Event()
    go_on = threading.Event()
    batches: list[list[Openings]] = []

    def keep(todo: list[Openings]) -> None:
        batches.append(todo)
        if len(batches) == 1:
            first_write.set()
            assert go_on.wait(10)

    keeper = Keeper(keep)
    keeper.add(ops[:1])
    assert first_write.wait(10)  # the writer is in its first batch: the next chunks queue behind it
    for k in range(1, 7, 2):
        keeper.add(ops[k : k + 2])
    go_on.set()
    keeper.close()
    assert [o for b in batches for o in b] == ops  # all kept, in landing order
    assert len(batches) == 2  # the three chunks that landed during the first write: one batch


def test_a_failed_write_is_raised_by_the_next_add_and_by_close() -> None:
    ops = _openings(3)
    failed = threading.Event()

    def keep(todo: list[Openings]) -> None:
        failed.set()
        raise ConfigError("cannot write the vault: disk full")

    keeper = Keeper(keep)
    keeper.add(ops[:1])
    assert failed.wait(10)
    keeper._thread.join(10)  # the writer stops at its first failure
    with pytest.raises(ConfigError, match="disk full"):
        keeper.add(ops[1:])  # no more is queued (or sent) once the vault cannot be written
    with pytest.raises(ConfigError, match="disk full"):
        keeper.close()


def test_close_without_chunks_returns() -> None:
    kept: list[list[Openings]] = []
    keeper = Keeper(kept.append)
    keeper.close()
    assert kept == []
