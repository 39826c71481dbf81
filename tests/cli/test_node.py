"""`rinne node` and the managed local node as the default chain: start, status, funding, persistence."""

from __future__ import annotations

import pytest
from cli_support import Rinne

from ledger.chain import node as _node

pytestmark = pytest.mark.chain


@pytest.fixture
def managed(tmp_path):
    """A CLI runner with its own data dir and no --rpc-url: commands use the managed node."""
    runner = Rinne(rpc_url="", home=tmp_path / "home", keystores=tmp_path / "keys")
    yield runner
    _node.stop(runner.home)


def test_managed_node_lifecycle_and_persistence(managed):
    m = managed
    assert m.json("node", "status", rpc=False) == {"running": False, "data_dir": str(m.home)}
    # No node running: a new account is not funded, and no node is started for it.
    out = m.json("account", "new", "admin", rpc=False)
    assert out["funded"] is False and _node.status(m.home) is None

    started = m.json("node", "start", rpc=False)
    assert started["running"] is True and started["started"] is True and started["chain_id"] == 31337
    assert started["rpc_url"].startswith("http://127.0.0.1:") and started["deployment"] is None
    assert m.json("node", "start", rpc=False)["started"] is False

    # On the managed node new accounts get test ETH, and the deployer is funded automatically.
    assert m.json("account", "new", "refiner", rpc=False)["funded"] is True
    deployed = m.json("deploy", "--account", "admin", "--yes", rpc=False)
    status = m.json("node", "status", rpc=False)
    assert status["deployment"]["ledger"] == deployed["ledger"]
    m.json("party", "register", "refiner", "--roles", "REFINER", "--name", "R", "--account", "admin", "--yes", rpc=False)
    m.json("lot", "mint", "N-1", "--material", "NiSO4", "--mass", "1t", "--account", "refiner", "--yes", rpc=False)

    assert m.json("node", "stop", rpc=False)["stopped"] is True
    assert m.json("node", "status", rpc=False)["running"] is False
    assert m.json("node", "stop", rpc=False)["stopped"] is False

    # The chain survives a restart (state file), and a read starts the node on demand.
    shown = m.run("lot", "show", "N-1", "--json", rpc=False)
    assert "starting the local node" in shown.stderr
    assert '"mass_g": 1000000' in shown.stdout
    assert m.json("node", "status", rpc=False)["running"] is True


def test_status_human_form(managed):
    assert "no local node running" in managed.run("node", "status", rpc=False).stdout
    managed.run("node", "start", rpc=False)
    text = managed.run("node", "status", rpc=False).stdout
    assert "running   http://127.0.0.1:" in text and "deployed  no" in text
    line = managed.fail("node", "start", "--port", "1", rpc=False, code=2)
    assert "runs already on port" in line


def test_managed_node_on_the_hardhat_engine(managed):
    """`rinne node start --engine hardhat`: the managed node is the Hardhat 3 node; deploy and mint on it."""
    try:
        _node.find_hardhat()
    except Exception as exc:  # pragma: no cover - depends on npm ci
        pytest.skip(f"hardhat is not installed ({exc}): run `npm ci`")
    m = managed
    started = m.json("node", "start", "--engine", "hardhat", rpc=False)
    assert started["engine"] == "hardhat" and started["started"] is True
    assert "(hardhat, chain 31337" in m.run("node", "status", rpc=False).stdout
    m.json("account", "new", "admin", rpc=False)
    m.json("account", "new", "refiner", rpc=False)
    m.json("deploy", "--account", "admin", "--yes", rpc=False)
    m.json("party", "register", "refiner", "--roles", "REFINER", "--name", "R", "--account", "admin", "--yes", rpc=False)
    m.json("lot", "mint", "H-1", "--material", "NiSO4", "--mass", "1t", "--account", "refiner", "--yes", rpc=False)
    assert m.json("lot", "show", "H-1", rpc=False)["mass_g"] == 1_000_000
    assert m.json("node", "stop", rpc=False)["stopped"] is True
