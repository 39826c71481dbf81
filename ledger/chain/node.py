"""The managed local node: started on demand on 127.0.0.1, state kept in the data directory.

Anvil by default; Ganache 7.9 and the Hardhat 3 node (npm ``ganache`` and ``hardhat``, pinned in the
repository's package.json) behind the same interface (``engine=``). What differs between them:

* options: each has its own command line (:func:`_anvil_args`, :func:`_ganache_args`, :func:`_hardhat_args`);
* EVM version: the Hardhat node is started on the contracts' own (cancun, :data:`HARDHAT_HARDFORK`);
  Ganache 7.9 knows hardforks up to Shanghai only and is started on that (:data:`GANACHE_HARDFORK`),
  which cannot run all of the contracts: RinneLedger's compiled code uses MCOPY (transform and split
  reach it), and GwpAttestations cannot be built for Shanghai at all (OpenZeppelin 5.4's SignatureChecker
  imports utils/Bytes.sol, whose assembly uses mcopy). On Ganache those calls fail with "invalid opcode";
  registration, minting, bulk mints, offers and transfers work;
* state: Anvil dumps JSON to ``state.json``; Ganache keeps a LevelDB folder (``ganache-db``), written as
  blocks are mined; the Hardhat node keeps no state at all (``persist=False`` only);
* bulk mode (mining on request, large blocks) is Anvil's (:data:`BULK_ARGS`); on the other engines
  it only raises the block gas limit;
* block times: the Hardhat node is told to allow blocks with equal timestamps, as Anvil and Ganache do,
  so that its clock does not run ahead of the wall clock during a burst of transactions.
"""

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

from ledger.errors import NodeError
from ledger.local.files import ensure_private_folder, write_atomic

DEFAULT_CHAIN_ID = 31337
#: Anvil options of a node for bulk imports and benchmarks: it mines only when asked (the library's
#: Sender notices and calls ``evm_mine`` after sending, so many transactions share one block instead
#: of one block each), blocks of 1G gas, and a zero base fee so that full blocks do not drive it up.
#: Fewer, larger blocks keep Anvil fast as the chain grows (with 200M-gas blocks a 1M-event chain took
#: twice as long to make and Anvil stopped answering); the price is that one eth_getLogs response,
#: at least a block, can hold ~70k small events.
BULK_ARGS = ("--no-mining", "--gas-limit", "1000000000", "--block-base-fee-per-gas", "0")
#: The node programs :func:`start` can run.
ENGINES = ("anvil", "ganache", "hardhat")
#: Ganache 7.9's newest hardfork (its choices end there: no Cancun, so no MCOPY or transient storage).
GANACHE_HARDFORK = "shanghai"
#: The Hardhat node's hardfork: the contracts' EVM version (contracts/compiler.json).
HARDHAT_HARDFORK = "cancun"
#: The file in ``<data_dir>/node`` that keeps the managed node's port from one start to the next.
PORT_FILE = "port"


class NodeInfo(BaseModel):
    """Where the managed node listens and which process it is."""

    model_config = ConfigDict(frozen=True)

    pid: int
    port: int
    chain_id: int
    state_file: str
    log_file: str
    #: Which program serves the chain (node.json files written before engines existed are Anvil's).
    engine: str = "anvil"

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


def _find_js(package: str, entry: str, env: str) -> list[str]:
    """The command that runs an npm package's CLI with Node.js: ``$<env>``, else the repo's node_modules."""
    override = os.environ.get(env)
    if override:
        return [override]
    node = shutil.which("node")
    here = Path(__file__).resolve()
    for base in [Path.cwd(), *Path.cwd().parents, *here.parents]:
        script = base / "node_modules" / package / entry
        if script.exists():
            if not node:
                raise NodeError(f"{package} needs Node.js: install `node` (it runs the pinned {package} in {script.parent})")
            return [node, str(script)]
    raise NodeError(f"{package} not found: run `npm ci` in the Rinne checkout, or set {env} to its command")


