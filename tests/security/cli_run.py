"""Running `rinne` in-process for the security tests: a private home and keystore folder, the
password in the environment only, and a transcript of everything every command printed."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from rinne_cli.main import cli

# Commands that take no --rpc-url.
_NO_RPC = {("node",), ("account", "list"), ("gwp", "sign")}


@dataclass
class Cli:
    home: Path
    keystores: Path
    rpc_url: str | None
    password: str
    scrypt_n: str | None = "1024"
    transcript: list[str] = field(default_factory=list)
    addresses: dict[str, str] = field(default_factory=dict)

    def env(self, extra: dict[str, str | None] | None = None) -> dict[str, str | None]:
        env: dict[str, str | None] = {
            "RINNE_HOME": str(self.home),
            "RINNE_KEYSTORE_DIR": str(self.keystores),
            "RINNE_PASSWORD": self.password,
            "RINNE_SCRYPT_N": self.scrypt_n,
            # The cheap test cost needs the documented development switch.
            "RINNE_INSECURE_FAST_KEYS": "1" if self.scrypt_n else None,
            "ETH_RPC_URL": None,
            "RINNE_ACCOUNT": None,
            "RINNE_PASSWORD_FILE": None,
            "NO_COLOR": "1",
        }
        env.update(extra or {})
        return env

    def run(self, *args: Any, input: str | None = None, env: dict[str, str | None] | None = None, rpc: bool = True) -> Result:
        argv = [str(a) for a in args]
        if rpc and self.rpc_url and not any(tuple(argv[: len(k)]) == k for k in _NO_RPC) and "--rpc-url" not in argv:
            argv += ["--rpc-url", self.rpc_url]
        result = CliRunner().invoke(cli, argv, input=input, env=self.env(env), catch_exceptions=True)
        self.transcript += [f"$ rinne {' '.join(argv)}", result.stdout, result.stderr]
        return result

    def ok(self, *args: Any, **kw: Any) -> Result:
        result = self.run(*args, **kw)
        assert result.exit_code == 0, (
            f"rinne {' '.join(map(str, args))}: {result.exit_code}\n{result.stdout}\n{result.stderr}\n{result.exception!r}"
        )
        return result

    def json(self, *args: Any, **kw: Any) -> Any:
        return json.loads(self.ok(*args, "--json", **kw).stdout)

    def write(self, *args: Any, account: str, **kw: Any) -> Any:
        return self.json(*args, "--account", account, "--yes", **kw)
