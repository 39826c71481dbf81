"""brownie (1.22.2, .venv-brownie) compiles this repo offline, as contracts/compiler.json says.

Runs in the brownie environment: scripts/test-brownie.sh (set-up included), or
    .venv-brownie/bin/python -m pytest -c tests/brownie/pytest.ini tests/brownie

`brownie compile` runs in a temporary copy of what brownie reads in the repo (contracts/, brownie-config.yaml,
brownie_hooks.py if any; node_modules/ linked), so the work tree gets no build/ and concurrent runs do
not meet. The copy leaves out what contracts/compiler.json excludes (forge tests, contracts/test/) and
*.t.sol, like scripts/compile.mjs: brownie itself cannot exclude them, which
test_forge_tests_not_compiled_by_brownie checks separately that they stay out (contracts/_test/).
The subprocess gets:
- HOME in the temporary folder: no ~/.brownie or ~/.solcx of the machine is read or written, so the only
  solc brownie can find is the one scripts/setup-brownie.sh put at the venv's SOLCX_BINARY_PATH;
- no SOLCX_BINARY_PATH of the caller: the value must come from the set-up (the venv's .pth file), as it
  does for a developer typing `.venv-brownie/bin/brownie compile`;
- HTTP(S) proxies pointing at a closed local port: any attempt to download a compiler or a version list
  fails at once, so a pass proves the compile is offline whatever the machine's network.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(sys.prefix)
BROWNIE = VENV / "bin" / "brownie"
ARTIFACTS = ROOT / "ledger" / "artifacts"
CONTRACTS = ["RinneLedger", "GwpAttestations"]
NO_NETWORK = "http://127.0.0.1:9"  # discard port: nothing listens, connections are refused


def _compiler_json() -> dict:
    return json.loads((ROOT / "contracts" / "compiler.json").read_text())


def _excluded(rel: Path) -> bool:
    """Paths the project's own compile (scripts/compile.mjs) leaves out: compiler.json `exclude`, *.t.sol."""
    posix = rel.as_posix()
    excluded = _compiler_json()["exclude"]
    return posix.endswith(".t.sol") or any(posix == e or posix.startswith(e.rstrip("/") + "/") for e in excluded)


