"""Salted identity commitments on the way out, and the openings kept behind them (docs/confidentiality.md).

Where the client used to send ``keccak(serial)``, ``keccak(site)``, ``keccak(name)``, a document's plain hash or
``keccak(reason)``, it commits a salted record bound to the unit, lot, account or attestation
(:mod:`ledger.domain.identity`), sends the root, and keeps the
opening once the transaction went through: in this Ledger's memory, and in its vault when it has one
(encrypted to the writer's vault key). A caller that commits its own bytes32 passes it instead
(``UnitSpec.serial_hash``, a ``LotSpec.origin`` without a site, a ``LotSpec.evidence`` without a document); the
contracts take any bytes32. Evidence and reason openings are kept under their word (``word:0x...``): a reader
knows the word from the chain.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from ledger import errors
from ledger.client.base import LedgerBase
from ledger.domain.disclosure import Openings
from ledger.domain.identity import (
    EVIDENCE_PREFIX,
    commit_evidence,
    commit_site,
    commit_unit,
    evidence_subjects,
    lot_record_id,
    origin_word,
    vault_id,
)
from ledger.domain.ids import id_bytes
from ledger.domain.models import LotSpec, UnitSpec

if TYPE_CHECKING:
    from ledger.local.vault import Vault

log = logging.getLogger("ledger")


class IdentityMixin(LedgerBase):
    """Commit sites and serials before sending, keep their openings after."""

    @property
    def vault(self) -> Vault | None:
        """The vault the openings of this Ledger's commitments go to (None: they stay in memory only)."""
        vault: Vault | None = self._shared.get("vault")
        return vault

    def use_vault(self, vault: Vault | None) -> None:
        """Keep the openings of every commitment this Ledger (and its ``with_account`` copies) writes in `vault`."""
        self._shared["vault"] = vault

    def openings(self, record_id: str) -> Openings:
        """Return the openings of a record this Ledger committed, or that its vault holds for its key.

        `record_id` is ``unit:``, ``lot:`` or ``party:`` and the id, or for an evidence or reason word ``word:``
        and the word (:func:`ledger.domain.identity.evidence_vault_id`).

        Raises :class:`~ledger.errors.DisclosureError` when neither has them.
        """
        kept: dict[str, Openings] = self._shared.setdefault("openings", {})
        if record_id in kept:
            return kept[record_id]
        if self.vault is None:
            raise errors.DisclosureError(f"no openings of record {record_id!r} in this Ledger, and no vault to look in")
        return self.vault.openings(record_id)

    def committed_origin(self, lot_id: str | bytes) -> str | None:
        """Return the origin word this Ledger committed for a lot's site (None when it committed none)."""
        kept: dict[str, Openings] = self._shared.setdefault("openings", {})
        o = kept.get(lot_record_id(lot_id))
        if o is None or "country" not in o.fields:
            return None
        # The word made when the site was committed, for that very opening: its Merkle root again costs as much.
        made: dict[str, tuple[Openings, str]] = self._shared.setdefault("origins", {})
        cached = made.get(o.record_id)
        if cached is not None and cached[0] is o:
            return cached[1]
        return origin_word(str(o.fields["country"].value), o.root())

    def _keep(self, pending: Iterable[Openings], recipients: Iterable[bytes] = ()) -> None:
        # After the transaction: an opening of a reverted write must not stand for anything.
        kept: dict[str, Openings] = self._shared.setdefault("openings", {})
        fresh = {vault_id(o): o for o in pending}
        fresh = {key: o for key, o in fresh.items() if kept.get(key) is not o}  # not kept already (as its chunk landed)
        if self.vault is not None and fresh:
            # One vault batch for the transaction (or the landed chunk): a few fsyncs, not four per opening (issue 16).
            for key, address in self.vault.put_openings_many(fresh.values(), recipients).items():
                if address is None:
                    # A record's vault entry never changes; the same id again means a redeployed (development) chain
                    # under the same data directory: the first opening stays, and readers refuse it against this root.
                    log.warning("the vault %s holds %s already: its opening is not this commitment's", self.vault.where, key)
        # Kept once the vault holds them: after a failed vault write, a retry (the import's recovery) writes them again.
        kept.update(fresh)

    def _reason(self, kind: str, subjects: Sequence[str | bytes], reason: str, pending: list[Openings]) -> bytes:
        """The word of a freeze, suspension or revocation reason: zero without one, else its salted commitment."""
        if not reason:
            return bytes(32)
        word, openings = commit_evidence(kind, list(subjects), reason)
        pending.append(openings)
        return id_bytes(word)

    def _document(self, kind: str, subject: str | bytes, evidence: str, document: str | None, pending: list[Openings]) -> bytes:
        """The evidence word of a status change or SOH record: `document` committed, else `evidence` as given."""
        if document is None:
            return id_bytes(evidence) if evidence else bytes(32)
        if evidence and id_bytes(evidence) != bytes(32):
            raise errors.InvalidInput(f"{kind} of {subject!r}: give the document or an evidence word that commits one, not both")
        word, openings = commit_evidence(kind, subject, document)
        pending.append(openings)
        return id_bytes(word)

    def authority_vault_key(self) -> bytes | None:
        """The authority tier's vault public key published in the deployment record (None: none published)."""
        key = self.deployment.authority_vault_key if self.deployment is not None else None
        return bytes.fromhex(key[2:]) if key else None

    @staticmethod
    def _lot_of(openings: Openings) -> bytes:
        """The lot a lot's origin or evidence opening is about (for keeping openings as their lots land)."""
        if openings.record_id.startswith(EVIDENCE_PREFIX):
            return id_bytes(evidence_subjects(openings.record_id)[1][0])
        return id_bytes(openings.record_id.removeprefix("lot:"))

    def _commit_lots(self, specs: Sequence[LotSpec], pending: list[Openings]) -> list[LotSpec]:
        out = []
        made: dict[str, tuple[Openings, str]] = self._shared.setdefault("origins", {})
        for spec in specs:
            if spec.document is not None:
                if id_bytes(spec.evidence) != bytes(32):
                    raise errors.InvalidInput(f"lot {spec.lot_id}: give the document or an evidence word that commits one, not both")
                ev, opened = commit_evidence("lot", spec.lot_id, spec.document)
                pending.append(opened)
                spec = spec.model_copy(update={"evidence": ev, "document": None})
            if spec.site is None:
                out.append(spec)
                continue
            word = id_bytes(spec.origin)
            if word[2:] != bytes(30):
                raise errors.InvalidInput(f"lot {spec.lot_id}: give the site or an origin that commits one, not both")
            if word[:2] == b"\0\0":
                raise errors.InvalidInput(f"lot {spec.lot_id}: a site needs its country (origin_code(country, site))")
            origin, openings = commit_site(spec.lot_id, word[:2].decode(), spec.site)
            pending.append(openings)
            made[openings.record_id] = (openings, origin)
            out.append(spec.model_copy(update={"origin": origin}))
        return out

    def _commit_units(self, pairs: Sequence[tuple[LotSpec, UnitSpec]], pending: list[Openings]) -> list[UnitSpec]:
        out = []
        for lot, unit in pairs:
            if unit.serial_hash is not None:
                out.append(unit)
                continue
            assert unit.serial is not None  # UnitSpec refuses a unit with neither
            root, openings = commit_unit(lot.lot_id, unit.serial, unit.unique_identifier)
            pending.append(openings)
            out.append(unit.model_copy(update={"serial_hash": root}))
        return out
