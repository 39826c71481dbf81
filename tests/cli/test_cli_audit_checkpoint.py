"""`rinne audit --save-checkpoint` / `--checkpoint` (issue 15): an auditor's incremental audit through the CLI."""

from __future__ import annotations

import pytest
from cli_support import mint

pytestmark = pytest.mark.chain


def test_incremental_audit_through_the_cli(rinne, tmp_path):
    cp = tmp_path / "audit.cp"
    mint(rinne, "CK-1", material="NiSO4", mass="1t", elements="Ni=22%")
    first = rinne.json("audit", "--save-checkpoint", str(cp), "--account", "auditor")
    assert first["checkpoint_block"] is None and cp.exists()
    mint(rinne, "CK-2", material="NiSO4", mass="1t", elements="Ni=22%")
    part = rinne.json("audit", "--checkpoint", str(cp), "--account", "auditor")
    full = rinne.json("audit")
    assert part["checkpoint_block"] == first["to_block"]
    assert (part["events"], part["lots"], part["heads"]) == (full["events"], full["lots"], full["heads"])
    assert part["storage_checked"] < full["storage_checked"]
    text = rinne.run("audit", "--checkpoint", str(cp), "--account", "auditor").stdout
    assert f"(from the checkpoint at block {first['to_block']})" in text


def test_a_checkpoint_from_a_non_auditor_is_one_line_refusal(rinne, tmp_path):
    cp = tmp_path / "refiner.cp"
    mint(rinne, "CK-3", material="NiSO4", mass="1t", elements="Ni=22%")
    rinne.json("audit", "--save-checkpoint", str(cp), "--account", "refiner")  # anyone may write one for themself
    line = rinne.fail("audit", "--checkpoint", str(cp), "--account", "auditor")
    assert "not among the auditors trusted here" in line
    line = rinne.fail("audit", "--checkpoint", str(cp), "--trust", "refiner")
    assert "not an active AUDITOR" in line
    assert "needs an account" in rinne.fail("audit", "--save-checkpoint", str(tmp_path / "x.cp"), code=2)
