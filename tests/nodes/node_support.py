"""Helpers of the other-node tests (tests/nodes): a revert that puts the node's clock back on the wall clock."""

from __future__ import annotations

import time

from chain_support import Chain


def revert(chain: Chain, snapshot: str) -> None:
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
    chain.base.resync(every_account=True)  # nonces went back with the chain
