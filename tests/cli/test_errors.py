"""Failures: one line saying what and how to fix it, exit 1 for the chain and the ledger, 2 for usage,
no traceback unless -v, and nothing half-recorded."""

from __future__ import annotations

import json

import pytest
from cli_support import mint

from ledger.chain import node as _node
from ledger.client.ledger import Ledger
from ledger.client.light import LedgerReader

pytestmark = pytest.mark.chain


def test_nothing_listening(rinne):
    url = f"http://127.0.0.1:{_node.free_port()}"
    line = rinne.fail("lot", "show", "X", "--rpc-url", url)
    assert f"cannot reach {url}" in line and "--rpc-url" in line


def test_wrong_chain_id(rinne):
    line = rinne.fail("lot", "show", "X", "--chain-id", "1")
    assert "serves chain 31337, expected 1" in line


def test_not_deployed_and_node_reset(rinne, tmp_path):
    line = rinne.fail("lot", "show", "X", "--data-dir", tmp_path / "fresh")
    assert "no Rinne deployment recorded for chain 31337" in line and "rinne deploy" in line
    stale = tmp_path / "stale"
    (stale / "deployments").mkdir(parents=True)
    record = json.loads((rinne.home / "deployments" / "31337.json").read_text())
    record.update(ledger="0x" + "11" * 20, attestations="0x" + "22" * 20)
    (stale / "deployments" / "31337.json").write_text(json.dumps(record))
    line = rinne.fail("party", "list", "--data-dir", stale)
    assert "not on chain 31337" in line and "rinne deploy" in line


def test_deploy_records_refuses_to_clobber_and_forces(rinne, tmp_path):
    home = tmp_path / "home"
    first = rinne.write("deploy", "--data-dir", home, account="admin")
    assert json.loads((home / "deployments" / "31337.json").read_text())["ledger"] == first["ledger"]
    line = rinne.fail("deploy", "--data-dir", home, "--account", "admin", "--yes")
    assert "already deployed on chain 31337" in line and "--force" in line
    second = rinne.write("deploy", "--data-dir", home, "--force", "--admin", "refiner", account="admin")
    assert second["ledger"] != first["ledger"] and second["admin"] == rinne.addr("refiner")
    assert Ledger.connect(rinne.rpc_url, data_dir=home).admin() == rinne.addr("refiner")


def test_missing_account_is_a_usage_error(rinne):
    line = rinne.fail("lot", "mint", "E-1", "--material", "NiSO4", "--mass", "1t", "--yes", code=2)
    assert "--account NAME" in line and "RINNE_ACCOUNT" in line
    line = rinne.fail("lot", "mint", "E-1", "--material", "NiSO4", "--mass", "1t", "--account", "ghost", "--yes")
    assert "no account named 'ghost'" in line and "rinne account list" in line


def test_account_from_the_environment(rinne):
    out = rinne.json("lot", "mint", "E-ENV", "--material", "NiSO4", "--mass", "1t", "--yes", env={"RINNE_ACCOUNT": "refiner"})
    assert out["created"] is True and rinne.ledger().lot("E-ENV").holder == rinne.addr("refiner")


def test_no_answer_to_the_prompt_sends_nothing(rinne):
    result = rinne.run("lot", "mint", "E-2", "--material", "NiSO4", "--mass", "1t", "--account", "refiner", code=1)
    assert "Mint lot E-2 (NiSO4, 1 t) as refiner" in result.stderr and "pass --yes" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert rinne.ledger().lot("E-2").state == 0


def test_verbose_shows_the_traceback(rinne):
    result = rinne.run("-v", "lot", "mint", "E-3", "--material", "NiSO4", "--mass", "1t", "--account", "cam", "--yes", code=1)
    assert "Traceback" in result.stderr and "ParticipantRegistryUnauthorized" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("Error: ")
    result = rinne.run("lot", "show", "NOPE", "-v", code=1)
    assert result.stderr.strip().splitlines()[-1] == "Error: no lot NOPE on chain 31337"


def test_unexpected_errors_stay_one_line(rinne, monkeypatch):
    mint(rinne, "E-4", mass="1t")

    def boom(self, *args, **kwargs):
        raise RuntimeError("boom\nsecond line")

    # `lot show` reads through the web3-free LedgerReader, the other lot commands through Ledger.
    monkeypatch.setattr(Ledger, "lot", boom)
    monkeypatch.setattr(LedgerReader, "lot", boom)
    line = rinne.fail("lot", "show", "E-4")
    assert line == "Error: unexpected RuntimeError: boom (run with -v for the traceback)"


def test_confirmations_option(rinne):
    out = rinne.json(
        "lot", "mint", "E-5", "--material", "NiSO4", "--mass", "1t", "--account", "refiner", "--yes", "--confirmations", "1"
    )
    assert out["created"] is True
    line = rinne.fail("lot", "freeze", "E-5", "--confirmations", "-1", "--account", "auditor", "--yes", code=2)
    assert "Invalid value for '--confirmations'" in line
    assert "No such option" in rinne.fail("lot", "show", "E-5", "--confirmations", "1", code=2)
