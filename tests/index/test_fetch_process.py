"""The sync's fetch process (ledger/index/_fetcher.py, RINNE_SYNC_FETCH=process) on a real Anvil: it
gives the index the thread gives; what it hands over is still checked by the syncing process (a block hash it reports that the
chain does not have is never stored); and a fetch process that dies mid-sync is a one-line error that
leaves the index as the last committed chunk left it, which the next sync completes."""

from __future__ import annotations

import multiprocessing
import os
import signal
from typing import Any

import pytest
from index_backends import Targets

from ledger import Composition, LotSpec, errors
from ledger.index import _fetcher
from ledger.index.store import EventIndex
from ledger.index.sync import SyncProgress

pytestmark = pytest.mark.chain

TABLES = ("events", "lots", "op_in", "op_out", "attested", "blocks")


def ore(lot_id: str, ni: int) -> LotSpec:
    return LotSpec(lot_id=lot_id, material="ORE-NI", mass=1_000 + ni, composition=Composition.of({"Ni": ni, "Co": 3}))


def history(chain: Any, blocks: int = 6) -> None:
    """Lots over several blocks (a sync of several chunks) and a hand-over."""
    for k in range(blocks):
        chain["miner"].mint_many([ore(f"FP-{k}-{j}", 10 + j) for j in range(4)], batch_size=4)
    chain.give("FP-0-0", "miner", "refiner")


def tables(ix: EventIndex) -> dict[str, list[tuple[Any, ...]]]:
    return {t: ix.conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in TABLES}


@pytest.fixture(autouse=True)
def fetch_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RINNE_SYNC_FETCH", "process")


def test_fetch_process_gives_the_index_the_thread_gives(chain: Any, index_at: Targets, monkeypatch: pytest.MonkeyPatch) -> None:
    """Over HTTP, RINNE_SYNC_FETCH=process forks a fetch process; without it the sync keeps its thread:
    the same rows either way, in small chunks (the process's guess of the next range is taken or dropped)."""
    history(chain)
    assert _fetcher.usable(chain.base.w3)
    head = int(chain.rpc("eth_blockNumber"), 16)
    by_process = EventIndex.open(index_at("process"))
    forked: list[int] = []
    real_init = _fetcher.FetchProcess.__init__

    def counting(self: _fetcher.FetchProcess, *args: Any) -> None:
        real_init(self, *args)
        forked.append(1)

    monkeypatch.setattr(_fetcher.FetchProcess, "__init__", counting)
    by_process.sync(chain.base, to_block=head, chunk_blocks=2)
    assert forked
    monkeypatch.delenv("RINNE_SYNC_FETCH")
    assert not _fetcher.usable(chain.base.w3)
    by_thread = EventIndex.open(index_at("thread"))
    by_thread.sync(chain.base, to_block=head, chunk_blocks=2)
    assert len(forked) == 1
    assert tables(by_process) == tables(by_thread)
    assert by_process.event_count() > 25
    by_process.close()
    by_thread.close()


def test_block_hash_the_process_reports_is_checked_against_the_chain(
    chain: Any, index_at: Targets, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fetch process is our code, but its answer is still checked where the thread's was: a chunk
    whose logs name a block hash the chain does not have (as a reorg between the reads would give) is
    refused and fetched again, and after ten such chunks the sync stops; nothing of them is stored."""
    history(chain)
    real_result = _fetcher.FetchProcess.result

    def forged(self: _fetcher.FetchProcess, ticket: int) -> _fetcher.Fetched:
        tip, n, marks, rows = real_result(self, ticket)
        # Another hash for every block, and no timestamps: the syncing process asks the node for those.
        return tip, n, [(number, "0x" + "ee" * 32, None) for number, _, _ in marks], rows

    monkeypatch.setattr(_fetcher.FetchProcess, "result", forged)
    ix = EventIndex.open(index_at())
    with pytest.raises(errors.ChainError, match="changed while it was being indexed"):
        ix.sync(chain.base)
    assert ix.event_count() == 0 or all(
        h != bytes.fromhex("ee" * 32) for (h,) in ix.conn.execute("SELECT hash FROM blocks").fetchall()
    )
    ix.close()


def test_fetch_process_killed_mid_sync_is_one_line_and_the_next_sync_completes(chain: Any, index_at: Targets) -> None:
    history(chain)
    head = int(chain.rpc("eth_blockNumber"), 16)
    ix = EventIndex.open(index_at("killed"))
    killed: list[int] = []

    def progress(p: SyncProgress) -> None:
        if p.events and not killed:
            for child in multiprocessing.active_children():
                if child.name == "rinne-sync-fetch" and child.pid is not None:
                    os.kill(child.pid, signal.SIGKILL)
                    child.join()
                    killed.append(child.pid)

    with pytest.raises(errors.ChainError, match="fetch process ended unexpectedly"):
        ix.sync(chain.base, progress, to_block=head, chunk_blocks=2)
    assert killed
    stored = ix.synced_block
    assert stored is not None and stored < head
    assert {b for (b,) in ix.conn.execute("SELECT DISTINCT block FROM events")} <= set(range(stored + 1))
    ix.sync(chain.base, to_block=head)
    fresh = EventIndex.open(index_at("fresh"))
    fresh.sync(chain.base, to_block=head)
    resumed, whole = tables(ix), tables(fresh)
    resumed.pop("blocks"), whole.pop("blocks")  # each chunk also stores its last block: the chunking differs
    assert resumed == whole
    assert not [c for c in multiprocessing.active_children() if c.name == "rinne-sync-fetch"]
    ix.close()
    fresh.close()
