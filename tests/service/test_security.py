"""The passport service as an attacker meets it: every way to read above one's tier (a forged or altered
cookie, a tier parameter, an Accept or header trick, a shared cache), every way to sign in falsely (a
replayed nonce, an expired message, another domain, URI or chain, another signer, no role, a suspended
party), ids built to inject or traverse, oversized requests, and a lookalike battery claiming a QR code.
Each asserts what comes back: the status, and that no field above the tier is in it."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from conftest import AUDITOR, MINER, OEM, RECYCLER, STRANGER, SUSPENDED, TEST_ORIGIN, declarations, make_config, sign, sign_in
from prov_synth import OpKind, Synth, build_reference
from starlette.testclient import TestClient

from ledger.exports.batterypass import leaf_paths, point_of
from ledger.service.app import create_app
from ledger.service.session import COOKIE, SessionSigner
from ledger.service.siwe import iso

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def points(doc: dict[str, Any]) -> set[int]:
    """The Annex XIII points of every field a Battery Pass answer holds (the tier marker aside)."""
    return {point_of(p) for p in leaf_paths(doc) if p != "extensions.rinne.accessTier"}


def public_only(resp: Any) -> None:
    assert resp.headers["x-rinne-tier"] == "public"
    doc = resp.json()
    assert points(doc) == {1}
    assert doc["extensions"]["rinne"]["accessTier"] == "public"
    assert "stateOfHealthHistory" not in resp.text and "batteryStatus" not in resp.text


def passport_json(client: TestClient, bid: str = "ESS1", **headers: str) -> Any:
    return client.get(f"/passport/{bid}", params={"format": "batterypass"}, headers=headers)


# ----------------------------------------------------------------------------------- tiers


def test_anonymous_reader_gets_the_public_tier_only(client: TestClient) -> None:
    public_only(passport_json(client))
    page = client.get("/passport/ESS1")
    assert page.status_code == 200 and 'id="tier">public<' in page.text
    assert "stateOfHealthHistory" not in page.text and 'id="synced-block"' in page.text
    idta = client.get("/passport/ESS1", params={"format": "idta"}).json()
    assert idta["extensions"]["rinne"]["accessTier"] == "public" and "product_condition" not in idta


def test_signed_in_recycler_and_auditor_get_their_tiers(client: TestClient, index: Any) -> None:
    assert sign_in(client, RECYCLER).json()["tier"] == "legitimate-interest"
    li = passport_json(client)
    assert li.headers["x-rinne-tier"] == "legitimate-interest"
    assert points(li.json()) == {1, 2, 4}  # point 3 (test reports) is for authorities only
    with TestClient(create_app(index, make_config()), base_url=TEST_ORIGIN) as other:
        assert sign_in(other, AUDITOR).json()["tier"] == "authority"
        assert passport_json(other).headers["x-rinne-tier"] == "authority"


def test_a_tier_parameter_can_lower_but_never_raise(client: TestClient) -> None:
    up = client.get("/passport/ESS1", params={"format": "batterypass", "tier": "authority"})
    assert up.status_code == 403 and "stateOfHealthHistory" not in up.text
    assert client.get("/passport/ESS1", params={"tier": "admin"}).status_code == 400
    sign_in(client, RECYCLER)
    assert client.get("/passport/ESS1", params={"format": "batterypass", "tier": "authority"}).status_code == 403
    public_only(client.get("/passport/ESS1", params={"format": "batterypass", "tier": "public"}))


@pytest.mark.parametrize(
    "headers",
    [
        {"Accept": "application/json; tier=authority"},
        {"Accept": "application/vnd.rinne.batterypass+json;tier=legitimate-interest;q=1, text/html;q=0.1"},
        {"Accept": "application/json", "X-Rinne-Tier": "authority"},
        {"Accept": "application/json", "Authorization": "Bearer authority"},
        {"Accept": "application/json", "Cookie": "tier=authority"},
    ],
)
def test_headers_do_not_raise_the_tier(client: TestClient, headers: dict[str, str]) -> None:
    public_only(client.get("/passport/ESS1", headers=headers))


def test_forged_and_altered_cookies_give_the_public_tier(client: TestClient) -> None:
    forged, _ = SessionSigner(secret=b"k" * 32).issue(AUDITOR.address)  # right shape, another process's secret
    client.cookies.set(COOKIE, forged)
    public_only(passport_json(client))
    assert client.get("/api/me").json() == {"account": None, "tier": "public"}
    client.cookies.clear()
    sign_in(client, RECYCLER)
    good = client.cookies[COOKIE]
    payload, mac = good.split(".")
    other, _ = SessionSigner(secret=b"x" * 32).issue(AUDITOR.address)
    for bad in (other.split(".")[0] + "." + mac, payload + "." + mac[:-1] + ("0" if mac[-1] != "0" else "1"), good + ".x", "x" * 600):
        client.cookies.clear()
        client.cookies.set(COOKIE, bad)
        public_only(passport_json(client))
    client.cookies.clear()
    expired, _ = SessionSigner().issue(RECYCLER.address, now=time.time() - 3_600)
    client.cookies.set(COOKIE, expired)
    public_only(passport_json(client))


def test_the_session_cookie_is_httponly_and_strict(client: TestClient) -> None:
    resp = sign_in(client, RECYCLER)
    cookie = resp.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict") and "Max-Age=" in cookie
    assert RECYCLER.address not in cookie.split(";")[0] or "." in cookie  # the value is signed, not a bare address


def test_no_shared_cache_leaks_a_tier(client: TestClient, index: Any) -> None:
    sign_in(client, OEM)
    assert passport_json(client).headers["x-rinne-tier"] == "legitimate-interest"
    resp = passport_json(client)
    assert resp.headers["cache-control"] == "private, no-store" and "Cookie" in resp.headers["vary"]
    with TestClient(create_app(index, make_config()), base_url=TEST_ORIGIN) as anon:
        public_only(passport_json(anon))
    client.cookies.clear()
    public_only(passport_json(client))  # the same app, its cache warm at the higher tier


def test_unit_and_lot_pages_keep_use_data_above_public(client: TestClient) -> None:
    unit = client.get("/api/units/PACK1").json()
    assert "status" not in unit and "children" not in unit  # what PACK1 became is point 4, as madeInto is
    assert "ESS1" not in client.get("/unit/PACK1").text
    down = client.get("/api/provenance/PACK1", params={"direction": "down"})
    assert down.status_code == 403 and "ESS1" not in down.text
    assert (
        client.get("/api/provenance/ORE-NI", params={"direction": "down"}).status_code == 200
    )  # a material lot's use is not a battery's
    events = {e["event"] for e in client.get("/api/lots/PACK1").json()["history"]}
    assert events and not events & {"StatusChanged", "SohRecorded"}
    sign_in(client, RECYCLER)
    status = client.get("/api/units/PACK1").json()["status"]
    assert status == passport_json(client, "PACK1").json()["generalProductInformation"]["batteryStatus"]
    assert "SohRecorded" in {e["event"] for e in client.get("/api/lots/PACK1").json()["history"]}
    assert "ESS1" in client.get("/api/units/PACK1").json()["children"]
    assert client.get("/api/provenance/PACK1", params={"direction": "down"}).status_code == 200


# --------------------------------------------------------------------------------- sign-in


def _replace(pattern: str, new: str | Callable[[], str]) -> Any:
    # A callable is called when the message is edited: a time computed at collection would be stale by the time
    # a long suite reaches the test (CI ran it 13 minutes later, and a "not before" of +10 minutes had passed).
    def edit(message: str) -> str:
        out, n = re.subn(pattern, new() if callable(new) else new, message, flags=re.M)
        assert n == 1
        return out

    return edit


def test_a_replayed_nonce_is_refused(client: TestClient, index: Any) -> None:
    got = client.get("/auth/nonce", params={"address": RECYCLER.address}).json()
    body = {"message": got["message"], "signature": sign(got["message"], RECYCLER)}
    assert client.post("/auth/login", json=body).status_code == 200
    client.cookies.clear()
    again = client.post("/auth/login", json=body)
    assert again.status_code == 401 and "already used" in again.json()["error"] and COOKIE not in again.cookies
    public_only(passport_json(client))
    # A nonce of another process (a restarted or second service) is unknown here.
    with TestClient(create_app(index, make_config()), base_url=TEST_ORIGIN) as other:
        assert other.post("/auth/login", json=body).status_code == 401


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        (_replace(r"^Expiration Time: .*$", lambda: f"Expiration Time: {iso(time.time() - 5)}"), "expired"),
        (_replace(r"^Issued At: .*$", lambda: f"Issued At: {iso(time.time() - 3_600)}"), "issued at"),
        (_replace(r"^Issued At: .*$", lambda: f"Issued At: {iso(time.time() + 3_600)}"), "issued at"),
        (_replace(r"\nExpiration Time: .*$", ""), "no expiration"),
        (_replace(r"^testserver wants", "evil.example wants"), "this service is"),
        (_replace(r"^URI: .*$", "URI: https://evil.example/"), "is not on"),
        (_replace(r"^Chain ID: .*$", "Chain ID: 1"), "chain 1"),
        (_replace(r"^Version: 1$", "Version: 2"), "version"),
        (
            _replace(r"^Expiration Time: (.*)$", lambda: r"Expiration Time: \1\nNot Before: " + iso(time.time() + 600)),
            "not valid before",
        ),
    ],
)
def test_a_message_not_for_now_or_not_for_us_is_refused(client: TestClient, edit: Any, why: str) -> None:
    resp = sign_in(client, RECYCLER, edit)
    assert resp.status_code == 401 and why in resp.json()["error"].lower()
    assert COOKIE not in client.cookies
    public_only(passport_json(client))


def test_a_signature_by_another_key_is_refused(client: TestClient) -> None:
    got = client.get("/auth/nonce", params={"address": RECYCLER.address}).json()
    resp = client.post("/auth/login", json={"message": got["message"], "signature": sign(got["message"], STRANGER)})
    assert resp.status_code == 401 and "not by the address" in resp.json()["error"]
    got = client.get("/auth/nonce", params={"address": RECYCLER.address}).json()
    resp = client.post("/auth/login", json={"message": got["message"], "signature": "0x" + "00" * 65})
    assert resp.status_code == 401
    # The address line lower-cased is not EIP-55: refused before any signature is looked at.
    resp = sign_in(client, RECYCLER, lambda m: m.replace(RECYCLER.address, RECYCLER.address.lower()))
    assert resp.status_code == 401 and COOKIE not in client.cookies


@pytest.mark.parametrize(("acct", "why"), [(STRANGER, "not registered"), (MINER, "no role"), (SUSPENDED, "suspended")])
def test_parties_without_a_tier_are_refused(client: TestClient, acct: Any, why: str) -> None:
    resp = sign_in(client, acct)
    assert resp.status_code == 403 and why in resp.json()["error"] and COOKIE not in client.cookies
    public_only(passport_json(client))


def test_malformed_sign_ins_are_one_line_errors(client: TestClient) -> None:
    for body in (b"", b"{", b'{"message": 1, "signature": 2}', b'{"message": "hello", "signature": "0x"}'):
        resp = client.post("/auth/login", content=body, headers={"Content-Type": "application/json"})
        assert resp.status_code in (400, 401) and "\n" not in resp.json()["error"]
    assert client.post("/auth/login", content=b"x" * 20_000).status_code == 413
    long = "testserver wants you to sign in with your Ethereum account:\n" + "A" * 5_000
    assert client.post("/auth/login", json={"message": long, "signature": "0x"}).status_code == 401
    assert client.get("/auth/nonce", params={"address": "0x123"}).status_code == 400


def test_signin_never_redirects_off_site(client: TestClient) -> None:
    # Browsers drop tabs and newlines from URLs: "/\t/evil.example" would become "//evil.example".
    for nxt in ("//evil.example/", "https://evil.example/", "/\\evil.example", "/\t/evil.example", "/\n/evil.example", "/%09/x\r"):
        assert 'data-next="/"' in client.get("/signin", params={"next": nxt}).text
    assert 'data-next="/passport/ESS1?format=idta"' in client.get("/signin", params={"next": "/passport/ESS1?format=idta"}).text


def test_signing_out_revokes_every_copy_of_the_cookie(client: TestClient) -> None:
    sign_in(client, RECYCLER)
    stolen = client.cookies[COOKIE]
    assert client.post("/auth/logout").json()["tier"] == "public"
    client.cookies.clear()
    client.cookies.set(COOKIE, stolen)  # a copy taken before the sign-out
    public_only(passport_json(client))
    assert client.get("/api/me").json() == {"account": None, "tier": "public"}


def test_the_session_ends_when_the_signed_message_expires(client: TestClient) -> None:
    soon = _replace(r"^Expiration Time: .*$", f"Expiration Time: {iso(time.time() + 2)}")
    resp = sign_in(client, RECYCLER, soon)
    assert resp.status_code == 200 and resp.json()["expiresIn"] <= 2
    got = client.get("/auth/nonce", params={"address": RECYCLER.address}).json()
    assert "Expiration Time: " in got["message"]  # the service asks for a bounded session


def test_a_configured_session_key_is_shared_and_a_default_one_is_not(index: Any) -> None:
    key = b"s" * 32
    with (
        TestClient(create_app(index, make_config(session_secret=key)), base_url=TEST_ORIGIN) as a,
        TestClient(create_app(index, make_config(session_secret=key)), base_url=TEST_ORIGIN) as b,
        TestClient(create_app(index, make_config()), base_url=TEST_ORIGIN) as c,
    ):
        sign_in(a, RECYCLER)
        for other, tier in ((b, "legitimate-interest"), (c, "public")):
            other.cookies.set(COOKIE, a.cookies[COOKIE])
            assert passport_json(other).headers["x-rinne-tier"] == tier
    with pytest.raises(ValueError, match="32 bytes"):
        SessionSigner(secret=b"short")


# ---------------------------------------------------------------------------- ids and sizes

HOSTILE = [
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "PACK1'%20OR%20'1'='1",
    "PACK1;DROP%20TABLE%20lots",
    "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "PACK1%00",
    ".hidden",
    "A" * 81,
    "0x" + "ff" * 32,
    "urn:rinne:" + "00" * 32,
]


@pytest.mark.parametrize("bid", HOSTILE)
@pytest.mark.parametrize("route", ["/passport/", "/lot/", "/unit/", "/provenance/", "/api/passport/"])
def test_hostile_ids_are_refused(client: TestClient, route: str, bid: str) -> None:
    resp = client.get(route + bid, headers={"Accept": "application/json"})
    assert resp.status_code in (400, 404)
    assert "<script>" not in resp.text and "root:" not in resp.text and "Traceback" not in resp.text
    if resp.headers.get("content-type", "").startswith("application/json"):
        assert set(resp.json()) == {"error"}


def test_hostile_search_is_escaped_and_bounded(client: TestClient) -> None:
    resp = client.get("/search", params={"q": "<script>alert(1)</script>"})
    assert resp.status_code == 400 or "<script>alert" not in resp.text
    assert client.get("/api/search", params={"q": "x" * 2_000}).status_code == 414
    assert client.get("/api/search", params={"q": "x" * 200}).status_code == 400
    assert client.get("/api/search", params={"q": "AU", "by": "sql"}).status_code == 400
    assert client.get("/passport/" + "A" * 600).status_code == 414


def test_search_finds_by_each_field(client: TestClient) -> None:
    def labels(**params: str) -> set[str]:
        return {h["label"] for h in client.get("/api/search", params=params).json()["results"]}

    assert "ORE-NI" in labels(q="AU", by="origin") and "ORE-CO" not in labels(q="AU", by="origin")
    assert labels(q="CD", by="origin") == {"ORE-CO"}
    # Sites are salted on-chain: a service without their openings finds no lot by a guessed site.
    assert labels(q="CD:Kolwezi") == set()
    assert labels(q="PACK1", by="serial") == {"PACK1"}
    assert "NISO4-M" in labels(q="NiSO4", by="material")
    assert "REC-BM" in labels(q=RECYCLER.address, by="holder")
    assert labels(q="UN043325711ESS1") == {"ESS1"}


# ------------------------------------------------------------------------- a lookalike battery


def _with_lookalike() -> Synth:
    """The reference story plus a unit someone labelled with PACK1's ISO/IEC 15459 identifier, so that its
    label and its serial both equal the text PACK1's QR code carries."""
    from prov_synth import REFINER, Composition

    s = build_reference()
    s.mint(REFINER, "CELLX", "CELL-NMC", 1_000, Composition())
    s.op(OpKind.BUILD, REFINER, [("CELLX", 0)], [("UN043325711PACK1", "PACK-1KWH", 1_000, Composition())], unit=(1_000, []))
    return s


