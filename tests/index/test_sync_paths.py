"""The index sync's fast paths against the slow ones, on a real Anvil: the LotCreated row taken
straight from the topics against the fully decoded event, the typed eth_getLogs decoding against
web3's, a provider that is not HTTP, and a first sync killed while its secondary indexes are
dropped. Each index test runs on SQLite and PostgreSQL (`index_at`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from index_backends import Targets, index_names
from web3 import Web3
from web3.providers.base import JSONBaseProvider
from web3.types import RPCEndpoint, RPCResponse

from ledger import Composition, Ledger, LotSpec
from ledger.chain.logs import LEDGER, fetch_logs, fetch_logs_batch, get_logs, layouts, log_records
from ledger.domain.ids import origin_code
from ledger.index.store import EventIndex
from ledger.index.sync import _derive

pytestmark = pytest.mark.chain

TABLES = ("events", "lots", "op_in", "op_out", "attested", "blocks")


def ore(lot_id: str, ni: int, *, origin: str | None = None) -> LotSpec:
    extra = {"origin": origin} if origin else {}
    return LotSpec(lot_id=lot_id, material="ORE-NI", mass=1_000 + ni, composition=Composition.of({"Ni": ni, "Co": 3}), **extra)


def tables(ix: EventIndex) -> dict[str, list[tuple[Any, ...]]]:
    return {t: ix.conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in TABLES}


def history(chain: Any) -> None:
    """Lots of two miners (one with an origin, one minted in bulk), a hand-over and a transform."""
    chain["miner"].mint(ore("SP-1", 10, origin=origin_code("CD", "Kolwezi pit 3")))
    chain["miner2"].mint_many([ore(f"SP-B{k}", 20 + k) for k in range(12)], batch_size=5)
    chain.give("SP-1", "miner", "refiner")


def test_lot_created_row_is_the_decoded_event(chain: Any, index_at: Targets) -> None:
    """Every lots row the sync stores from a LotCreated (taken from the topics without decoding)
    is the row of the fully decoded event, and the row _derive gives; and it matches the chain."""
    history(chain)
    ix = EventIndex.open(index_at())
    ix.sync(chain.base)
    d = chain.base.deployment
    layout = next(x for (slot, _), x in layouts().items() if slot == LEDGER and x.name == "LotCreated")
    stored = {r[0]: r[:6] for r in ix.conn.execute("SELECT lot_id, event, material, mass, origin, holder FROM lots")}
    created = 0
    for log in log_records(get_logs(chain.base.w3, [d.ledger], d.block, ix.synced_block or 0)):
        topics = [bytes.fromhex(t[2:]) for t in log.topics]
        if topics[0] != layout.topic0:
            continue
        created += 1
        data = bytes.fromhex(log.data[2:])
        eid = (int(log.blockNumber, 16) << 24) | int(log.logIndex, 16)
        a = layout.decode(topics, data)
        decoded = (a["lotId"], eid, a["material"], a["mass"], a["origin"], a["holder"])
        derived: list[tuple[Any, ...]] = []
        _derive(eid, layout, topics, data, derived, [], [], [], [])
        assert stored[a["lotId"]] == decoded == derived[0]
    assert created == 13
    one = stored[bytes.fromhex(LotSpec(lot_id="SP-1", material="X", mass=1).lot_id[2:])]
    assert one[5] == chain.addr("miner").lower() and one[3] == 1_010
    # The country in clear and 30 bytes of the lot's salted origin record, as the client committed it.
    committed = chain["miner"].committed_origin("SP-1")
    assert committed is not None and one[4] == bytes.fromhex(committed[2:]) and one[4][:2] == b"CD"
    ix.close()


def test_typed_fetch_is_what_web3_returns(chain: Any) -> None:
    """fetch_logs (the body decoded by msgspec) gives the same logs, in order, as web3's JSON."""
    history(chain)
    d = chain.base.deployment
    head = int(chain.rpc("eth_blockNumber"), 16)
    addresses = [d.ledger, d.attestations]
    typed = fetch_logs(chain.base.w3, addresses, d.block, head)
    assert len(typed) > 20
    assert typed == log_records(get_logs(chain.base.w3, addresses, d.block, head))


