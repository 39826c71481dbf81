"""The client commits salted identity records and keeps their openings only once the write went through."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger import Composition, LotSpec, Vault, errors, lot_record_id, origin_code, party_record_id, verify_origin
from ledger.domain.disclosure import disclose

pytestmark = pytest.mark.chain


def _ore(lot_id: str, site: str) -> LotSpec:
    return LotSpec(
        lot_id=lot_id, material="ORE-CO", mass=1_000_000, composition=Composition.of({"Co": 50_000}), origin=origin_code("CD", site)
    )


def test_openings_are_kept_after_the_write_and_never_after_a_refused_one(chain, tmp_path: Path) -> None:
    vault = Vault(tmp_path / "vault", Vault.new_key())
    chain.base.use_vault(vault)  # shared with every with_account copy
    try:
        miner = chain["miner"]
        miner.mint(_ore("ORE-SALT", "Kolwezi"))
        word = miner.committed_origin("ORE-SALT")
        assert word is not None and word.startswith("0x" + b"CD".hex())
        opened = vault.openings(lot_record_id("ORE-SALT"))
        assert verify_origin(word, disclose(opened, ["site"]), "ORE-SALT") == {"site": "Kolwezi"}
        # An outsider's mint is refused: its commitment stands for nothing, so no opening is kept anywhere.
        with pytest.raises(errors.LedgerError):
            chain["outsider"].mint(_ore("ORE-SALT-2", "Tenke"))
        assert lot_record_id("ORE-SALT-2") not in vault
        with pytest.raises(errors.DisclosureError):
            chain.base.openings(lot_record_id("ORE-SALT-2"))
        # A registration commits the name bound to the account; the opening goes to the admin's vault.
        newcomer = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
        chain["admin"].register(newcomer, "MINER", "Katanga Mining", "LEI 0000")
        named = vault.openings(party_record_id(newcomer))
        assert {k: v.value for k, v in named.fields.items()} == {"name": "Katanga Mining", "metadata": "LEI 0000"}
    finally:
        chain.base.use_vault(None)