def test_a_lookalike_cannot_claim_another_batterys_qr_code() -> None:
    idx = _with_lookalike().ingest()
    try:
        with TestClient(create_app(idx, make_config()), base_url=TEST_ORIGIN) as c:
            # The declared identifier wins: the QR code still opens PACK1.
            doc = c.get("/passport/UN043325711PACK1", params={"format": "batterypass"}).json()
            assert doc["generalProductInformation"]["batteryPassportIdentifier"].startswith("urn:rinne:5041434b31")
        undeclared = make_config()
        undeclared.declarations = {}
        with TestClient(create_app(idx, undeclared), base_url=TEST_ORIGIN) as c:
            # Undeclared, the text names two batteries: refused, never the lookalike's passport.
            resp = c.get("/passport/UN043325711PACK1", params={"format": "batterypass"})
            assert resp.status_code == 409 and "generalProductInformation" not in resp.text
    finally:
        idx.close()


def test_errors_say_one_line(client: TestClient) -> None:
    assert client.get("/passport/ORE-NI").status_code == 404  # a material lot has no passport
    gone = client.get("/passport/PACK2", headers={"Accept": "application/json"})
    assert gone.status_code == 410 and "ceased to exist" in gone.json()["error"]
    assert client.get("/passport/ESS1", params={"format": "xml"}).status_code == 406
    assert client.get("/audit").status_code == 503
    assert declarations()["PACK1"]["serialNumber"] == "PACK1"


