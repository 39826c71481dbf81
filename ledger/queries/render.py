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


#: Conservative widths of one character (px) of the page's sans-serif at the sizes used: box text
#: (11 px), its bold first line, and edge labels (10 px); boxes and gaps are sized from them.
CHAR_W, CHAR_W_BOLD, CHAR_W_EDGE = 7.0, 7.8, 6.4
_LINE, _PAD, _PORT, _GAP, _DUMMY = 15, 8, 16, 14, 8


class _Edge:
    """One drawn edge: from a node to a node, through a dummy slot in every layer it crosses."""

    __slots__ = ("src", "dst", "label", "cls", "chain")

    def __init__(self, src: str, dst: str, label: str, cls: str) -> None:
        self.src, self.dst, self.label, self.cls = src, dst, label, cls
        self.chain: list[str] = []


def _lot_lines(lot: TraceLot, t: Trace) -> list[str]:
    lines = [lot.label, f"{lot.material} · {_mass(lot.mass_g)}" + (f" · {lot.origin_country}" if lot.origin_country else "")]
    fig = t.figures.get(lot.id)
    if fig is not None:
        lines.append(f"{fig.kg_co2e:,.1f} kg CO2e · {fig.assurance}")
        if fig.recycled:
            shares = ", ".join(f"{e} {s:.0%}" for e, s in fig.recycled[:3])
            lines.append(f"recycled {shares} · {fig.recycled_assurance}")
        else:
            lines.append("no recycled content" if fig.tracked else "no tracked elements")
    return lines


def _order_nodes(t: Trace) -> tuple[list[str], dict[str, list[str]]]:
    lots = {lot.id for lot in t.lots}
    order: list[tuple[int, str]] = [(lot.block * 2, lot.id) for lot in t.lots]
    preds: dict[str, list[str]] = {}
    for op in t.ops:
        preds[op.id] = [i for i, _ in op.inputs if i in lots]
        for o in op.outputs:
            preds.setdefault(o, []).append(op.id)
        order.append((op.block * 2 - 1, op.id))
    return _topological([n for _, n in sorted(order)], preds), preds


def _layers(nodes: list[str], preds: dict[str, list[str]]) -> dict[str, int]:
    """Longest-path layers by operation depth; lots made by nothing move right next to their first use."""
    layer: dict[str, int] = {}
    succs: dict[str, list[str]] = {}
    for n in nodes:
        layer[n] = max((layer[p] + 1 for p in preds.get(n, ()) if p in layer), default=0)
        for p in preds.get(n, ()):
            succs.setdefault(p, []).append(n)
    for n in nodes:
        if not preds.get(n) and succs.get(n):
            layer[n] = min(layer[s] for s in succs[n]) - 1
    return layer


def _sweep(by_layer: list[list[str]], up: dict[str, list[str]], down: dict[str, list[str]]) -> None:
    """Order each layer by the barycentre of its neighbours, alternately from the left and the right."""
    for it in range(6):
        forward = it % 2 == 0
        rng = range(1, len(by_layer)) if forward else range(len(by_layer) - 2, -1, -1)
        nbrs = up if forward else down
        for k in rng:
            ref = {n: i for i, n in enumerate(by_layer[k - 1 if forward else k + 1])}
            cur = {n: i for i, n in enumerate(by_layer[k])}

            def bary(n: str, ref: dict[str, int] = ref, cur: dict[str, int] = cur, nbrs: dict[str, list[str]] = nbrs) -> float:
                ps = [ref[p] for p in nbrs.get(n, ()) if p in ref]
                return sum(ps) / len(ps) if ps else float(cur[n])

            by_layer[k].sort(key=bary)


def _place(by_layer: list[list[str]], h: dict[str, float], up: dict[str, list[str]], down: dict[str, list[str]]) -> dict[str, float]:
    """Tops of the nodes: each near the mean centre of its neighbours, never closer than a gap to the one above."""
    top: dict[str, float] = {}
    for col in by_layer:
        y = 0.0
        for n in col:
            top[n] = y
            y += h[n] + _GAP
    for it in range(4):
        nbrs = up if it % 2 == 0 else down
        cols = by_layer if it % 2 == 0 else by_layer[::-1]
        for col in cols:
            y = 0.0
            for n in col:
                ns = [top[p] + h[p] / 2 for p in nbrs.get(n, ())]
                want = sum(ns) / len(ns) - h[n] / 2 if ns else top[n]
                top[n] = max(want, y)
                y = top[n] + h[n] + _GAP
    low = min(top.values(), default=0.0)
    return {n: v - low for n, v in top.items()}


