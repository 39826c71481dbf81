"""The provenance graph drawn: DOT for Graphviz, an SVG laid out by layers, and the HTML page around it."""

from __future__ import annotations

from ledger.exports.html import escape, page
from ledger.queries.trace import Trace, TraceLot

_FILL = {"mine": "#f6d365", "material": "#cfe3ff", "unit": "#b9f0c8", "recovered": "#e2c9ff", "frozen": "#ffb3b3"}


_OP_FILL = "#eceff4"


def _lot_class(lot: TraceLot, recovered: set[str]) -> str:
    if lot.state == "frozen":
        return "frozen"
    if lot.kind == "unit":
        return "unit"
    if lot.id in recovered:
        return "recovered"
    if lot.made_by is None:
        return "mine"
    return "material"


def trace_dot(t: Trace) -> str:
    """Return a trace as Graphviz DOT."""
    recovered = {o for op in t.ops if op.kind == "recycle" for o in op.outputs}
    lines = ["digraph trace {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];']
    for lot in t.lots:
        cls = _lot_class(lot, recovered)
        shape = "box3d" if lot.kind == "unit" else "box"
        label = f"{lot.label}\\n{lot.material} · {lot.mass_g} g" + (f"\\n{lot.origin_country}" if lot.origin_country else "")
        pen = ", penwidth=2.5" if lot.role == "root" else ""
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


def trace_svg(t: Trace) -> str:
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
        for i, _used in op.inputs:
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
            f'<g class="op" data-kind="{escape(op.kind)}"><title>{escape(op.kind)} by {escape(op.operator)} in block {op.block}</title>'
            f'<ellipse cx="{ox + 45}" cy="{oy + box_h // 2}" rx="45" ry="16" fill="{_OP_FILL}" stroke="#7a8499"/>'
            f'<text x="{ox + 45}" y="{oy + box_h // 2 + 4}" text-anchor="middle">{escape(op.kind)}</text></g>'
        )
    for lot in t.lots:
        x, y = xy(lot.id)
        cls = _lot_class(lot, recovered)
        stroke = ' stroke-width="3" stroke="#1d2330"' if lot.role == "root" else ' stroke="#7a8499"'
        sub = f"{lot.material} · {_mass(lot.mass_g)}" + (f" · {lot.origin_country}" if lot.origin_country else "")
        parts.append(
            f'<g class="lot {cls}" data-lot="{escape(lot.id)}" data-label="{escape(lot.label)}" data-role="{lot.role}">'
            f"<title>{escape(lot.label)} ({escape(lot.id)}): {escape(lot.material)}, {lot.mass_g} g, {lot.state}, created by "
            f"{escape(lot.creator)} in block {lot.block}</title>"
            f'<rect x="{x}" y="{y}" width="{box_w}" height="{box_h}" rx="7" fill="{_FILL[cls]}"{stroke}/>'
            f'<text x="{x + 8}" y="{y + 18}" font-weight="600">{escape(_clip(lot.label, 24))}</text>'
            f'<text x="{x + 8}" y="{y + 35}" fill="#3b4252">{escape(_clip(sub, 30))}</text></g>'
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


def trace_html(t: Trace) -> str:
    """Return a self-contained HTML page drawing a trace."""
    root = next((lot for lot in t.lots if lot.role == "root"), None)
    title = f"Trace of {root.label if root else t.root}"
    rows = "".join(
        f'<tr data-lot="{escape(lot.id)}"><td>{escape(lot.label)}</td><td>{escape(lot.material)}</td><td>{lot.mass_g}</td>'
        f"<td>{lot.kind}</td><td>{escape(lot.origin_country or '')}</td><td>{lot.state}</td><td>{lot.role}</td><td>{lot.block}</td></tr>"
        for lot in t.lots
    )
    body = (
        f'<h1>{escape(title)}</h1><div class="sub">direction {t.direction} · <span id="lot-count">{len(t.lots)}</span> lots · '
        f'<span id="op-count">{len(t.ops)}</span> operations · {len(t.mines)} mined lots · {len(t.units)} units</div>'
        f'{_legend()}<div class="graph">{trace_svg(t)}</div>'
        '<h2>Lots</h2><table id="lots"><tr><th>lot</th><th>material</th><th>mass (g)</th><th>kind</th><th>origin</th>'
        f"<th>state</th><th>role</th><th>block</th></tr>{rows}</table>"
    )
    return page(title, body)
