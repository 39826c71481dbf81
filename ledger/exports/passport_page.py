"""The battery passport as a page (issue 12): headline Art. 7 figure and class, QR code, status, state of
health over time, footprint by life-cycle stage, recycled content against the Art. 8 targets, origin by
country and one badge per attestation, all drawn from a passport export (:func:`battery_passport`).

The page shows only what the export says: a figure is never drawn as verified when the export's assurance for
it is weaker, and a member the access tier leaves out is said to be left out, not drawn empty. Charts are
inline SVG drawn here; nothing is fetched (no script, font, image or stylesheet), so the page opens offline.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ledger.exports.batterypass import EXTENSION
from ledger.exports.html import escape, json_block, page, table
from ledger.exports.passport import BATTERYPASS_STAGE, passport_qr

#: Badge colour class per assurance or attestation status: only "verified" is green; what counts but rests on
#: its maker's word is amber; what does not count at all is red.
_LEVEL_CLASS = {
    "verified": "ok",
    "self-declared": "warn",
    "missing": "warn",
    "late": "bad",
    "expired": "bad",
    "revoked": "bad",
    "not-yet-valid": "bad",
}
_STAGE_LABEL = {
    "RawMaterialExtraction": "Raw material extraction",
    "MainProduction": "Main production",
    "Distribution": "Distribution",
    "Recycling": "End of life and recycling",
}
_STAGE_COLOUR = {"RawMaterialExtraction": "#8c6d46", "MainProduction": "#3b6fb6", "Distribution": "#7a5ea8", "Recycling": "#2f8f83"}
#: Country segment colours, in the order countries appear (a country keeps its colour across elements).
_PALETTE = ("#3b6fb6", "#e08a2e", "#2f8f83", "#b5496b", "#7a5ea8", "#8c6d46", "#5a8f3b", "#c9a227")
_NOT_SHOWN = "not shown at this access tier"

_CSS = """
.pp-top{display:flex;gap:24px;align-items:flex-start;flex-wrap:wrap}
.pp-head{flex:1 1 520px}
.card{background:#fff;border:1px solid #d9dde6;border-radius:10px;padding:14px 18px;margin:0 0 16px}
.headline{display:flex;gap:18px;align-items:center;flex-wrap:wrap}
.figure{font-size:34px;font-weight:700;letter-spacing:-.5px}
.figure small{font-size:15px;font-weight:500;color:#5b6475}
.klass{display:inline-block;min-width:54px;text-align:center;font-size:26px;font-weight:700;padding:6px 12px;
border-radius:8px;background:#1d2330;color:#fff}
.klass.none{font-size:13px;font-weight:500;background:#eef1f6;color:#5b6475}
.status{display:inline-block;padding:2px 10px;border-radius:12px;background:#e4ecfa;color:#1d3f7a}
.badge{display:inline-block;padding:3px 10px;border-radius:12px;font-weight:600;font-size:12px;color:#fff}
.badge.ok{background:#1f8a4c}.badge.warn{background:#b7791f}.badge.bad{background:#c0392b}
.qr{text-align:center;font-size:11px;color:#5b6475;max-width:230px;word-break:break-all}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:0 16px}
.note{color:#5b6475;font-size:12px}
ul.atts{list-style:none;padding:0;margin:0}
ul.atts li{padding:5px 0;border-bottom:1px solid #eef1f6}
svg text{font:12px system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;fill:#1d2330}
"""


def _level_badge(level: str, text: str, attrs: str = "") -> str:
    # An unknown level is never drawn green: amber at best.
    return f'<span{attrs} class="badge {_LEVEL_CLASS.get(level, "warn")}">{escape(text)}</span>'


def _num(x: float, digits: int = 4) -> str:
    return f"{x:.{digits}f}"


# ------------------------------------------------------------------------------------------- parts


def _header(passport: dict[str, Any], rinne: dict[str, Any]) -> str:
    g = passport.get("generalProductInformation", {})
    label = rinne.get("label") or g.get("productIdentifier", "")
    rated = passport.get("performanceAndDurability", {}).get("batteryTechicalProperties", {}).get("ratedEnergy")
    facts = [escape(g.get("batteryPassportIdentifier", ""))]
    facts.append(f'status <b id="status" class="status">{escape(g.get("batteryStatus", _NOT_SHOWN))}</b>')
    if g.get("batteryCategory"):
        facts.append(f"category {escape(g['batteryCategory'])}")
    if rated is not None:
        facts.append(f"rated {rated:g} kWh")
    if g.get("manufacturingDate"):
        facts.append(f"made {escape(g['manufacturingDate'][:10])}")
    if rinne.get("accessTier"):
        # Which Annex XIII points this page may show: what it leaves out says so where it would be.
        facts.append(f'access tier <b id="access-tier">{escape(rinne["accessTier"])}</b>')
    return f'<h1>Battery passport {escape(label)}</h1><div class="sub">{" · ".join(facts)}</div>'


def _headline(passport: dict[str, Any], rinne: dict[str, Any]) -> str:
    cf = passport.get("carbonFootprint", {})
    art7 = cf.get("batteryCarbonFootprint")
    c2g = rinne.get("cradleToGateKgCo2ePerRatedKwh")
    absolute = cf.get("absoluteCarbonFootprint")
    level = rinne.get("assurance")
    if art7 is not None:
        figure = f'<div class="figure" id="cf-art7">{_num(art7)} <small>kg CO2e per kWh of lifetime energy (Art. 7)</small></div>'
    else:
        missing = ", ".join(rinne.get("art7", {}).get("missing", []))
        text = "Art. 7 figure not computed: " + missing + " not given" if missing else "Art. 7 figure " + _NOT_SHOWN
        figure = f'<div class="figure" id="cf-art7"><small>{escape(text)}</small></div>'
    klass = cf.get("carbonFootprintPerformanceClass")
    klass_html = (
        f'<div class="klass" id="cf-class" title="carbon footprint performance class">{escape(klass)}</div>'
        if klass
        else '<div class="klass none" id="cf-class">no performance class'
        + (" (no Art. 7 figure)" if art7 is None else " (classes not yet set by the delegated act)")
        + "</div>"
    )
    second = []
    if c2g is not None:
        second.append(f'<span id="cf-per-kwh">{c2g:.3f} kg CO2e/kWh rated (cradle-to-gate)</span>')
    if absolute is not None:
        second.append(f'<span id="cf-absolute">{absolute:.1f} kg CO2e in all</span>')
    # The assurance badge is the passport's own word: the weakest level any contributing figure has.
    if level is not None:
        second.append("assurance " + _level_badge(level, level, f' id="assurance" data-level="{escape(level)}"'))
    else:
        second.append(f'assurance <span id="assurance" class="note">{_NOT_SHOWN}</span>')
    return f'<div class="card headline">{figure}{klass_html}</div><div class="sub">{" · ".join(second)}</div>'


def _qr(passport: dict[str, Any], rinne: dict[str, Any]) -> str:
    url = rinne.get("passportUrl")
    if not url:
        return '<div class="qr" id="no-qr">No QR code: no ISO/IEC 15459 identifier or passport URL declared</div>'
    svg = passport_qr(passport, "svg").decode().replace("<svg ", f'<svg id="qr" data-url="{escape(url)}" ', 1)
    return f'<div class="qr">{svg}<div id="passport-url">{escape(url)}</div></div>'


def soh_chart(history: list[dict[str, Any]], width: int = 520, height: int = 220) -> str:
    """Return an inline SVG line chart of state of certified energy (percent) over time, one point per record."""
    left, right, top, bottom = 44, 16, 24, 34
    w, h = width - left - right, height - top - bottom
    times = [datetime.fromisoformat(r["at"].replace("Z", "+00:00")).timestamp() for r in history]
    t0, t1 = (min(times), max(times)) if times else (0.0, 1.0)
    span = t1 - t0 or 1.0

    def x(t: float) -> float:
        return left + (w / 2 if t1 == t0 else (t - t0) / span * w)

    def y(p: float) -> float:
        return top + h - max(0.0, min(100.0, p)) / 100 * h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="soh-chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
    ]
    for p in (0, 25, 50, 75, 100):
        parts.append(
            f'<line x1="{left}" x2="{left + w}" y1="{y(p):.1f}" y2="{y(p):.1f}" stroke="#eef1f6"/>'
            f'<text x="{left - 6}" y="{y(p) + 4:.1f}" text-anchor="end">{p}%</text>'
        )
    pts = [(x(t), y(float(r["socePercent"]))) for t, r in zip(times, history)]
    if len(pts) > 1:
        parts.append(
            '<polyline fill="none" stroke="#3b6fb6" stroke-width="2" points="' + " ".join(f"{a:.1f},{b:.1f}" for a, b in pts) + '"/>'
        )
    for (px, py), r in zip(pts, history):
        parts.append(
            f'<circle class="soh-point" data-at="{escape(r["at"])}" data-soce="{r["socePercent"]:g}" cx="{px:.1f}" cy="{py:.1f}" '
            f'r="5" fill="#3b6fb6"><title>{escape(r["at"])}: {r["socePercent"]:g} %</title></circle>'
            f'<text x="{px:.1f}" y="{py - 9:.1f}" text-anchor="middle">{r["socePercent"]:g}%</text>'
        )
    if times:
        parts.append(f'<text x="{left}" y="{height - 10}">{escape(history[0]["at"][:10])}</text>')
        if t1 != t0:
            parts.append(f'<text x="{left + w}" y="{height - 10}" text-anchor="end">{escape(history[-1]["at"][:10])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _soh(rinne: dict[str, Any]) -> str:
    history = rinne.get("stateOfHealthHistory")
    if history is None:
        body = f'<p id="soh-none" class="note">State of health history {_NOT_SHOWN}.</p>'
    elif not history:
        body = '<p id="soh-none" class="note">No state of health recorded yet.</p>'
    else:
        shown = [r for r in history if "socePercent" in r]
        hidden = len(history) - len(shown)
        body = soh_chart(shown) if shown else ""
        body += f'<p class="note">State of certified energy, {len(history)} record(s) on the ledger.</p>'
        if hidden:
            # The values are behind salted commitments: a reader without the openings sees that records exist.
            body += f'<p id="soh-undisclosed" class="note">{hidden} record(s): values not disclosed to this tier.</p>'
    return f'<div class="card"><h2>State of health over time</h2>{body}</div>'


def _hbars(rows: list[tuple[str, str, float, str, str]], svg_id: str, width: int = 520, unit: str = "") -> str:
    """Horizontal bars: (class, data-key, value, label, colour) per row, scaled to the largest."""
    label_w, bar_h, gap = 180, 22, 8
    top = max((v for _, _, v, _, _ in rows), default=0.0) or 1.0
    room = width - label_w - 110
    height = len(rows) * (bar_h + gap) + gap
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" id="{svg_id}" width="{width}" height="{height}" viewBox="0 0 {width} {height}">']
    for i, (cls, key, v, label, colour) in enumerate(rows):
        yy = gap + i * (bar_h + gap)
        bw = max(0.0, v) / top * room
        out.append(
            f'<g class="{cls}" data-key="{escape(key)}" data-value="{v!r}">'
            f'<text x="{label_w - 8}" y="{yy + 15}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{yy}" width="{bw:.1f}" height="{bar_h}" rx="3" fill="{colour}"/>'
            f'<text x="{label_w + bw + 6:.1f}" y="{yy + 15}">{_num(v)}{escape(unit)}</text></g>'
        )
    out.append("</svg>")
    return "".join(out)


def _stages(passport: dict[str, Any], rinne: dict[str, Any]) -> str:
    per_stage = passport.get("carbonFootprint", {}).get("carbonFootprintPerLifecycleStage")
    if per_stage:
        rows = [(s["lifecycleStage"], float(s["carbonFootprint"])) for s in per_stage]
        what = "kg CO2e per kWh of lifetime energy (Art. 7)"
    else:
        c2g = rinne.get("cradleToGateStagesKgCo2ePerRatedKwh")
        if not c2g:
            return f'<div class="card"><h2>Footprint by life-cycle stage</h2><p class="note">Stages {_NOT_SHOWN}.</p></div>'
        rows = [(BATTERYPASS_STAGE[s], float(v)) for s, v in c2g.items() if v is not None]
        what = "kg CO2e per kWh rated (cradle-to-gate; no Art. 7 figure)"
    bars = _hbars([("stage-bar", k, v, _STAGE_LABEL.get(k, k), _STAGE_COLOUR.get(k, "#3b6fb6")) for k, v in rows], "stage-bars")
    return f'<div class="card"><h2>Footprint by life-cycle stage</h2>{bars}<p class="note">{escape(what)}</p></div>'


def art8_gauges(targets: list[dict[str, Any]], width: int = 520) -> str:
    """Return an inline SVG of each Art. 8 target: the share as a bar, the target as a mark, met or missed."""
    rows = sorted(targets, key=lambda t: (t["element"], t["year"]))
    bar_h, gap, left, scale_w = 18, 10, 90, width - 90 - 150
    height = len(rows) * (bar_h + gap) + gap + 14
    top_pct = max([30.0] + [float(t["targetPercent"]) for t in rows] + [float(t["sharePercent"] or 0) for t in rows])
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="art8-gauges" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
    ]
    for i, t in enumerate(rows):
        yy = gap + i * (bar_h + gap)
        target = float(t["targetPercent"])
        if t["sharePercent"] is None:
            # No such element in the active materials: Art. 8 sets no share to meet for it (never drawn as met).
            out.append(
                f'<g class="art8-target" data-element="{escape(t["element"])}" data-year="{t["year"]}" '
                f'data-target="{target:g}" data-share="" data-met="n/a">'
                f'<text x="{left - 8}" y="{yy + 13}" text-anchor="end">{escape(t["element"])} {t["year"]}</text>'
                f'<rect x="{left}" y="{yy}" width="{scale_w}" height="{bar_h}" rx="3" fill="#eef1f6"/>'
                f'<text x="{left + scale_w + 8}" y="{yy + 13}" fill="#6b7280">no {escape(t["element"])} in the active materials</text></g>'
            )
            continue
        share, met = float(t["sharePercent"]), bool(t["met"])
        colour = "#1f8a4c" if met else "#c0392b"
        sx, tx = min(share, top_pct) / top_pct * scale_w, target / top_pct * scale_w
        verdict = "met" if met else "missed"
        out.append(
            f'<g class="art8-target" data-element="{escape(t["element"])}" data-year="{t["year"]}" '
            f'data-target="{target:g}" data-share="{share!r}" data-met="{str(met).lower()}">'
            f'<text x="{left - 8}" y="{yy + 13}" text-anchor="end">{escape(t["element"])} {t["year"]}</text>'
            f'<rect x="{left}" y="{yy}" width="{scale_w}" height="{bar_h}" rx="3" fill="#eef1f6"/>'
            f'<rect x="{left}" y="{yy}" width="{sx:.1f}" height="{bar_h}" rx="3" fill="{colour}"/>'
            f'<line x1="{left + tx:.1f}" x2="{left + tx:.1f}" y1="{yy - 3}" y2="{yy + bar_h + 3}" stroke="#1d2330" stroke-width="2"/>'
            f'<text x="{left + scale_w + 8}" y="{yy + 13}" fill="{colour}">{share:.1f}% / {target:g}% {verdict}</text></g>'
        )
    out.append(f'<text x="{left}" y="{height - 4}" class="note">bar: recycled share; mark: target</text></svg>')
    return "".join(out)


def _recycled(passport: dict[str, Any], rinne: dict[str, Any]) -> str:
    rc = passport.get("circularity", {}).get("recycledContent")
    tab = (
        table(
            ["material", "pre-consumer %", "post-consumer %"],
            [(r["recycledMaterial"], f"{r['preConsumerShare']:.2f}", f"{r['postConsumerShare']:.2f}") for r in rc],
            id="recycled",
        )
        if rc is not None
        else f'<p class="note">Recycled content {_NOT_SHOWN}.</p>'
    )
    targets = rinne.get("art8Targets")
    if targets:
        gauges = art8_gauges(targets)
    elif targets is None:
        gauges = f'<p class="note" id="art8-none">Art. 8 targets {_NOT_SHOWN}.</p>'
    else:
        gauges = f'<p class="note" id="art8-none">{escape(rinne.get("activeMaterials", {}).get("note", "No Art. 8 shares."))}</p>'
    return (
        '<div class="card"><h2>Recycled content in the active materials against the Art. 8 targets (2031, 2036)</h2>'
        + gauges
        + tab
        + "</div>"
    )


def _origin(rinne: dict[str, Any]) -> str:
    origin = rinne.get("originOfMaterials")
    if origin is None:
        return f'<div class="card"><h2>Origin by country</h2><p class="note">Origin {_NOT_SHOWN}.</p></div>'
    colours: dict[str, str] = {}
    for o in origin:
        for c in o["countrySharesPercent"]:
            colours.setdefault(c, _PALETTE[len(colours) % len(_PALETTE)])
    width, left, bar_h, gap = 520, 60, 22, 10
    scale_w = width - left - 10
    height = len(origin) * (bar_h + gap) + gap
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="origin-bars" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
    ]
    for i, o in enumerate(origin):
        yy, x = gap + i * (bar_h + gap), float(left)
        out.append(f'<text x="{left - 8}" y="{yy + 15}" text-anchor="end">{escape(o["element"])}</text>')
        for c, pct in sorted(o["countrySharesPercent"].items(), key=lambda kv: -kv[1]):
            w = pct / 100 * scale_w
            out.append(
                f'<g class="origin-seg" data-element="{escape(o["element"])}" data-country="{escape(c)}" data-percent="{pct!r}">'
                f'<rect x="{x:.1f}" y="{yy}" width="{w:.1f}" height="{bar_h}" fill="{colours[c]}">'
                f"<title>{escape(c)} {pct:.1f}%</title></rect>"
                + (
                    f'<text x="{x + 6:.1f}" y="{yy + 15}" style="fill:#fff;font-weight:600">{escape(c)} {pct:.0f}%</text>'
                    if w > 60
                    else ""
                )
                + "</g>"
            )
            x += w
    out.append("</svg>")
    return f'<div class="card"><h2>Origin by country</h2>{"".join(out)}</div>'


def _badge_level(a: dict[str, Any]) -> str:
    """The colour level of one attestation's badge: a verified figure relayed after its lot was used is late."""
    status = str(a.get("status"))
    return "late" if a.get("late") and status == "verified" else status


def _attestations(rinne: dict[str, Any]) -> str:
    atts = rinne.get("attestations")
    if atts is None:
        body = f'<p class="note" id="no-attestations">Attestations {_NOT_SHOWN}.</p>'
    elif not atts:
        body = '<p class="note" id="no-attestations">No attestation behind this footprint.</p>'
    else:
        items = []
        # One count per kind of badge drawn, in that badge's colour: the summary is never greener than the list.
        counts: dict[tuple[str, str], int] = {}
        for a in atts:
            status = str(a["status"])
            # A late relay is said on the badge whatever the status: "verified" alone would hide it.
            text = status + (" · relayed late" if a.get("late") and status != "late" else "")
            badge = _level_badge(_badge_level(a), text)
            counts[(_badge_level(a), text)] = counts.get((_badge_level(a), text), 0) + 1
            items.append(
                f'<li class="attestation" data-uid="{escape(a["uid"])}" data-status="{escape(status)}" '
                f'data-late="{str(bool(a.get("late"))).lower()}">{badge} <b>{escape(a["label"])}</b> · '
                f"{escape(_STAGE_LABEL.get(a['lifecycleStage'], a['lifecycleStage']))} · {a['kgCo2e']:g} kg CO2e"
                f' <span class="note">{escape(a.get("methodology", ""))}, valid until {escape(a.get("validUntil", "")[:10])}, '
                f"signed by <code>{escape(a['signer'])}</code></span></li>"
            )
        summary = " ".join(
            _level_badge(level, f"{n} {text}", f' data-count="{n}" data-level="{escape(level)}"')
            for (level, text), n in counts.items()
        )
        body = f'<p class="att-summary" id="attestation-summary">{summary}</p><ul class="atts" id="attestations">{"".join(items)}</ul>'
    # Point 3 of Annex XIII: the verification records behind the declaration, for notified bodies, market
    # surveillance authorities and the Commission.
    return (
        '<div class="card"><h2>Attestations</h2><p class="note">The verification records behind the carbon footprint '
        f"(Annex XIII point 3); only a verified attestation relayed in time is green.</p>{body}</div>"
    )


_LINK_TITLE = {"madeFrom": "Made from", "madeInto": "Made into"}
_LINK_REL = {"madeFrom": "parent", "madeInto": "child"}


def _links(rinne: dict[str, Any], link: str | None) -> str:
    links = rinne.get("passportLinks")
    if links is None:
        return f'<div class="card"><h2>Linked passports</h2><p class="note" id="no-links">Linked passports {_NOT_SHOWN}.</p></div>'
    parts = []
    for member in ("madeFrom", "madeInto"):
        entries = links.get(member)
        if entries is None:
            items = f'<p class="note" id="{member}-none">Not shown at this access tier.</p>'
        elif not entries:
            items = f'<p class="note" id="{member}-none">No other battery unit.</p>'
        else:
            lis = []
            for e in entries:
                name = f"<b>{escape(e['label'])}</b>"
                if link is not None:
                    # A link only where the caller says where passports live: an identifier is never guessed into a URL.
                    href = link.format(label=e["label"], unitId=e["unitId"], urn=e["batteryPassportIdentifier"])
                    name = f'<a class="passport-href" href="{escape(href)}">{name}</a>'
                lis.append(
                    f'<li class="passport-link" data-rel="{_LINK_REL[member]}" data-unit="{escape(e["unitId"])}" '
                    f'data-urn="{escape(e["batteryPassportIdentifier"])}">{name} '
                    f"<code>{escape(e['batteryPassportIdentifier'])}</code></li>"
                )
            items = f'<ul class="atts" id="{member}">{"".join(lis)}</ul>'
        parts.append(f"<h3>{_LINK_TITLE[member]}</h3>{items}")
    return f'<div class="card"><h2>Linked passports</h2>{"".join(parts)}</div>'


def passport_html(passport: dict[str, Any], link: str | None = None) -> str:
    """Return a self-contained HTML page of a battery passport export (any access tier).

    The passports it links to (``extensions.rinne.passportLinks``) are named by label and passport identifier;
    `link`, a format string with ``{label}``, ``{unitId}`` and ``{urn}`` (``"{label}-passport.html"`` beside
    the demo's files), makes each a link too."""
    rinne = passport.get(EXTENSION, {}).get("rinne", {})
    label = rinne.get("label") or passport.get("generalProductInformation", {}).get("productIdentifier", "")
    body = (
        '<div class="pp-top"><div class="pp-head">'
        + _header(passport, rinne)
        + _headline(passport, rinne)
        + "</div>"
        + _qr(passport, rinne)
        + '</div><div class="grid">'
        + _soh(rinne)
        + _stages(passport, rinne)
        + _recycled(passport, rinne)
        + _origin(rinne)
        + "</div>"
        + _attestations(rinne)
        + _links(rinne, link)
        + "<details><summary>Full export</summary>"
        + json_block(passport)
        + "</details>"
    )
    return page(f"Battery passport {label}", body, css=_CSS)
