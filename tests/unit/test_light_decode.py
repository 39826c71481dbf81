"""The web3-free reads' ABI decoder (ledger/client/light.py) answers what eth-abi answers, and refuses what it refuses.

The lot read (`rinne lot show`, and :meth:`ledger.Ledger.lot`) decodes the node's answer with it: a faulty or
hostile node's word that its type cannot hold (dirty padding, a bool of 2, a short answer) must not pass as a
value, e.g. a state of 257 read as 1, or a holder whose high bytes are dropped.
"""

from __future__ import annotations

import random

import pytest
from eth_abi import decode as abi_decode, encode as abi_encode

from ledger import errors
from ledger.chain.abi import contract_abi
from ledger.client.light import _decode_all, _decode_log, decode_static

LEDGER = contract_abi("RinneLedger")
LOT = LEDGER.fn("lot").outputs


def _random_lot(rng: random.Random) -> tuple:
    addr = "0x" + rng.randbytes(20).hex()
    return (
        addr,
        rng.randrange(256),
        rng.randrange(256),
        rng.randrange(2**32),
        rng.randrange(2**48),
        addr,
        rng.random() < 0.5,
        rng.randrange(2**64),
        rng.randbytes(32),
    )


def test_the_lot_layout_is_static_words_only() -> None:
    # If the contract's lot() grows a dynamic member, the light decoder must be extended, not silently wrong.
    assert LOT == ["(address,uint8,uint8,uint32,uint48,address,bool,uint64,bytes32)"]


@pytest.mark.parametrize("seed", range(20))
def test_lot_answers_decode_as_eth_abi_decodes_them(seed: int) -> None:
    data = abi_encode(LOT, [_random_lot(random.Random(seed))])
    assert _decode_all(LOT, data) == tuple(abi_decode(LOT, data))


@pytest.mark.parametrize("name", ["LotCreated", "LotUpdated"])
def test_lot_events_decode_as_eth_abi_decodes_them(name: str) -> None:
    ev = LEDGER.events[name]
    rng = random.Random(name)
    values = []
    for t in ev.data_types:
        if t.startswith("("):
            values.append(tuple((rng.randrange(2**256), rng.randrange(2**256)) for _ in range(3)))
        elif t == "bytes32":
            values.append(rng.randbytes(32))
        else:
            values.append(rng.randrange(2**64))
    topics = [ev.topic0] + [rng.randbytes(32) if t == "bytes32" else bytes(12) + rng.randbytes(20) for _, t in ev.indexed]
    data = abi_encode(ev.data_types, values)
    assert _decode_log(ev, topics, data) == ev.decode(topics, data)


@pytest.mark.parametrize(
    ("t", "word"),
    [
        ("uint8", (257).to_bytes(32, "big")),  # a state of 257 must not read as 1
        ("bool", (2).to_bytes(32, "big")),
        ("address", b"\x01" + bytes(11) + b"\x22" * 20),  # dirty high bytes: not the 20-byte holder
        ("uint48", (2**48).to_bytes(32, "big")),
        ("bytes32", b"\x00" * 31),  # a short answer
    ],
)
def test_a_word_its_type_cannot_hold_is_refused(t: str, word: bytes) -> None:
    with pytest.raises(errors.ChainError):
        decode_static(t, word)
    if len(word) == 32:  # eth-abi's strict decoder refuses it too
        with pytest.raises(Exception):  # noqa: B017 - eth-abi's own error classes
            abi_decode([t], word)


def test_a_short_lot_answer_is_refused() -> None:
    data = abi_encode(LOT, [_random_lot(random.Random(1))])
    with pytest.raises(errors.ChainError, match="too short"):
        _decode_all(LOT, data[:-1])


def test_a_log_with_missing_topics_is_refused() -> None:
    ev = LEDGER.events["LotCreated"]
    with pytest.raises(errors.ChainError, match="topics"):
        _decode_log(ev, [ev.topic0], bytes(32 * 9))