class Geometry:
    """Where every box, edge and label of a drawn trace is (px in the SVG's user space)."""

    def __init__(self, t: Trace) -> None:
        lots = {lot.id: lot for lot in t.lots}
        ops = {op.id: op for op in t.ops}
        nodes, preds = _order_nodes(t)
        layer = _layers(nodes, preds)
        recovered = {o for op in t.ops if op.kind == "recycle" for o in op.outputs}
        self.lines: dict[str, list[str]] = {}
        self.w: dict[str, float] = {}
        self.h: dict[str, float] = {}
        for n in nodes:
            if n in lots:
                self.lines[n] = _lot_lines(lots[n], t)
                body = max((len(x) for x in self.lines[n][1:]), default=0) * CHAR_W
                self.w[n] = max(len(self.lines[n][0]) * CHAR_W_BOLD, body) + 2 * _PAD
                self.h[n] = len(self.lines[n]) * _LINE + 2 * _PAD - 3
            else:
                self.lines[n] = [ops[n].kind + (" (cut-off)" if n in t.cut else "")]
                self.w[n] = len(self.lines[n][0]) * CHAR_W_BOLD + 2 * _PAD + 8
                self.h[n] = max(28.0, len(preds.get(n, ())) * _PORT + 12)
        self.edges: list[_Edge] = []
        for op in t.ops:
            for i, used in op.inputs:
                if i in lots:
                    grams = used or t.whole_g.get(i, lots[i].mass_g)
                    src = lots[i]
                    cls = "recovered" if i in recovered else "virgin" if src.made_by is None else "made"
                    self.edges.append(_Edge(i, op.id, _mass(grams), "cut" if op.id in t.cut else cls))
            for o in op.outputs:
                if o in lots:
                    self.edges.append(_Edge(op.id, o, _mass(lots[o].mass_g), "made"))
        n_layers = max(layer.values(), default=0) + 1
        by_layer: list[list[str]] = [[] for _ in range(n_layers)]
        for n in nodes:
            by_layer[layer[n]].append(n)
        up: dict[str, list[str]] = {}
        down: dict[str, list[str]] = {}
        for k, e in enumerate(self.edges):
            prev = e.src
            for lay in range(layer[e.src] + 1, layer[e.dst]):
                d = f"~{k}-{lay}"
                by_layer[lay].append(d)
                layer[d] = lay
                self.w[d], self.h[d] = 0.0, float(_DUMMY)
                e.chain.append(d)
                up.setdefault(d, []).append(prev)
                down.setdefault(prev, []).append(d)
                prev = d
            up.setdefault(e.dst, []).append(prev)
            down.setdefault(prev, []).append(e.dst)
        _sweep(by_layer, up, down)
        top = _place(by_layer, self.h, up, down)
        # Columns: as wide as their widest box; the gap before a column holds its edges' mass labels.
        self.col_x: list[float] = []
        self.col_w: list[float] = []
        self.tail: dict[int, float] = {}
        for k, e in enumerate(self.edges):
            self.tail[k] = len(e.label) * CHAR_W_EDGE + 18
        into: dict[int, float] = {}
        for k, e in enumerate(self.edges):
            into[layer[e.dst]] = max(into.get(layer[e.dst], 0.0), self.tail[k])
        x = 20.0
        for lay in range(n_layers):
            if lay:
                x += into.get(lay, 0.0) + 40
            self.col_x.append(x)
            self.col_w.append(max((self.w[n] for n in by_layer[lay]), default=0.0))
            x += self.col_w[-1]
        self.width = int(x + 20)
        self.height = int(max((top[n] + self.h[n] for n in top), default=0.0) + 40)
        self.x = {n: self.col_x[layer[n]] for n in top}
        self.y = {n: top[n] + 20 for n in top}
        self.layer = layer
        # Ports: each input of an operation enters at its own height, in the order of its sources.
        self.port: dict[int, float] = {}
        ins: dict[str, list[int]] = {}
        for k, e in enumerate(self.edges):
            ins.setdefault(e.dst, []).append(k)
        for dst, ks in ins.items():
            ks.sort(key=lambda k: self._y_mid(self.edges[k].chain[-1] if self.edges[k].chain else self.edges[k].src))
            first = self.y[dst] + (self.h[dst] - _PORT * len(ks)) / 2 + _PORT / 2
            for j, k in enumerate(ks):
                self.port[k] = first + j * _PORT if len(ks) > 1 else self.y[dst] + self.h[dst] / 2

    def _y_mid(self, n: str) -> float:
        return self.y[n] + self.h[n] / 2

    def path(self, k: int) -> str:
        """The SVG path of edge `k`: straight runs through its dummy slots, curves in the gaps, a straight tail."""
        e = self.edges[k]
        lay = self.layer[e.src]
        x, y = self.x[e.src] + self.w[e.src], self._y_mid(e.src)
        d = f"M{x:.1f},{y:.1f}"
        right = self.col_x[lay] + self.col_w[lay]
        if right > x:
            d += f" H{right:.1f}"
        x = right
        for dummy in e.chain:
            lay += 1
            ny = self._y_mid(dummy)
            nx = self.col_x[lay]
            mx = (x + nx) / 2
            d += f" C{mx:.1f},{y:.1f} {mx:.1f},{ny:.1f} {nx:.1f},{ny:.1f} H{nx + self.col_w[lay]:.1f}"
            x, y = nx + self.col_w[lay], ny
        tx, ty = self.x[e.dst], self.port[k]
        ex = tx - self.tail[k]
        mx = (x + ex) / 2
        d += f" C{mx:.1f},{y:.1f} {mx:.1f},{ty:.1f} {ex:.1f},{ty:.1f} H{tx - 1:.1f}"
        return d


