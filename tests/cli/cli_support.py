"""Helpers for the command-line tests: run `rinne` in-process through click's CliRunner against a real
Anvil, with --rpc-url added, private data and keystore folders, and checks of exit status and streams."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from ledger import Ledger
from rinne_cli.main import cli

PASSWORD = "cli test password"
#: Scrypt cost for test keystores (the default, 2**18, costs about a second per unlock).
FAST_SCRYPT_N = "1024"

#: Parties and the roles the admin registers them with (None: not registered).
PARTIES: dict[str, str | None] = {
    "admin": None,
    "miner": "MINER",
    "refiner": "REFINER",
    "cam": "PRECURSOR_MAKER,CATHODE_MAKER",
    "pack": "CELL_MAKER,PACK_ASSEMBLER",
    "oem": "OEM",
    "second": "SECOND_LIFE",
    "diag": "DIAGNOSTICIAN",
    "recycler": "RECYCLER",
    "verifier": "GWP_VERIFIER",
    "auditor": "AUDITOR",
    "outsider": None,
}

# Commands that never talk to a chain (or only to the managed node) take no --rpc-url.
_NO_RPC = {("node",), ("account", "list"), ("gwp", "sign"), ("gwp", "inventory", "sign"), ("disclose",)}


def base_env(home: Path, keystores: Path) -> dict[str, str | None]:
    """Environment of a test invocation: private data dir and keystores, fast scrypt, a password."""
    return {
        "RINNE_HOME": str(home),
        "RINNE_KEYSTORE_DIR": str(keystores),
        "RINNE_SCRYPT_N": FAST_SCRYPT_N,
        "RINNE_INSECURE_FAST_KEYS": "1",
        "RINNE_PASSWORD": PASSWORD,
        "ETH_RPC_URL": None,
        "RINNE_ACCOUNT": None,
        "ETH_KEYSTORE_ACCOUNT": None,  # Foundry's default account would stand in for a missing --account
        "ETH_PASSWORD": None,
        "RINNE_PASSWORD_FILE": None,
        "NO_COLOR": "1",
    }


@dataclass
class Rinne:
    """Runs `rinne` in-process against the test chain and checks the outcome."""

    rpc_url: str
    home: Path
    keystores: Path
    addresses: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str | None]:
        return base_env(self.home, self.keystores)

    def run(
        self, *args: str, input: str | None = None, code: int | None = 0, rpc: bool = True, env: dict[str, str | None] | None = None
    ) -> Result:
        """Invoke `rinne ARGS`; assert the exit status when `code` is not None."""
        argv = [str(a) for a in args]
        if rpc and not any(tuple(argv[: len(k)]) == k for k in _NO_RPC) and "--rpc-url" not in argv:
            argv += ["--rpc-url", self.rpc_url]
        result = CliRunner().invoke(cli, argv, input=input, env={**self.env(), **(env or {})}, catch_exceptions=False)
        if code is not None:
            assert result.exit_code == code, (
                f"rinne {' '.join(argv)} exited {result.exit_code}, expected {code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
            )
        return result

    def json(self, *args: str, **kwargs: Any) -> Any:
        """Invoke with --json and parse stdout."""
        return json.loads(self.run(*args, "--json", **kwargs).stdout)

    def write(self, *args: str, account: str, **kwargs: Any) -> Any:
        """Invoke a write as `account` with --yes --json and return the parsed JSON."""
        return self.json(*args, "--account", account, "--yes", **kwargs)

    def fail(self, *args: str, code: int = 1, **kwargs: Any) -> str:
        """Invoke expecting failure; assert a single 'Error:' line and no traceback; return it."""
        result = self.run(*args, code=code, **kwargs)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
        assert lines, "no error message"
        assert lines[-1].startswith("Error: "), result.stderr
        errors = [line for line in lines if line.startswith("Error:")]
        assert len(errors) == 1, result.stderr
        assert result.stdout == "", f"data on stdout on failure: {result.stdout!r}"
        return lines[-1]

    def ledger(self) -> Ledger:
        """A read-only library view of the same chain and deployment, for checking chain state."""
        return Ledger.connect(self.rpc_url, data_dir=self.home)

    def addr(self, name: str) -> str:
        return self.addresses[name]


def mint(
    rinne: Rinne,
    lot_id: str,
    *,
    account: str = "refiner",
    material: str = "NiSO4",
    mass: str = "10t",
    elements: str | None = "Ni=22%,Co=1%",
    extra: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Mint a lot through the CLI."""
    args = ["lot", "mint", lot_id, "--material", material, "--mass", mass, *extra]
    if elements:
        args += ["--elements", elements]
    return rinne.write(*args, account=account)


def make_world(rpc_url: str, home: Path) -> Rinne:
    """Keystores for every party (funded), the contracts deployed, and the registry filled, all with the CLI."""
    rinne = Rinne(rpc_url=rpc_url, home=home, keystores=home / "keystores")
    for name in PARTIES:
        out = rinne.json("account", "new", name, "--fund")
        assert out["funded"] is True
        rinne.addresses[name] = out["address"]
    deployed = rinne.write("deploy", account="admin")
    assert deployed["admin"] == rinne.addr("admin")
    for name, roles in PARTIES.items():
        if roles:
            rinne.write("party", "register", name, "--roles", roles, "--name", name.title(), account="admin")
    return rinne
