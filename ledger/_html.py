"""Self-contained HTML and Graphviz rendering of traces and reports.

Every page carries its own CSS and an inline SVG laid out here (layered by longest path, ordered
by the barycentre of predecessors): no script, font or stylesheet is fetched, so a report opens
offline and stays the same forever.
"""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:
    from ledger.audit import AuditReport
    from ledger.provenance import Trace

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1d2330;background:#fbfbfd}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:24px 0 8px}
.sub{color:#5b6475;margin-bottom:16px}
table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}
th,td{border:1px solid #d9dde6;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef1f6}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace}
.pass{display:inline-block;padding:6px 14px;border-radius:6px;background:#1f8a4c;color:#fff;font-weight:600}
.fail{display:inline-block;padding:6px 14px;border-radius:6px;background:#c0392b;color:#fff;font-weight:600}
.weak{display:inline-block;padding:6px 14px;border-radius:6px;background:#b7791f;color:#fff;font-weight:600}
.legend span{display:inline-block;margin-right:14px}
.sw{display:inline-block;width:12px;height:12px;border-radius:3px;margin-right:4px;vertical-align:-1px}
.graph{overflow:auto;border:1px solid #d9dde6;background:#fff;max-height:80vh}
"""

_FILL = {"mine": "#f6d365", "material": "#cfe3ff", "unit": "#b9f0c8", "recovered": "#e2c9ff", "frozen": "#ffb3b3"}
_OP_FILL = "#eceff4"


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def page(title: str, body: str) -> str:
    """Wrap a body in a complete, self-contained HTML document."""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>{body}</body></html>\n"
    )


# --------------------------------------------------------------------------------------- trace


def _lot_class(lot: Any, recovered: set[str]) -> str:
    if lot.state == "frozen":
        return "frozen"
    if lot.kind == "unit":
        return "unit"
    if lot.id in recovered:
        return "recovered"
    if lot.made_by is None:
        return "mine"
    return "material"


def trace_dot(t: "Trace") -> str:
    """Return a trace as Graphviz DOT."""
    recovered = {o for op in t.ops if op.kind == "recycle" for o in op.outputs}
    lines = [f"digraph trace {{", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];']
    for lot in t.lots:
        cls = _lot_class(lot, recovered)
        shape = "box3d" if lot.kind == "unit" else "box"
        label = f"{lot.label}\\n{lot.material} · {lot.mass_g} g" + (f"\\n{lot.origin_country}" if lot.origin_country else "")
        pen = ', penwidth=2.5' if lot.role == "root" else ""
        lines.append(f'  "{lot.id}" [shape={shape}, style="rounded,filled", fillcolor="{_FILL[cls]}", label="{_dot(label)}"{pen}];')
    for op in t.ops:
        lines.append(f'  "{op.id}" [shape=ellipse, style=filled, fillcolor="{_OP_FILL}", label="{_dot(op.kind)}"];')
        for lot_id, used in op.inputs:
            attr = f' [label="{used} g"]' if used else ""
            lines.append(f'  "{lot_id}" -> "{op.id}"{attr};')
        for lot_id in op.outputs:
            lines.append(f'  "{op.id}" -> "{lot_id}";')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\\\\n", "\\n")


def layout(nodes: list[str], preds: dict[str, list[str]]) -> dict[str, tuple[int, int]]:
    """Place nodes (given in a topological order) in layers: return node → (layer, row)."""
    layer: dict[str, int] = {}
    for n in nodes:
        layer[n] = max((layer[p] + 1 for p in preds.get(n, ()) if p in layer), default=0)
    by_layer: dict[int, list[str]] = {}
    for n in nodes:
        by_layer.setdefault(layer[n], []).append(n)
    row: dict[str, float] = {}
    pos: dict[str, tuple[int, int]] = {}
    for lay in sorted(by_layer):
        members = by_layer[lay]
        if lay > 0:
            def bary(n: str) -> float:
                ps = [row[p] for p in preds.get(n, ()) if p in row]
                return sum(ps) / len(ps) if ps else 1e9
            members.sort(key=bary)
        for k, n in enumerate(members):
            row[n] = k
            pos[n] = (lay, k)
    return pos


def _topological(nodes: list[str], preds: dict[str, list[str]]) -> list[str]:
    """Order nodes so that every node follows its predecessors (Kahn; ties keep the given order)."""
    known = set(nodes)
    indeg = {n: sum(1 for p in preds.get(n, ()) if p in known) for n in nodes}
    succ: dict[str, list[str]] = {}
    for n in nodes:
        for p in preds.get(n, ()):
            if p in known:
                succ.setdefault(p, []).append(n)
    rank = {n: k for k, n in enumerate(nodes)}
    import heapq

    ready = [(rank[n], n) for n in nodes if indeg[n] == 0]
    heapq.heapify(ready)
    out: list[str] = []
    while ready:
        _, n = heapq.heappop(ready)
        out.append(n)
        for s in succ.get(n, ()):
            indeg[s] -= 1
            if indeg[s] == 0:
                heapq.heappush(ready, (rank[s], s))
    if len(out) < len(nodes):  # a cycle cannot happen on a ledger; keep whatever is left in order
        seen = set(out)
        out.extend(n for n in nodes if n not in seen)
    return out


def trace_svg(t: "Trace") -> str:
    """Return an inline SVG drawing of a trace."""
    recovered = {o for op in t.ops if op.kind == "recycle" for o in op.outputs}
    lots = {lot.id: lot for lot in t.lots}
    order: list[tuple[int, str]] = [(lot.block * 2, lot.id) for lot in t.lots]
    preds: dict[str, list[str]] = {}
    for op in t.ops:
        preds[op.id] = [i for i, _ in op.inputs if i in lots]
        for o in op.outputs:
            preds.setdefault(o, []).append(op.id)
        order.append((op.block * 2 - 1, op.id))
    nodes = _topological([n for _, n in sorted(order)], preds)
    pos = layout(nodes, preds)
    col_w, row_h, box_w, box_h = 200, 64, 160, 46
    width = (max((p[0] for p in pos.values()), default=0) + 1) * col_w + 40
    height = (max((p[1] for p in pos.values()), default=0) + 1) * row_h + 40

    def xy(n: str) -> tuple[int, int]:
        lay, r = pos[n]
        return 20 + lay * col_w, 20 + r * row_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="trace-graph" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="system-ui,sans-serif" font-size="11">'
    ]
    for op in t.ops:
        ox, oy = xy(op.id)
        for i, used in op.inputs:
            if i not in pos:
                continue
            ix, iy = xy(i)
            parts.append(_edge(ix + box_w, iy + box_h // 2, ox, oy + box_h // 2))
        for o in op.outputs:
            if o not in pos:
                continue
            tx, ty = xy(o)
            parts.append(_edge(ox + 90, oy + box_h // 2, tx, ty + box_h // 2))
    for op in t.ops:
        ox, oy = xy(op.id)
        parts.append(
            f'<g class="op" data-kind="{_e(op.kind)}"><title>{_e(op.kind)} by {_e(op.operator)} in block {op.block}</title>'
            f'<ellipse cx="{ox + 45}" cy="{oy + box_h // 2}" rx="45" ry="16" fill="{_OP_FILL}" stroke="#7a8499"/>'
            f'<text x="{ox + 45}" y="{oy + box_h // 2 + 4}" text-anchor="middle">{_e(op.kind)}</text></g>'
        )
    for lot in t.lots:
        x, y = xy(lot.id)
        cls = _lot_class(lot, recovered)
        stroke = ' stroke-width="3" stroke="#1d2330"' if lot.role == "root" else ' stroke="#7a8499"'
        sub = f"{lot.material} · {_mass(lot.mass_g)}" + (f" · {lot.origin_country}" if lot.origin_country else "")
        parts.append(
            f'<g class="lot {cls}" data-lot="{_e(lot.id)}" data-label="{_e(lot.label)}" data-role="{lot.role}">'
            f"<title>{_e(lot.label)} ({_e(lot.id)}): {_e(lot.material)}, {lot.mass_g} g, {lot.state}, created by "
            f"{_e(lot.creator)} in block {lot.block}</title>"
            f'<rect x="{x}" y="{y}" width="{box_w}" height="{box_h}" rx="7" fill="{_FILL[cls]}"{stroke}/>'
            f'<text x="{x + 8}" y="{y + 18}" font-weight="600">{_e(_clip(lot.label, 24))}</text>'
            f'<text x="{x + 8}" y="{y + 35}" fill="#3b4252">{_e(_clip(sub, 30))}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _edge(x1: int, y1: int, x2: int, y2: int) -> str:
    mx = (x1 + x2) // 2
    return f'<path d="M{x1},{y1} C{mx},{y1} {mx},{y2} {x2},{y2}" fill="none" stroke="#9aa3b5" stroke-width="1.2"/>'


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _mass(grams: int) -> str:
    if grams >= 1_000_000:
        return f"{grams / 1_000_000:g} t"
    if grams >= 1_000:
        return f"{grams / 1_000:g} kg"
    return f"{grams} g"


def _legend() -> str:
    names = {"mine": "mined / minted", "material": "material", "unit": "battery unit", "recovered": "recovered", "frozen": "frozen"}
    items = "".join(f'<span><i class="sw" style="background:{_FILL[k]}"></i>{v}</span>' for k, v in names.items())
    return f'<div class="legend">{items}<span><i class="sw" style="background:{_OP_FILL}"></i>operation</span></div>'


def trace_html(t: "Trace") -> str:
    """Return a self-contained HTML page drawing a trace."""
    root = next((lot for lot in t.lots if lot.role == "root"), None)
    title = f"Trace of {root.label if root else t.root}"
    rows = "".join(
        f"<tr data-lot=\"{_e(lot.id)}\"><td>{_e(lot.label)}</td><td>{_e(lot.material)}</td><td>{lot.mass_g}</td>"
        f"<td>{lot.kind}</td><td>{_e(lot.origin_country or '')}</td><td>{lot.state}</td><td>{lot.role}</td><td>{lot.block}</td></tr>"
        for lot in t.lots
    )
    body = (
        f"<h1>{_e(title)}</h1><div class=\"sub\">direction {t.direction} · <span id=\"lot-count\">{len(t.lots)}</span> lots · "
        f"<span id=\"op-count\">{len(t.ops)}</span> operations · {len(t.mines)} mined lots · {len(t.units)} units</div>"
        f"{_legend()}<div class=\"graph\">{trace_svg(t)}</div>"
        "<h2>Lots</h2><table id=\"lots\"><tr><th>lot</th><th>material</th><th>mass (g)</th><th>kind</th><th>origin</th>"
        f"<th>state</th><th>role</th><th>block</th></tr>{rows}</table>"
    )
    return page(title, body)


# ---------------------------------------------------------------------------------------- audit


def _claims_html(r: "AuditReport") -> str:
    """The claim-assurance part of an audit page: a verdict for the strict check and one row per end product."""
    if not r.claims:
        return '<h2>Claim assurance</h2><p id="no-claims">No live unit or end lot.</p>'
    weak = r.weak_claims()
    counts = ", ".join(f"{n} {level}" for level, n in r.claim_counts().items())
    # Amber, not red: a weak claim is reported, and fails only the strict audit, never integrity.
    verdict = (
        f'<div id="claims-verdict" class="pass">STRICT PASS: all {len(r.claims)} claims verified</div>' if not weak
        else f'<div id="claims-verdict" class="weak">{len(weak)} of {len(r.claims)} claims weaker than verified '
        "(the strict audit fails)</div>"
    )
    rows = "".join(
        f'<tr class="claim" data-level="{_e(c.level)}"><td>{_e(c.label)}</td><td>{_e(c.kind)}</td><td>{_e(c.level)}</td>'
        f"<td>{_e(', '.join(_lot_label(w) for w in c.weakest[:5]) + (' …' if len(c.weakest) > 5 else '') if not c.strict_ok else '')}</td>"
        f"<td>{_e(', '.join(f'{lv} {kg:,.1f}' for lv, kg in c.by_level.items()))}</td><td>{_e(c.message)}</td></tr>"
        for c in sorted(r.claims, key=lambda c: (c.strict_ok, c.label))
    )
    return (
        f"<h2>Claim assurance</h2><div class=\"sub\">judged when each figure was used; a weak claim fails only "
        f"<code>rinne audit --strict</code> · {_e(counts)}</div>{verdict}"
        f"<table id=\"claims\"><tr><th>lot</th><th>kind</th><th>level</th><th>weakest links</th><th>kg CO2e by level</th>"
        f"<th>what it rests on</th></tr>{rows}</table>"
    )


def _lot_label(lot_id: str) -> str:
    from ledger.models import label_of

    return label_of(lot_id) if lot_id.startswith("0x") and len(lot_id) == 66 else lot_id


def audit_html(r: "AuditReport") -> str:
    """Return a self-contained HTML page of an audit report: ledger integrity, then claim assurance."""
    verdict = (
        '<div id="verdict" class="pass">PASS: nothing flagged</div>' if r.passed
        else f'<div id="verdict" class="fail">FAIL: {len(r.flags)} flag{"s" if len(r.flags) != 1 else ""}</div>'
    )
    heads = "".join(
        f"<tr><td>{h.contract}</td><td><code>{_e(h.address)}</code></td><td>{h.replayed_sequence}</td><td>{h.chain_sequence}</td>"
        f"<td><code>{_e(h.replayed_head[:18])}…</code></td><td><code>{_e(h.chain_head[:18])}…</code></td>"
        f"<td>{'✔' if h.ok else '✘'}</td></tr>"
        for h in r.heads
    )
    counts: dict[str, int] = {}
    for f in r.flags:
        counts[f.code] = counts.get(f.code, 0) + 1
    summary = "".join(f"<tr><td>{_e(c)}</td><td>{n}</td></tr>" for c, n in sorted(counts.items()))
    flags = "".join(
        f"<tr class=\"flag\" data-code=\"{_e(f.code)}\"><td>{_e(f.code)}</td><td>{_e(f.label)}</td>"
        f"<td>{'' if f.block is None else f.block}</td><td>{_e(f.message)}</td></tr>"
        for f in r.flags
    )
    checked = [
        ("events replayed", r.events), ("lots", r.lots), ("operations (conservation recomputed)", r.transforms_checked),
        ("units", r.units), ("attestations (signatures re-verified offline)", r.signatures_checked),
        ("records compared with contract storage", r.storage_checked), ("participants", r.participants),
        ("declared footprints compared", r.declared_checked),
    ]
    stats = "".join(f"<tr><td>{_e(k)}</td><td>{v}</td></tr>" for k, v in checked)
    body = (
        f"<h1>Rinne audit replay</h1><div class=\"sub\">chain {r.chain_id} · ledger <code>{_e(r.ledger)}</code> · "
        f"blocks {r.from_block}–{r.to_block} · {r.seconds:.2f} s</div>"
        f"<h2>Ledger integrity</h2>{verdict}"
        f"<h2>Completeness (ledger heads)</h2><table id=\"heads\"><tr><th>contract</th><th>address</th><th>replayed events</th>"
        f"<th>contract sequence</th><th>replayed head</th><th>contract head</th><th>match</th></tr>{heads}</table>"
        f"<h2>What was checked</h2><table id=\"checked\">{stats}</table>"
        + (f"<h2>Flags by kind</h2><table id=\"flag-summary\"><tr><th>flag</th><th>count</th></tr>{summary}</table>"
           f"<h2>Flags</h2><table id=\"flags\"><tr><th>flag</th><th>subject</th><th>block</th><th>finding</th></tr>{flags}</table>"
           if r.flags else "<h2>Flags</h2><p id=\"no-flags\">None.</p>")
        + _claims_html(r)
        + f"<script type=\"application/json\" id=\"report-data\">{_json_script(r.to_json(indent=None))}</script>"
    )
    return page("Rinne audit replay", body)


def _json_script(text: str) -> str:
    return text.replace("</", "<\\/")


def table(headers: Iterable[str], rows: Iterable[Iterable[Any]], *, id: str | None = None) -> str:
    """Return an HTML table (cells escaped)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    ident = f' id="{_e(id)}"' if id else ""
    return f"<table{ident}><tr>{head}</tr>{body}</table>"


def json_block(data: Any) -> str:
    """Return data as a readable JSON <pre> block."""
    return f"<pre>{_e(json.dumps(data, indent=2, default=str))}</pre>"