def find_ganache() -> list[str]:
    """The command of the pinned Ganache: $RINNE_GANACHE, else node_modules/ganache run by `node`."""
    return _find_js("ganache", "dist/node/cli.js", "RINNE_GANACHE")


def find_hardhat() -> list[str]:
    """The command of the pinned Hardhat CLI: $RINNE_HARDHAT, else node_modules/hardhat run by `node`."""
    return _find_js("hardhat", "dist/src/cli.js", "RINNE_HARDHAT")


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
    engine: str = "anvil",
) -> NodeInfo:
    """Start the managed node (or return the one already running for this data directory).

    `engine` is one of :data:`ENGINES`. Anvil's chain state is loaded from and saved to
    ``<data_dir>/node/state.json`` (on SIGTERM and every few seconds), Ganache's to the LevelDB folder
    ``<data_dir>/node/ganache-db``, so a local ledger survives restarts; the Hardhat node keeps none
    (start it with ``persist=False``). With `bulk`, Anvil is started with :data:`BULK_ARGS` (mining on
    request, large blocks): fastest for imports, for one user. `extra_args` go to the engine as they are.

    The node keeps its port: the first start takes `port` or a free one and records it in
    ``<data_dir>/node/port`` (:func:`recorded_port`); later starts without `port` reuse it, and fail with
    a one-line :class:`~ledger.errors.NodeError` if another program holds it. A given `port` is recorded in its place.
    """
    if engine not in ENGINES:
        raise NodeError(f"unknown node engine {engine!r}: choose one of {', '.join(ENGINES)}")
    if engine == "hardhat" and persist:
        raise NodeError("the Hardhat node keeps no chain state between runs: start it with persist=False")
    data_dir = Path(data_dir or default_data_dir())
    running = status(data_dir)
    if running:
        return running
    node_dir = _node_dir(data_dir)
    ensure_private_folder(data_dir)
    node_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    port = _choose_port(node_dir, port)
    state_file = node_dir / ("ganache-db" if engine == "ganache" else "state.json")
    log_file = node_dir / f"{engine}.log"
    # A state file saved while a block was being mined can hold that block's state without the block.
    check = engine == "anvil" and persist and state_file.exists()
    cwd = None
    if engine == "anvil":
        args = _anvil_args(port, chain_id, state_file if persist else None, block_time, bulk)
    elif engine == "ganache":
        args = _ganache_args(port, chain_id, state_file if persist else None, block_time, bulk)
    else:
        args = _hardhat_args(port, chain_id)
        cwd = _hardhat_project(node_dir, chain_id, block_time, bulk, args[:2])
    args += extra_args or []
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(
            args,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=_node_env(),
            cwd=cwd,
        )
    info = NodeInfo(pid=proc.pid, port=port, chain_id=chain_id, state_file=str(state_file), log_file=str(log_file), engine=engine)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_file.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise NodeError(f"{engine} exited with code {proc.returncode}: {tail[0]} (log: {log_file})")
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
    proc.wait()
    raise NodeError(f"{engine} did not answer on {info.rpc_url} within {timeout:.0f} s (log: {log_file})")


def recorded_port(data_dir: Path | None = None) -> int | None:
    """The port the managed node of `data_dir` was last started on (``<data_dir>/node/port``), or None."""
    try:
        text = (_node_dir(data_dir or default_data_dir()) / PORT_FILE).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() and 0 < int(text) < 65536 else None


def _port_taken(port: int) -> bool:
    # SO_REUSEADDR as the engines bind (tokio and Node.js set it): a just-stopped node's TIME_WAIT
    # connections do not count, a listener does.
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _choose_port(node_dir: Path, port: int | None) -> int:
    """The port to start on: `port` if given, else the recorded one, else a free one; recorded for next time.

    The managed node keeps its port across restarts so that an exported ``ETH_RPC_URL`` stays valid.
    """
    recorded = recorded_port(node_dir.parent)
    chosen = port or recorded or free_port()
    if _port_taken(chosen):
        if port is None and recorded is not None:
            raise NodeError(
                f"port {chosen}, where this data directory's node always listens (recorded in {node_dir / PORT_FILE}), "
                "is taken by another program: stop that program, or choose another port with --port (ETH_RPC_URL then changes)"
            )
        raise NodeError(f"port {chosen} is already in use by another program: choose another with --port")
    if chosen != recorded:
        write_atomic(node_dir / PORT_FILE, f"{chosen}\n".encode(), mode=0o600)
    return chosen


