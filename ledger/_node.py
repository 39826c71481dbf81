"""The managed local Anvil node: started on demand on 127.0.0.1, state kept in the data directory."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from ledger._deployments import _private_dir
from ledger.errors import NodeError

DEFAULT_CHAIN_ID = 31337
#: Anvil options of a node for bulk imports and benchmarks: it mines only when asked (the library's
#: Sender notices and calls ``evm_mine`` after sending, so many transactions share one block instead
#: of one block each), blocks of 1G gas, and a zero base fee so that full blocks do not drive it up.
#: Fewer, larger blocks keep Anvil fast as the chain grows (with 200M-gas blocks a 1M-event chain took
#: twice as long to make and Anvil stopped answering); the price is that one eth_getLogs response,
#: at least a block, can hold ~70k small events.
BULK_ARGS = ("--no-mining", "--gas-limit", "1000000000", "--block-base-fee-per-gas", "0")


class NodeInfo(BaseModel):
    """Where the managed node listens and which process it is."""

    model_config = ConfigDict(frozen=True)

    pid: int
    port: int
    chain_id: int
    state_file: str
    log_file: str

    @property
    def rpc_url(self) -> str:
        """The node's JSON-RPC URL."""
        return f"http://127.0.0.1:{self.port}"


def default_data_dir() -> Path:
    """Return the data directory: $RINNE_HOME, else ~/.rinne."""
    return Path(os.environ.get("RINNE_HOME") or Path.home() / ".rinne")


