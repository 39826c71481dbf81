"""What ingest stores of logs a node should not have given, or gave badly: removed logs, logs of
another contract, a mix of dicts and typed records, hex that is not hex. No chain: the logs are the
contracts' own encoding (tests/provenance/prov_synth.py). Each test runs on SQLite and PostgreSQL (`index_at`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "provenance"))

from index_backends import Targets
from prov_synth import GWP_ADDR, LEDGER_ADDR, build_reference

from ledger import errors
from ledger.chain.abi import contract_abi
from ledger.chain.logs import log_records
from ledger.index.store import EventIndex

SLOTS = {LEDGER_ADDR: 0, GWP_ADDR: 1}


def ingest(logs: list[Any], at: Targets) -> EventIndex:
    ix = EventIndex.open(at.fresh())
    stamps = {int(x["blockNumber"], 16) if isinstance(x, dict) else int(x.blockNumber, 16): 1_700_000_000 for x in logs}
    ix.ingest(logs, SLOTS, stamps, (10_000, b"\1" * 32, 1_700_000_000))
    return ix


def rows(ix: EventIndex) -> dict[str, list[tuple[Any, ...]]]:
    return {
        t: ix.conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in ("events", "lots", "op_in", "op_out", "attested")
    }


def test_dicts_and_typed_records_store_the_same(index_at: Targets) -> None:
    logs = build_reference().logs
    assert rows(ingest(logs, index_at)) == rows(ingest(log_records(logs), index_at))


def test_removed_logs_and_other_contracts_are_not_stored(index_at: Targets) -> None:
    """A removed log (a reorged one, as a filter reports it) and a log of a contract not the
    deployment's are left out; nothing else changes."""
    logs = build_reference().logs
    plain = rows(ingest(logs, index_at))
    topic0 = "0x" + contract_abi("RinneLedger").events["LotCreated"].topic0.hex()
    created = next(k for k, x in enumerate(logs) if x["topics"][0] == topic0)
    forged = dict(logs[created], address="0x" + "33" * 20, logIndex=hex(0xFFFF))  # same event, another contract
    removed = dict(logs[created], removed=True, logIndex=hex(0xFFFE))
    mixed = [*logs[:created], removed, forged, *logs[created:]]
    assert rows(ingest(mixed, index_at)) == plain
    assert len(plain["events"]) == len(logs)


def test_mixed_dicts_and_records_are_refused(index_at: Targets) -> None:
    logs = build_reference().logs
    with pytest.raises(errors.ChainError, match="all dicts or all LogRecord"):
        ingest([*log_records(logs[:3]), *logs[3:]], index_at)


@pytest.mark.parametrize(
    "member, value",
    [("data", "0xzz"), ("blockNumber", "0xqq"), ("logIndex", "twelve"), ("topics", ["0x" + "gg" * 32]), ("blockNumber", 7)],
)
def test_malformed_log_is_one_line_chain_error(member: str, value: Any, index_at: Targets) -> None:
    """A log whose hex is not hex (or not a string) is a one-line ChainError, and nothing of the batch is stored."""
    logs = build_reference().logs
    bad = [*logs[:5], dict(logs[5], **{member: value}), *logs[6:]]
    ix = EventIndex.open(index_at.fresh())
    with pytest.raises(errors.ChainError) as caught:
        ix.ingest(bad, SLOTS, {}, (10_000, b"\1" * 32, 1_700_000_000))
    assert "\n" not in str(caught.value) and "malformed" in str(caught.value)
    assert ix.event_count() == 0 and ix.synced_block is None
