"""The two artifact sets (contracts/compiler.json: Cancun, and Shanghai for nodes without it, such as
Ganache 7.9): the same contracts with the same ABI, the Shanghai code free of MCOPY, both under EIP-170."""

from __future__ import annotations

import pytest

from ledger.chain.abi import ARTIFACT_DIR, EVM_BUILDS, artifact
from ledger.chain.trust import strip_metadata

NAMES = sorted(p.stem for p in ARTIFACT_DIR.glob("*.json"))
MCOPY = 0x5E


def _opcodes(code: bytes) -> set[int]:
    """The opcodes of runtime code, PUSH data skipped (solc's metadata trailer removed first)."""
    code, found, i = strip_metadata(code), set(), 0
    while i < len(code):
        op = code[i]
        found.add(op)
        i += 1 + (op - 0x5F if 0x60 <= op <= 0x7F else 0)
    return found


def _code(name: str, evm: str, key: str = "deployedBytecode") -> bytes:
    return bytes.fromhex(artifact(name, evm)[key][2:])


def test_every_build_has_every_contract():
    assert EVM_BUILDS == ("cancun", "shanghai")
    assert {"RinneLedger", "GwpAttestations", "LotReader"} <= set(NAMES)
    for evm in EVM_BUILDS[1:]:
        assert sorted(p.stem for p in (ARTIFACT_DIR / evm).glob("*.json")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_same_abi_and_sources_other_evm(name):
    main, other = artifact(name), artifact(name, "shanghai")
    assert other["abi"] == main["abi"] and other["sourceHash"] == main["sourceHash"]
    assert main["compiler"]["settings"]["evmVersion"] == "cancun"
    assert other["compiler"]["settings"]["evmVersion"] == "shanghai"


@pytest.mark.parametrize("name", NAMES)
def test_shanghai_code_has_no_mcopy_and_fits_eip170(name):
    code = _code(name, "shanghai")
    assert MCOPY not in _opcodes(code)
    assert len(code) <= 24_576


def test_the_cancun_ledger_uses_mcopy():
    # What makes the second build necessary (and shows the opcode walk finds it).
    assert MCOPY in _opcodes(_code("RinneLedger", "cancun"))


def test_an_unknown_build_is_a_config_error():
    from ledger import errors

    with pytest.raises(errors.ConfigError, match="no paris build"):
        artifact("RinneLedger", "paris")
