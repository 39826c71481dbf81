"""A bulk import keeps each landed chunk's openings as one vault batch (issue 16), and an interruption still
leaves every landed lot's site openable, read back by another Vault on the same folder as a later process would."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from ledger import Composition, LotSpec, Vault, lot_record_id, origin_code, verify_origin
from ledger.domain.disclosure import disclose
from ledger.errors import ConfigError
from ledger.local.vault import FolderStore

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


class _FailingStore(FolderStore):
    """A folder vault whose batch writes fail from the `first`-th to the `last`-th (a full disk, a lost mount)."""

    def __init__(self, folder: Path, first: int, last: int) -> None:
        super().__init__(folder)
        self.calls, self.first, self.last = 0, first, last

    def put_batch(self, objects: Sequence[tuple[str, bytes]], entries: Sequence[tuple[bytes, bytes]]) -> list[bool]:
        self.calls += 1
        if self.first <= self.calls <= self.last:
            raise ConfigError(f"cannot write {self.where}: disk full")
        return super().put_batch(objects, entries)


@pytest.mark.parametrize("last", [1, 99], ids=["fails-once", "keeps-failing"])
def test_a_vault_write_that_fails_mid_import_is_raised_and_the_recovery_keeps_what_landed(chain, tmp_path: Path, last: int) -> None:
    # The batches are written by the import's writer thread (ledger.client._keeper): its failure must reach the
    # caller, and the recovery must keep what landed when the vault takes writes again.
    key = Vault.new_key()
    # The first batch fails: the writer may have coalesced every landed chunk into it.
    store = _FailingStore(tmp_path / "vault", first=1, last=last)
    chain.base.use_vault(Vault(store, key))
    try:
        miner = chain["miner"]
        specs = [_ore(f"VF{last}-{k}", f"Pit {k}") for k in range(9)]
        with pytest.raises(ConfigError, match="disk full"):
            miner.mint_many(specs, batch_size=3)
        later = Vault(tmp_path / "vault", key)
        on_chain = miner.lots_on_chain([s.lot_id for s in specs])
        kept = [s for s in specs if lot_record_id(s.lot_id) in later]
        assert all(s.lot_id.lower() in on_chain for s in kept)  # nothing kept for a lot that is not on-chain
        assert on_chain  # the transactions landed: the failure was the vault's, after their receipts
        if last == 1:  # the vault took writes again: the recovery kept every landed lot's opening
            assert {s.lot_id.lower() for s in kept} == set(on_chain)
        else:
            assert kept == []  # no batch went through: none is half kept
        for s in kept:
            opened = later.openings(lot_record_id(s.lot_id))
            assert opened.fields["site"].value == s.site
    finally:
        chain.base.use_vault(None)
