"""Start-up: py_ecc's BLS12-381 modules and aiohttp, loaded on first use instead of by web3's import.

web3 imports eth-account, which imports eth-keyfile, which imports ``py_ecc.bls`` and ``py_ecc.bls12_381``
at module level for EIP-2335 (version 4, BLS) keystores; those modules compute pairing constants in pure
Python when imported, about 0.45 s of every command that builds a Ledger (`rinne lot show` no longer does:
ledger.LedgerReader reads without web3; issue 16). Rinne's keystores are version 3 (scrypt, secp256k1): nothing in the CLI uses BLS.

:func:`install` puts a stand-in for each of the two modules in ``sys.modules``. eth-keyfile binds
``G2ProofOfPossession`` from the first and ``curve_order`` (an integer, used at import) from the second;
the stand-ins give a forwarding object and the exact integer for these, and load the real module the
moment anything else is asked of them (``tests/cli/test_deferred.py`` checks the integer against py_ecc
and a BLS keystore round trip through the forwarder). Only the CLI installs it: a library user's process
is not changed.

web3 also imports aiohttp (with asyncio's HTTP client stack) at module level, for its asynchronous
providers; the CLI talks to nodes through the synchronous HTTP provider only, and the import is about a
fifth of a chain command's start. The stand-in answers the five names web3 binds (``ClientError``,
``ClientResponse``, ``ClientSession``, ``ClientTimeout``, ``TCPConnector``) with placeholder classes:
making one, or asking the module for anything else, loads the real aiohttp, and every placeholder
that a web3 module bound is then replaced by the real class, so that an ``except ClientError`` or an
``isinstance`` after that point means what it says.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

#: The order of BLS12-381's G1 and G2 groups (py_ecc.bls12_381.curve_order).
BLS12_381_CURVE_ORDER = 52435875175126190479447740508185965837690552500527637822603658699938581184513


def _load(name: str) -> types.ModuleType:
    """The real module `name`, imported now if only the stand-in is there."""
    current = sys.modules.get(name)
    if isinstance(current, _StandIn):
        del sys.modules[name]
        real = importlib.import_module(name)
        parent, _, child = name.rpartition(".")
        if parent in sys.modules:
            setattr(sys.modules[parent], child, real)
        _rebind(current, real)
        return real
    return importlib.import_module(name)


def _rebind(stand_in: _StandIn, real: types.ModuleType) -> None:
    """Point every module that imported one of the stand-in's placeholder classes at the real class."""
    swap = {id(v): getattr(real, k) for k, v in vars(stand_in).items() if isinstance(v, type) and getattr(v, "_deferred", False)}
    if not swap:
        return
    for module in list(sys.modules.values()):
        names = getattr(module, "__dict__", None)
        if not isinstance(names, dict):
            continue
        for k, v in list(names.items()):
            if id(v) in swap:
                names[k] = swap[id(v)]


def _placeholder(module: str, name: str, base: type) -> type:
    """A class standing for `module`.`name`: making one makes the real one (and loads the module)."""

    def __new__(cls: type, *args: Any, **kwargs: Any) -> Any:
        return getattr(_load(module), name)(*args, **kwargs)

    return type(name, (base,), {"__new__": __new__, "__module__": module, "_deferred": True})


class _Forward:
    """An attribute of a deferred module, resolved (and the module loaded) when it is first used."""

    def __init__(self, module: str, attr: str) -> None:
        self._target = (module, attr)

    def _real(self) -> Any:
        module, attr = self._target
        return getattr(_load(module), attr)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real(), name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._real()(*args, **kwargs)


class _StandIn(types.ModuleType):
    """A module that answers a few names itself and loads the real module for any other."""

    def __init__(self, name: str, forwards: tuple[str, ...], values: dict[str, Any], classes: tuple[str, ...] = ()) -> None:
        super().__init__(name)
        for attr in forwards:
            setattr(self, attr, _Forward(name, attr))
        for attr, value in values.items():
            setattr(self, attr, value)
        for attr in classes:
            setattr(self, attr, _placeholder(name, attr, Exception if attr.endswith("Error") else object))

    def __getattr__(self, attr: str) -> Any:
        # The import system asks a module for __path__ and __spec__ on every `from m import x`: answering
        # those from the real module would load it there and then, so dunder names are simply absent here.
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        return getattr(_load(self.__name__), attr)


#: The names web3's modules import from aiohttp when they are imported (all used only by its async providers).
AIOHTTP_NAMES = ("ClientError", "ClientResponse", "ClientSession", "ClientTimeout", "TCPConnector")


def install() -> None:
    """Defer ``py_ecc.bls``, ``py_ecc.bls12_381`` and ``aiohttp`` unless something imported them already."""
    for name, forwards, values in (
        ("py_ecc.bls", ("G2ProofOfPossession",), {}),
        ("py_ecc.bls12_381", (), {"curve_order": BLS12_381_CURVE_ORDER}),
    ):
        if name not in sys.modules:
            sys.modules[name] = _StandIn(name, forwards, values)
    # Once web3 is in, it holds the real classes already; a stand-in then would only be in the way.
    if "aiohttp" not in sys.modules and "web3" not in sys.modules:
        sys.modules["aiohttp"] = _StandIn("aiohttp", (), {}, AIOHTTP_NAMES)