_EDGE_COLOUR = {"virgin": "#b07d00", "recovered": "#7b4fc9", "made": "#6b7385", "cut": "#9aa3b5"}


def trace_svg(t: Trace) -> str:
    """Return an inline SVG drawing of a trace: layered left to right by operation depth, every edge with an
    arrowhead and the grams it carried, no edge behind a box it does not connect."""
    g = Geometry(t)
    recovered = {o for op in t.ops if op.kind == "recycle" for o in op.outputs}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="trace-graph" width="{g.width}" height="{g.height}" '
        f'viewBox="0 0 {g.width} {g.height}" font-family="system-ui,sans-serif" font-size="11">'
        "<defs>"
        + "".join(
            f'<marker id="arrow-{c}" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="9" '
            f'markerHeight="9" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{col}"/></marker>'
            for c, col in _EDGE_COLOUR.items()
        )
        + "</defs>"
    ]
    for k, e in enumerate(g.edges):
        dash = ' stroke-dasharray="5 3"' if e.cls == "cut" else ""
        parts.append(
            f'<g class="edge {e.cls}" data-from="{escape(e.src)}" data-to="{escape(e.dst)}">'
            f'<path d="{g.path(k)}" fill="none" stroke="{_EDGE_COLOUR[e.cls]}" stroke-width="1.4"{dash} '
            f'marker-end="url(#arrow-{e.cls})"/></g>'
        )
    # Mass labels after every edge, so no other edge is drawn over one.
    for k, e in enumerate(g.edges):
        parts.append(
            f'<text class="mass" data-edge="{k}" x="{g.x[e.dst] - 11:.1f}" y="{g.port[k] - 4:.1f}" text-anchor="end" '
            f'font-size="10" fill="#1d2330" stroke="#fff" stroke-width="3" paint-order="stroke">{escape(e.label)}</text>'
        )
    for op in t.ops:
        x, y, w, h = g.x[op.id], g.y[op.id], g.w[op.id], g.h[op.id]
        cut = " — recycling of a post-consumer unit: the burden is cut off" if op.id in t.cut else ""
        parts.append(
            f'<g class="op" data-kind="{escape(op.kind)}" data-node="{escape(op.id)}">'
            f"<title>{escape(op.kind)} by {escape(op.operator)} in block {op.block}{cut}</title>"
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="{min(h / 2, 14):.1f}" fill="{_OP_FILL}" stroke="#7a8499"/>'
            f'<text x="{x + w / 2:.1f}" y="{y + h / 2 + 4:.1f}" text-anchor="middle" font-weight="600">{escape(g.lines[op.id][0])}</text></g>'
        )
    for lot in t.lots:
        x, y, w, h = g.x[lot.id], g.y[lot.id], g.w[lot.id], g.h[lot.id]
        cls = _lot_class(lot, recovered)
        stroke = ' stroke-width="3" stroke="#1d2330"' if lot.role == "root" else ' stroke="#7a8499"'
        texts = "".join(
            f'<text x="{x + _PAD:.1f}" y="{y + _PAD + 11 + j * _LINE:.1f}"'
            + (' font-weight="600"' if j == 0 else ' fill="#3b4252"')
            + f">{escape(line)}</text>"
            for j, line in enumerate(g.lines[lot.id])
        )
        parts.append(
            f'<g class="lot {cls}" data-lot="{escape(lot.id)}" data-label="{escape(lot.label)}" data-role="{lot.role}" '
            f'data-node="{escape(lot.id)}">'
            f"<title>{escape(lot.label)} ({escape(lot.id)}): {escape(lot.material)}, {lot.mass_g} g, {lot.state}, created by "
            f"{escape(lot.creator)} in block {lot.block}</title>"
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="7" fill="{_FILL[cls]}"{stroke}/>{texts}</g>'
        )
    parts.append("</svg>")
    return "".join(parts)


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
    edges = "".join(
        f'<span><i class="ln" style="border-color:{_EDGE_COLOUR[k]}{";border-top-style:dashed" if k == "cut" else ""}"></i>{v}</span>'
        for k, v in {"virgin": "from a minted lot", "recovered": "from a recovered lot", "made": "made", "cut": "cut off"}.items()
    )
    return (
        f'<div class="legend">{items}<span><i class="sw" style="background:{_OP_FILL}"></i>operation</span>{edges}'
        "<span>edge label: mass carried</span></div>"
    )


