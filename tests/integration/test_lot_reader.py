"""The existence reads of an import (`Ledger.lots_on_chain`) run the never-deployed LotReader in one eth_call
per 256 lots: they must say exactly what `lot(bytes32)` says of each lot, across call boundaries, for lots that
do not exist, and for lots whose mass and content changed since they were minted."""

from __future__ import annotations

from ledger import Composition, LotSpec, LotState, to_bytes32
from ledger.client import bulk


def test_lots_on_chain_matches_lot_for_every_id_across_call_boundaries(chain):
    specs = [
        LotSpec(lot_id=f"LR{i}", material="ORE-NI", mass=1_000 + i, composition=Composition.of({"Ni": 10 + i})) for i in range(600)
    ]
    chain["miner"].mint_many(specs)
    chain["miner"].split("LR7", [("LR7-A", 400), ("LR7-B", 607)])  # LR7 consumed: its state is not Active
    ids = [s.lot_id for s in specs] + ["LR7-A", "LR7-B"] + [f"NOPE{i}" for i in range(100)]
    found = chain.base.lots_on_chain(ids[::-1])
    assert (
        len(bulk._lot_reader_code(chain.base.deployment.evm_version)) > 0 and len(ids) > 2 * bulk._READ_BATCH
    )  # several calls, several requests
    expected = {}
    for lot_id in ids:
        lot = chain.base.lot(lot_id, with_composition=False)
        if lot.state != LotState.NONE:
            expected[to_bytes32(lot_id)] = (lot.mass, lot.commitment)
    assert found == expected and len(found) == 602
    assert found[to_bytes32("LR599")][0] == 1_599 and to_bytes32("NOPE0") not in found
    assert chain.base.lot("LR7", with_composition=False).state == LotState.CONSUMED and to_bytes32("LR7") in found


def test_an_empty_list_reads_nothing(chain):
    assert chain.base.lots_on_chain([]) == {}
