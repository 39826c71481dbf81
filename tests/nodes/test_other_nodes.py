"""Issue 15, "one suite, several nodes": the library's main paths on the other development nodes
(tests/nodes/conftest.py: ENGINES, the Hardhat 3 node and Ganache 7.9, which runs the Shanghai build).

Anvil runs the whole suite; here each other node runs, through the same library calls and with the
same assertions: deployment and roles, a bulk import, a transform chain down to a battery unit, a
signed attestation relayed and verified, an index sync, a full audit, `rinne verify`, a revert decoded
to its named error, and the README's command-line walkthrough. What differs between the nodes is
handled in ledger/ (funding in `Ledger.fund`, options, hardforks and state in `_node`), not here.
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ledger import (
    Composition,
    EventIndex,
    GwpAttestation,
    LifeCycleStage,
    LotSpec,
    Role,
    UnitSpec,
    audit,
    errors,
    sign_attestation,
    to_bytes32,
)
from ledger.chain import node as _node
from ledger.chain.abi import contract_abi
from ledger.domain.enums import LotState, PassportStatus
from rinne_cli.main import cli

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cli_support import Rinne

pytestmark = pytest.mark.chain

KG = 1000
NI = Composition.of({"Ni": 220 * KG, "Co": 8 * KG})
README = Path(__file__).resolve().parents[2] / "README.md"


def _now(chain) -> int:
    return int(chain.rpc("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)


def _give(chain, lot: str, frm: str, to: str) -> None:
    chain[frm].offer(lot, chain.addr(to))
    chain[to].accept(lot)


def _signed(chain, lot: str, kg: float, nonce: int, stage: LifeCycleStage = LifeCycleStage.MainProduction):
    now = _now(chain)
    att = GwpAttestation(
        lot_id=to_bytes32(lot),
        emissions_grams=round(kg * KG),
        stage=stage,
        methodology="ISO14067:2018",
        evidence="0x" + "ab" * 32,
        issued_at=now,
        valid_until=now + 10 * 365 * 86_400,
        nonce=nonce,
        deadline=now + 3600,
    )
    d = chain.base.deployment
    return sign_attestation(att, chain.accounts["verifier"], d.chain_id, d.attestations)


def _transform_chain(chain, *, attest: bool):
    """NiSO4 → CAM → split → cells (CELL_MAKER) → a pack unit; with `attest`, a verifier's figure is relayed
    at each step. Returns CAM's signed attestation (None without `attest`)."""

    def figure(lot: str, kg: float, nonce: int, relayer: str, stage=LifeCycleStage.MainProduction):
        if not attest:
            return None
        signed = _signed(chain, lot, kg, nonce, stage)
        chain[relayer].submit_attestation(signed)
        return signed

    chain["refiner"].mint(LotSpec(lot_id="NISO4-A", material="NiSO4", mass=1_000 * KG, composition=NI))
    figure("NISO4-A", 3_800, 1, "refiner", LifeCycleStage.RawMaterialAcquisition)
    _give(chain, "NISO4-A", "refiner", "cathode")
    chain["cathode"].transform(["NISO4-A"], [LotSpec(lot_id="CAM-A", material="CAM-NMC811", mass=800 * KG, composition=NI)])
    cam_attestation = figure("CAM-A", 1_200, 2, "cathode")
    chain["cathode"].split("CAM-A", [("CAM-A2", 300 * KG)])
    _give(chain, "CAM-A2", "cathode", "cells")
    cam2 = chain.base.lot("CAM-A2")
    chain["cells"].transform(
        ["CAM-A2"], [LotSpec(lot_id="CELLS-A", material="CELL-NMC811", mass=290 * KG, composition=cam2.composition)]
    )
    figure("CELLS-A", 900, 3, "cells")
    _give(chain, "CELLS-A", "cells", "packs")
    cells = chain.base.lot("CELLS-A")
    pack = LotSpec(lot_id="PACK-A", material="PACK-75KWH", mass=290 * KG, composition=cells.composition)
    chain["packs"].build_unit(["CELLS-A"], pack, UnitSpec(serial="SN-PACK-A", rated_wh=75_000))
    figure("PACK-A", 150, 4, "packs")
    assert chain.base.lot("CAM-A").state == LotState.ACTIVE
    assert chain.base.lot("CELLS-A").state == LotState.CONSUMED
    assert chain.base.unit("PACK-A").status == PassportStatus.ORIGINAL
    return cam_attestation


def test_deploy_roles_and_a_named_revert(chain):
    assert chain.base.node_kind() == chain.engine
    assert chain.base.check_deployment().chain_id == 31337
    # The build the node can run (Ganache 7.9 has no Cancun), recorded and checked against the chain's code.
    assert chain.base.deployment.evm_version == ("shanghai" if chain.engine == "ganache" else "cancun")
    assert chain.base.has_role(chain.addr("cells"), Role.CELL_MAKER)
    assert not chain.base.has_role(chain.addr("cells"), Role.REFINER)
    # A revert comes back as the contract's named error, whatever the node's error text.
    with pytest.raises(errors.revert_class("ParticipantRegistryUnauthorized")):
        chain["cells"].mint(LotSpec(lot_id="X-1", material="NiSO4", mass=1_000 * KG, composition=NI))


