"""A bulk import keeps each landed chunk's openings as one vault batch (issue 16), and an interruption still
leaves every landed lot's site openable, read back by another Vault on the same folder as a later process would."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger import Composition, LotSpec, Vault, lot_record_id, origin_code, verify_origin
from ledger.domain.disclosure import disclose

pytestmark = pytest.mark.chain


def _ore(lot_id: str, site: str) -> LotSpec:
    return LotSpec(
        lot_id=lot_id, material="ORE-NI", mass=1_000_000, composition=Composition.of({"Ni": 50_000}), origin=origin_code("AU", site)
    )


def test_an_interrupted_batched_import_leaves_every_landed_site_openable_from_disk(chain, tmp_path: Path) -> None:
    from ledger import EventIndex

    key = Vault.new_key()
    chain.base.use_vault(Vault(tmp_path / "vault", key))
    try:
        miner = chain["miner"]
        specs = [_ore(f"VB-{k}", f"Pit {k}") for k in range(9)]

        def interrupt(_n: int) -> None:
            raise KeyboardInterrupt  # at the first receipt: the other transactions are sent already

        with pytest.raises(KeyboardInterrupt):
            miner.mint_many(specs, batch_size=3, progress=interrupt)
        # The openings went to the batch file, not one record file each.
        assert (tmp_path / "vault" / "batches.sqlite").is_file()
        assert not list((tmp_path / "vault" / "records").glob("*.json"))
        later = Vault(tmp_path / "vault", key)  # another reader of the folder: nothing from this process's memory
        index = EventIndex.open(tmp_path / "ix.sqlite")
        index.sync(chain.base, confirmations=0)
        lots = index.state().lots
        landed = [s for s in specs if bytes.fromhex(s.lot_id[2:]) in lots]
        assert len(landed) > 3  # more than the first transaction's lots were on-chain when it stopped
        for s in landed:
            word = "0x" + lots[bytes.fromhex(s.lot_id[2:])].origin.hex()
            assert miner.committed_origin(s.lot_id) == word  # the word kept at commit time is the one on-chain
            opened = later.openings(lot_record_id(s.lot_id))
            assert verify_origin(word, disclose(opened, ["site"]), s.lot_id) == {"site": s.site}
        index.close()
    finally:
        chain.base.use_vault(None)
