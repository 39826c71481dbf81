"""Keccak and EIP-55 addresses of the domain layer agree with eth-utils, and load nothing up front."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from eth_utils import keccak as reference_keccak, to_checksum_address
from hypothesis import given, strategies as st

from ledger.domain.hashing import checksum_address, keccak, keccak_backend


@given(st.binary(max_size=300))
def test_keccak_is_ethereums(data: bytes) -> None:
    assert keccak(data) == reference_keccak(data)


@given(st.binary(min_size=20, max_size=20))
def test_checksum_matches_eip55(raw: bytes) -> None:
    expected = to_checksum_address(raw)
    assert checksum_address(raw) == expected
    assert checksum_address("0x" + raw.hex()) == expected
    assert checksum_address(raw.hex().upper()) == expected


@pytest.mark.parametrize("bad", ["0x1234", "0x" + "g" * 40, "", b"\x00" * 19])
def test_checksum_refuses_what_is_not_an_address(bad: str | bytes) -> None:
    with pytest.raises(ValueError):
        checksum_address(bad)


def test_backend_is_named_and_loaded_lazily() -> None:
    assert keccak_backend() in ("pysha3", "eth-hash")
    code = "import sys, ledger.domain.hashing; print('eth_hash' in sys.modules or 'sha3' in sys.modules)"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout.strip() == "False"
