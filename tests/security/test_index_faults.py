"""The event index under faults: chain reorganisations while it syncs, and a corrupted or deleted
index file. The index is a cache of the chain: it corrects itself from the chain, and the audit
never passes on an index that differs from what the chain says.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import Suite, start_suite
from ledger import Composition, LotSpec, _node, errors
from ledger._abi import contract_abi
from ledger._rpc import call
from ledger.audit import audit
from ledger.index import EventIndex, SyncProgress

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

