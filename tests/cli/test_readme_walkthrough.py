"""The README's command-line walkthrough, run line by line as a new user would, with the installed `rinne`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
RINNE = Path(sys.executable).parent / "rinne"

pytestmark = [pytest.mark.chain, pytest.mark.skipif(not RINNE.exists(), reason="rinne is not installed in this venv")]


def _commands() -> list[str]:
    block = re.search(r"```sh\n(.*?)```", README.read_text(), re.S).group(1)
    joined = block.replace("\\\n", " ")
    lines = [re.sub(r"\s+#.*$", "", line).strip() for line in joined.splitlines()]
    return [line for line in lines if line.startswith("rinne ")]


def test_readme_walkthrough_runs(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("ETH_RPC_URL", "RINNE_ACCOUNT")}
    env.update(
        RINNE_HOME=str(tmp_path / "home"),
        RINNE_KEYSTORE_DIR=str(tmp_path / "keys"),
        RINNE_PASSWORD="walkthrough-pw",
        RINNE_SCRYPT_N="1024",
        RINNE_INSECURE_FAST_KEYS="1",
        PATH=f"{RINNE.parent}{os.pathsep}{env.get('PATH', '')}",
        NO_COLOR="1",
    )
    commands = _commands()
    assert len(commands) > 15
    out: dict[str, str] = {}
    try:
        for command in commands:
            result = subprocess.run(
                command, shell=True, cwd=tmp_path, env=env, input="y\n" * 4, capture_output=True, text=True, timeout=120
            )
            # Every step succeeds, `verify` and the strict `audit` included: both steps of CAM-001 are verified.
            assert result.returncode == 0, f"{command}\nstdout: {result.stdout}\nstderr: {result.stderr}"
            assert "Traceback" not in result.stderr, command
            out[command.split()[1]] = result.stdout
    finally:
        subprocess.run([str(RINNE), "node", "stop"], env=env, capture_output=True, timeout=60)
    # verify and audit agree on the one end product's claim.
    assert "  assurance: verified" in out["verify"].splitlines()
    audit_lines = out["audit"].strip().splitlines()
    assert audit_lines[0].startswith("audit PASSED: ") and audit_lines[1] == "claims: 1 verified"
    assert (tmp_path / "cam-001.gwp.json").exists()
    assert "<svg" in (tmp_path / "cam-001.html").read_text()
    assert (tmp_path / "audit.html").exists()
    assert shutil.which("rinne", path=env["PATH"])
