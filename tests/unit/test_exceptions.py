"""The root exception module: imports nothing of the library, and names every contract revert."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import ledger
from ledger import errors

ARTIFACTS = Path(ledger.__file__).parent / "artifacts"


def test_errors_imports_nothing_of_the_library() -> None:
    tree = ast.parse(Path(errors.__file__).read_text())
    imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)] + [
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    ]
    assert not [m for m in imported if m == "ledger" or m.startswith("ledger.")]


def test_every_custom_error_of_the_artifacts_has_its_class() -> None:
    names = {
        item["name"]
        for path in ARTIFACTS.glob("*.json")
        for item in json.loads(path.read_text())["abi"]
        if item.get("type") == "error"
    }
    assert names, "no custom errors found in the artifacts"
    for name in names:
        assert name.startswith(errors.CONTRACT_PREFIXES) or name in errors.LIBRARY_ERRORS, f"{name}: no contract prefix"
        cls = getattr(errors, name)
        assert issubclass(cls, errors.ContractRevert) and cls.__name__ == name
        assert getattr(errors, name) is cls  # created once


@pytest.mark.parametrize("name", ["RinneLedger", "NotAnError", "rinneLedgerLotExists", "__wrapped__"])
def test_other_names_are_not_revert_classes(name: str) -> None:
    with pytest.raises(AttributeError):
        getattr(errors, name)


def test_every_exception_has_a_one_line_docstring() -> None:
    for name in dir(errors):
        value = getattr(errors, name)
        if isinstance(value, type) and issubclass(value, Exception) and value.__module__ == errors.__name__:
            doc = value.__doc__ or ""
            assert doc and "\n" not in doc.strip(), f"{name} needs a one-line docstring"
