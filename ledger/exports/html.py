"""Self-contained HTML pages: the page frame with its CSS, escaping, tables and embedded JSON.

Every page (passport, trace, audit) carries its own CSS: no script, font or stylesheet is fetched,
so a report opens offline and stays the same forever.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass

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


def escape(value: Any) -> str:
    """HTML-escape any value's text, quotes included."""
    return html.escape(str(value), quote=True)


def page(title: str, body: str, *, css: str = "") -> str:
    """Wrap a body in a complete, self-contained HTML document; `css` is added to the shared style sheet."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{escape(title)}</title><style>{_CSS}{css}</style></head><body>{body}</body></html>\n"
    )


# --------------------------------------------------------------------------------------- trace


# ---------------------------------------------------------------------------------------- audit


def json_script(text: str) -> str:
    """Make JSON safe to embed in a <script> element: no `</` in it can close the element."""
    return text.replace("</", "<\\/")


def table(headers: Iterable[str], rows: Iterable[Iterable[Any]], *, id: str | None = None) -> str:
    """Return an HTML table (cells escaped)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    ident = f' id="{escape(id)}"' if id else ""
    return f"<table{ident}><tr>{head}</tr>{body}</table>"


def json_block(data: Any) -> str:
    """Return data as a readable JSON <pre> block."""
    return f"<pre>{escape(json.dumps(data, indent=2, default=str))}</pre>"
