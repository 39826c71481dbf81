"""Shared helpers of the security tests: calls as any address, a module-wide snapshot of the session
chain, and a small deployment on a node of the test's own."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ledger import Ledger, Role, errors
from ledger.chain import node as _node
from ledger.chain.abi import contract_abi
from ledger.chain.rpc import call

try:
    _node.find_anvil()
except Exception as exc:  # pragma: no cover - depends on the machine
    pytest.skip(f"anvil is not installed ({exc}): run `npm ci`", allow_module_level=True)

LEDGER_ABI = contract_abi("RinneLedger")
GWP_ABI = contract_abi("GwpAttestations")


def call_as(ledger: Ledger, sender: str, contract: str, fn: str, *args: Any) -> str | None:
    """eth_call `fn(args)` from `sender` (no signature needed) at the latest block.

    Returns None when the call would succeed, else the name of the custom error it reverts with
    (or a short description of a revert that is not a custom error).
    """
    d = ledger.deployment
    assert d is not None
    abi = LEDGER_ABI if contract == "ledger" else GWP_ABI
    to = d.ledger if contract == "ledger" else d.attestations
    tx = {"from": sender, "to": to, "data": "0x" + abi.fn(fn).encode(*args).hex(), "gas": hex(15_000_000)}
    try:
        call(ledger.w3, "eth_call", [tx, "latest"])
    except errors.ContractRevert as exc:
        return exc.error_name
    except errors.ChainError as exc:
        return f"ChainError: {exc}"
    return None


def resync(ledger: Ledger) -> None:
    """Forget every cached nonce of the ledgers sharing `ledger`'s connection (after a revert)."""
    ledger.resync(every_account=True)


@pytest.fixture(scope="module")
def module_chain(deployed_chain: Any) -> Iterator[Any]:
    """The session chain for a whole module, rolled back when the module is done."""
    snapshot = deployed_chain.rpc("evm_snapshot")
    yield deployed_chain
    deployed_chain.rpc("evm_revert", [snapshot])
    resync(deployed_chain.base)


@dataclass
class Suite:
    """A fresh deployment on a node of its own: admin, a miner, a verifier, an auditor."""

    node: _node.NodeInfo
    data_dir: Path
    base: Ledger
    admin: Ledger
    miner: Ledger
    verifier: Ledger
    auditor: Ledger
    accounts: dict[str, LocalAccount]


def start_suite(data_dir: Path, *, persist: bool = False, port: int | None = None, extra_args: list[str] | None = None) -> Suite:
    """Start an Anvil for `data_dir`, deploy, register a miner, a verifier and an auditor."""
    node = _node.start(data_dir, persist=persist, port=port, extra_args=extra_args)
    base = Ledger.connect(node.rpc_url, data_dir=data_dir)
    accounts = {name: Account.create() for name in ("admin", "miner", "verifier", "auditor")}
    for a in accounts.values():
        base.fund(a.address)
    ledgers = {name: base.with_account(a) for name, a in accounts.items()}
    ledgers["admin"].deploy()
    ledgers["admin"].register(accounts["miner"].address, Role.MINER, "miner")
    ledgers["admin"].register(accounts["verifier"].address, Role.GWP_VERIFIER, "verifier")
    ledgers["admin"].register(accounts["auditor"].address, Role.AUDITOR, "auditor")
    return Suite(node=node, data_dir=data_dir, base=base, accounts=accounts, **ledgers)
