"""Issue 11, class 5 on a real Anvil: the audit separates ledger integrity (PASS/FAIL, the exit status)
from the assurance of each end product's claim (verified, self-declared, missing, late, expired,
revoked), judged when each figure was used, and `rinne verify` and `rinne audit` agree on it.

The attacks: an honest ledger whose attestation expires after the lot was used must not fail, and a
party with a role must not fail the whole audit with a one-second self-declaration on its own lot;
that weakness shows on that lot's claim and fails only `rinne audit --strict`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from ledger import (
    Composition,
    EventIndex,
    GwpAttestation,
    LifeCycleStage,
    LotSpec,
    UnitSpec,
    audit,
    errors,
    sign_attestation,
    to_bytes32,
)
from ledger.auditor.report import AuditReport
from rinne_cli.main import cli

pytestmark = pytest.mark.chain

KG = 1000
NI = Composition.of({"Ni": 220 * KG, "Co": 8 * KG})


def _attest(
    chain: Any,
    lot: str,
    kg: float,
    *,
    signer: str = "verifier",
    relayer: str = "admin",
    valid_for: int = 10 * 365 * 86_400,
    stage: LifeCycleStage = LifeCycleStage.MainProduction,
    nonce: int = 1,
) -> str:
    """Sign a figure for `lot` as `signer` (the holder signing its own lot is a self-declaration) and relay it."""
    now = chain.now()
    att = GwpAttestation(
        lot_id=to_bytes32(lot),
        emissions_grams=round(kg * KG),
        stage=stage,
        methodology="ISO14067:2018",
        evidence="0x" + "ab" * 32,
        issued_at=now,
        valid_until=now + valid_for,
        nonce=nonce,
        deadline=now + 3600,
    )
    d = chain.base.deployment
    return chain[relayer].submit_attestation(sign_attestation(att, chain.accounts[signer], d.chain_id, d.attestations))


def _cam(chain: Any, *, niso4_valid_for: int = 10 * 365 * 86_400) -> None:
    """Refiner mints and gets NiSO4 attested; the cathode maker turns it into CAM, which is attested too."""
    chain["refiner"].mint(LotSpec(lot_id="NISO4-A", material="NiSO4", mass=1_000 * KG, composition=NI))
    _attest(chain, "NISO4-A", 3_800, stage=LifeCycleStage.RawMaterialAcquisition, valid_for=niso4_valid_for)
    chain.give("NISO4-A", "refiner", "cathode")
    chain["cathode"].transform(["NISO4-A"], [LotSpec(lot_id="CAM-A", material="CAM-NMC811", mass=800 * KG, composition=NI)])
    _attest(chain, "CAM-A", 1_200, nonce=2)


def _pass_time(chain: Any, seconds: int) -> None:
    chain.rpc("evm_increaseTime", [seconds])
    chain.rpc("evm_mine", [])


def _audit(chain: Any, tmp_path: Path) -> AuditReport:
    return audit(chain.base, EventIndex.open(tmp_path / "audit.sqlite"))


def _claim(report: AuditReport, label: str) -> Any:
    return next(c for c in report.claims if c.label == label)


def _home(chain: Any, tmp_path: Path) -> Path:
    """A data directory of its own for the CLI (its index), with the session's deployment record."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    shutil.copytree(chain.data_dir / "deployments", home / "deployments")
    (home / "deployments").chmod(0o700)
    return home


def _rinne(chain: Any, home: Path, *args: str) -> Result:
    url = chain.base.w3.provider.endpoint_uri
    env = {"RINNE_HOME": str(home), "ETH_RPC_URL": None, "RINNE_ACCOUNT": None, "NO_COLOR": "1"}
    return CliRunner().invoke(cli, [*args, "--rpc-url", url], env=env, catch_exceptions=False)


def test_an_attestation_that_expires_after_its_lot_was_used_is_no_failure(chain, tmp_path):
    """The attack on the honest: a one-minute figure, used at once, then the minute passes."""
    _cam(chain, niso4_valid_for=60)
    _pass_time(chain, 3600)
    report = _audit(chain, tmp_path)
    assert report.at > chain.now() - 10  # judged now, well past NISO4-A's valid_until ...
    assert report.passed and report.flags == [] and report.strict_passed, report.flags
    cam = _claim(report, "CAM-A")  # ... but it was valid when CAM-A was made from it
    assert cam.level == "verified" and cam.kind == "material"
    assert cam.by_level["verified"] == pytest.approx(3_800 + 1_200)
    assert [c.label for c in report.claims] == ["CAM-A"]  # NISO4-A lives on only inside CAM-A
    report.raise_for_flags(strict=True)