def _anvil_args(port: int, chain_id: int, state_file: Path | None, block_time: float | None, bulk: bool) -> list[str]:
    args = [find_anvil(), "--host", "127.0.0.1", "--port", str(port), "--chain-id", str(chain_id)]
    if state_file:
        args += ["--state", str(state_file), "--state-interval", "2"]
    if block_time:
        args += ["--block-time", str(block_time)]
    if bulk:
        args += list(BULK_ARGS)
    return args


def _ganache_args(port: int, chain_id: int, db_dir: Path | None, block_time: float | None, bulk: bool) -> list[str]:
    # No generated accounts (the library funds its own with evm_setAccountBalance); JSON-RPC logging off:
    # Ganache logs every request, which would grow the log by megabytes during an import.
    args = [
        *find_ganache(),
        "--server.host",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--chain.chainId",
        str(chain_id),
        "--chain.hardfork",
        GANACHE_HARDFORK,
        "--wallet.totalAccounts",
        "0",
        "--logging.quiet",
        "--miner.blockGasLimit",
        hex(1_000_000_000 if bulk else 30_000_000),
    ]
    if bulk:  # eth_call and eth_estimateGas are capped at 50M gas by default; a bulk batch may use a block's
        args += ["--miner.callGasLimit", hex(1_000_000_000)]
    if db_dir:
        db_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        args += ["--database.dbPath", str(db_dir)]
    if block_time:
        args += ["--miner.blockTime", str(block_time)]
    return args


def _hardhat_project(node_dir: Path, chain_id: int, block_time: float | None, bulk: bool, cli: list[str]) -> Path:
    """Write the minimal Hardhat 3 project `hardhat node` needs: an ESM package.json, a config, and a
    node_modules link to the folder that holds the pinned Hardhat (it refuses to run from elsewhere)."""
    project = node_dir / "hardhat"
    project.mkdir(parents=True, exist_ok=True, mode=0o700)
    modules = project / "node_modules"
    script = Path(cli[-1]).resolve()
    if script.name == "cli.js" and script.parents[2].name == "hardhat" and not modules.exists():
        modules.symlink_to(script.parents[3], target_is_directory=True)
    (project / "package.json").write_text(json.dumps({"name": "rinne-hardhat-node", "private": True, "type": "module"}))
    network = {
        "type": "edr-simulated",
        "chainType": "l1",
        "chainId": chain_id,
        "hardfork": HARDHAT_HARDFORK,
        "blockGasLimit": 1_000_000_000 if bulk else 30_000_000,
        # Hardhat otherwise gives every block a timestamp one second past the last: a burst of transactions
        # runs the chain's clock ahead of the wall clock, and an attestation signed "now" (issued-at from the
        # wall clock) then predates the verifier's registration. Anvil and Ganache allow equal timestamps.
        "allowBlocksWithSameTimestamp": True,
    }
    if block_time:
        network["mining"] = {"auto": False, "interval": round(block_time * 1000)}
    (project / "hardhat.config.js").write_text(
        "// Written by ledger/chain/node.py for `hardhat node`: one simulated network, the contracts' hardfork.\n"
        f"export default {json.dumps({'networks': {'node': network}})};\n"
    )
    return project


def _hardhat_args(port: int, chain_id: int) -> list[str]:
    return [*find_hardhat(), "node", "--hostname", "127.0.0.1", "--port", str(port), "--chain-id", str(chain_id)]


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
        if info.engine == "anvil":
            _rpc(info.rpc_url, "evm_setIntervalMining", [0])
            _rpc(info.rpc_url, "evm_setAutomine", [False])
            time.sleep(0.3)
        elif info.engine == "ganache":
            _rpc(info.rpc_url, "miner_stop", [])  # its database is written block by block: no dump to wait for
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