def test_batched_typed_fetch_is_what_web3_returns(chain: Any) -> None:
    """fetch_logs_batch (one batch, decoded by msgspec; what verify_heads compares the index with)
    gives each span's logs as web3 does, in the order of the spans, over HTTP and over a provider
    that is not HTTP."""
    history(chain)
    d = chain.base.deployment
    head = int(chain.rpc("eth_blockNumber"), 16)
    addresses = [d.ledger, d.attestations]
    mid = (d.block + head) // 2
    before = max(0, d.block - 1)  # a block before the deployment: no logs of its contracts
    spans = [(mid + 1, head), (d.block, mid), (before, before)]  # not in block order; the last is empty
    want = [log_records(get_logs(chain.base.w3, addresses, a, z)) for a, z in spans]
    assert sum(len(w) for w in want) > 20 and want[-1] == []
    assert fetch_logs_batch(chain.base.w3, addresses, spans) == want
    other = Web3(_Forwarding(chain.base.w3.provider.endpoint_uri))
    assert fetch_logs_batch(other, addresses, spans) == want


class _Forwarding(JSONBaseProvider):
    """A provider that is not an HTTPProvider (as an IPC or in-process one is): forwards to one."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self._inner = Web3.HTTPProvider(url)
        self.methods: list[str] = []

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        self.methods.append(str(method))
        return self._inner.make_request(method, params)

    def make_batch_request(self, requests: Any) -> Any:
        return self._inner.make_batch_request(requests)


def test_provider_that_is_not_http_syncs_the_same_index(chain: Any, index_at: Targets) -> None:
    """Through a provider without an HTTP endpoint the sync takes web3's path and stores the same rows."""
    history(chain)
    provider = _Forwarding(chain.base.w3.provider.endpoint_uri)
    other = Ledger(Web3(provider), chain.base.chain_id, chain.base.deployment)
    via_http, via_other = EventIndex.open(index_at("http")), EventIndex.open(index_at("other"))
    head = int(chain.rpc("eth_blockNumber"), 16)
    assert via_http.sync(chain.base, to_block=head).events == via_other.sync(other, to_block=head).events > 20
    assert "eth_getLogs" in provider.methods
    assert tables(via_http) == tables(via_other)
    via_http.close()
    via_other.close()


_KILLED_SYNC = """
import os, sys
from ledger import Deployment, EventIndex, Ledger
url, deployment, path = sys.argv[1:4]
ledger = Ledger.connect(url, deployment=Deployment.model_validate_json(deployment), data_dir=sys.argv[4])
def progress(p):
    if p.events:
        os._exit(9)  # killed mid-sync: no finally, no cleanup
EventIndex.open(path).sync(ledger, progress)
"""


def test_first_sync_killed_with_indexes_dropped_gets_them_back(chain: Any, index_at: Targets, tmp_path: Path) -> None:
    """A first sync drops the secondary indexes and builds them at its end. Killed in between, the
    file has none; the next open builds them again, and a resumed sync gives the fresh-sync index."""
    history(chain)
    path = index_at("killed")
    EventIndex.open(path).close()
    wanted = index_names(path)
    assert {"events_key", "lots_event", "op_in_lot", "attested_lot"} <= wanted
    d = chain.base.deployment
    proc = subprocess.run(
        [sys.executable, "-c", _KILLED_SYNC, chain.base.w3.provider.endpoint_uri, d.model_dump_json(), path, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 9, proc.stderr
    assert index_names(path) == set()  # the kill came while they were dropped
    ix = EventIndex.open(path)
    assert index_names(path) == wanted
    assert 0 < ix.event_count()
    head = int(chain.rpc("eth_blockNumber"), 16)
    ix.sync(chain.base, to_block=head)
    fresh = EventIndex.open(index_at("fresh"))
    fresh.sync(chain.base, to_block=head)
    resumed, whole = tables(ix), tables(fresh)
    # Each chunk also stores its last block: the blocks rows follow the chunking, the rest does not.
    blocks_a, blocks_b = dict((n, h) for n, h, _ in resumed.pop("blocks")), dict((n, h) for n, h, _ in whole.pop("blocks"))
    assert resumed == whole
    assert all(blocks_a[n] == h for n, h in blocks_b.items() if n in blocks_a)
    assert {r[1] for r in whole["events"]} <= blocks_a.keys() & blocks_b.keys()
    assert index_names(index_at("fresh")) == wanted  # built at the end of an uninterrupted one
    if index_at.backend == "sqlite":  # (PostgreSQL's planner scans a table this small whatever its indexes)
        plan = ix.conn.execute("EXPLAIN QUERY PLAN SELECT * FROM lots WHERE event > 5").fetchall()
        assert "lots_event" in json.dumps(plan)
    ix.close()
    fresh.close()
