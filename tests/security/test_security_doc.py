"""docs/security.md shows the access matrix the tests check (generated from the same data)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_documented_matrix_is_the_tested_one() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "security_matrix.py"), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