def test_a_one_second_self_declaration_fails_only_the_strict_audit(chain, tmp_path):
    """The attack: a party with a role self-declares a one-second figure on its own lot."""
    _cam(chain)
    chain["refiner"].mint(LotSpec(lot_id="NISO4-SELF", material="NiSO4", mass=500 * KG, composition=NI))
    _attest(chain, "NISO4-SELF", 1, signer="refiner", relayer="refiner", valid_for=1, nonce=3)
    _pass_time(chain, 60)
    report = _audit(chain, tmp_path)
    assert report.passed and report.flags == []  # the ledger's integrity is untouched
    assert not report.strict_passed
    own = _claim(report, "NISO4-SELF")
    assert own.level in ("self-declared", "expired") and own.weakest == [to_bytes32("NISO4-SELF")]
    assert _claim(report, "CAM-A").level == "verified"  # nobody else's claim changes
    home = _home(chain, tmp_path)
    plain = _rinne(chain, home, "audit")
    assert plain.exit_code == 0, plain.stderr
    lines = plain.stdout.strip().splitlines()
    assert lines[0].startswith("audit PASSED: ") and lines[1] == f"claims: 1 verified, 1 {own.level} (NISO4-SELF)"
    assert lines[2].startswith(f"  {own.level} NISO4-SELF: ")
    strict = _rinne(chain, home, "audit", "--strict")
    assert strict.exit_code == 1 and "Traceback" not in strict.stderr
    assert strict.stderr.strip().splitlines()[-1] == f"Error: strict audit: 1 claim(s) weaker than verified: {own.level} NISO4-SELF"
    data = json.loads(_rinne(chain, home, "audit", "--json").stdout)
    assert data["passed"] is True and data["strict_passed"] is False


def test_verify_and_audit_agree_on_every_unit_and_end_lot(chain, tmp_path):
    """On one chain with claims at several levels, `rinne verify` of each end product reports the level
    the audit gives its claim, and the audit lists every live unit."""
    _cam(chain, niso4_valid_for=60)  # verified, with an expiry after the use
    chain["cathode"].split("CAM-A", [("CAM-A1", 500 * KG), ("CAM-A2", 300 * KG)])
    chain.give("CAM-A1", "cathode", "cells")
    chain["cells"].transform(
        ["CAM-A1"], [LotSpec(lot_id="CELLS-A", material="CELL-NMC811", mass=450 * KG, composition=Composition.of({"Ni": 100 * KG}))]
    )
    chain.give("CELLS-A", "cells", "packs")
    chain["packs"].build_unit(
        ["CELLS-A"],
        LotSpec(lot_id="PACK-A", material="PACK-60KWH", mass=450 * KG, composition=Composition.of({"Ni": 100 * KG})),
        UnitSpec(serial="SN-A", rated_wh=60_000),
    )  # CELLS-A and PACK-A never attested: missing
    chain["refiner"].mint(LotSpec(lot_id="NISO4-SD", material="NiSO4", mass=1_000 * KG, composition=NI))
    _attest(chain, "NISO4-SD", 700, signer="refiner", relayer="refiner", nonce=4)  # self-declared
    chain["refiner"].mint(LotSpec(lot_id="NISO4-RV", material="NiSO4", mass=1_000 * KG, composition=NI))
    revoked = _attest(chain, "NISO4-RV", 700, nonce=5)
    chain["auditor"].revoke_attestation(revoked, "double counted")
    _pass_time(chain, 3600)
    home = _home(chain, tmp_path)
    result = _rinne(chain, home, "audit", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    levels = {c["label"]: c["level"] for c in data["claims"]}
    assert levels == {"CAM-A2": "verified", "PACK-A": "missing", "NISO4-SD": "self-declared", "NISO4-RV": "revoked"}
    assert data["passed"] is True and data["flags"] == [] and data["strict_passed"] is False
    for c in data["claims"]:
        out = _rinne(chain, home, "verify", c["label"], "--json")
        assert out.exit_code == (0 if c["level"] == "verified" else 1), out.stderr
        fp = json.loads(out.stdout)["footprint"]
        assert (fp["assurance"], sorted(fp["weakest"])) == (c["level"], sorted(c["weakest"])), c["label"]
    # Every live unit has a claim.
    state = EventIndex.open(tmp_path / "check.sqlite")
    state.sync(chain.base)
    units = {u for u, lot in state.state().lots.items() if u in state.state().units and lot.state in (1, 3)}
    assert {bytes.fromhex(c["lot_id"][2:]) for c in data["claims"] if c["kind"] == "unit"} == units


def test_a_revoked_attestation_is_a_revoked_claim_and_integrity_holds(chain, tmp_path):
    _cam(chain)
    index = EventIndex.open(tmp_path / "audit.sqlite")
    index.sync(chain.base)
    niso4 = next(u for u, a in index.state().attestations.items() if a.lot_id == bytes.fromhex(to_bytes32("NISO4-A")[2:]))
    chain["auditor"].revoke_attestation("0x" + niso4.hex(), "figures withdrawn")
    report = audit(chain.base, index)
    assert report.passed and report.flags == []
    cam = _claim(report, "CAM-A")
    assert cam.level == "revoked" and cam.weakest == [to_bytes32("NISO4-A")]
    assert "revoked" in cam.message and "NISO4-A" in cam.message
    with pytest.raises(errors.AuditFailed, match="strict check.*1 revoked \\(CAM-A\\)"):
        report.raise_for_flags(strict=True)
