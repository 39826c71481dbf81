"""The registry's queries read the same on SQLite and PostgreSQL (their SQL is written once, for both)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "provenance"))

from index_backends import Targets
from prov_synth import build_reference

from ledger import EventIndex, lot_history, to_bytes32


def test_lot_history_is_the_same_on_each_backend(index_at: Targets) -> None:
    # lot_history once used SQLite's numbered `?1` placeholders, which PostgreSQL's driver has no form of.
    with EventIndex.open(":memory:") as mem:
        expected = lot_history(build_reference().ingest(mem), "ORE-NI")
    ix = build_reference().ingest(EventIndex.open(index_at()))
    try:
        hist = lot_history(ix, "ORE-NI")
        assert [e["event"] for e in hist] == ["LotCreated", "Attested", "OfferMade", "OfferAccepted", "LotsTransformed"]
        assert hist == expected and hist[0]["lot_id"] == to_bytes32("ORE-NI")
        assert lot_history(ix, "NEVER") == []
    finally:
        ix.close()
