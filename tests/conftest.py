"""Shared fixtures: a real Anvil node on a free port, the contracts deployed once per session,
and a snapshot/revert around each test that asks for `chain`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger import Ledger, Role
from ledger import _node
from ledger._rpc import call

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


@dataclass
class Chain:
    """A deployed suite on a test Anvil and one Ledger per party."""

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

    def give(self, lot_id: str, frm: str, to: str) -> None:
        """Hand a lot from party `frm` to party `to` (offer, then accept)."""
        self[frm].offer(lot_id, self.addr(to))
        self[to].accept(lot_id)

    def now(self) -> int:
        """The latest block's timestamp."""
        return int(self.rpc("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)


@pytest.fixture(scope="session")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_node.NodeInfo]:
    """A real Anvil on a free port, without a state file, for the whole session."""
    data_dir = tmp_path_factory.mktemp("anvil")
    info = _node.start(data_dir, persist=False)
    yield info
    _node.stop(data_dir)


@pytest.fixture(scope="session")
def deployed_chain(anvil: _node.NodeInfo, tmp_path_factory: pytest.TempPathFactory) -> Chain:
    data_dir = tmp_path_factory.mktemp("rinne-home")
    base = Ledger.connect(anvil.rpc_url, data_dir=data_dir)
    accounts = {name: Account.create() for name in PARTIES}
    for acct in accounts.values():
        base.fund(acct.address)
    chain = Chain(base=base, accounts=accounts, data_dir=data_dir)
    chain.parties = {name: base.with_account(a) for name, a in accounts.items()}
    chain["admin"].deploy()
    for name, roles in PARTIES.items():
        if roles:
            chain["admin"].register(accounts[name].address, roles, name)
    return chain


@pytest.fixture
def chain(deployed_chain: Chain) -> Iterator[Chain]:
    """The deployed suite, reverted to its starting state after the test."""
    snapshot = deployed_chain.rpc("evm_snapshot")
    yield deployed_chain
    deployed_chain.rpc("evm_revert", [snapshot])
    for sender in deployed_chain.base._shared["senders"].values():
        sender.resync()  # nonces went back with the chain
