"""Which EVM build of the contracts a node can run: the one place that chooses between the artifact sets.

The contracts are compiled for Cancun (ledger/artifacts/) and, from the same sources, for Shanghai
(ledger/artifacts/shanghai/): Cancun's code uses MCOPY, which a node without Cancun (Ganache 7.9, whose
newest hardfork is Shanghai) rejects as an invalid opcode. The node is asked, not named: a creation
``eth_call`` of a few bytes that runs MCOPY and returns one byte answers only on a node that has it.
"""

from __future__ import annotations

from web3 import Web3

from ledger import errors
from ledger.chain.abi import EVM_BUILDS
from ledger.chain.rpc import call

#: Init code: MCOPY(0, 0, 1), then RETURN(0, 1). A node with MCOPY returns one byte; one without it fails.
_MCOPY_PROBE = "0x6001600060005e60016000f3"


def evm_build(w3: Web3) -> str:
    """Return the build of the contracts (one of ``EVM_BUILDS``) that the node behind `w3` runs.

    "cancun" when the node executes MCOPY, else "shanghai" (which runs on Cancun nodes too, a little dearer).
    Raises :class:`~ledger.errors.ConnectionFailed` when the node does not answer.
    """
    try:
        answer = call(w3, "eth_call", [{"data": _MCOPY_PROBE}, "latest"])
    except errors.ConnectionFailed:
        raise
    except errors.ChainError:
        return EVM_BUILDS[1]
    return EVM_BUILDS[0] if str(answer).lower() == "0x00" else EVM_BUILDS[1]
