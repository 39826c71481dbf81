"""The public surface: what `ledger/__init__.py` exports loads, is documented, and stays one list."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import ledger

INIT = Path(ledger.__file__)
LAYERS = sorted(p.name for p in INIT.parent.iterdir() if (p / "__init__.py").exists())


def test_every_public_name_loads_and_is_documented() -> None:
    for name in ledger.__all__:
        value = getattr(ledger, name)
        if inspect.isfunction(value) or inspect.isclass(value):
            assert inspect.getdoc(value), f"ledger.{name} has no docstring"


def test_the_stub_is_the_one_list_of_names() -> None:
    # ledger/__init__.pyi says where every name lives (for type checkers and for the lazy loader):
    # what it imports is exactly what __all__ lists, and every exception class is part of it.
    assert set(ledger.__all__) == set(ledger._WHERE) | {"__version__", "errors"}
    assert len(ledger.__all__) == len(set(ledger.__all__))
    exceptions = {n for n, v in vars(ledger.errors).items() if isinstance(v, type) and issubclass(v, Exception)}
    assert exceptions <= set(ledger.__all__)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nonexistent'"):
        ledger.Nonexistent  # noqa: B018


def test_no_public_name_is_shadowed_by_a_subpackage() -> None:
    # Importing ledger.<sub> sets the attribute <sub> on the package: a public function of that name
    # would turn into a module the moment anything imports the subpackage.
    assert not set(ledger.__all__) & set(LAYERS)
    for layer in LAYERS:
        importlib.import_module(f"ledger.{layer}")
    assert callable(ledger.audit) and callable(ledger.trace)


def test_import_ledger_loads_no_chain_library() -> None:
    code = (
        "import sys, ledger; print(sorted(m for m in ('web3', 'eth_account', 'eth_abi', 'eth_utils', 'pydantic') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
