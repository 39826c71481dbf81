"""The README's library example runs as written, against a managed local Anvil it starts."""

from __future__ import annotations

import os
import re
from pathlib import Path

from ledger.chain import node as _node

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_python_example_runs(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "README has no python example"
    monkeypatch.setenv("RINNE_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    try:
        exec(compile(blocks[0], "README.md", "exec"), {})  # its asserts are the test
    finally:
        _node.stop(tmp_path / "home")
    assert (tmp_path / "niso4-gwp.json").exists()
    assert os.stat(tmp_path / "home" / "deployments" / "31337.json").st_size > 0
