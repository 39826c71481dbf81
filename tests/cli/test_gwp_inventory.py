"""`rinne gwp inventory sign/submit` and `rinne verify`'s inventory roll-up and grade (issue 19)."""

from __future__ import annotations

import json

import pytest
from cli_support import mint

from ledger import load_inventory, to_bytes32

pytestmark = pytest.mark.chain


def _sign(rinne, tmp_path, lot, signer="verifier", name="inv.json", *extra):
    path = tmp_path / name
    out = rinne.json(
        "gwp", "inventory", "sign", lot,
        "--energy", "1.2MWh", "--renewable", "35%", "--water-withdrawn", "4.5m3", "--water-consumed", "1200l",
        "--route", "hydrometallurgy", "--account", signer, "-o", path, *extra,
    )  # fmt: skip
    return path, out


def test_sign_offline_submit_skip_the_retry_and_verify_rolls_it_up(rinne, tmp_path):
    mint(rinne, "INV-1", mass="1t", material="Li2CO3", elements="Li=187.2kg")
    seq = rinne.ledger().ledger_head("attestations")[0]
    path, out = _sign(rinne, tmp_path, "INV-1")
    assert seq == rinne.ledger().ledger_head("attestations")[0]  # signing is offline
    signed = load_inventory(path)
    assert out["uid"] == signed.uid and out["energy_wh"] == 1_200_000 and out["renewable_bps"] == 3_500
    assert (out["water_withdrawn_litres"], out["water_consumed_litres"], out["route"]) == (4_500, 1_200, "hydrometallurgy")
    results = rinne.write("gwp", "inventory", "submit", str(path), account="refiner")
    assert results == [{"file": str(path), "uid": signed.uid, "lot_id": to_bytes32("INV-1"), "recorded": True}]
    again = rinne.write("gwp", "inventory", "submit", str(path), account="refiner")
    assert again[0]["recorded"] is False  # its nonce is spent: a retried command is a no-op
    shown = rinne.run("verify", "INV-1", code=1).stdout  # exit 1: its footprint has no GWP attestation
    assert "energy: 1,200.0 kWh cradle-to-gate (35% renewable; hydrometallurgy 1,200 kWh)" in shown
    assert "water 4.50 m³ withdrawn, 1.20 m³ consumed; assurance: verified" in shown
    assert "grade: Li2CO3-battery (derived from the creator's declared content, self-declared: purity 99.6" in shown
    history = rinne.run("lot", "history", "INV-1").stdout
    assert "InventoryAttested" in history and "1,200.0 kWh (35% renewable), water 1.200 m³ consumed" in history
    data = json.loads(rinne.run("verify", "INV-1", "--json", code=1).stdout)
    assert data["process_inventory"]["energy_kwh"] == pytest.approx(1200)
    grade = data["process_inventory"]["grade"]
    # The content is the creator's own declaration: a grade that follows from it is never shown as verified.
    assert (grade["grade"], grade["basis"], grade["assurance"]) == ("Li2CO3-battery", "derived", "self-declared")
    # The signer withdraws it by its file, as an attestation: the roll-up no longer counts it.
    rinne.write("gwp", "revoke", str(path), "--reason", "meter error", account="verifier")
    after = json.loads(rinne.run("verify", "INV-1", "--json", code=1).stdout)["process_inventory"]
    assert after["energy_kwh"] == 0 and after["excluded_energy_kwh"] == pytest.approx(1200)


def test_impossible_figures_and_a_tampered_file_are_one_line_errors(rinne, tmp_path):
    mint(rinne, "INV-2", mass="1t")
    line = rinne.fail(
        "gwp", "inventory", "sign", "INV-2", "--energy", "1kWh", "--water-withdrawn", "1m3", "--water-consumed", "2m3",
        "--account", "verifier", "-o", tmp_path / "x.json", code=2,
    )  # fmt: skip
    assert "cannot exceed water withdrawn" in line and "\n" not in line.strip()
    assert "alchemy" in rinne.fail(
        "gwp", "inventory", "sign", "INV-2", "--energy", "1kWh", "--route", "alchemy", "--account", "verifier", code=2
    )
    path, _ = _sign(rinne, tmp_path, "INV-2")
    data = json.loads(path.read_text())
    data["message"]["energyWh"] = 1
    path.write_text(json.dumps(data))
    assert "does not match" in rinne.fail("gwp", "inventory", "submit", str(path), "--account", "refiner", "--yes")


def test_a_competitor_signing_for_anothers_lot_is_refused_on_chain(rinne, tmp_path):
    mint(rinne, "INV-3", mass="1t")
    path, _ = _sign(rinne, tmp_path, "INV-3", "miner")  # the miner neither holds the lot nor is accredited
    line = rinne.fail("gwp", "inventory", "submit", str(path), "--account", "miner", "--yes")
    assert "is not an accredited GWP verifier (nor the lot's holder" in line


def test_lot_transform_refuses_an_input_below_the_required_grade_with_one_line(rinne):
    mint(rinne, "LI-TG", mass="1t", material="Li2CO3", elements="Li=180kg")
    mint(rinne, "LI-BG", mass="1t", material="Li2CO3", elements="Li=187.2kg")
    line = rinne.fail(
        "lot", "transform", "--in", "LI-TG", "--out", "LI-INT:LI-INT:100kg:Li=18kg", "--require-grade", "Li2CO3-battery",
        "--account", "refiner", "--yes",
    )  # fmt: skip
    assert "LI-TG is below Li2CO3-battery: purity 95.8" in line and "YS/T 582-2013" in line
    rinne.write(
        "lot", "transform", "--in", "LI-BG", "--out", "LI-INT:LI-INT:100kg:Li=18kg", "--require-grade", "LI-BG=Li2CO3-battery",
        account="refiner",
    )  # fmt: skip
    assert "one GRADE for every input" in rinne.fail(
        "lot", "transform", "--in", "LI-BG", "--out", "X:X:1kg", "--require-grade", "a", "--require-grade", "b",
        "--account", "refiner", "--yes", code=2,
    )  # fmt: skip


def test_a_required_grade_the_content_cannot_decide_is_met_only_by_a_verified_attestation(rinne, tmp_path):
    # CAM-X names no compound Rinne can grade from its content: only an attested grade can apply.
    mint(rinne, "CAM-A", mass="100kg", material="CAM-X", elements="Ni=48kg")
    out = ["--out", "CELL-A:CELL-X:100kg:Ni=48kg", "--require-grade", "CAM-battery", "--account", "refiner", "--yes"]
    assert "no verified attestation grades it" in rinne.fail("lot", "transform", "--in", "CAM-A", *out)
    # The holder's own grade is a self-declaration: it does not admit its material where a grade is required.
    own, _ = _sign(rinne, tmp_path, "CAM-A", "refiner", "own.json", "--grade", "CAM-battery")
    rinne.write("gwp", "inventory", "submit", str(own), account="refiner")
    assert "only by a self-declared attestation" in rinne.fail("lot", "transform", "--in", "CAM-A", *out)
    verified, _ = _sign(rinne, tmp_path, "CAM-A", "verifier", "verified.json", "--grade", "CAM-battery")
    rinne.write("gwp", "inventory", "submit", str(verified), account="refiner")
    rinne.write("lot", "transform", "--in", "CAM-A", *out[:-3], account="refiner")
    assert rinne.ledger().lot("CELL-A").mass == 100_000
