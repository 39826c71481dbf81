"""cast keystores, funding and the managed node's port, through the installed `rinne` as a real subprocess.

Issue 14: a keystore `cast wallet new` wrote lists its address once unlocked and can be registered by
name; `rinne account fund` gives test ETH on development nodes and refuses elsewhere in one line; an
unfunded account gets one line saying so; cast's ETH_PASSWORD works; the managed node keeps its port.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ledger import Ledger
from ledger.chain import node as _node
from ledger.chain.rpc import call

pytestmark = pytest.mark.chain

RINNE = Path(sys.executable).parent / "rinne"
REPO = Path(__file__).resolve().parents[2]
PASSWORD = "keystore test password"


def _cast() -> str | None:
    local = REPO / "node_modules/@foundry-rs/cast-linux-amd64/bin/cast"
    return str(local) if local.is_file() and os.access(local, os.X_OK) else None


needs_cast = pytest.mark.skipif(_cast() is None, reason="Foundry's cast is not installed (npm ci)")


@pytest.fixture
def env(anvil: _node.NodeInfo, tmp_path: Path) -> Iterator[dict[str, str]]:
    ledger = Ledger.connect(anvil.rpc_url, data_dir=tmp_path)
    snapshot = call(ledger.w3, "evm_snapshot", [])
    latest = int(call(ledger.w3, "eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    call(ledger.w3, "evm_setTime", [max(int(time.time()), latest + 1)])
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("RINNE_", "ETH_", "CAST_"))}
    environ.update(
        RINNE_HOME=str(tmp_path / "home"),
        RINNE_KEYSTORE_DIR=str(tmp_path / "keys"),
        RINNE_SCRYPT_N="1024",
        RINNE_INSECURE_FAST_KEYS="1",
        RINNE_PASSWORD=PASSWORD,
        ETH_RPC_URL=anvil.rpc_url,
        NO_COLOR="1",
    )
    yield environ
    call(ledger.w3, "evm_revert", [snapshot])


def run(env: dict[str, str], *args: Any, code: int = 0, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [str(RINNE), *map(str, args)],
        env={**env, **(extra_env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == code, f"rinne {' '.join(map(str, args))} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr
    return proc


def data(env: dict[str, str], *args: Any, **kwargs: Any) -> Any:
    return json.loads(run(env, *args, "--json", **kwargs).stdout)


def one_error(proc: subprocess.CompletedProcess[str]) -> str:
    """The single `Error:` line of a failure (notes may precede it), with nothing on stdout."""
    assert proc.stdout == ""
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert [line for line in lines if line.startswith("Error:")] == [lines[-1]], proc.stderr
    return lines[-1]


def cast_new(env: dict[str, str], name: str, password: str) -> str:
    cast = _cast()
    assert cast is not None
    keys = Path(env["RINNE_KEYSTORE_DIR"])
    keys.mkdir(mode=0o700, parents=True, exist_ok=True)
    out = subprocess.run(
        [cast, "wallet", "new", str(keys), name],
        env={**env, "CAST_PASSWORD": password},  # cast's own variable: the password stays out of argv
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "address" not in json.loads((keys / name).read_text())  # cast records none
    return next(line.split()[-1] for line in out.splitlines() if line.startswith("Address:"))


@needs_cast
def test_a_cast_keystore_lists_its_address_once_unlocked(env: dict[str, str], tmp_path: Path) -> None:
    address = cast_new(env, "castnew", "cast pw")
    keys = Path(env["RINNE_KEYSTORE_DIR"])
    assert data(env, "account", "list") == [{"name": "castnew", "address": None}]
    # cast's password convention: ETH_PASSWORD names a password file; cast drops trailing whitespace.
    (tmp_path / "pw").write_text("cast pw  \n")
    cast_env = {"RINNE_PASSWORD": "", "ETH_PASSWORD": str(tmp_path / "pw")}
    shown = data(env, "account", "address", "castnew", extra_env=cast_env)
    assert shown == {"name": "castnew", "address": address, "unlocked": True}
    assert data(env, "account", "list") == [{"name": "castnew", "address": address}]
    assert address in run(env, "account", "list").stdout
    # Known now: no password needed.
    assert data(env, "account", "address", "castnew", extra_env={"RINNE_PASSWORD": ""})["unlocked"] is False

    # The record is the owner's alone, holds no secret, and cast still sees one account.
    record = keys / ".rinne-addresses" / "castnew"
    assert stat.S_IMODE(record.stat().st_mode) == 0o600 and stat.S_IMODE(record.parent.stat().st_mode) == 0o700
    text = record.read_text()
    assert "cast pw" not in text and set(json.loads(text)) == {"address", "keystore_sha256"}
    cast = _cast()
    assert cast is not None
    listed = subprocess.run([cast, "wallet", "list", "--dir", str(keys)], capture_output=True, text=True, timeout=60, check=True)
    assert len(listed.stdout.strip().splitlines()) == 1 and "rinne-addresses" not in listed.stdout

    # Another key under the same name: the old address is not shown for it.
    (keys / "castnew").unlink()
    cast_new(env, "castnew", "cast pw")
    assert data(env, "account", "list") == [{"name": "castnew", "address": None}]

    # A wrong password is one line, and says how to go on.
    wrong = run(env, "account", "address", "castnew", code=1, extra_env={"RINNE_PASSWORD": "nope"})
    assert "rinne account address castnew" in one_error(wrong) and "nope" not in wrong.stderr


@needs_cast
def test_register_fund_and_sign_as_a_cast_keystore(env: dict[str, str]) -> None:
    data(env, "account", "new", "admin", "--fund")
    data(env, "deploy", "--account", "admin", "--yes")
    address = cast_new(env, "castnew", PASSWORD)
    # Never unlocked by Rinne: register unlocks it once to learn its address.
    registered = data(
        env, "party", "register", "castnew", "--roles", "REFINER", "--name", "Cast Refining", "--account", "admin", "--yes"
    )
    assert registered["address"] == address
    assert data(env, "account", "list")[1] == {"name": "castnew", "address": address}

    # Unfunded: one line saying so and how to fund it, not the node's raw message.
    mint = ["lot", "mint", "C-1", "--material", "NiSO4", "--mass", "1t", "--account", "castnew", "--yes"]
    line = one_error(run(env, *mint, code=1))
    assert "has no funds" in line and f"rinne account fund {address}" in line and "Insufficient funds for gas" not in line

    funded = data(env, "account", "fund", "castnew", "--amount", "10eth")
    assert funded == {
        "name": "castnew",
        "address": address,
        "balance_wei": 10 * 10**18,
        "balance_eth": "10",
        "chain_id": 31337,
        "node": "anvil",
    }
    assert data(env, *mint)["lot_id"]
    by_address = run(env, "account", "fund", address.lower(), "--amount", "0.5 ETH").stdout
    assert by_address.strip() == f"{address} now holds 0.5 test ETH on chain 31337 (anvil)"
    for bad, says in (
        ("-5eth", "must be positive"),
        ("1e40eth", "too large"),
        ("1e9999999eth", "too large"),
        ("1e-9999999eth", "not a whole number of wei"),
        ("ten", "not an amount"),
        ("nan", "not an amount"),
        ("\u0661\u0660eth", "not an amount"),  # Arabic-Indic digits, which Decimal would take
    ):
        assert says in one_error(run(env, "account", "fund", "castnew", "--amount", bad, code=2))


class _Geth(BaseHTTPRequestHandler):
    """A node that is no development chain: it answers as geth does and knows no test methods."""

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        results = {"eth_chainId": "0x1", "web3_clientVersion": "Geth/v1.14.0-stable/linux-amd64/go1.22", "net_version": "1"}
        method = request.get("method")
        body: dict[str, Any] = {"jsonrpc": "2.0", "id": request.get("id")}
        if method in results:
            body["result"] = results[method]
        else:
            body["error"] = {"code": -32601, "message": f"the method {method} does not exist/is not available"}
        payload = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


def test_fund_refuses_a_chain_that_is_no_development_node(env: dict[str, str]) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Geth)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        target = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
        line = one_error(run(env, "account", "fund", target, "--rpc-url", url, code=1))
        assert "chain 1 is not a development node" in line and target in line
    finally:
        server.shutdown()
        server.server_close()


def test_the_managed_node_keeps_its_port(env: dict[str, str], tmp_path: Path) -> None:
    managed = {k: v for k, v in env.items() if k != "ETH_RPC_URL"}
    home = Path(managed["RINNE_HOME"])
    try:
        first = data(managed, "node", "start")
        port = first["port"]
        assert (home / "node" / "port").read_text().strip() == str(port)
        assert data(managed, "node", "stop")["stopped"] is True
        # A restart, explicit or on demand, listens where ETH_RPC_URL points already.
        assert data(managed, "node", "start")["port"] == port
        data(managed, "node", "stop")
        data(managed, "account", "new", "someone", "--no-fund")
        assert data(managed, "account", "fund", "someone")["balance_eth"] == "1000"
        assert data(managed, "node", "status")["rpc_url"] == f"http://127.0.0.1:{port}"
        data(managed, "node", "stop")

        # Another program on that port: one clear line, and the recorded port is kept.
        with socket.socket() as squatter:
            squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the stopped node's TIME_WAIT is no listener
            squatter.bind(("127.0.0.1", port))
            squatter.listen()
            line = one_error(run(managed, "node", "start", code=1))
            assert f"port {port}" in line and "taken by another program" in line and "--port" in line
        assert (home / "node" / "port").read_text().strip() == str(port)

        # An explicit --port moves the node, and is kept in its turn.
        other = _node.free_port()
        assert data(managed, "node", "start", "--port", other)["port"] == other
        data(managed, "node", "stop")
        assert data(managed, "node", "start")["port"] == other
    finally:
        _node.stop(home)


@needs_cast
def test_eth_keystore_account_is_the_default_account_as_in_cast(env: dict[str, str], tmp_path: Path) -> None:
    # Foundry's $ETH_KEYSTORE_ACCOUNT names the keystore `--account` defaults to, and $ETH_PASSWORD its password
    # file: one environment set up for cast signs Rinne's writes too. Foundry's own folder, found through HOME.
    home = tmp_path / "user"
    keys = home / ".foundry" / "keystores"
    foundry = {**env, "HOME": str(home), "RINNE_KEYSTORE_DIR": str(keys)}
    data(foundry, "account", "new", "admin", "--fund")
    data(foundry, "deploy", "--account", "admin", "--yes")
    address = cast_new(foundry, "castsigner", "cast signer pw")
    (tmp_path / "pw").write_text("cast signer pw \n")
    cast_env = {"RINNE_PASSWORD": "", "ETH_KEYSTORE_ACCOUNT": "castsigner", "ETH_PASSWORD": str(tmp_path / "pw")}
    cast = _cast()
    assert cast is not None
    # cast itself reads the same two variables the same way.
    by_cast = subprocess.run([cast, "wallet", "address"], env={**foundry, **cast_env}, capture_output=True, text=True, timeout=60)
    assert by_cast.stdout.strip() == address, by_cast.stderr
    data(foundry, "party", "register", address, "--roles", "REFINER", "--name", "Cast Signer", "--account", "admin", "--yes")
    data(foundry, "account", "fund", address)

    # No --account, no $RINNE_ACCOUNT: the write is signed by the cast account.
    minted = data(foundry, "lot", "mint", "EKA-1", "--material", "NiSO4", "--mass", "1t", "--yes", extra_env=cast_env)
    assert Ledger.connect(env["ETH_RPC_URL"], data_dir=Path(env["RINNE_HOME"])).lot("EKA-1").holder == address
    assert minted["lot_id"]
    # The reads that take an account default to it as well.
    assert data(foundry, "transfer", "pending", extra_env=cast_env) == []

    # $RINNE_ACCOUNT wins over Foundry's variable, and --account over both.
    as_admin = {**cast_env, "RINNE_ACCOUNT": "admin", "RINNE_PASSWORD": PASSWORD}
    line = one_error(run(foundry, "lot", "mint", "EKA-2", "--material", "NiSO4", "--mass", "1t", "--yes", code=1, extra_env=as_admin))
    admin = data(foundry, "account", "list")[0]
    assert admin["name"] == "admin" and admin["address"] in line and "lacks the role" in line, line  # admin is no producer
    data(
        foundry,
        "lot",
        "mint",
        "EKA-3",
        "--material",
        "NiSO4",
        "--mass",
        "1t",
        "--account",
        "castsigner",
        "--yes",
        extra_env=as_admin | {"RINNE_PASSWORD": ""},
    )
    assert Ledger.connect(env["ETH_RPC_URL"], data_dir=Path(env["RINNE_HOME"])).lot("EKA-3").holder == address

    # Empty counts as unset, and the usage error names both variables.
    unset = {**cast_env, "ETH_KEYSTORE_ACCOUNT": ""}
    usage = one_error(run(foundry, "lot", "mint", "EKA-4", "--material", "NiSO4", "--mass", "1t", "--yes", code=2, extra_env=unset))
    assert "RINNE_ACCOUNT" in usage and "ETH_KEYSTORE_ACCOUNT" in usage
    # The help says where the default comes from.
    assert "ETH_KEYSTORE_ACCOUNT" in run(foundry, "lot", "mint", "--help").stdout
