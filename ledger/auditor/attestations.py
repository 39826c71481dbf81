"""Every attestation and process inventory re-verified offline, with the signer's code as it was at the block it was relayed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from ledger import errors
from ledger.attest.eip712 import delegation_target, verify_attestation
from ledger.attest.inventory import ProcessInventory, SignedInventory
from ledger.attest.records import GwpAttestation, SignedAttestation
from ledger.auditor.storage import RPC_BATCH
from ledger.chain.erc1271 import erc1271_approves
from ledger.chain.rpc import batch
from ledger.domain.ids import label_of
from ledger.replay.records import AttRec, InvRec
from ledger.replay.state import LedgerState

if TYPE_CHECKING:
    from web3 import Web3

    from ledger.client.ledger import Ledger
    from ledger.domain.models import Deployment


def _signer_codes(w3: Web3, st: LedgerState, after_block: int = -1) -> dict[tuple[str, int], str]:
    """Return each signer's code at each block where one of its attestations was relayed.

    The contract (SignerSignatures, OpenZeppelin SignatureChecker's rule) chose ECDSA or ERC-1271 by the signer's code when it
    relayed the attestation; the code now says nothing about that (an EOA may have delegated its account
    with EIP-7702 since, or a delegation may have been cleared)."""
    records: list[AttRec | InvRec] = [*st.attestations.values(), *st.inventories.values()]
    pairs = sorted({(a.signer, a.block) for a in records if a.block > after_block})
    codes: dict[tuple[str, int], str] = {}
    for start in range(0, len(pairs), RPC_BATCH):
        part = pairs[start : start + RPC_BATCH]
        try:
            answers = batch(w3, [("eth_getCode", [s, hex(b)]) for s, b in part])
        except errors.ConnectionFailed:
            raise
        except errors.ChainError:
            # A node without the old state (pruned, or an Anvil reloaded from a state dump: "BlockOutOfRange"):
            # the code now. No code now means none then (code is only removed in the transaction that created
            # it, and a cleared EIP-7702 delegation still signed with its key); code now is taken as the code then.
            answers = batch(w3, [("eth_getCode", [s, "latest"]) for s, _ in part])
        for pair, code in zip(part, answers):
            codes[pair] = code or "0x"
    return codes


def _check_attestations(
    ledger: Ledger, deployment: Deployment, st: LedgerState, flag: Callable[..., None], after_block: int = -1
) -> int:
    """Re-verify every attestation relayed after `after_block` offline; return how many were checked."""
    w3 = ledger.w3
    codes = _signer_codes(w3, st, after_block)
    checked = 0
    for att, signed, error in _signed_records(deployment, st, after_block):
        checked += 1
        if signed is None:  # a malformed record cannot even be parsed
            flag("bad-signature", att.uid, f"attestation cannot be parsed: {error}", att.block)
            continue
        if signed.digest != att.uid:
            flag("bad-signature", att.uid, "uid is not the EIP-712 digest of the signed message", att.block)
            continue
        code = codes.get((att.signer, att.block), "0x")
        # An EIP-7702 delegation designator is code to SignatureChecker (so the contract asked ERC-1271),
        # but the account is still an EOA whose key signs for it (see verify_attestation).
        delegated = delegation_target(code) is not None
        contract_signer = code not in ("0x", "0x0")

        def check_1271(signer: str, digest: bytes, signature: bytes, _blk: int = att.block) -> bool:
            # The wallet's answer when the attestation was relayed (it may say no later).
            return erc1271_approves(w3, signer, digest, signature, _blk)

        check = verify_attestation(
            signed,
            now=att.valid_until,
            is_contract=contract_signer,
            erc1271_check=check_1271 if contract_signer else None,
            delegated=delegated,
        )
        sig_problems = [p for p in check.problems if p in ("bad-signature", "high-s", "signer-mismatch", "contract-signer")]
        if sig_problems:
            flag(
                "bad-signature",
                att.uid,
                f"signature of lot {label_of(att.lot_id)} fails offline: {', '.join(sig_problems)}",
                att.block,
            )
        # Accreditation: when relayed (replayed registry just before the event) and when issued.
        relayed_ok = st.accredited(att.signer, pos=att.pos)
        if att.self_declared:
            if relayed_ok:
                flag("attestation-mismatch", att.uid, "marked self-declared although the signer was an accredited verifier", att.block)
            continue
        if not relayed_ok:
            flag(
                "unaccredited-signer",
                att.uid,
                f"signer {att.signer} was not an active GWP verifier when the attestation was relayed",
                att.block,
            )
        elif not st.accredited(att.signer, timestamp=att.issued_at):
            flag(
                "unaccredited-signer",
                att.uid,
                f"signer {att.signer} was not an active GWP verifier at issuedAt {att.issued_at} (accreditation came later "
                "or was suspended then)",
                att.block,
            )
    return checked


def _signed_records(
    deployment: Deployment, st: LedgerState, after_block: int
) -> Iterator[tuple[AttRec | InvRec, SignedAttestation | SignedInventory | None, str]]:
    """Every GWP attestation and process inventory relayed after `after_block`, rebuilt as the message it signed
    (None and the reason when the record cannot be parsed); those before were verified by the checkpoint's audit."""
    for att in st.attestations.values():
        if att.block <= after_block:
            continue
        try:
            yield (
                att,
                SignedAttestation(
                    attestation=GwpAttestation(
                        lot_id=att.lot_id,
                        emissions_grams=att.emissions_grams,
                        stage=att.stage,
                        methodology=att.methodology,
                        evidence=att.evidence,
                        issued_at=att.issued_at,
                        valid_until=att.valid_until,
                        nonce=att.nonce,
                        deadline=att.deadline,
                    ),
                    signer=att.signer,
                    signature=att.signature,
                    chain_id=deployment.chain_id,
                    contract=deployment.attestations,
                ),
                "",
            )
        except Exception as exc:
            yield att, None, str(exc).splitlines()[0]
    for inv in st.inventories.values():
        if inv.block <= after_block:
            continue
        try:
            yield (
                inv,
                SignedInventory(
                    inventory=ProcessInventory(
                        lot_id=inv.lot_id,
                        energy_wh=inv.energy_wh,
                        renewable_bps=inv.renewable_bps,
                        water_withdrawn_litres=inv.water_withdrawn_l,
                        water_consumed_litres=inv.water_consumed_l,
                        route=inv.route,
                        grade="0x" + inv.grade.hex(),
                        evidence=inv.evidence,
                        issued_at=inv.issued_at,
                        valid_until=inv.valid_until,
                        nonce=inv.nonce,
                        deadline=inv.deadline,
                    ),
                    signer=inv.signer,
                    signature=inv.signature,
                    chain_id=deployment.chain_id,
                    contract=deployment.attestations,
                ),
                "",
            )
        except Exception as exc:
            yield inv, None, str(exc).splitlines()[0]
