"""docs/security.md shows the access matrix the tests check (generated from the same data), and the
repository paths the security and methodology pages name exist."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: A repository path in backticks, e.g. `tests/integration/test_trust_root.py` or
#: `tests/unit/test_keys.py::test_name` (the `::` part, a pytest node id, is not part of the path).
_PATH = re.compile(r"`((?:tests|contracts|ledger|cli|scripts|docs)/[\w./-]+\.(?:py|sol|md|sh|mjs|json|toml))(?:::[^`]*)?`")


def test_the_documented_matrix_is_the_tested_one() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "security_matrix.py"), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_every_path_the_pages_name_exists() -> None:
    named: dict[str, list[str]] = {}
    for page in ("docs/security.md", "docs/methodology.md"):
        for path in _PATH.findall((ROOT / page).read_text(encoding="utf-8")):
            named.setdefault(path, []).append(page)
    assert "contracts/_test/Integrity.t.sol" in named, "the pattern found none of the paths it should"
    missing = {path: pages for path, pages in named.items() if not (ROOT / path).is_file()}
    assert not missing, f"named in the docs but not in the repository: {missing}"
