"""Process inventory messages (issue 19): the fast EIP-712 digest equals eth-account's and the contract's type,
files round-trip and refuse alterations, and impossible figures are refused where the message is made."""

from __future__ import annotations

import json

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from pydantic import ValidationError

from ledger import AttestationError, ProcessInventory, ProcessRoute, keccak, load_inventory, save_inventory, sign_inventory
from ledger.attest.eip712 import verify_attestation
from ledger.attest.inventory import INVENTORY_TYPE_STRING, inventory_typed_data, to_inventory_args

CONTRACT = "0x" + "12" * 20
SIGNER = Account.from_key(b"\x11" * 32)


def _inv(**over) -> ProcessInventory:
    base = dict(
        lot_id="0x" + "ab" * 32,
        energy_wh=1_200_000,
        renewable_bps=3_500,
        water_withdrawn_litres=4_500,
        water_consumed_litres=1_200,
        route="hydrometallurgy",
        grade="Ni-class1",
        evidence="0x" + "00" * 32,
        issued_at=1_767_225_600,
        valid_until=1_767_225_600 + 86_400,
        nonce=7,
        deadline=1_767_225_600 + 3_600,
    )
    base.update(over)
    return ProcessInventory(**base)


def test_type_string_is_the_contracts():
    # The contract's INVENTORY_TYPEHASH is keccak256 of exactly this string (contracts/GwpAttestations.sol).
    with open("contracts/GwpAttestations.sol", encoding="utf-8") as f:
        assert f'"{INVENTORY_TYPE_STRING}"' in f.read()


def test_digest_equals_eth_accounts_typed_data_encoder_and_binds_every_field():
    signed = sign_inventory(_inv(), SIGNER, 31337, CONTRACT)
    signable = encode_typed_data(full_message=inventory_typed_data(_inv(), 31337, CONTRACT))
    assert keccak(b"\x19" + signable.version + signable.header + signable.body) == signed.digest
    for change in ({"energy_wh": 1_199_999}, {"renewable_bps": 3_501}, {"water_consumed_litres": 1_201}, {"route": 1}, {"grade": ""}):
        assert sign_inventory(_inv(**change), SIGNER, 31337, CONTRACT).uid != signed.uid
    check = verify_attestation(signed, now=1_767_225_700)
    assert check.ok and check.uid == signed.uid and check.recovered == SIGNER.address
    struct, signer, _ = to_inventory_args(signed)
    assert struct[5] == int(ProcessRoute.HYDROMETALLURGY) and signer == SIGNER.address


def test_impossible_figures_are_refused():
    with pytest.raises(ValidationError, match="less than or equal to 10000"):
        _inv(renewable_bps=10_001)
    with pytest.raises(ValidationError, match="cannot exceed water withdrawn"):
        _inv(water_consumed_litres=4_501)
    with pytest.raises(ValidationError, match="unknown process route"):
        _inv(route="alchemy")


def test_files_round_trip_and_refuse_an_altered_figure(tmp_path):
    signed = sign_inventory(_inv(), SIGNER, 31337, CONTRACT)
    path = tmp_path / "inv.json"
    save_inventory(signed, path)
    assert load_inventory(path) == signed
    data = json.loads(path.read_text())
    data["message"]["energyWh"] = 1  # a flattering edit after signing
    path.write_text(json.dumps(data))
    with pytest.raises(AttestationError, match="does not match"):
        load_inventory(path)
    data["type"] = "rinne.gwp-attestation/v1"
    path.write_text(json.dumps(data))
    with pytest.raises(AttestationError, match="not a Rinne process inventory"):
        load_inventory(path)
