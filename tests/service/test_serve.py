"""`rinne serve` as an operator runs it: the installed command as a subprocess over a real Anvil, the page a
QR code opens fetched over loopback, the index following the chain while it serves, and a clean stop."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import RINNE, Served, start_serve

from ledger import Disclosure, verify_unit
from ledger.chain.rpc import call
from ledger.domain.composition import Composition
from ledger.domain.ids import origin_code
from ledger.domain.models import LotSpec

pytestmark = [pytest.mark.chain, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def _block(world: Any) -> int:
    return int(call(world.admin.w3, "eth_blockNumber", []), 16)


def test_serve_answers_the_qr_code_follows_the_chain_and_stops_cleanly(chain_world: Any, tmp_path: Path) -> None:
    s: Served = start_serve(chain_world, tmp_path)
    try:
        head = _block(chain_world)
        page = s.get("/passport/UN043325711SN-3")  # the identifier ESS1's declarations give its QR code
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert page.headers["x-rinne-tier"] == "public" and 'id="tier">public<' in page.text
        shown = int(re.search(r'id="synced-block">(\d+)<', page.text).group(1))  # type: ignore[union-attr]
        assert shown == int(page.headers["x-rinne-block"]) == head  # synced and checked at start
        assert "Battery passport PACK3" in page.text and 'id="cf-per-kwh"' in page.text

        doc = s.get("/passport/UN043325711SN-3", headers={"Accept": "application/json"}).json()
        assert doc["generalProductInformation"]["batteryPassportIdentifier"].startswith("urn:rinne:")
        assert doc["extensions"]["rinne"]["passportUrl"] == "https://passports.example/passport/UN043325711SN-3"
        assert "stateOfHealthHistory" not in doc["extensions"]["rinne"]  # point 4: not for the public

        # While it serves, a miner logs a lot: the index follows and the pages say the new block.
        chain_world.miner.mint(
            LotSpec(
                lot_id="ORE-LATE",
                material="ORE-NI",
                mass=10_000,
                composition=Composition.of({"Ni": 200}),
                origin=origin_code("FI", "Kevitsa"),
            )
        )
        minted = _block(chain_world)
        deadline = time.monotonic() + 30
        while s.get("/api/status").json()["syncedBlock"] < minted:
            assert time.monotonic() < deadline, "the service did not follow the chain within 30 s"
            time.sleep(0.2)
        lot = s.get("/lot/ORE-LATE")
        assert lot.status_code == 200 and f'id="synced-block">{minted}<' in lot.text and 'id="origin">FI<' in lot.text
        assert s.get("/api/status").json()["syncError"] is None
        # The audit follows too, to the block the pages are current to (until then it answers 503, or the report
        # of an earlier block, which says which block it audited): every report it gives is clean.
        while True:
            audit = s.get("/api/audit")
            assert audit.status_code in (200, 503) and "failed" not in audit.text, audit.text
            if audit.status_code == 200:
                assert audit.json()["report"]["flags"] == []
                if audit.json()["auditedBlock"] >= minted:
                    break
            assert time.monotonic() < deadline + 30, f"the audit did not reach block {minted} within 60 s: {audit.text[:200]}"
            time.sleep(0.2)
    finally:
        code = s.stop() if s.proc.poll() is None else s.proc.returncode
    assert code == 0, s.stderr()
    assert "stopped" in s.stderr() and "Traceback" not in s.stderr()
    with pytest.raises(httpx.TransportError):
        httpx.get(s.url + "/api/status", timeout=2)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--declarations", "ESS1"], "UNIT=FILE"),
        (["--declarations", "ESS1=/nonexistent.json"], "cannot read declarations"),
        (["--public-url", "ftp://x"], "an origin"),
        (["--port", "70000"], "70000"),
    ],
)
def test_serve_bad_options_are_one_line(served: Served, args: list[str], says: str) -> None:
    proc = subprocess.run(
        [str(RINNE), "serve", *args], env=served.env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )
    assert proc.returncode in (1, 2) and says in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_serve_finds_salted_serials_and_sites_by_its_vault_and_shows_the_serial_with_its_proof(served: Served) -> None:
    def labels(**params: str) -> set[str]:
        return {h["label"] for h in served.get("/api/search", params=params).json()["results"]}

    # The chain holds salted roots; the service's vault (the data directory's) holds the openings.
    assert labels(q="SN-3", by="serial") == {"PACK3"}
    assert labels(q="AU:Kambalda", by="origin") == {"ORE-NI3"}
    assert labels(q="AU:Kalgoorlie", by="origin") == set()
    doc = served.get("/passport/PACK3", headers={"Accept": "application/json"}).json()
    ext = doc["extensions"]["rinne"]
    # Anyone can check the disclosed serial offline against the on-chain commitment.
    assert verify_unit(ext["serialHash"], Disclosure.model_validate(ext["identity"]), "PACK3") == {"serialNumber": "SN-3"}
