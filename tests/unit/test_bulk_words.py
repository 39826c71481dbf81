"""mintBatch rows: the words specs share are encoded once, and every row is still exactly the ABI encoding
of its own spec (another lot's material, evidence or composition must never leak into a row)."""

from __future__ import annotations

from eth_abi import encode as abi_encode

from ledger import Composition, LotSpec
from ledger.client.bulk import _lot_spec_words


def _abi(spec: LotSpec) -> bytes:
    lot_id, material, mass, origin, evidence, (total, pre, post) = spec.abi()
    return abi_encode(
        ["(bytes32,bytes32,uint64,bytes32,bytes32,uint256[2],uint256[2],uint256[2])"],
        [(lot_id, material, mass, origin, evidence, total, pre, post)],
    )


def test_rows_sharing_a_composition_are_each_their_own_specs_encoding():
    ni = Composition.of({"Ni": 220_000, "Co": 10_000}, {"Ni": 1_000})
    co = Composition.of({"Co": 500_000})
    template = LotSpec(lot_id="T-0", material="NiSO4", mass=1_000_000, composition=ni, evidence="0x" + "ab" * 32)
    specs = [template.model_copy(update={"lot_id": f"0x{k:064x}", "origin": f"0x{k + 7:064x}"}) for k in range(5)]
    specs += [
        template.model_copy(update={"lot_id": "0x" + "01" * 32, "material": "0x" + "02" * 32}),  # other material
        template.model_copy(update={"lot_id": "0x" + "03" * 32, "evidence": "0x" + "04" * 32}),  # other evidence
        LotSpec(lot_id="T-co", material="NiSO4", mass=2_000_000, composition=co),  # another composition
        LotSpec(lot_id="T-ni2", material="NiSO4", mass=1_000_000, composition=Composition.of({"Ni": 220_000, "Co": 10_000})),
    ]
    shared: dict = {}
    rows = [_lot_spec_words(s, shared) for s in specs]
    assert rows == [_abi(s) for s in specs] == [_lot_spec_words(s) for s in specs]
    # Encoded once each: the five template rows, the other material, the other evidence, co, and the equal but
    # separate ni2 composition (shared by object, never by an id() an old object left behind).
    assert len(shared) == 5
