"""`rinne trace | verify | audit | passport` over the event index, against a real Anvil."""

from __future__ import annotations

import json

import pytest
from cli_support import mint

pytestmark = pytest.mark.chain


def _story(rinne, tmp_path) -> None:
    """Refiner mints and attests nickel sulphate; the cathode maker turns it into CAM."""
    mint(rinne, "P-NI", mass="10t", elements="Ni=22%")
    att = tmp_path / "p-ni.json"
    rinne.json("gwp", "sign", "P-NI", "--emissions", "38t", "--stage", "raw-material-acquisition", "--account", "verifier", "-o", att)
    rinne.write("gwp", "submit", str(att), account="refiner")
    rinne.write("transfer", "offer", "P-NI", "cam", account="refiner")
    rinne.write("transfer", "accept", "P-NI", account="cam")
    rinne.write("lot", "transform", "--in", "P-NI", "--out", "P-CAM:CAM-NMC811:9t:Ni=2t", account="cam")


def test_trace_json_and_html_follow_the_transform(rinne, tmp_path):
    _story(rinne, tmp_path)
    up = rinne.json("trace", "P-CAM", "--direction", "up")
    labels = {lot["label"] for lot in up["lots"]}
    assert {"P-NI", "P-CAM"} <= labels
    page = tmp_path / "trace.html"
    rinne.run("trace", "P-CAM", "--format", "html", "-o", str(page))
    html = page.read_text()
    assert "<svg" in html and "P-NI" in html and "http://" not in html.split("<svg", 1)[0].lower().replace("http://www.w3.org", "")
    # Each box carries its figures (issue 14): P-NI's 38 t CO2e, all of it in the 9 t of CAM made from it.
    boxes = html.split('<g class="lot ')[1:]
    ni = next(b for b in boxes if 'data-label="P-NI"' in b)
    cam = next(b for b in boxes if 'data-label="P-CAM"' in b)
    assert ">38,000.0 kg CO2e · " in ni and ">38,000.0 kg CO2e · " in cam
    assert "recycled" in ni or "no recycled content" in ni
    dot = rinne.run("trace", "P-NI", "--direction", "down", "--format", "dot").stdout
    assert dot.startswith("digraph") and "P-CAM" in dot


def test_trace_text_is_a_tree_with_masses_footprints_and_operations(rinne, tmp_path):
    _story(rinne, tmp_path)
    lines = rinne.run("trace", "P-CAM", "--direction", "up").stdout.splitlines()
    # The root with its figure, the operation on the edge, the input it was made from with its own.
    assert lines[0].startswith("P-CAM (CAM-NMC811, 9 t)  38,000.0 kg CO2e, ")
    assert lines[1].startswith("└─ transform by cam (block ")  # the operator by its local account name
    assert lines[2].startswith("   └─ P-NI (NiSO4, 10 t, minted, consumed)  38,000.0 kg CO2e, verified")
    assert lines[-1] == "2 lots, 1 operations; minted: P-NI"  # a refiner's lot is minted, not called a mine
    down = rinne.run("trace", "P-NI", "--direction", "down").stdout.splitlines()
    assert down[0].startswith("P-NI (NiSO4, 10 t, minted, consumed)") and down[2].startswith("   └─ P-CAM (CAM-NMC811, 9 t")
    both = rinne.run("trace", "P-CAM").stdout
    assert "made from:" in both and "went into:" in both


def test_verify_recomputes_the_footprint_and_names_the_weakest_link(rinne, tmp_path):
    _story(rinne, tmp_path)
    # The cathode maker's own step is not attested yet: the claim's weakest link is P-CAM itself.
    result = rinne.run("verify", "P-CAM", code=1)
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "Error: P-CAM's footprint rests on missing attestations: P-CAM"
    assert "38,000.0 kg CO2e" in result.stdout  # the report is still printed: the exit status is the verdict
    att = tmp_path / "p-cam.json"
    rinne.json("gwp", "sign", "P-CAM", "--emissions", "2t", "--stage", "main-production", "--account", "verifier", "-o", att)
    rinne.write("gwp", "submit", str(att), account="cam")
    out = rinne.json("verify", "P-CAM")
    # All 10 t of sulphate (38 t CO2e) went into the one output, plus the step's own 2 t.
    assert out["footprint"]["kg_co2e"] == pytest.approx(40_000, rel=1e-9)
    assert out["footprint"]["stages"]["main_production"] == pytest.approx(2_000, rel=1e-9)
    assert out["footprint"]["assurance"] == "verified"


