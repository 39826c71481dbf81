"""An eth_getLogs answer decoded piece by piece as it arrives (what the sync reads, so that no block's answer
is held whole): the pieces together are exactly the logs the whole answer gives, however the body is cut
into reads and wherever the bytes between two logs appear inside a value; an answer in another form is
read whole, and one that is not a list of logs raises as the whole decode does, after the pieces before."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from ledger import errors
from ledger.chain.logs import _decode_logs, _split_pieces


def _log(k: int, data: str = "0x") -> dict[str, Any]:
    return {
        "address": "0x" + "11" * 20,
        "topics": ["0x" + "22" * 32, "0x" + f"{k:064x}"],
        "data": data,
        "blockNumber": "0x5",
        "blockHash": "0x" + "33" * 32,
        "logIndex": hex(k),
        "transactionHash": "0x" + "44" * 32,
        "removed": False,
    }


def _body(logs: list[dict[str, Any]], **extra: Any) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": 1, "result": logs, **extra}, separators=(",", ":")).encode()


def _reads(body: bytes, size: int) -> Iterator[bytes]:
    return (body[i : i + size] for i in range(0, len(body), size))


@pytest.mark.parametrize("read", [1, 7, 64, 1000, 1 << 20])
@pytest.mark.parametrize("piece", [1, 300, 5000])
def test_the_pieces_are_the_whole_answers_logs(read: int, piece: int) -> None:
    logs = [_log(k) for k in range(60)]
    body = _body(logs)
    pieces = list(_split_pieces(_reads(body, read), piece))
    assert [x for p in pieces for x in p] == _decode_logs(body)
    if read < len(body) and piece < len(body) // 4:
        assert max(len(p) for p in pieces) < len(logs)  # it was cut


def test_no_piece_holds_much_more_than_its_bytes() -> None:
    logs = [_log(k) for k in range(400)]
    body = _body(logs)
    per_log = len(body) / len(logs)
    pieces = list(_split_pieces(_reads(body, 4096), 20_000))
    assert sum(map(len, pieces)) == 400
    assert max(len(p) for p in pieces) <= (20_000 + 4096) / per_log + 1


def test_the_bytes_between_two_logs_inside_a_value_are_not_a_cut() -> None:
    tricky = [_log(k, data='0x"},{"address":"0x00"}') for k in range(30)]
    nested = [{**_log(100 + k), "extra": [{"a": 1}, {"b": 2}]} for k in range(30)]
    body = _body(tricky + nested)
    pieces = list(_split_pieces(_reads(body, 50), 200))
    assert [x for p in pieces for x in p] == _decode_logs(body)
    assert [x.data for p in pieces for x in p][:30] == ['0x"},{"address":"0x00"}'] * 30


@pytest.mark.parametrize(
    "body",
    [
        b'{"result":[LOGS],"id":1,"jsonrpc":"2.0"}',  # members in another order: read whole
        b'  {\n "jsonrpc" : "2.0", "id": 1,\n "result" : [LOGS] }\n',  # spaces
        b'{"jsonrpc":"2.0","id":1,"result":[LOGS],"extra":{"x":[1]}}',  # a member after the result
    ],
)
def test_other_forms_of_the_answer_give_the_same_logs(body: bytes) -> None:
    logs = [_log(k) for k in range(20)]
    body = body.replace(b"LOGS", b",".join(json.dumps(x).encode() for x in logs))
    pieces = list(_split_pieces(_reads(body, 100), 300))
    assert [x for p in pieces for x in p] == _decode_logs(body)
    assert len([x for p in pieces for x in p]) == 20


def test_an_empty_answer_is_one_empty_piece() -> None:
    assert list(_split_pieces(iter([_body([])]), 10)) == [[]]


@pytest.mark.parametrize(
    "body, match",
    [
        (
            json.dumps({"jsonrpc": "2.0", "id": 1, "error": {"code": -32005, "message": "query returned more than 10000 results"}}),
            "10000",
        ),
        (json.dumps({"jsonrpc": "2.0", "id": 1, "result": "0x1"}), "not a list of logs"),
        ("<html>Bad Gateway</html>", "not a list of logs"),
    ],
)
def test_an_answer_that_is_not_logs_raises(body: str, match: str) -> None:
    with pytest.raises(errors.ChainError, match=match):
        list(_split_pieces(_reads(body.encode(), 16), 100))


@pytest.mark.parametrize("spoil", ["truncated", "bad log", "bad tail"])
def test_a_fault_after_some_pieces_raises_after_them(spoil: str) -> None:
    logs = [_log(k) for k in range(50)]
    body = _body(logs)
    if spoil == "truncated":
        body = body[: len(body) * 3 // 4]
    elif spoil == "bad log":
        body = body.replace(b'"logIndex":"0x2d"', b'"logIndex":45')
    else:
        body = body[:-2] + b"}"  # the array never closed
    got: list[Any] = []
    with pytest.raises(errors.ChainError, match="not a list of logs"):
        for piece in _split_pieces(_reads(body, 256), 1000):
            got.extend(piece)
    assert got and got == _decode_logs(_body(logs))[: len(got)]
