"""Reading lots without web3 or eth-account: :class:`LedgerReader`, and the lot read :class:`ledger.Ledger` shares.

A read-only command (`rinne lot show`) needs four JSON-RPC exchanges: the chain id, the deployment check
(one batch, :func:`ledger.chain.trust.verify_deployment`), the lot, and its latest event. Importing web3
and eth-account for them costs more than the exchanges (issue 16): this module talks to the node through
:class:`ledger.chain._jsonrpc.JsonRpc` and decodes the artifacts' ABI (ledger/chain/abi.py) with
:func:`decode_static` (static words only: no eth-abi), so the answers and the checks are the ones
:class:`ledger.Ledger` gives, from the same code (:func:`read_lot`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from typing_extensions import Self

from ledger import errors
from ledger.chain import node as _node
from ledger.chain._jsonrpc import JsonRpc
from ledger.chain.abi import contract_abi
from ledger.chain.trust import verify_deployment
from ledger.domain.composition import Composition
from ledger.domain.enums import LotState
from ledger.domain.ids import hex_of, id_bytes, label_of
from ledger.domain.models import Deployment, Lot
from ledger.local.deployments import load_deployment

#: One JSON-RPC request: (method, params) -> result, raising the library's errors.
RpcCall = Callable[[str, list[Any]], Any]

_LEDGER_ABI = contract_abi("RinneLedger")

_ARRAY = re.compile(r"^(.+)\[(\d+)\]$")


def _split(inner: str) -> list[str]:
    """The top-level components of a tuple type's inside: "uint256[2],(a,b)" -> ["uint256[2]", "(a,b)"]."""
    parts, depth, start = [], 0, 0
    for i, c in enumerate(inner):
        depth += (c == "(") - (c == ")")
        if c == "," and depth == 0:
            parts.append(inner[start:i])
            start = i + 1
    return [*parts, inner[start:]] if inner else parts


def decode_static(t: str, data: bytes, pos: int = 0) -> tuple[Any, int]:
    """Decode a value of the static ABI type `t` at word offset `pos`; return it and the next offset.

    What eth-abi's strict decoder returns for these types (lowercase 0x addresses, tuples for tuples and
    fixed arrays), without importing it: the lot read's layouts are static words only. A word a type cannot
    hold (dirty padding, a bool of 2) is refused as eth-abi refuses it, so a faulty or hostile node's answer
    cannot pass as another value. Dynamic types (bytes, string, T[]) are not supported here.
    """
    if t.startswith("(") and t.endswith(")"):
        values = []
        for part in _split(t[1:-1]):
            value, pos = decode_static(part, data, pos)
            values.append(value)
        return tuple(values), pos
    array = _ARRAY.match(t)
    if array:
        items = []
        for _ in range(int(array.group(2))):
            item, pos = decode_static(array.group(1), data, pos)
            items.append(item)
        return tuple(items), pos
    word = data[pos : pos + 32]
    if len(word) != 32:
        raise errors.ChainError(f"malformed ABI data: {len(data)} bytes is too short for {t} at byte {pos}")
    n = int.from_bytes(word, "big")
    if t == "bytes32":
        return word, pos + 32
    if t == "address" and n >> 160 == 0:
        return "0x" + word[12:].hex(), pos + 32
    if t == "bool" and n in (0, 1):
        return bool(n), pos + 32
    if t.startswith("uint") and t[4:].isdigit():
        if n >> int(t[4:]) == 0:
            return n, pos + 32
    elif t not in ("address", "bool"):
        raise errors.ChainError(f"decode_static has no decoder for the ABI type {t}")
    raise errors.ChainError(f"malformed ABI data: the word at byte {pos} is no {t} (0x{word.hex()})")


def _decode_all(types: list[str], data: bytes) -> tuple[Any, ...]:
    values, _ = decode_static("(" + ",".join(types) + ")", data)
    return tuple(values)


def _decode_log(ev: Any, topics: list[bytes], data: bytes) -> dict[str, Any]:
    """An event's name -> value mapping, as :meth:`ledger.chain.abi.Event.decode` gives it (static types only)."""
    if len(topics) != 1 + len(ev.indexed):
        raise errors.ChainError(f"malformed {ev.name} log: {len(topics)} topics, expected {1 + len(ev.indexed)}")
    out = {name: decode_static(t, topic)[0] for (name, t), topic in zip(ev.indexed, topics[1:])}
    out.update(zip(ev.data_names, _decode_all(ev.data_types, data)))
    return out