def test_verify_shows_a_by_product_apart_from_the_yield(rinne):
    # Issue 19: the refiner books 0.5 t of its nickel loss as a slag; the yield stays what the sulphate holds.
    mint(rinne, "Y-ORE", material="ORE-NI", mass="100t", elements="Ni=10t")
    out = ("--out", "Y-NI:NiSO4.6H2O:41t:Ni=9t", "--out", "Y-SLAG:SLAG:20t:Ni=500kg")
    rinne.write("lot", "transform", "--in", "Y-ORE", *out, account="refiner")
    y = rinne.json("verify", "Y-NI", code=1)["yields"]
    assert y["yields"] == {"Ni": pytest.approx(0.9)} and y["by_products"] == {"Ni": pytest.approx(0.05)}
    assert y["by_product_lots"] == ["Y-SLAG"]
    text = rinne.run("verify", "Y-NI", code=1).stdout
    assert "yield of the transform that made it: Ni 90.0% (product output over input, per element)" in text
    assert "Ni 5.0% in Y-SLAG, not in the yield" in text


def test_audit_reports_a_revoked_attestation_as_a_weak_claim_and_fails_only_strict(rinne, tmp_path):
    _story(rinne, tmp_path)
    report = tmp_path / "audit.json"
    html = tmp_path / "audit.html"
    out = rinne.json("audit", "--report", str(report), "--html", str(html))
    assert out["flags"] == [] and out["events"] > 5 and out["passed"] is True
    assert json.loads(report.read_text())["flags"] == [] and "<html" in html.read_text().lower()
    # P-CAM's own step is not attested: its claim is missing, which only the strict audit refuses.
    assert {c["label"]: c["level"] for c in out["claims"]} == {"P-CAM": "missing"} and out["strict_passed"] is False
    uid = rinne.json("gwp", "list", "--lot", "P-NI")
    uid = (uid[0] if isinstance(uid, list) else uid["attestations"][0])["uid"]
    rinne.write("gwp", "revoke", uid, account="auditor")
    result = rinne.run("audit")  # the ledger's integrity holds: a revoked figure is a weak claim, not a flag
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("audit PASSED: ") and lines[1] == "claims: 1 revoked (P-CAM)"
    assert lines[2].startswith("  revoked P-CAM: rests on revoked attestations: P-NI")
    strict = rinne.run("audit", "--strict", code=1)
    assert strict.stderr.strip().splitlines()[-1] == "Error: strict audit: 1 claim(s) weaker than verified: revoked P-CAM"
    assert "Traceback" not in strict.stderr
    # verify does not call the revoked figure zero emissions: it says what it left out.
    shown = rinne.run("verify", "P-CAM", code=1).stdout
    assert "not counted: " in shown and " kg CO2e of revoked attestations" in shown


def test_passport_and_pact_exports(rinne, tmp_path):
    _story(rinne, tmp_path)
    pact = rinne.json("passport", "P-CAM", "--pact")  # the current specification by default
    assert pact["specVersion"].startswith("3.0") and pact["pcf"]["declaredUnitOfMeasurement"] == "kilogram"
    assert isinstance(pact["pcf"]["pcfExcludingBiogenicUptake"], str)
    old = rinne.json("passport", "P-CAM", "--pact", "--pact-version", "2.2")
    assert old["specVersion"].startswith("2.") and old["pcf"]["declaredUnit"] in ("kilogram", "kg")
    line = rinne.fail("passport", "NOPE")
    assert "NOPE" in line