def test_one_client_cannot_hold_everyones_sign_in_up(index: Any) -> None:
    # A client asking for nonces in a loop is stopped at its own cap, one line and 429, while another
    # client still signs in; using one of its nonces gives the looping client one more.
    with TestClient(create_app(index, make_config()), base_url=TEST_ORIGIN, client=("192.0.2.7", 4000)) as greedy:
        got = [greedy.get("/auth/nonce", params={"address": RECYCLER.address}) for _ in range(20)]
        assert all(r.status_code == 200 for r in got)
        refused = greedy.get("/auth/nonce", params={"address": RECYCLER.address})
        assert refused.status_code == 429 and "20 sign-ins from this address" in refused.json()["error"]
        assert "\n" not in refused.json()["error"]
        other = TestClient(greedy.app, base_url=TEST_ORIGIN, client=("192.0.2.8", 4000))  # same app, no second start
        assert sign_in(other, RECYCLER).status_code == 200
        message = got[0].json()["message"]
        assert greedy.post("/auth/login", json={"message": message, "signature": sign(message, RECYCLER)}).status_code == 200
        assert greedy.get("/auth/nonce", params={"address": RECYCLER.address}).status_code == 200
        assert greedy.get("/auth/nonce", params={"address": RECYCLER.address}).status_code == 429
