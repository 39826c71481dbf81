"""The CLI's deferral of py_ecc's BLS modules and of aiohttp (cli/_deferred.py): a command that reads the
chain does not compute BLS pairing constants or load an async HTTP stack at start-up, and whatever does
need them still gets the real thing."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest


def _run(code: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPROFILEIMPORTTIME"}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, timeout=120)


def test_the_chain_stack_loads_without_the_bls_pairing() -> None:
    proc = _run(
        """
        import sys
        import rinne_cli.main  # installs the deferral, as the console script does
        from ledger.chain.rpc import make_web3  # web3, eth-account and eth-keyfile, as every chain command
        import eth_keyfile.keyfile
        print("optimized_bls12_381" in " ".join(sys.modules), "bls12_381_pairing" in " ".join(sys.modules))
        """
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["False", "False"]


def test_the_stand_in_integer_is_py_eccs_and_bls_keystores_still_work() -> None:
    proc = _run(
        """
        import sys, types
        import rinne_cli.main
        import eth_keyfile
        from rinne_cli._deferred import BLS12_381_CURVE_ORDER
        # A version 4 (EIP-2335, BLS) keystore: eth-keyfile's BLS path, through the forwarder.
        key = (7).to_bytes(32, "big")
        ks = eth_keyfile.create_keyfile_json(key, b"pw", version=4, kdf="pbkdf2", iterations=2)
        assert eth_keyfile.decode_keyfile_json(ks, b"pw") == key
        import py_ecc.bls12_381 as stand_in
        stand_in.G1  # any other name loads the real module in its place
        real = sys.modules["py_ecc.bls12_381"]
        print(type(real) is types.ModuleType, real.curve_order == BLS12_381_CURVE_ORDER, "pubkey" in ks)
        """
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["True", "True", "True"]


@pytest.mark.parametrize("module", ["py_ecc.bls", "py_ecc.bls12_381", "aiohttp"])
def test_a_module_imported_before_the_cli_is_left_alone(module: str) -> None:
    proc = _run(
        f"""
        import importlib, sys
        real = importlib.import_module("{module}")
        import rinne_cli.main
        print(sys.modules["{module}"] is real)
        """
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "True"


def test_the_chain_stack_loads_without_aiohttp() -> None:
    proc = _run(
        """
        import sys
        import rinne_cli.main
        from ledger.chain.rpc import make_web3
        import web3, web3.providers.rpc.async_rpc
        print(type(sys.modules["aiohttp"]).__name__, any(m.startswith("aiohttp.") for m in sys.modules))
        """
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["_StandIn", "False"]


def test_web3s_async_names_become_the_real_aiohttp_once_used() -> None:
    proc = _run(
        """
        import sys
        import rinne_cli.main
        import web3
        import web3.providers.rpc.async_rpc as async_rpc
        import web3._utils.http_session_manager as manager
        timeout = manager.ClientTimeout(total=3)  # the placeholder makes the real one, loading aiohttp
        import aiohttp
        real = sys.modules["aiohttp"]
        print(
            type(timeout) is real.ClientTimeout and timeout.total == 3,
            manager.ClientTimeout is real.ClientTimeout and manager.ClientSession is real.ClientSession,
            async_rpc.ClientError is real.ClientError and issubclass(real.ClientConnectionError, async_rpc.ClientError),
            aiohttp is real and type(real).__name__ == "module",
        )
        """
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["True", "True", "True", "True"]
