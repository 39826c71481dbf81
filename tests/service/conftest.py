"""Shared fixtures of the passport service tests: the reference ledger of tests/provenance (its events
encoded as the contracts emit them, with real signatures), a suspended recycler, declarations that give
PACK1 and ESS1 their ISO/IEC 15459 identifiers and QR URLs, and the app over its index."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "provenance"))

from eth_account import Account
from eth_account.messages import encode_defunct
from prov_synth import AUDITOR, CHAIN_ID, LEDGER_ADDR, MINER, OEM, RECYCLER, ZERO32, Synth, account, build_reference
from starlette.testclient import TestClient

from ledger.domain.enums import Role
from ledger.index.store import EventIndex
from ledger.service.app import ServiceConfig, create_app

#: Where the declared passport URLs point (the QR code's host); the tests open the same path on loopback.
QR_BASE = "https://passports.example/passport"
#: The origin a TestClient's requests come from, and so the Sign-In with Ethereum domain.
TEST_ORIGIN = "http://testserver"
SUSPENDED = account(7)  # registered as a recycler, then suspended
STRANGER = account(8)  # never registered
__all__ = ["AUDITOR", "CHAIN_ID", "MINER", "OEM", "RECYCLER", "STRANGER", "SUSPENDED", "sign_in"]


def declarations() -> dict[str, dict[str, Any]]:
    """Declarations giving PACK1 and ESS1 an ISO/IEC 15459 identifier (their serials are their labels in the synth)."""
    ident = {"issuingAgencyCode": "UN", "companyIdentifier": "043325711"}
    return {label: {"serialNumber": label, "uniqueIdentifier": ident, "passportBaseUrl": QR_BASE} for label in ("PACK1", "ESS1")}


def build_story() -> Synth:
    """The reference story plus a recycler that was registered and then suspended."""
    s = build_reference()
    s.register(SUSPENDED, Role.RECYCLER)
    s._emit(LEDGER_ADDR, "ParticipantSuspended", account=SUSPENDED.address, reason=ZERO32)
    s.mine()
    return s


@pytest.fixture(scope="session")
def story() -> Synth:
    return build_story()


@pytest.fixture()
def index(story: Synth) -> Iterator[EventIndex]:
    idx = story.ingest()
    yield idx
    idx.close()


def make_config(origin: str = TEST_ORIGIN, **kw: Any) -> ServiceConfig:
    """The service's configuration for the test chain."""
    return ServiceConfig(public_url=origin, chain_id=CHAIN_ID, ledger_address=LEDGER_ADDR, declarations=declarations(), **kw)


@pytest.fixture()
def client(index: EventIndex) -> Iterator[TestClient]:
    with TestClient(create_app(index, make_config()), base_url=TEST_ORIGIN) as c:
        yield c


def sign(message: str, acct: Any) -> str:
    """Sign a message the way a wallet's personal_sign does (EIP-191 version 0x45)."""
    return "0x" + Account.sign_message(encode_defunct(text=message), acct.key).signature.hex().removeprefix("0x")


def sign_in(client: TestClient, acct: Any, edit: Any = None) -> Any:
    """Ask a nonce for `acct`, sign the message (after `edit` changes its text, if given) and post it."""
    got = client.get("/auth/nonce", params={"address": acct.address})
    assert got.status_code == 200, got.text
    message = got.json()["message"]
    if edit is not None:
        message = edit(message)
    return client.post("/auth/login", json={"message": message, "signature": sign(message, acct)})