def _brownie_env(home: Path) -> dict[str, str]:
    dropped = {"SOLCX_BINARY_PATH", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"}
    env = {k: v for k, v in os.environ.items() if k.upper() not in dropped}
    env.update(
        HOME=str(home),
        HTTP_PROXY=NO_NETWORK,
        HTTPS_PROXY=NO_NETWORK,
        ALL_PROXY=NO_NETWORK,
        http_proxy=NO_NETWORK,
        https_proxy=NO_NETWORK,
        all_proxy=NO_NETWORK,
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        # brownie's development network runs `anvil` from PATH
        PATH=f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        PYTHONUNBUFFERED="1",
    )
    return env


# solc's CBOR metadata: {"ipfs": <34-byte multihash>, "solc": <3-byte version>} and its length (0x0033).
# It can sit mid-code (embedded creation code, data appended by the code generator), so mask every
# occurrence rather than cutting the tail.
_METADATA = re.compile(r"(a2646970667358221220)[0-9a-f]{64}(64736f6c6343[0-9a-f]{6}0033)")


def _mask_metadata(code: str) -> str:
    """Bytecode with the metadata hashes zeroed: they cover source unit names and settings, which differ."""
    masked, count = _METADATA.subn(lambda m: m.group(1) + "0" * 64 + m.group(2), code.removeprefix("0x").lower())
    assert count, "no solc metadata found"
    return masked


@pytest.fixture(scope="module")
def brownie_project(tmp_path_factory) -> dict:
    solc_version = _compiler_json()["solcVersion"]
    shim = VENV / "solcx" / f"solc-v{solc_version}"
    if not BROWNIE.exists() or not shim.exists():
        pytest.fail(f"{BROWNIE} or {shim} missing: run scripts/setup-brownie.sh")

    base = tmp_path_factory.mktemp("brownie")
    project = base / "project"
    home = base / "home"
    home.mkdir()
    shutil.copytree(
        ROOT / "contracts",
        project / "contracts",
        ignore=lambda d, names: [n for n in names if _excluded((Path(d) / n).relative_to(ROOT))],
    )
    for name in ("brownie-config.yaml", "brownie_hooks.py"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, project / name)
    (project / "node_modules").symlink_to(ROOT / "node_modules", target_is_directory=True)

    env = _brownie_env(home)
    run = subprocess.run([str(BROWNIE), "compile"], cwd=project, env=env, capture_output=True, text=True, timeout=600)
    output = run.stdout + run.stderr
    build = {}
    for path in sorted((project / "build" / "contracts").glob("*.json")):
        build[path.stem] = json.loads(path.read_text())
    return {"dir": project, "home": home, "env": env, "run": run, "output": output, "build": build}


def test_config_mirrors_compiler_json():
    config = yaml.safe_load((ROOT / "brownie-config.yaml").read_text())
    expected = _compiler_json()
    solc = config["compiler"]["solc"]
    assert str(solc["version"]) == expected["solcVersion"]  # pinned: unpinned asks the internet
    assert config["compiler"]["evm_version"] == expected["evmVersion"]
    assert solc["optimizer"] == expected["optimizer"]
    assert dict(r.split("=", 1) for r in solc["remappings"]) == expected["remappings"]
    # a networks: block breaks project loading in brownie 1.22.2 (TypeError)
    assert "networks" not in config


def test_brownie_compile_offline(brownie_project):
    run = brownie_project["run"]
    assert run.returncode == 0, brownie_project["output"]
    assert "Project has been compiled" in run.stdout, brownie_project["output"]
    expected = _compiler_json()
    assert f"Solc version: {expected['solcVersion']}" in run.stdout
    for name in CONTRACTS:
        assert name in brownie_project["build"], f"{name} not compiled:\n{brownie_project['output']}"
    # py-solc-x creates ~/.solcx only when SOLCX_BINARY_PATH is unset: the venv's .pth set it
    assert not (brownie_project["home"] / ".solcx").exists()


@pytest.mark.parametrize("name", CONTRACTS)
def test_build_uses_project_compiler_settings(brownie_project, name):
    expected = _compiler_json()
    compiler = brownie_project["build"][name]["compiler"]
    assert compiler["version"].startswith(expected["solcVersion"] + "+")
    assert compiler["evm_version"] == expected["evmVersion"]
    assert compiler["optimizer"] == expected["optimizer"]


@pytest.mark.parametrize("name", CONTRACTS)
def test_abi_matches_shipped_artifact(brownie_project, name):
    shipped = json.loads((ARTIFACTS / f"{name}.json").read_text())
    assert brownie_project["build"][name]["abi"] == shipped["abi"]


@pytest.mark.parametrize("name", CONTRACTS)
@pytest.mark.parametrize("kind", ["bytecode", "deployedBytecode"])
def test_bytecode_matches_shipped_artifact_modulo_metadata(brownie_project, name, kind):
    # The metadata hash differs by design (brownie passes remappings in the settings and names
    # OpenZeppelin sources node_modules/@openzeppelin/...; scripts/compile.mjs resolves them itself).
    shipped = json.loads((ARTIFACTS / f"{name}.json").read_text())
    assert _mask_metadata(brownie_project["build"][name][kind]) == _mask_metadata(shipped[kind])


def test_forge_tests_not_compiled_by_brownie(tmp_path):
    """brownie's own source loader, on the real work tree, must not hand forge tests to solc.

    brownie 1.22.2 compiles every .sol under contracts/: it has no exclude setting, and `.t.sol` is
    not special. It skips only paths with a part starting with `_`, and a `brownie_hooks.py` at the
    project root may rewrite sources (this check runs the hook, so a hook that empties forge tests
    counts as a fix). The forge tests live in contracts/_test/ for that reason.
    """
    code = (
        "import json, sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); "
        "from brownie.project.main import _load_sources; from brownie.project.sources import get_contract_names; "
        "print(json.dumps({p: [n for n, _ in get_contract_names(s)] "
        "for p, s in _load_sources(Path(sys.argv[1]), 'contracts', False).items()}))"
    )
    (tmp_path / "home").mkdir()
    run = subprocess.run(
        [sys.executable, "-c", code, str(ROOT)],
        env=_brownie_env(tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    loaded = json.loads(run.stdout.strip().splitlines()[-1])
    assert "RinneLedger" in loaded.get("contracts/RinneLedger.sol", [])
    leaked = {p: names for p, names in loaded.items() if _excluded(Path(p)) and names}
    assert not leaked, f"brownie compiles forge test sources from contracts/: {leaked}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_deploy_on_development_network(brownie_project):
    """brownie's built-in `development` network (Anvil from node_modules/.bin) deploys and calls."""
    assert brownie_project["run"].returncode == 0, brownie_project["output"]
    if shutil.which("anvil", path=brownie_project["env"]["PATH"]) is None:
        pytest.fail("anvil not found in node_modules/.bin: run npm ci")
    run = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("deploy_check.py")), str(brownie_project["dir"]), str(_free_port())],
        cwd=brownie_project["dir"],
        env=brownie_project["env"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["network"] == "development"
    assert result["client"].lower().startswith("anvil"), result["client"]
    assert result["ledger_admin"] == result["admin"]
    ledger_address_code = result["ledger_code"]
    built = brownie_project["build"]["RinneLedger"]["deployedBytecode"]
    assert ledger_address_code.removeprefix("0x") == built.removeprefix("0x")
    assert result["gwp_ledger"] != "0x" + "0" * 40
