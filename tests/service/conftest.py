"""Shared fixtures of the passport service tests: the reference ledger of tests/provenance (its events
encoded as the contracts emit them, with real signatures), a suspended recycler, declarations that give
PACK1 and ESS1 their ISO/IEC 15459 identifiers and QR URLs, and the app over its index; and, for the tests
as a user meets the service, the installed `rinne serve` as a subprocess over a real Anvil playing the
small story of tests/provenance/prov_chain.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "provenance"))

from eth_account import Account
from eth_account.messages import encode_defunct
from prov_synth import AUDITOR, CHAIN_ID, LEDGER_ADDR, MINER, OEM, RECYCLER, ZERO32, Synth, account, build_reference
from starlette.testclient import TestClient

from ledger import free_port
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


# ------------------------------------------------------------------------- `rinne serve` on a real chain

RINNE = Path(sys.executable).parent / "rinne"
#: The serials prov_chain.story builds its batteries with (the declarations must hash to them).
CHAIN_SERIALS = {"PACK1": "SN-1", "ESS1": "ESS-1", "PACK3": "SN-3"}


def chain_declarations() -> dict[str, dict[str, Any]]:
    """Declarations giving the chain story's PACK1 and ESS1 their identifiers and QR URLs."""
    ident = {"issuingAgencyCode": "UN", "companyIdentifier": "043325711"}
    return {u: {"serialNumber": sn, "uniqueIdentifier": ident, "passportBaseUrl": QR_BASE} for u, sn in CHAIN_SERIALS.items()}


@dataclass
class Served:
    """A running `rinne serve` and what it serves."""

    proc: subprocess.Popen[str]
    url: str
    world: Any
    env: dict[str, str]
    log: Path

    def get(self, path: str, **kw: Any) -> httpx.Response:
        """GET a path of the service."""
        return httpx.get(self.url + path, timeout=30, **kw)

    def stop(self, timeout: float = 20) -> int:
        """Stop the service as an operator would (SIGTERM) and return its exit status."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def stderr(self) -> str:
        """What the service wrote on stderr so far."""
        return self.log.read_text()


def start_serve(world: Any, tmp: Path, *extra: str) -> Served:
    """Start the installed `rinne serve` on a free loopback port over `world`'s chain; wait until it answers."""
    if not RINNE.exists():
        pytest.fail(f"{RINNE} is missing: install the package with `{Path(sys.executable).parent}/pip install -e .`")
    tmp.mkdir(parents=True, exist_ok=True)
    files = []
    for unit, decl in chain_declarations().items():
        f = tmp / f"{unit}-declarations.json"
        f.write_text(json.dumps(decl))
        files += ["--declarations", f"{unit}={f}"]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RINNE_", "ETH_RPC_URL"))}
    env.update(RINNE_HOME=str(world.data_dir), ETH_RPC_URL=world.node.rpc_url, NO_COLOR="1")
    log = tmp / f"serve-{port}.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [str(RINNE), "serve", "--port", str(port), "--sync-seconds", "0.5", *files, *extra],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            text=True,
        )
    served = Served(proc, f"http://127.0.0.1:{port}", world, env, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"rinne serve exited {proc.returncode}: {served.stderr()}")
        try:
            if httpx.get(served.url + "/api/status", timeout=2).status_code == 200:
                return served
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    pytest.fail(f"rinne serve did not answer within 60 s: {served.stderr()}")


def pack3(w: Any) -> None:
    """A third pack whose cathode carries Li, Ni and Co, made from three mines' ore (every Art. 8 element)."""
    from prov_chain import give

    from ledger.domain.composition import Composition
    from ledger.domain.ids import origin_code
    from ledger.domain.models import LotSpec, UnitSpec

    ores = [
        ("ORE-LI3", "ORE-LI", "Li", "AU", "Greenbushes"),
        ("ORE-NI3", "ORE-NI", "Ni", "AU", "Kambalda"),
        ("ORE-CO3", "ORE-CO", "Co", "CD", "Mutanda"),
    ]
    for lot, material, element, country, site in ores:
        w.miner.mint(
            LotSpec(
                lot_id=lot,
                material=material,
                mass=100_000,
                composition=Composition.of({element: 5_000}),
                origin=origin_code(country, site),
            )
        )
        w.attest(lot, 10, 0)
        give(w, w.miner, w.refiner, lot)
    cam = Composition.of({"Li": 1_000, "Ni": 4_000, "Co": 1_000})
    w.refiner.transform([o[0] for o in ores], [LotSpec(lot_id="CAM3", material="CAM-NMC811", mass=20_000, composition=cam)])
    w.attest("CAM3", 12, 1)
    w.refiner.build_unit(
        ["CAM3"],
        LotSpec(lot_id="PACK3", material="PACK-60KWH", mass=20_000, composition=cam),
        UnitSpec(serial="SN-3", rated_wh=60_000),
    )
    w.attest("PACK3", 6, 1)
    give(w, w.refiner, w.oem, "PACK3")


@pytest.fixture(scope="session")
def chain_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real Anvil with the deployed suite and prov_chain's story played on it."""
    from prov_chain import start_world, stop_world, story

    w = start_world(tmp_path_factory.mktemp("service-chain"))
    try:
        story(w)
        pack3(w)
        yield w
    finally:
        stop_world(w)


@pytest.fixture(scope="session")
def served(chain_world: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`rinne serve` over the chain story for the whole session."""
    s = start_serve(chain_world, tmp_path_factory.mktemp("served"))
    yield s
    if s.proc.poll() is None:
        s.stop()
