"""The passport service as a reader meets it, in Debian's headless Chromium against `rinne serve` on a real
Anvil: scan the QR code of the passport PNG `rinne passport --qr` writes, open the page it names, read the
headline figures, follow the provenance to a mine lot, then sign in as a recycler (Sign-In with Ethereum:
the message the page prepares, signed with the recycler's key as a wallet would) and see the
legitimate-interest tier. Screenshots are kept in the test's tmp folder and in test-artifacts/service/."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from cdp import CHROMIUM, MISSING, Browser
from conftest import QR_BASE, RINNE, Served, sign
from prov_render import ARTIFACTS
from qr_decode import decode_png

pytestmark = [
    pytest.mark.browser,
    pytest.mark.chain,
    pytest.mark.skipif(CHROMIUM is None, reason=MISSING),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]


@pytest.fixture()
def browser(tmp_path: Path) -> Iterator[Browser]:
    b = Browser(tmp_path)
    yield b
    b.close()


def _shot(browser: Browser, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    png = browser.screenshot(path)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    ARTIFACTS.joinpath("service").mkdir(parents=True, exist_ok=True)
    shutil.copy(path, ARTIFACTS / "service" / path.name)
    return path


def _qr_png(served: Served, tmp_path: Path, unit: str) -> bytes:
    """The passport's QR code as the operator prints it: `rinne passport UNIT --declarations ... --qr FILE.png`."""
    decl = tmp_path / f"{unit}-decl.json"
    from conftest import chain_declarations

    decl.write_text(json.dumps(chain_declarations()[unit]))
    qr = tmp_path / f"{unit}-qr.png"
    proc = subprocess.run(
        [
            str(RINNE),
            "passport",
            unit,
            "--declarations",
            str(decl),
            "--qr",
            str(qr),
            "--tier",
            "public",
            "-o",
            str(tmp_path / "p.json"),
        ],
        env=served.env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    return qr.read_bytes()


def test_scan_read_trace_to_a_mine_and_sign_in_as_a_recycler(served: Served, browser: Browser, tmp_path: Path) -> None:
    # Scan: the URL comes out of the PNG's pixels, not out of the passport's JSON.
    url = decode_png(_qr_png(served, tmp_path, "PACK3"))
    assert url == f"{QR_BASE}/UN043325711SN-3"
    path = urlsplit(url).path  # the QR's host is the operator's; the same path is served here on loopback
    browser.open(served.url + path)
    _shot(browser, tmp_path, "1-passport-public")

    # The headline figures, as the page shows them, are the passport's own.
    doc: dict[str, Any] = served.get(path, params={"format": "batterypass"}).json()
    rinne = doc["extensions"]["rinne"]
    assert browser.text("#tier") == "public"
    assert browser.text("h1").startswith("Battery passport PACK3")
    assert browser.text("#cf-per-kwh") == f"{rinne['cradleToGateKgCo2ePerRatedKwh']:.3f} kg CO2e/kWh rated (cradle-to-gate)"
    assert browser.text("#cf-absolute") == f"{doc['carbonFootprint']['absoluteCarbonFootprint']:.1f} kg CO2e in all"
    assert browser.js("document.getElementById('assurance').dataset.level") == rinne["assurance"] == "verified"
    assert browser.js("document.getElementById('qr').dataset.url") == url  # the page's QR is the label's
    assert browser.text("#status") != "Original"  # the battery's status is point 4: not public
    block = int(browser.text("#synced-block"))
    assert block == int(served.get("/api/status").json()["syncedBlock"]) > 0

    # Provenance, to a mine lot: a lot nothing made, with an origin.
    browser.click("#provenance-link")
    assert browser.text("#root") == "PACK3"
    mines = browser.js("[...document.querySelectorAll('#provenance tr.mine')].map(r => r.dataset.label)")
    assert set(mines) == {"ORE-LI3", "ORE-NI3", "ORE-CO3"}
    _shot(browser, tmp_path, "2-provenance")
    browser.click("#provenance tr.mine[data-label='ORE-CO3'] a.lot-link")
    assert browser.text("#lot-label") == "ORE-CO3" and browser.text("#origin") == "CD"
    assert "ORE-CO" in browser.text("#lot") and browser.text("#synced-block") == str(block)
    _shot(browser, tmp_path, "3-mine-lot")

    # Sign in as the recycler: the page asks the service for the message, the key signs it, the page posts it.
    recycler = served.world.recycler.account
    browser.open(f"{served.url}/signin?next={path}")
    browser.js(f"document.getElementById('address').value = {json.dumps(recycler.address)}")
    browser.click("#prepare", navigates=False)
    browser.wait_for("document.getElementById('message').dataset.ready === '1'")
    message = browser.js("document.getElementById('message').value")
    assert message.startswith(f"{urlsplit(served.url).netloc} wants you to sign in with your Ethereum account:\n{recycler.address}\n")
    browser.js(f"document.getElementById('signature').value = {json.dumps(sign(message, recycler))}")
    _shot(browser, tmp_path, "4-sign-in")
    browser.click("#submit")
    browser.wait_for("location.pathname !== '/signin' && document.readyState === 'complete'")
    assert browser.js("location.pathname") == path
    assert browser.text("#tier") == "legitimate-interest"
    assert browser.text("#signed-in") == recycler.address
    assert browser.text("#status") == "Original"  # point 4, now shown
    assert browser.js("document.cookie") == ""  # the session cookie is HttpOnly: no script reads it
    _shot(browser, tmp_path, "5-passport-legitimate-interest")

    # Signing out is back to public, in the same browser.
    browser.click("#signout")
    browser.open(served.url + path)
    assert browser.text("#tier") == "public"
