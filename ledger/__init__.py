"""Rinne: a traceability ledger for the EV battery material loop.

Everything public is importable from here, and only from here: the subpackages (``domain``,
``attest``, ``local``, ``chain``, ``client``, ``replay``, ``index``, ``figures``, ``queries``,
``exports``, ``auditor``) are the library's internal layers (docs/architecture.md) and may change.

Names load on first use (PEP 562): ``import ledger`` costs only the exception classes, so that
``rinne --help`` starts without web3 or eth-account. The one list of public names is the type stub
beside this file, ``__init__.pyi``: type checkers read it, and this module reads its imports to
know where each name lives.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from typing import Any

from ledger import errors as errors

__version__ = "0.1.0"


def _surface() -> tuple[dict[str, tuple[str, str]], list[str]]:
    tree = ast.parse((Path(__file__).parent / "__init__.pyi").read_text(encoding="utf-8"))
    where: dict[str, tuple[str, str]] = {}
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ledger."):
            for alias in node.names:
                where[alias.asname or alias.name] = (node.module, alias.name)
        elif (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.List)
            and any(getattr(t, "id", "") == "__all__" for t in node.targets)
        ):
            names = [ast.literal_eval(e) for e in node.value.elts]
    return where, names


#: Public name -> (module, attribute), from the stub's imports.
_WHERE, __all__ = _surface()


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'ledger' has no attribute {name!r}")
    value = getattr(importlib.import_module(where[0]), where[1])
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
