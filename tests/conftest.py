"""Shared fixtures: a real Anvil node on a free port, the contracts deployed once per session,
and a snapshot/revert around each test that asks for `chain`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chain_support import Chain, deploy_suite
from index_backends import BACKENDS, Targets

from ledger import NodeInfo, Role, start_node, stop_node

PARTIES: dict[str, Role] = {
    "admin": Role(0),
    "miner": Role.MINER,
    "miner2": Role.MINER,
    "refiner": Role.REFINER,
    "precursor": Role.PRECURSOR_MAKER,
    "cathode": Role.CATHODE_MAKER,
    "cells": Role.CELL_MAKER,
    "packs": Role.PACK_ASSEMBLER,
    "oem": Role.OEM,
    "second_life": Role.SECOND_LIFE,
    "diagnostician": Role.DIAGNOSTICIAN,
    "recycler": Role.RECYCLER,
    "verifier": Role.GWP_VERIFIER,
    "auditor": Role.AUDITOR,
    "outsider": Role(0),  # never registered
}


@pytest.fixture(scope="session")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeInfo]:
    """A real Anvil on a free port, without a state file, for the whole session."""
    data_dir = tmp_path_factory.mktemp("anvil")
    info = start_node(data_dir, persist=False)
    yield info
    stop_node(data_dir)


@pytest.fixture(scope="session")
def deployed_chain(anvil: NodeInfo, tmp_path_factory: pytest.TempPathFactory) -> Chain:
    return deploy_suite(anvil, tmp_path_factory.mktemp("rinne-home"), PARTIES)


@pytest.fixture
def chain(deployed_chain: Chain) -> Iterator[Chain]:
    """The deployed suite, reverted to its starting state after the test."""
    snapshot = deployed_chain.rpc("evm_snapshot")
    yield deployed_chain
    deployed_chain.rpc("evm_revert", [snapshot])
    deployed_chain.base.resync(every_account=True)  # nonces went back with the chain


@pytest.fixture(params=BACKENDS)
def index_at(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Targets]:
    """Index locations on each backend in turn (tests/index_backends.py): ``index_at("name")``."""
    targets = Targets(request.param, tmp_path_factory.mktemp("ix"))
    yield targets
    targets.drop()
