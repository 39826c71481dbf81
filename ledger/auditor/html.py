"""The audit report as an HTML page: verdict, findings, heads and every claim recomputed."""

from __future__ import annotations

from ledger.auditor.report import AuditReport
from ledger.exports.html import escape, json_script, page


def _claims_html(r: AuditReport) -> str:
    """The claim-assurance part of an audit page: a verdict for the strict check and one row per end product."""
    if not r.claims:
        return '<h2>Claim assurance</h2><p id="no-claims">No live unit or end lot.</p>'
    weak = r.weak_claims()
    counts = ", ".join(f"{n} {level}" for level, n in r.claim_counts().items())
    # Amber, not red: a weak claim is reported, and fails only the strict audit, never integrity.
    verdict = (
        f'<div id="claims-verdict" class="pass">STRICT PASS: all {len(r.claims)} claims verified</div>'
        if not weak
        else f'<div id="claims-verdict" class="weak">{len(weak)} of {len(r.claims)} claims weaker than verified '
        "(the strict audit fails)</div>"
    )
    rows = "".join(
        f'<tr class="claim" data-level="{escape(c.level)}"><td>{escape(c.label)}</td><td>{escape(c.kind)}</td><td>{escape(c.level)}</td>'
        f"<td>{escape(', '.join(_lot_label(w) for w in c.weakest[:5]) + (' …' if len(c.weakest) > 5 else '') if not c.strict_ok else '')}</td>"
        f"<td>{escape(', '.join(f'{lv} {kg:,.1f}' for lv, kg in c.by_level.items()))}</td><td>{escape(c.message)}</td></tr>"
        for c in sorted(r.claims, key=lambda c: (c.strict_ok, c.label))
    )
    return (
        f'<h2>Claim assurance</h2><div class="sub">judged when each figure was used; a weak claim fails only '
        f"<code>rinne audit --strict</code> · {escape(counts)}</div>{verdict}"
        f'<table id="claims"><tr><th>lot</th><th>kind</th><th>level</th><th>weakest links</th><th>kg CO2e by level</th>'
        f"<th>what it rests on</th></tr>{rows}</table>"
    )


def _lot_label(lot_id: str) -> str:
    from ledger.domain.ids import label_of

    return label_of(lot_id) if lot_id.startswith("0x") and len(lot_id) == 66 else lot_id


def audit_html(r: AuditReport) -> str:
    """Return a self-contained HTML page of an audit report: ledger integrity, then claim assurance."""
    verdict = (
        '<div id="verdict" class="pass">PASS: nothing flagged</div>'
        if r.passed
        else f'<div id="verdict" class="fail">FAIL: {len(r.flags)} flag{"s" if len(r.flags) != 1 else ""}</div>'
    )
    heads = "".join(
        f"<tr><td>{h.contract}</td><td><code>{escape(h.address)}</code></td><td>{h.replayed_sequence}</td><td>{h.chain_sequence}</td>"
        f"<td><code>{escape(h.replayed_head[:18])}…</code></td><td><code>{escape(h.chain_head[:18])}…</code></td>"
        f"<td>{'✔' if h.ok else '✘'}</td></tr>"
        for h in r.heads
    )
    counts: dict[str, int] = {}
    for f in r.flags:
        counts[f.code] = counts.get(f.code, 0) + 1
    summary = "".join(f"<tr><td>{escape(c)}</td><td>{n}</td></tr>" for c, n in sorted(counts.items()))
    flags = "".join(
        f'<tr class="flag" data-code="{escape(f.code)}"><td>{escape(f.code)}</td><td>{escape(f.label)}</td>'
        f"<td>{'' if f.block is None else f.block}</td><td>{escape(f.message)}</td></tr>"
        for f in r.flags
    )
    checked = [
        ("events replayed", r.events),
        ("lots", r.lots),
        ("operations (conservation recomputed)", r.transforms_checked),
        ("units", r.units),
        ("attestations (signatures re-verified offline)", r.signatures_checked),
        ("records compared with contract storage", r.storage_checked),
        ("attestation records compared with contract storage", r.records_checked),
        (
            "SOH records opened with the authority key and re-checked",
            r.soh_records_opened if r.soh_records_opened is not None else "not checked (no authority vault key)",
        ),
        ("participants", r.participants),
        ("declared footprints compared", r.declared_checked),
    ]
    stats = "".join(f"<tr><td>{escape(k)}</td><td>{v}</td></tr>" for k, v in checked)
    body = (
        f'<h1>Rinne audit replay</h1><div class="sub">chain {r.chain_id} · ledger <code>{escape(r.ledger)}</code> · '
        f"blocks {r.from_block}–{r.to_block} · {r.seconds:.2f} s</div>"
        f"<h2>Ledger integrity</h2>{verdict}"
        f'<h2>Completeness (ledger heads)</h2><table id="heads"><tr><th>contract</th><th>address</th><th>replayed events</th>'
        f"<th>contract sequence</th><th>replayed head</th><th>contract head</th><th>match</th></tr>{heads}</table>"
        f'<h2>What was checked</h2><table id="checked">{stats}</table>'
        + (
            f'<h2>Flags by kind</h2><table id="flag-summary"><tr><th>flag</th><th>count</th></tr>{summary}</table>'
            f'<h2>Flags</h2><table id="flags"><tr><th>flag</th><th>subject</th><th>block</th><th>finding</th></tr>{flags}</table>'
            if r.flags
            else '<h2>Flags</h2><p id="no-flags">None.</p>'
        )
        + _claims_html(r)
        + f'<script type="application/json" id="report-data">{json_script(r.to_json(indent=None))}</script>'
    )
    return page("Rinne audit replay", body)
