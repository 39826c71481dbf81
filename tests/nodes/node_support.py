"""Helpers of the other-node tests (tests/nodes): the deployed chain on one node, and a revert that
puts the node's clock back on the wall clock."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from eth_account.signers.local import LocalAccount

from ledger import Ledger
from ledger import _node
from ledger._rpc import call


@dataclass
class NodeChain:
    """A deployed suite on one node and one Ledger per party."""

    engine: str
    node: _node.NodeInfo
    base: Ledger
    accounts: dict[str, LocalAccount]
    data_dir: Path
    parties: dict[str, Ledger] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Ledger:
        return self.parties[name]

    def addr(self, name: str) -> str:
        return self.accounts[name].address

    def rpc(self, method: str, params: list | None = None):
        return call(self.base.w3, method, params or [])


def revert(chain: NodeChain, snapshot: str) -> None:
    """Go back to `snapshot`, with the chain's clock on the wall clock again.

    The Hardhat node's evm_revert keeps the clock of the moment of the snapshot running: its next
    block would be stamped as far ahead of the wall clock as the test took, and an attestation the
    next test signs "now" (the CLI's `gwp sign` takes issued-at from the wall clock) would predate the
    verifier's registration. Its next block is put back on the wall clock (evm_setNextBlockTimestamp
    also moves the blocks after it). Anvil and Ganache need nothing here.
    """
    assert chain.rpc("evm_revert", [snapshot]) is True
    if chain.engine == "hardhat":
        latest = int(chain.rpc("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
        chain.rpc("evm_setNextBlockTimestamp", [hex(max(latest + 1, int(time.time())))])
    for sender in chain.base._shared["senders"].values():
        sender.resync()  # nonces went back with the chain
