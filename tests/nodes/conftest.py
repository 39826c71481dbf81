"""Fixtures for the other development nodes (npm `hardhat` and `ganache`, pinned in package.json), each
started by `start_node(tmp, persist=False, engine=...)` on a free port, as the root conftest starts
Anvil (which the rest of the suite covers).

One node per engine for the session, the contracts deployed and the parties registered once; each
test that asks for `chain` runs inside an evm_snapshot/evm_revert, which all three nodes implement.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from chain_support import Chain, deploy_suite
from node_support import revert

from ledger import NodeInfo, Role, start_node, stop_node

#: The engines these tests run on (Anvil runs everything else). Ganache 7.9's newest hardfork is Shanghai:
#: the library deploys the Shanghai build of the contracts there (ledger/artifacts/shanghai/, chosen by
#: probing the node for MCOPY: ledger/chain/evm.py). What else the library does for Ganache (a kept chain,
#: funding, its revert data) is tested in test_ganache_node.py.
ENGINES = ("hardhat", "ganache")

PARTIES: dict[str, Role] = {
    "admin": Role(0),
    "miner": Role.MINER,
    "refiner": Role.REFINER,
    "cathode": Role.CATHODE_MAKER,
    "cells": Role.CELL_MAKER,
    "packs": Role.PACK_ASSEMBLER,
    "verifier": Role.GWP_VERIFIER,
    "auditor": Role.AUDITOR,
}


@pytest.fixture(scope="session", params=ENGINES)
def dev_node(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeInfo]:
    """A node of each of ENGINES on a free port, without kept state, for the whole session."""
    data_dir = tmp_path_factory.mktemp(request.param)
    info = start_node(data_dir, persist=False, engine=request.param)
    yield info
    stop_node(data_dir)


@pytest.fixture(scope="session")
def node_chain(dev_node: NodeInfo, tmp_path_factory: pytest.TempPathFactory) -> Chain:
    return deploy_suite(dev_node, tmp_path_factory.mktemp(f"{dev_node.engine}-home"), PARTIES)


@pytest.fixture
def chain(node_chain: Chain) -> Iterator[Chain]:
    """The deployed suite, reverted to its starting state after the test."""
    snapshot = node_chain.rpc("evm_snapshot")
    yield node_chain
    revert(node_chain, snapshot)