def find_anvil() -> str:
    """Locate the pinned anvil binary: $RINNE_ANVIL, the repo's node_modules, then PATH."""
    env = os.environ.get("RINNE_ANVIL")
    if env:
        return env
    here = Path(__file__).resolve()
    for base in [Path.cwd(), *Path.cwd().parents, *here.parents]:
        for candidate in (
            base / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil",
            base / "node_modules" / ".bin" / "anvil",
        ):
            if candidate.exists():
                return str(candidate)
    found = shutil.which("anvil")
    if found:
        return found
    raise NodeError("anvil not found: run `npm ci` in the Rinne checkout, or set RINNE_ANVIL to an anvil binary")


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rpc_answers(url: str, timeout: float = 1.0) -> int | None:
    """Return the chain id served at `url`, or None when nothing answers."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return int(json.loads(resp.read())["result"], 16)
    except Exception:
        return None


def _node_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "node"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def status(data_dir: Path | None = None) -> NodeInfo | None:
    """Return the running managed node of `data_dir`, or None."""
    info_file = _node_dir(data_dir or default_data_dir()) / "node.json"
    if not info_file.exists():
        return None
    try:
        info = NodeInfo.model_validate_json(info_file.read_text())
    except ValueError:
        return None
    if _alive(info.pid) and rpc_answers(info.rpc_url) == info.chain_id:
        return info
    return None


def start(
    data_dir: Path | None = None,
    *,
    port: int | None = None,
    chain_id: int = DEFAULT_CHAIN_ID,
    block_time: float | None = None,
    persist: bool = True,
    timeout: float = 30.0,
    extra_args: list[str] | None = None,
    bulk: bool = False,
) -> NodeInfo:
    """Start the managed Anvil node (or return the one already running for this data directory).

    The chain state is loaded from and saved to ``<data_dir>/node/state.json`` (on SIGTERM and every
    few seconds), so a local ledger survives restarts. With `bulk`, the node is started with
    :data:`BULK_ARGS` (mining on request, large blocks): fastest for imports, for one user.
    """
    data_dir = Path(data_dir or default_data_dir())
    running = status(data_dir)
    if running:
        return running
    node_dir = _node_dir(data_dir)
    _private_dir(data_dir)
    node_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    port = port or free_port()
    if rpc_answers(f"http://127.0.0.1:{port}") is not None:
        raise NodeError(f"port {port} is already in use by another node: choose another with --port")
    state_file = node_dir / "state.json"
    log_file = node_dir / "anvil.log"
    # A state file saved while a block was being mined can hold that block's state without the block.
    check = persist and state_file.exists()
    args = [find_anvil(), "--host", "127.0.0.1", "--port", str(port), "--chain-id", str(chain_id)]
    if persist:
        args += ["--state", str(state_file), "--state-interval", "2"]
    if block_time:
        args += ["--block-time", str(block_time)]
    if bulk:
        args += list(BULK_ARGS)
    args += extra_args or []
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, env=_node_env()
        )
    info = NodeInfo(pid=proc.pid, port=port, chain_id=chain_id, state_file=str(state_file), log_file=str(log_file))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_file.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise NodeError(f"anvil exited with code {proc.returncode}: {tail[0]} (log: {log_file})")
        if rpc_answers(info.rpc_url, timeout=0.5) == chain_id:
            problem = _state_ahead_of_blocks(info.rpc_url) if check else None
            if problem:
                proc.kill()
                proc.wait()
                raise NodeError(
                    f"the chain in {state_file} is inconsistent: {problem}. Anvil saved the "
                    "state of a block it had not saved yet (its periodic dump raced the miner): that block's events are "
                    f"gone but its effects remain, so the ledger cannot be audited. Move {state_file} aside and start a "
                    "new ledger, or restore a backup"
                )
            (node_dir / "node.json").write_text(info.model_dump_json())
            return info
        time.sleep(0.1)
    proc.kill()
    raise NodeError(f"anvil did not answer on {info.rpc_url} within {timeout:.0f} s (log: {log_file})")


_SECRET_ENV_WORDS = ("PASSWORD", "PASSPHRASE", "PRIVATE_KEY", "SECRET", "MNEMONIC")


def _node_env() -> dict[str, str]:
    """The environment for the long-lived node: ours without secrets (RINNE_PASSWORD and the like),
    which would otherwise sit in /proc/<pid>/environ for as long as the node runs."""
    return {k: v for k, v in os.environ.items() if not any(w in k.upper() for w in _SECRET_ENV_WORDS)}


def _rpc(url: str, method: str, params: list[object]) -> object:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read()).get("result")


def _state_ahead_of_blocks(url: str, depth: int = 64) -> str | None:
    """After a node was killed: whether its reloaded state holds transactions its reloaded blocks lack.

    Every account that sent one of the last `depth` blocks' transactions must have, by its state,
    sent exactly up to the last of them; a higher nonce means the state includes a lost block.
    """
    try:
        head = int(str(_rpc(url, "eth_blockNumber", [])), 16)
        last: dict[str, int] = {}
        for n in range(head, max(-1, head - depth), -1):
            block = _rpc(url, "eth_getBlockByNumber", [hex(n), True])
            for tx in block.get("transactions", []) if isinstance(block, dict) else []:
                sender = str(tx["from"]).lower()
                last[sender] = max(last.get(sender, -1), int(tx["nonce"], 16))
        for sender, nonce in last.items():
            sent = int(str(_rpc(url, "eth_getTransactionCount", [sender, "latest"])), 16)
            if sent > nonce + 1:
                return f"account {sender} has sent {sent} transactions by its state, but the blocks hold only {nonce + 1}"
    except (OSError, ValueError, KeyError, TypeError):
        return None  # the check could not run; the node answers, so let it be used
    return None


def stop(data_dir: Path | None = None, *, timeout: float = 30.0) -> bool:
    """Stop the managed node gracefully (it saves its state on SIGTERM). Return False if none ran."""
    data_dir = Path(data_dir or default_data_dir())
    info_file = _node_dir(data_dir) / "node.json"
    info = status(data_dir)
    if info is None:
        info_file.unlink(missing_ok=True)
        return False
    # Stop mining first: a state saved while a block is being mined can hold that block's state
    # without the block (Anvil 1.7.1). Transactions still in the pool are not saved either way.
    try:
        _rpc(info.rpc_url, "evm_setIntervalMining", [0])
        _rpc(info.rpc_url, "evm_setAutomine", [False])
        time.sleep(0.3)
    except (OSError, ValueError):
        pass
    os.kill(info.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(info.pid):
        _reap(info.pid)
        time.sleep(0.05)
    if _alive(info.pid):
        os.kill(info.pid, signal.SIGKILL)
    info_file.unlink(missing_ok=True)
    return True


def _reap(pid: int) -> None:
    # The node may be our own child (started in this process): collect it so it does not linger as a zombie.
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
