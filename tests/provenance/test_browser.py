"""The HTML reports opened in headless Chromium (Debian package `chromium`): what the page shows, read
from the rendered DOM and from the pixels of a screenshot kept under test-artifacts/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from prov_render import CHROMIUM, MISSING, count, render

from ledger.auditor.report import AuditReport, ClaimCheck, Flag, HeadCheck
from ledger.queries.trace import trace

pytestmark = pytest.mark.browser

if CHROMIUM is None:  # pragma: no cover - depends on the machine
    pytest.skip(MISSING, allow_module_level=True)


def test_trace_page_draws_the_graph(ref_index, tmp_path: Path) -> None:
    t = trace(ref_index, "PACK2")
    html = t.to_html()
    assert not re.search(r"(src|href)=[\"']https?:", html)
    dom, pixels = render(html, "trace-pack2", tmp_path)
    assert '<svg xmlns="http://www.w3.org/2000/svg" id="trace-graph"' in dom
    labels = set(re.findall(r'class="lot [a-z]+" data-lot="0x[0-9a-f]+" data-label="([^"]+)"', dom))
    assert labels == {lot.label for lot in t.lots} and {"PACK2", "ESS1", "REC-NI", "CAM3", "CELL2"} <= labels
    assert len(re.findall(r'<g class="op"', dom)) == len(t.ops)
    assert '<span id="lot-count">' + str(len(t.lots)) in dom
    # What is drawn: unit boxes (green), the mined cell lot (yellow), recovered lots (violet), operations (grey).
    assert count(pixels, "#b9f0c8") > 2_000
    assert count(pixels, "#f6d365") > 1_000
    assert count(pixels, "#e2c9ff") > 2_000
    assert count(pixels, "#eceff4") > 1_000


def _report(flags: list[Flag], claims: list[ClaimCheck] | None = None) -> AuditReport:
    heads = [
        HeadCheck(
            contract="RinneLedger",
            address="0x" + "11" * 20,
            replayed_sequence=70,
            replayed_head="0x" + "ab" * 32,
            chain_sequence=70 if not flags else 71,
            chain_head="0x" + ("ab" if not flags else "cd") * 32,
        ),
        HeadCheck(
            contract="GwpAttestations",
            address="0x" + "22" * 20,
            replayed_sequence=6,
            replayed_head="0x" + "ef" * 32,
            chain_sequence=6,
            chain_head="0x" + "ef" * 32,
        ),
    ]
    return AuditReport(
        chain_id=31337,
        ledger="0x" + "11" * 20,
        attestations="0x" + "22" * 20,
        from_block=1,
        to_block=99,
        at=1_700_000_000,
        events=76,
        lots=17,
        operations=9,
        units=3,
        attestation_count=6,
        participants=6,
        heads=heads,
        storage_checked=20,
        signatures_checked=6,
        transforms_checked=9,
        declared_checked=0,
        flags=flags,
        seconds=0.1,
        claims=claims or [],
    )


def test_audit_page_shows_pass_and_fail(tmp_path: Path) -> None:
    dom, pixels = render(_report([]).to_html(), "audit-pass", tmp_path)
    assert '<div id="verdict" class="pass">PASS: nothing flagged</div>' in dom
    assert '<p id="no-flags">None.</p>' in dom
    assert count(pixels, "#1f8a4c") > 500 and count(pixels, "#c0392b") == 0
    flags = [
        Flag(
            code="head-mismatch", subject="0x" + "11" * 20, label="RinneLedger", message="replay saw 70 events, the contract counts 71"
        ),
        Flag(
            code="unaccredited-signer",
            subject="0x" + "aa" * 32,
            label="CAM",
            message="signer of lot CAM was not accredited <script>x</script>",
        ),
    ]
    dom, pixels = render(_report(flags).to_html(), "audit-fail", tmp_path)
    assert '<div id="verdict" class="fail">FAIL: 2 flags</div>' in dom
    assert len(re.findall(r'<tr class="flag" data-code="', dom)) == 2
    assert "&lt;script&gt;x&lt;/script&gt;" in dom and "<script>x</script>" not in dom
    assert "✘" in dom
    assert count(pixels, "#c0392b") > 500 and count(pixels, "#1f8a4c") == 0


def test_audit_page_shows_weak_claims_apart_from_integrity(tmp_path: Path) -> None:
    lot = "0x" + "50414b31".ljust(64, "0")
    claims = [
        ClaimCheck(
            lot_id="0x" + "bb" * 32,
            label="ESS1",
            kind="unit",
            level="verified",
            weakest=[],
            by_level={"verified": 64.0},
            message="every figure it rests on was attested by an accredited verifier and valid when used",
        ),
        ClaimCheck(
            lot_id=lot,
            label="PAK1",
            kind="unit",
            level="self-declared",
            weakest=[lot],
            by_level={"self-declared": 0.001},
            message="rests on figures its makers declared themselves: PAK1",
        ),
    ]
    dom, pixels = render(_report([], claims).to_html(), "audit-claims", tmp_path)
    assert '<div id="verdict" class="pass">PASS: nothing flagged</div>' in dom  # integrity holds
    assert '<div id="claims-verdict" class="weak">1 of 2 claims weaker than verified (the strict audit fails)</div>' in dom
    assert re.findall(r'<tr class="claim" data-level="([a-z-]+)"', dom) == ["self-declared", "verified"]
    assert count(pixels, "#b7791f") > 500 and count(pixels, "#c0392b") == 0  # amber, never the integrity red