def read_lot(rpc: RpcCall, deployment: Deployment, lot_id: str, *, with_composition: bool = True) -> Lot:
    """Return a lot's stored state, with material and composition from its latest event, read through `rpc`."""
    bid = id_bytes(lot_id)
    f = _LEDGER_ABI.fn("lot")
    # The call is the selector and one bytes32 word, so eth-abi is not needed to encode it either.
    if len(bid) > 32:
        raise errors.InvalidInput(f"a lot id has at most 32 bytes, got {len(bid)}")
    raw = rpc("eth_call", [{"to": deployment.ledger, "data": hex_of(f.selector + bid.ljust(32, b"\0"))}, "latest"])
    holder, state, kind, epoch, updated, offered, current, mass, commit = _decode_all(f.outputs, bytes.fromhex(raw[2:]))[0]
    material = comp = None
    if with_composition and state != LotState.NONE:
        material, comp = _lot_content(rpc, deployment, bid, updated)
    return Lot(
        lot_id=hex_of(bid),
        holder=holder,
        state=state,
        kind=kind,
        epoch=epoch,
        updated_block=updated,
        offered_to=None if int(offered, 16) == 0 else offered,
        offer_current=current,
        mass=mass,
        commitment=hex_of(commit),
        material=material,
        composition=comp,
    )


def _lot_content(rpc: RpcCall, deployment: Deployment, lot_id: bytes, block: int) -> tuple[str, Composition]:
    created, updated = _LEDGER_ABI.events["LotCreated"], _LEDGER_ABI.events["LotUpdated"]
    # The stored lot names the block of its latest change: the event there carries material and composition.
    # Only logs of this deployment's ledger are asked for, so another contract's look-alike event cannot answer.
    logs = rpc(
        "eth_getLogs",
        [
            {
                "address": deployment.ledger,
                "fromBlock": hex(block),
                "toBlock": hex(block),
                "topics": [[hex_of(created.topic0), hex_of(updated.topic0)], hex_of(lot_id)],
            }
        ],
    )
    if not logs:
        raise errors.ChainError(
            f"no LotCreated/LotUpdated event for {label_of(lot_id)} in block {block}: is the node pruning history?"
        )
    log = logs[-1]
    topics = [bytes.fromhex(t[2:]) for t in log["topics"]]
    data = bytes.fromhex(log["data"][2:])
    ev = _decode_log(created if topics[0] == created.topic0 else updated, topics, data)
    return hex_of(ev["material"]), Composition.from_words(ev["composition"])


class LedgerReader:
    """A read-only view of a Rinne deployment that never imports web3 or eth-account.

    ``connect`` takes the arguments :meth:`ledger.Ledger.connect` takes for reading (and the same chain-id
    guard and recorded deployment); :meth:`check_deployment` is the same check; :meth:`lot` the same read.
    Anything else (writes, the event index, attestations) needs a :class:`ledger.Ledger`.
    """

    def __init__(self, rpc: JsonRpc, chain_id: int, deployment: Deployment | None = None, *, data_dir: Path | None = None) -> None:
        self.rpc = rpc
        self.chain_id = chain_id
        self.deployment = deployment
        self.data_dir = Path(data_dir or _node.default_data_dir())

    def __repr__(self) -> str:
        return f"LedgerReader(chain {self.chain_id}, {self.rpc.url})"

    @classmethod
    def connect(
        cls,
        rpc_url: str | None = None,
        *,
        chain_id: int | None = None,
        data_dir: Path | str | None = None,
        port: int | None = None,
        deployment: Deployment | None = None,
        timeout: float = 60.0,
    ) -> Self:
        """Connect to `rpc_url`, or to the managed local Anvil node (started on demand) when it is None.

        `chain_id` guards against the wrong chain (:class:`~ledger.errors.WrongChain`); the recorded
        deployment for the chain is loaded from the data directory when there is one.
        """
        data_dir = Path(data_dir or _node.default_data_dir())
        if rpc_url is None:
            rpc_url = _node.start(data_dir, port=port).rpc_url
        rpc = JsonRpc(rpc_url, timeout=timeout)
        actual = int(rpc.request("eth_chainId", []), 16)
        if chain_id is not None and actual != chain_id:
            raise errors.WrongChain(f"{rpc_url} serves chain {actual}, expected {chain_id}")
        return cls(rpc, actual, deployment or load_deployment(data_dir, actual), data_dir=data_dir)

    def _deployment(self) -> Deployment:
        if self.deployment is None:
            raise errors.NotDeployed(f"no Rinne deployment recorded for chain {self.chain_id}: run `rinne deploy` first")
        return self.deployment

    def check_deployment(self) -> Deployment:
        """Return the deployment after checking that the chain holds the shipped contracts there, wired to each other
        (as :meth:`ledger.Ledger.check_deployment` does)."""
        d = self._deployment()
        verify_deployment(self.rpc, d)
        return d

    def lot(self, lot_id: str, *, with_composition: bool = True) -> Lot:
        """Return a lot's stored state, with material and composition from its latest event."""
        return read_lot(self.rpc.request, self._deployment(), lot_id, with_composition=with_composition)

    def close(self) -> None:
        """Close the connection to the node."""
        self.rpc.close()
