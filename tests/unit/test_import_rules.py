"""The import rule outside the library: `cli/` and `scripts/` use only what `ledger/__init__.py` exports.

import-linter checks the CLI package (pyproject.toml); `scripts/` is no package, so this test reads
the imports of every file of both itself.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FILES = sorted([*REPO.glob("cli/*.py"), *REPO.glob("scripts/*.py")])


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_only_the_public_package_is_imported(path: Path) -> None:
    tree = ast.parse(path.read_text())
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ledger."):
            bad.append(f"line {node.lineno}: from {node.module} import ...")
        elif isinstance(node, ast.ImportFrom) and node.module == "ledger":
            bad += [f"line {node.lineno}: ledger.{a.name}" for a in node.names if a.name.startswith("_") and a.name != "__version__"]
        elif isinstance(node, ast.Import):
            bad += [f"line {node.lineno}: import {a.name}" for a in node.names if a.name.startswith("ledger.")]
    assert not bad, f"{path.name} imports library internals: {bad}"


#: The one script that reads test data: the access matrix it prints is the security tests' own spec.
_READS_TEST_DATA = {"security_matrix.py"}


@pytest.mark.parametrize(
    "path", [p for p in FILES if p.parent.name == "scripts" and p.name not in _READS_TEST_DATA], ids=lambda p: p.name
)
def test_scripts_do_not_edit_sys_path(path: Path) -> None:
    # The scripts run in the project's virtual environment, where `ledger` is installed, and Python
    # already puts a script's own folder first on sys.path (for bench_common).
    text = path.read_text()
    assert "sys.path.insert" not in text and "sys.path.append" not in text
