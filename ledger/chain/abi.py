"""Artifacts shipped as package data, and fast ABI encoding/decoding without web3's contract layer."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from ledger import errors
from ledger.domain.hashing import keccak

# eth-abi (with eth-utils, about 0.1 s) is imported by the first encode or decode, not with the module: the
# artifacts, selectors and topics are what the web3-free reads (ledger/client/light.py) need of this module.


def abi_encode(types: list[str], args: list[Any]) -> bytes:
    """eth-abi's ``encode``, imported on first use."""
    from eth_abi import encode

    return encode(types, args)


def abi_decode(types: list[str], data: bytes) -> tuple[Any, ...]:
    """eth-abi's ``decode``, imported on first use."""
    from eth_abi import decode

    return decode(types, data)


ARTIFACT_DIR = Path(__file__).resolve().parent.parent / "artifacts"

#: The EVM versions the contracts are compiled for (contracts/compiler.json): the first is the main build
#: (ledger/artifacts/<Name>.json), each other one a build of the same sources with the same ABI
#: (ledger/artifacts/<evm>/<Name>.json) for nodes without the main one's opcodes (Shanghai: no MCOPY).
EVM_BUILDS = ("cancun", "shanghai")


@cache
def artifact(name: str, evm: str = EVM_BUILDS[0]) -> dict[str, Any]:
    """Return the compiled artifact (ABI, bytecode, compiler settings) of a contract, for EVM build `evm`."""
    if evm not in EVM_BUILDS:
        raise errors.ConfigError(f"no {evm} build of the contracts: the builds are {', '.join(EVM_BUILDS)}")
    path = (ARTIFACT_DIR if evm == EVM_BUILDS[0] else ARTIFACT_DIR / evm) / f"{name}.json"
    try:
        art: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        raise errors.ConfigError(f"no artifact for {name} in {ARTIFACT_DIR}: run `node scripts/compile.mjs`") from None
    return art


def _canonical(param: dict[str, Any]) -> str:
    t: str = param["type"]
    if t.startswith("tuple"):
        return "(" + ",".join(_canonical(c) for c in param["components"]) + ")" + t[len("tuple") :]
    return t


class Function:
    """One contract function: selector, input/output types, and a fast encoder."""

    __slots__ = ("name", "inputs", "outputs", "selector", "signature")

    def __init__(self, entry: dict[str, Any]) -> None:
        self.name: str = entry["name"]
        self.inputs = [_canonical(p) for p in entry["inputs"]]
        self.outputs = [_canonical(p) for p in entry.get("outputs", [])]
        self.signature = f"{self.name}({','.join(self.inputs)})"
        self.selector = keccak(self.signature.encode())[:4]

    def encode(self, *args: Any) -> bytes:
        """Encode a call: selector followed by the ABI-encoded arguments."""
        return self.selector + abi_encode(self.inputs, list(args))

    def decode_output(self, data: bytes) -> tuple[Any, ...]:
        """Decode the return data of a call."""
        return tuple(abi_decode(self.outputs, data))


class Event:
    """One event: topic0 and the layout of its topics and data."""

    __slots__ = ("name", "topic0", "indexed", "data_types", "data_names", "indexed_names")

    def __init__(self, entry: dict[str, Any]) -> None:
        self.name: str = entry["name"]
        types = [_canonical(p) for p in entry["inputs"]]
        self.topic0 = keccak(f"{self.name}({','.join(types)})".encode())
        self.indexed = [(p["name"], _canonical(p)) for p in entry["inputs"] if p["indexed"]]
        self.indexed_names = [n for n, _ in self.indexed]
        self.data_types = [_canonical(p) for p in entry["inputs"] if not p["indexed"]]
        self.data_names = [p["name"] for p in entry["inputs"] if not p["indexed"]]

    def decode(self, topics: list[bytes], data: bytes) -> dict[str, Any]:
        """Decode a raw log of this event into a name → value mapping."""
        out: dict[str, Any] = {}
        for (name, t), topic in zip(self.indexed, topics[1:]):
            out[name] = abi_decode([t], topic)[0] if t != "bytes32" else topic
        for name, value in zip(self.data_names, abi_decode(self.data_types, data)):
            out[name] = value
        return out


class ContractAbi:
    """Functions, events and errors of one artifact, indexed for fast lookup."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.abi = artifact(name)["abi"]
        self.functions = {e["name"]: Function(e) for e in self.abi if e["type"] == "function"}
        self.events = {e["name"]: Event(e) for e in self.abi if e["type"] == "event"}
        self.events_by_topic = {ev.topic0: ev for ev in self.events.values()}

    def fn(self, name: str) -> Function:
        """Return the function called `name`."""
        return self.functions[name]


@cache
def contract_abi(name: str) -> ContractAbi:
    """Return the indexed ABI of a contract artifact."""
    return ContractAbi(name)


ARTIFACT_NAMES = ("RinneLedger", "GwpAttestations", "VaultKeys", "ERC1271WalletMock")


@cache
def _error_map() -> dict[bytes, tuple[str, list[str], list[str]]]:
    found: dict[bytes, tuple[str, list[str], list[str]]] = {}
    for name in ARTIFACT_NAMES:
        for e in artifact(name)["abi"]:
            if e["type"] != "error":
                continue
            types = [_canonical(p) for p in e["inputs"]]
            selector = keccak(f"{e['name']}({','.join(types)})".encode())[:4]
            found[selector] = (e["name"], types, [p["name"] for p in e["inputs"]])
    return found


def custom_error_names() -> set[str]:
    """Return the names of every custom error declared by the shipped contracts."""
    return {name for name, _, _ in _error_map().values()}


_ERROR_STRING = keccak(b"Error(string)")[:4]
_PANIC = keccak(b"Panic(uint256)")[:4]


def decode_revert(data: bytes) -> errors.ContractRevert:
    """Turn revert data into a named ContractRevert (custom errors, Error(string), Panic)."""
    selector, body = data[:4], data[4:]
    if selector in _error_map():
        name, types, names = _error_map()[selector]
        try:
            values = abi_decode(types, body)
        except Exception:  # malformed data from a foreign contract: keep the name, drop the args
            values = ()
        inputs = {n or f"arg{i}": _plain(v) for i, (n, v) in enumerate(zip(names, values))}
        return errors.revert_class(name)(name, inputs)
    if selector == _ERROR_STRING:
        (reason,) = abi_decode(["string"], body)
        return errors.revert_class("Error")("Error", {"reason": reason}, f"reverted: {reason}")
    if selector == _PANIC:
        (code,) = abi_decode(["uint256"], body)
        return errors.revert_class("Panic")("Panic", {"code": code}, f"panic 0x{code:02x} (arithmetic or assertion failure)")
    return errors.revert_class("UnknownRevert")("UnknownRevert", {"data": data}, f"reverted with unknown data 0x{data.hex()}")


def _plain(value: Any) -> Any:
    if isinstance(value, bytes) and len(value) == 32:
        return "0x" + value.hex()
    return value