#: The width the graph gets on a 1,400 px wide screen (the page's margins and border taken off).
FIT_WIDTH = 1_340


def _zoom(width: int) -> tuple[str, str]:
    """Zoom without a script: radio buttons whose :checked state sets the drawing's CSS width (the
    SVG scales by its viewBox); the box around it scrolls, so the browser pans it. A graph up to 1.5
    screens wide opens fitted to the screen, a larger one at full size."""
    levels = [("fit", "fit width", "width:100%;height:auto;max-width:{w}px")] + [
        (str(p), f"{p}%", f"width:{width * p // 100}px;height:auto") for p in (25, 50, 100)
    ]
    default = "fit" if width <= FIT_WIDTH * 3 // 2 else "100"
    css = "".join(f"#zoom-{k}:checked~.graph svg{{{rule.format(w=width)}}}" for k, _, rule in levels)
    css += ".zoom{margin:6px 0;font-size:13px}.zoom label{margin-right:10px}.legend .ln{display:inline-block;width:18px;border-top:2px solid;margin-right:4px;vertical-align:3px}"
    radios = "".join(
        f'<input type="radio" name="zoom" id="zoom-{k}"{" checked" if k == default else ""}><label for="zoom-{k}">{text}</label>'
        for k, text, _ in levels
    )
    return f"<style>{css}</style>", f'<div class="zoom">zoom {radios}'


def trace_html(t: Trace) -> str:
    """Return a self-contained HTML page drawing a trace (no script: zoom is CSS, panning is scrolling)."""
    root = next((lot for lot in t.lots if lot.role == "root"), None)
    title = f"Trace of {root.label if root else t.root}"
    svg = trace_svg(t)
    width = int(svg.split('width="', 1)[1].split('"', 1)[0])
    style, zoom = _zoom(width)

    def figs(lot: TraceLot) -> str:
        f = t.figures.get(lot.id)
        if f is None:
            return "<td></td><td></td><td></td>"
        rec = ", ".join(f"{e} {s:.0%}" for e, s in f.recycled) or "—"
        return f"<td>{f.kg_co2e:,.2f}</td><td>{escape(f.assurance)}</td><td>{escape(rec)}</td>"

    rows = "".join(
        f'<tr data-lot="{escape(lot.id)}"><td>{escape(lot.label)}</td><td>{escape(lot.material)}</td>'
        f'<td title="{lot.mass_g} g">{_mass(lot.mass_g)}</td>{figs(lot)}'
        f"<td>{lot.kind}</td><td>{escape(lot.origin_country or '')}</td><td>{lot.state}</td><td>{lot.role}</td><td>{lot.block}</td></tr>"
        for lot in t.lots
    )
    body = (
        f'{style}<h1>{escape(title)}</h1><div class="sub">direction {t.direction} · <span id="lot-count">{len(t.lots)}</span> lots · '
        f'<span id="op-count">{len(t.ops)}</span> operations · {len(t.mines)} mined lots · {len(t.units)} units</div>'
        f'{_legend()}{zoom}<div class="graph">{svg}</div></div>'
        '<h2>Lots</h2><table id="lots"><tr><th>lot</th><th>material</th><th>mass</th><th>kg CO2e</th><th>assurance</th>'
        "<th>recycled</th><th>kind</th><th>origin</th><th>state</th><th>role</th><th>block</th></tr>"
        f"{rows}</table>"
    )
    return page(title, body)
