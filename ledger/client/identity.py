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

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from eth_utils import is_address, to_checksum_address

from ledger import errors
from ledger.client.base import LedgerBase
from ledger.domain.disclosure import Openings
from ledger.domain.identity import (
    EVIDENCE_PREFIX,
    SOH_PREFIX,
    commit_evidence,
    commit_site,
    commit_unit,
    evidence_subjects,
    lot_record_id,
    origin_word,
    vault_id,
)
from ledger.domain.ids import id_bytes
from ledger.domain.models import Deployment, LotSpec, Receipt, UnitSpec

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
            keys = list(recipients)  # resolved before the transaction (recipient_keys): a lookup cannot fail after it
            authority = self.authority_vault_key()
            groups: dict[tuple[bytes, ...], list[Openings]] = {}
            for o in fresh.values():
                groups.setdefault(tuple(wraps_for(o, keys, authority)), []).append(o)
            for wraps, batch in groups.items():
                # One vault batch per set of recipients (nearly always one): a few fsyncs, not four per opening (issue 16).
                for key, address in self.vault.put_openings_many(batch, wraps).items():
                    if address is None:
                        # A record's vault entry never changes; the same id again means a redeployed (development) chain
                        # under the same data directory: the first opening stays, and readers refuse it against this root.
                        log.warning("the vault %s holds %s already: its opening is not this commitment's", self.vault.where, key)
        # Kept once the vault holds them: after a failed vault write, a retry (the import's recovery) writes them again.
        kept.update(fresh)

    def publish_vault_key(self, key: bytes | str | None = None) -> Receipt:
        """Publish this account's X25519 vault public key in the deployment's registry (``VaultKeys``).

        Without `key`, this Ledger's vault's public key. Writers then wrap openings meant for this account to
        it (:meth:`vault_key_of`); a later key replaces it for later openings only. Active participants only
        (``VaultKeysNotParticipant`` otherwise); a key that is not 32 bytes or is a low-order point is refused here.
        """
        if key is None:
            if self.vault is None:
                raise errors.InvalidInput("no vault key to publish: give the key, or use a vault")
            key = self.vault.public_key
        return self._send("vault_keys", "publishVaultKey", checked_vault_key(key))

    def vault_key_of(self, party: str) -> bytes:
        """The vault public key `party` (an address) published, read from the registry now.

        Raises :class:`~ledger.errors.DisclosureError` when it published none, or is no active participant
        (a suspended account may have lost its keys: nothing is wrapped to it).
        """
        account = to_checksum_address(party)
        key, active = self._call("vault_keys", "vaultKey", account)
        if key == bytes(32):
            raise errors.DisclosureError(f"{account} has published no vault key (`rinne account publish-vault-key`)")
        if not active:
            raise errors.DisclosureError(f"{account} is not an active participant: no opening is wrapped to its vault key")
        return bytes(key)

    def recipient_keys(self, recipients: Iterable[bytes | str]) -> list[bytes]:
        """Vault public keys for `recipients`: each a 32-byte key (bytes, or 64 hex digits) or an account address,
        whose key is read from the registry (:meth:`vault_key_of`)."""
        out = []
        for r in recipients:
            if isinstance(r, str) and is_address(r):
                out.append(self.vault_key_of(r))
            else:
                out.append(checked_vault_key(r))
        return out

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
        return authority_key_of(self.deployment)

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


def wraps_for(openings: Openings, keys: Sequence[bytes], authority: bytes | None) -> list[bytes]:
    """The vault keys a record's openings are wrapped to besides the writer's own: `keys`, and `authority` (the
    deployment's authority tier key, :func:`authority_key_of`) when the record is one it is entitled to.

    The authority tier (notified bodies, market surveillance, the Commission) opens every test report, reason and
    record behind a status (evidence words, Annex XIII point 3) and every SOH record (point 4): this one rule adds
    its key, so no writer can leave it out. Names, sites and serials stay with their writer and its grantees.
    """
    if authority is None or not openings.record_id.startswith((EVIDENCE_PREFIX, SOH_PREFIX)):
        return list(keys)
    return list(dict.fromkeys([*keys, authority]))


def authority_key_of(deployment: Deployment | None) -> bytes | None:
    """The authority tier's vault public key a deployment record publishes (None: none)."""
    key = deployment.authority_vault_key if deployment is not None else None
    return bytes.fromhex(key[2:]) if key else None


def checked_vault_key(key: bytes | str) -> bytes:
    """`key` (32 bytes, or 64 hex digits) as bytes, refused with a one-line error unless it is a usable X25519
    public key: a wrong length, or a low-order point (all zero among them), which would let anyone read the wraps."""
    raw = key if isinstance(key, bytes) else _hex_key(key)
    if len(raw) != 32:
        raise errors.InvalidInput(f"a vault public key is an X25519 public key: 32 bytes, not {len(raw)}")
    try:
        # A low-order point makes the shared secret all zero, whoever the sender: cryptography refuses the exchange.
        X25519PrivateKey.generate().exchange(X25519PublicKey.from_public_bytes(raw))
    except ValueError:
        raise errors.InvalidInput(f"0x{raw.hex()} is not a usable X25519 public key (a low-order point)") from None
    return raw


def _hex_key(text: str) -> bytes:
    try:
        return bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raise errors.InvalidInput(f"{text!r} is not a vault public key (64 hex digits) or an account address") from None
