"""The service's HTML: a frame with the reader's tier and the block the answer is current to, and the
lot, unit, provenance, search, status and sign-in pages. Everything is escaped; the only script is the
sign-in page's own file, so the pages' Content-Security-Policy allows no inline script.
"""

from __future__ import annotations

from typing import Any

from ledger.exports.html import escape, json_block, table
from ledger.queries.render import trace_svg
from ledger.queries.trace import Trace

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2330;background:#fbfbfd}
main{margin:24px}
nav.rinne{display:flex;gap:16px;align-items:center;padding:8px 24px;background:#1d2330;color:#fff;font-size:13px}
nav.rinne a{color:#cfe3ff} nav.rinne .grow{flex:1}
nav.rinne .tier{padding:2px 8px;border-radius:4px;background:#3b4558}
footer.rinne{margin:24px;color:#5b6475;font-size:12px}
table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}
th,td{border:1px solid #d9dde6;padding:4px 8px;text-align:left;vertical-align:top} th{background:#eef1f6}
tr.mine td{background:#fff6e0}
textarea,input{font:12px ui-monospace,monospace;width:100%;max-width:720px}
.graph{overflow:auto;border:1px solid #d9dde6;background:#fff;max-height:70vh}
.error{color:#c0392b;font-weight:600}
"""

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; script-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def nav(tier: str, address: str | None, path: str) -> str:
    """Return the bar every page starts with: home, search, the reader's tier and the sign-in link."""
    who = (
        f'signed in as <code id="signed-in">{escape(address)}</code> <a href="/signout" id="signout">sign out</a>'
        if address
        else f'<a href="/signin?next={escape(path)}" id="signin">sign in</a>'
    )
    return (
        '<nav class="rinne"><a href="/">Rinne passports</a>'
        '<form action="/search" method="get"><input name="q" id="q" placeholder="id, serial, material, origin, holder" size="36"></form>'
        f'<span class="grow"></span><span>tier <b class="tier" id="tier">{escape(tier)}</b></span><span>{who}</span></nav>'
    )


def footer(block: int, chain_id: int) -> str:
    """Return the line every page ends with: up to which block of which chain it is current."""
    return f'<footer class="rinne">Current up to block <b id="synced-block">{block}</b> of chain {chain_id}.</footer>'


def frame(title: str, body: str, *, tier: str, address: str | None, path: str, block: int, chain_id: int) -> str:
    """Return a whole page of the service."""
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{CSS}</style></head><body>{nav(tier, address, path)}<main>{body}</main>"
        f"{footer(block, chain_id)}</body></html>\n"
    )


def around(document: str, *, tier: str, address: str | None, path: str, block: int, chain_id: int) -> str:
    """Put the service's bar and footer around a finished page (the passport page of ``ledger.passport_html``)."""
    head, _, rest = document.partition("<body>")
    body, _, tail = rest.rpartition("</body>")
    return f"{head}<body><style>{CSS}</style>{nav(tier, address, path)}<main>{body}{links_of(path)}</main>{footer(block, chain_id)}</body>{tail}"


def links_of(path: str) -> str:
    """Return the passport page's links to its other formats and its provenance."""
    bid = path.rsplit("/", 1)[-1]
    e = escape(bid)
    return (
        '<div class="links" id="formats">Also as '
        f'<a href="/passport/{e}?format=batterypass">Battery Pass JSON</a> · '
        f'<a href="/passport/{e}?format=idta">IDTA-02035 JSON</a> · '
        f'<a href="/passport/{e}?format=pact">PACT JSON</a> · '
        f'<a href="/provenance/{e}" id="provenance-link">provenance to the mines</a> · '
        f'<a href="/unit/{e}">unit record</a></div>'
    )


def lot_page(info: dict[str, Any]) -> str:
    """Return the body of a lot page."""
    rows = [
        (k, info[k])
        for k in ("id", "kind", "material", "massG", "mintedMassG", "state", "holder", "creator", "originCountry", "mintedBlock")
    ]
    links = f'<a href="/provenance/{escape(info["label"])}" id="provenance-link">provenance</a>'
    if "passport" in info:
        links += f' · <a href="{escape(info["passport"])}" id="passport-link">battery passport</a>'
    mine = not info["madeByOperation"] and info["originCountry"]
    return (
        f'<h1>Lot <span id="lot-label">{escape(info["label"])}</span></h1>'
        + (
            '<p id="mine">Mined or entered the ledger at origin <b id="origin">' + escape(info["originCountry"]) + "</b></p>"
            if mine
            else ""
        )
        + table(("field", "value"), rows, id="lot")
        + f"<p>{links}</p><h2>History</h2>"
        + table(("event", "block", "time"), [(e["event"], e["block"], e["time"]) for e in info["history"]], id="history")
    )


def unit_page(info: dict[str, Any]) -> str:
    """Return the body of a unit page."""
    rows = [(k, info[k]) for k in ("id", "ratedEnergyKwh", "holder", "status") if k in info]
    parents = " ".join(f'<a href="/unit/{escape(p)}">{escape(p)}</a>' for p in info["parents"]) or "none (original build)"
    children = (
        " ".join(f'<a href="/unit/{escape(c)}">{escape(c)}</a>' for c in info["children"]) or "none"
        if "children" in info
        else "shown to the legitimate-interest tier (Annex XIII point 4)"
    )
    return (
        f"<h1>Battery unit {escape(info['label'])}</h1>"
        + table(("field", "value"), rows, id="unit")
        + f"<p>Parents: {parents}</p><p>Built into: {children}</p>"
        + f'<p><a href="{escape(info["passport"])}" id="passport-link">battery passport</a> · '
        + f'<a href="/provenance/{escape(info["label"])}">provenance</a></p>'
    )


def provenance_page(t: Trace) -> str:
    """Return the body of a provenance page: every lot with a link, mines marked, and the drawing."""
    rows = []
    for lot in t.lots:
        mine = lot.made_by is None and lot.kind == "material" and lot.origin_country
        rows.append(
            f'<tr class="{"mine" if mine else ""}" data-label="{escape(lot.label)}">'
            f'<td><a href="/lot/{escape(lot.label)}" class="lot-link">{escape(lot.label)}</a></td>'
            f"<td>{escape(lot.role)}</td><td>{escape(lot.material)}</td><td>{lot.mass_g}</td>"
            f"<td>{escape(lot.origin_country or '')}</td><td>{'mine' if mine else escape(lot.made_by or 'minted')}</td></tr>"
        )
    root = next((lot.label for lot in t.lots if lot.id == t.root), t.root)
    return (
        f'<h1>Provenance of <span id="root">{escape(root)}</span></h1>'
        '<table id="provenance"><tr><th>lot</th><th>role</th><th>material</th><th>mass g</th><th>origin</th><th>made by</th></tr>'
        + "".join(rows)
        + f'</table><h2>Drawing</h2><div class="graph">{trace_svg(t)}</div>'
    )


def search_page(q: str, hits: list[dict[str, Any]]) -> str:
    """Return the body of a search page."""
    rows = "".join(
        f'<tr><td><a href="{escape(h["page"])}" class="hit">{escape(h["label"])}</a></td><td>{escape(h["kind"])}</td>'
        f"<td>{escape(h['material'])}</td><td>{escape(h['originCountry'] or '')}</td><td>{escape(h['holder'])}</td>"
        f"<td>{escape(', '.join(h['matched']))}</td></tr>"
        for h in hits
    )
    return (
        f'<h1>Search: {escape(q)}</h1><p id="count">{len(hits)} found</p>'
        '<table id="hits"><tr><th>lot</th><th>kind</th><th>material</th><th>origin</th><th>holder</th><th>matched</th></tr>'
        + rows
        + "</table>"
    )


def home_page(status: dict[str, Any]) -> str:
    """Return the body of the home page."""
    return "<h1>Rinne battery passports</h1><p>Search above, or open /passport/&lt;battery id&gt;.</p>" + json_block(status)


def error_page(status: int, message: str) -> str:
    """Return the body of an error page (the one line that says what was wrong)."""
    return f'<h1>{status}</h1><p class="error" id="error">{escape(message)}</p>'


def signin_page(next_path: str) -> str:
    """Return the body of the sign-in page (its script is /static/signin.js)."""
    return (
        "<h1>Sign in with Ethereum</h1>"
        "<p>Sign the message with the account your organisation registered on the ledger. Your tier comes from its roles.</p>"
        f'<form id="signin-form" data-next="{escape(next_path)}">'
        '<label>Account <input id="address" name="address" placeholder="0x..."></label> '
        '<button type="button" id="prepare">Prepare message</button>'
        '<p><textarea id="message" rows="11" readonly></textarea></p>'
        '<p><button type="button" id="wallet">Sign with wallet</button> or paste the signature: '
        '<input id="signature" name="signature" placeholder="0x..."></p>'
        '<p><button type="submit" id="submit">Sign in</button></p><p class="error" id="signin-error"></p></form>'
        '<script src="/static/signin.js"></script>'
    )


SIGNIN_JS = """
"use strict";
const form = document.getElementById("signin-form");
const err = (t) => { document.getElementById("signin-error").textContent = t; };
document.getElementById("prepare").addEventListener("click", async () => {
  const a = document.getElementById("address").value.trim();
  const r = await fetch("/auth/nonce?address=" + encodeURIComponent(a), {headers: {Accept: "application/json"}});
  const j = await r.json();
  if (!r.ok) { err(j.error); return; }
  document.getElementById("message").value = j.message;
  document.getElementById("message").dataset.ready = "1";
});
document.getElementById("wallet").addEventListener("click", async () => {
  if (!window.ethereum) { err("no wallet in this browser: paste a signature"); return; }
  const m = document.getElementById("message").value;
  const a = document.getElementById("address").value.trim();
  document.getElementById("signature").value = await window.ethereum.request({method: "personal_sign", params: [m, a]});
});
form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const body = JSON.stringify({message: document.getElementById("message").value,
                               signature: document.getElementById("signature").value.trim()});
  const r = await fetch("/auth/login", {method: "POST", body, headers: {"Content-Type": "application/json"}});
  const j = await r.json();
  if (!r.ok) { err(j.error); return; }
  const next = form.dataset.next;
  location.href = next.startsWith("/") && !next.startsWith("//") ? next : "/";
});
"""