def test_a_vault_key_published_and_read_back(chain):
    # VaultKeys is deployed in both builds (Ganache runs the Shanghai one): publish, read, and the named revert.
    key = bytes.fromhex("9" * 64)
    chain["cells"].publish_vault_key(key)
    assert chain.base.vault_key_of(chain.addr("cells")) == key
    with pytest.raises(errors.revert_class("VaultKeysInvalidKey")):
        chain["cells"].send_raw(chain.base.deployment.vault_keys, contract_abi("VaultKeys").fn("publishVaultKey").encode(bytes(32)))


def test_bulk_import(chain, tmp_path):
    specs = [LotSpec(lot_id=f"B{i}", material="ORE-NI", mass=1000, composition=Composition.of({"Ni": 10 + i})) for i in range(500)]
    first = chain["miner"].mint_many(specs)
    assert first.done == 500 and first.skipped == 0 and first.transactions >= 2
    again = chain["miner"].mint_many(specs)  # a retried import doubles nothing
    assert again.done == 0 and again.skipped == 500
    assert chain.base.lot("B499").composition.total[1] == 509
    index = EventIndex.open(tmp_path / "bulk.sqlite")
    index.sync(chain.base)
    assert {to_bytes32(f"B{i}") for i in range(500)} <= {row.lot_id for row in index.lots(holder=chain.addr("miner"))}


def test_transform_chain_index_and_audit(chain, tmp_path):
    _transform_chain(chain, attest=False)
    index = EventIndex.open(tmp_path / "audit.sqlite")
    index.sync(chain.base)
    assert index.synced_block == int(chain.rpc("eth_blockNumber"), 16)
    report = audit(chain.base, index)
    assert report.passed and report.flags == [], report.flags  # integrity: the replay matches the chain
    assert [(c.label, c.level) for c in report.claims] == [("PACK-A", "missing")]  # nobody attested anything
    assert not report.strict_passed


def test_attestations_and_a_full_audit(chain, tmp_path):
    signed = _transform_chain(chain, attest=True)
    # The relayed attestation verifies on-chain.
    check = chain.base.verify_attestation(signed)
    assert check["ok"] and check["recorded"] and check["accredited"] and not check["revoked"], check
    # A fresh index syncs and the full audit passes, every claim verified.
    index = EventIndex.open(tmp_path / "audit.sqlite")
    index.sync(chain.base)
    report = audit(chain.base, index)
    assert report.passed and report.flags == [] and report.strict_passed, report.flags
    assert [(c.label, c.level) for c in report.claims] == [("PACK-A", "verified")]  # CAM-A lives on inside PACK-A
    # `rinne verify` through the CLI agrees.
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (home / "deployments").mkdir(mode=0o700)
    for f in (chain.data_dir / "deployments").iterdir():
        (home / "deployments" / f.name).write_bytes(f.read_bytes())
    env = {"RINNE_HOME": str(home), "ETH_RPC_URL": None, "RINNE_ACCOUNT": None, "NO_COLOR": "1"}
    result = CliRunner().invoke(cli, ["verify", "PACK-A", "--rpc-url", chain.node.rpc_url], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert "  assurance: verified" in result.stdout.splitlines()


def _readme_commands() -> list[list[str]]:
    block = re.search(r"```sh\n(.*?)```", README.read_text(), re.S).group(1)
    lines = [re.sub(r"\s+#.*$", "", line).strip() for line in block.replace("\\\n", " ").splitlines()]
    return [shlex.split(line)[1:] for line in lines if line.startswith("rinne ")]


def test_readme_walkthrough(node_chain, tmp_path, monkeypatch):
    """The README's walkthrough, command by command (in-process), against this node instead of the
    managed Anvil: `node start`/`node stop` are left out and new accounts are funded with --fund.
    It runs on a node of its own, started for it: a revert earlier in the session leaves the Hardhat
    node's clock a fraction of a second off the wall clock, from which `gwp sign` takes issued-at, and
    the relay then sees an attestation issued "in the future" (it flaked once in CI that way)."""
    commands = _readme_commands()
    assert commands[0] == ["node", "start"] and commands[-1] == ["node", "stop"] and len(commands) > 15
    monkeypatch.chdir(tmp_path)
    node = _node.start(tmp_path / "node", engine=node_chain.engine, persist=False)
    rinne = Rinne(rpc_url=node.rpc_url, home=tmp_path / "home", keystores=tmp_path / "keys")
    out: dict[str, str] = {}
    try:
        for argv in commands[1:-1]:
            if argv[:2] == ["account", "new"]:
                argv = [*argv, "--fund"]
            result = rinne.run(*argv, input="y\n" * 4)
            out[argv[0]] = result.stdout
    finally:
        _node.stop(tmp_path / "node")
    assert "  assurance: verified" in out["verify"].splitlines()
    audit_lines = out["audit"].strip().splitlines()
    assert audit_lines[0].startswith("audit PASSED: ") and audit_lines[1] == "claims: 1 verified"
    assert (tmp_path / "cam-001.gwp.json").exists()
    assert "<svg" in (tmp_path / "cam-001.html").read_text()
    assert (tmp_path / "audit.html").exists()
