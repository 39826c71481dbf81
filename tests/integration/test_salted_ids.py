"""The client commits salted identity records and keeps their openings once the write went through: as each
transaction of a bulk import lands, and for whatever landed before an interruption."""

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


def test_an_interrupted_bulk_import_leaves_no_lot_whose_site_nobody_can_open(chain, tmp_path: Path) -> None:
    # The loss it rules out: Ctrl-C (or a node error) part-way through mint_many, after some transactions
    # landed; those lots carry salted origin words on-chain, and without their openings no one, not even their
    # maker, could ever show where they came from.
    from ledger import EventIndex

    vault = Vault(tmp_path / "vault", Vault.new_key())
    chain.base.use_vault(vault)
    try:
        miner = chain["miner"]
        specs = [_ore(f"BULK-{k}", f"Site {k}") for k in range(6)]

        def interrupt(_n: int) -> None:
            raise KeyboardInterrupt  # at the first receipt: the other transactions are sent already

        with pytest.raises(KeyboardInterrupt):
            miner.mint_many(specs, batch_size=2, progress=interrupt)
        index = EventIndex.open(tmp_path / "ix.sqlite")
        index.sync(chain.base, confirmations=0)
        lots = index.state().lots
        landed = [s for s in specs if bytes.fromhex(s.lot_id[2:]) in lots]
        assert len(landed) > 2  # more than the first transaction's lots were on-chain when it stopped
        for s in landed:
            word = "0x" + lots[bytes.fromhex(s.lot_id[2:])].origin.hex()
            opened = vault.openings(lot_record_id(s.lot_id))
            assert verify_origin(word, disclose(opened, ["site"]), s.lot_id) == {"site": s.site}
        # The re-run skips what landed and finishes the rest, each site openable.
        miner.mint_many(specs, batch_size=2)
        index.sync(chain.base, confirmations=0)
        lots = index.state().lots
        for s in specs:
            word = "0x" + lots[bytes.fromhex(s.lot_id[2:])].origin.hex()
            assert verify_origin(word, disclose(vault.openings(lot_record_id(s.lot_id)), ["site"]), s.lot_id) == {"site": s.site}
        index.close()
    finally:
        chain.base.use_vault(None)
