"""Reading the contracts: lots, units, offers, heads, participants and attestations, at the chain's state."""

from __future__ import annotations

import time
from typing import Any

from eth_utils import to_checksum_address

from ledger import errors
from ledger.attest.records import GwpAttestation
from ledger.chain.erc1271 import erc1271_approves
from ledger.chain.logs import get_logs_chunked
from ledger.chain.rpc import call
from ledger.client.base import GWP_ABI, LedgerBase
from ledger.client.light import read_lot
from ledger.domain.enums import Role
from ledger.domain.ids import hex_of, id_bytes, to_bytes32
from ledger.domain.models import Lot, Offer, Participant, Unit


class ReadMixin(LedgerBase):
    """The read methods of :class:`ledger.Ledger`."""

    def admin(self) -> str:
        """Return the registry admin."""
        return to_checksum_address(self._call("ledger", "admin")[0])

    def participant(self, account: str) -> Participant:
        """Return the registry record of `account`."""
        roles, registered, suspended, since = self._call("ledger", "participant", to_checksum_address(account))[0]
        return Participant(address=account, roles=roles, registered=registered, suspended=suspended, since=since)

    def has_role(self, account: str, roles: Role | int) -> bool:
        """Whether `account` is active and holds any of `roles`."""
        return bool(self._call("ledger", "hasAnyRole", to_checksum_address(account), int(roles))[0])

    def lot(self, lot_id: str, *, with_composition: bool = True) -> Lot:
        """Return a lot's stored state, with material and composition from its latest event."""
        # The one lot read, shared with the web3-free LedgerReader (ledger/client/light.py).
        return read_lot(lambda m, p: call(self.w3, m, p), self._deployment(), lot_id, with_composition=with_composition)

    def unit(self, unit_id: str) -> Unit:
        """Return a unit's stored passport."""
        status, rated, root, used, at = self._call("ledger", "unit", id_bytes(unit_id))[0]
        end_user, post = self._call("ledger", "unitUse", id_bytes(unit_id))
        return Unit(
            unit_id=to_bytes32(unit_id),
            status=status,
            rated_wh=rated,
            soh_root=hex_of(root) if any(root) else None,
            used=used,
            soh_at=at,
            reached_end_user=end_user,
            post_consumer=post,
        )

    def offer_of(self, lot_id: str) -> Offer | None:
        """Return the pending offer of a lot, or None."""
        lot = self.lot(lot_id, with_composition=False)
        if lot.offered_to is None:
            return None
        return Offer(lot_id=lot.lot_id, holder=lot.holder, to=lot.offered_to, current=lot.offer_current)

    def ledger_head(self, contract: str = "ledger") -> tuple[int, str]:
        """Return (sequence, head word) of the ledger or the attestation contract."""
        seq, head = self._call(contract, "ledgerHead")
        return seq, hex_of(head)

    def attestation(self, uid: str) -> dict[str, Any]:
        """Return the stored attestation record with its signed figures (signer None when absent).

        The contract stores only what later calls check (signer, validity, stage, flags, lot); the figures
        (``emissions_grams``, ``issued_at``, ``methodology``, ``evidence``; None when absent) come from the
        uid's ``Attested`` event, taken only when its message hashes to the uid and names the stored signer
        and lot (see :meth:`_signed_figures`).
        """
        bid = id_bytes(uid)
        signer, valid_until, stage, self_declared, revoked, lot_id = self._call("attestations", "attestation", bid)[0]
        present = int(signer, 16) != 0
        figures = self._signed_figures(bid, signer, lot_id) if present else None
        return {
            "uid": to_bytes32(uid),
            "signer": to_checksum_address(signer) if present else None,
            "valid_until": valid_until,
            "stage": stage,
            "self_declared": self_declared,
            "revoked": revoked,
            "lot_id": hex_of(lot_id),
            "emissions_grams": figures.emissions_grams if figures else None,
            "issued_at": figures.issued_at if figures else None,
            "methodology": figures.methodology if figures else None,
            "evidence": figures.evidence if figures else None,
            "valid": bool(self._call("attestations", "isValid", bid)[0]),
        }

    def _signed_figures(self, uid: bytes, signer: str, lot_id: bytes) -> GwpAttestation:
        """Return the signed message of a stored attestation, from its ``Attested`` event.

        Anyone can emit an event named ``Attested`` from another contract, and a faulty or hostile node can
        answer ``eth_getLogs`` with anything: a log counts only when it comes from this deployment's attestation
        contract, names the stored signer and lot, and its message's EIP-712 digest is the uid. The contract
        computed the uid from that very message, so no other figures can pass (EU 2023/1542 Art. 7: the
        carbon footprint shown is the one the verifier signed).
        """
        from ledger.attest.eip712 import attestation_digest

        d = self._deployment()
        ev = GWP_ABI.events["Attested"]
        # In ranges a capped node serves (Besu answers at most 5,000 blocks by default), halved while it refuses.
        head = int(call(self.w3, "eth_blockNumber", []), 16)
        logs = get_logs_chunked(self.w3, [d.attestations], d.block, head, topics=[hex_of(ev.topic0), hex_of(uid)])
        for log in logs:
            if str(log.get("address", "")).lower() != d.attestations.lower():
                continue
            try:
                a = ev.decode([bytes.fromhex(t[2:]) for t in log["topics"]], bytes.fromhex(log["data"][2:]))
                l_id, grams, stage, methodology, evidence, issued, valid_until, nonce, deadline = a["attestation"]
                att = GwpAttestation(
                    lot_id=l_id,
                    emissions_grams=grams,
                    stage=stage,
                    methodology=methodology,
                    evidence=evidence,
                    issued_at=issued,
                    valid_until=valid_until,
                    nonce=nonce,
                    deadline=deadline,
                )
            except (ValueError, TypeError, KeyError):
                continue  # not a well-formed Attested log: not the one the contract emitted
            if (
                a["uid"] == uid
                and a["signer"].lower() == signer.lower()
                and a["lotId"] == lot_id
                and attestation_digest(att, self.chain_id, d.attestations) == uid
            ):
                return att
        raise errors.ChainError(
            f"attestation {hex_of(uid)} is stored but no Attested event whose message hashes to it was found "
            f"from block {d.block}: is the node pruning history, or answering with altered logs?"
        )

    def chain_time(self) -> int:
        """Return the time the next block will carry at the earliest: the later of the wall clock and the
        latest block's timestamp (a dev chain's clock may have been moved ahead)."""
        latest = call(self.w3, "eth_getBlockByNumber", ["latest", False])
        return max(int(time.time()), int(latest["timestamp"], 16) if latest else 0)

    def verify_attestation(self, signed: Any, *, now: int | None = None) -> dict[str, Any]:
        """Verify a signed attestation offline, then against this chain: ERC-1271 answer for contract
        signers, the signer's accreditation now, whether it is recorded and whether it was revoked.

        An attestation that is not recorded also fails when the chain would refuse to record it:
        ``expired-deadline`` (its relay deadline passed) or ``nonce-used`` (its signer spent the nonce).

        Returns ``{"ok", "problems", "uid", "recorded", "revoked", "self_declared", "accredited"}``.
        """
        from ledger.attest.eip712 import INFORMATIONAL_PROBLEMS, verify_attestation

        d = self._deployment()
        is_contract = call(self.w3, "eth_getCode", [signed.signer, "latest"]) not in ("0x", "0x0")
        check = verify_attestation(
            signed,
            now=self.chain_time() if now is None else now,
            chain_id=self.chain_id,
            contract=d.attestations,
            is_contract=is_contract,
            erc1271_check=self.is_valid_signature_1271 if is_contract else None,
        )
        problems = [p for p in check.problems if p not in INFORMATIONAL_PROBLEMS]
        record = self.attestation(signed.uid)
        recorded = record["signer"] is not None
        accredited = self.has_role(signed.signer, Role.GWP_VERIFIER)
        if recorded and record["revoked"]:
            problems.append("revoked")
        if not recorded:
            # Not on-chain yet: it can only get there before its deadline and while its nonce is unspent.
            if "deadline-passed" in check.problems:
                problems.append("expired-deadline")
            if self.nonce_used(signed.signer, signed.attestation.nonce):
                problems.append("nonce-used")
        if not accredited and not (recorded and record["self_declared"]):
            problems.append("signer-not-accredited")
        return {
            "ok": not problems,
            "problems": problems,
            "uid": signed.uid,
            "recorded": recorded,
            "revoked": bool(record["revoked"]),
            "self_declared": bool(record["self_declared"]),
            "accredited": accredited,
        }

    def nonce_used(self, signer: str, nonce: int) -> bool:
        """Whether `signer` has used attestation nonce `nonce` on this deployment."""
        return bool(self._call("attestations", "nonceUsed", to_checksum_address(signer), nonce)[0])

    def is_valid_signature_1271(self, signer: str, digest: bytes, signature: bytes) -> bool:
        """Ask an ERC-1271 contract signer whether it approves `signature` over `digest` (as the contract asks)."""
        return erc1271_approves(self.w3, signer, digest, signature)
