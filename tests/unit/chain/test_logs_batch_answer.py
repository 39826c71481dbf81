"""A node's answer to the batch of eth_getLogs that verify_heads compares the index with: the answers are
matched to the spans by id, not by position, and an answer short of a span or carrying an error is refused
(a node that answered fewer spans must not make the comparison skip blocks)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ledger import errors
from ledger.chain import logs as logs_module
from ledger.chain.logs import fetch_logs_batch

_LOG = {
    "address": "0x" + "11" * 20,
    "topics": ["0x" + "22" * 32],
    "data": "0x",
    "blockNumber": "0x5",
    "blockHash": "0x" + "33" * 32,
    "logIndex": "0x0",
    "transactionHash": "0x" + "44" * 32,
}


def _answer(monkeypatch: pytest.MonkeyPatch, body: Any) -> None:
    def batch_decoded(w3: Any, reqs: list[Any], decode: Any) -> Any:
        return decode(json.dumps(body).encode())

    monkeypatch.setattr(logs_module, "batch_decoded", batch_decoded)


def test_answers_are_put_in_the_order_of_the_spans(monkeypatch: pytest.MonkeyPatch) -> None:
    _answer(monkeypatch, [{"jsonrpc": "2.0", "id": 1, "result": [_LOG]}, {"jsonrpc": "2.0", "id": 0, "result": []}])
    first, second = fetch_logs_batch(None, ["0x" + "11" * 20], [(1, 4), (5, 5)])  # type: ignore[arg-type]
    assert first == [] and [x.blockNumber for x in second] == ["0x5"]


def test_an_answer_short_of_a_span_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    _answer(monkeypatch, [{"jsonrpc": "2.0", "id": 0, "result": [_LOG]}])
    with pytest.raises(errors.ChainError, match=r"2 requests in the batch, answers for ids \[0\]"):
        fetch_logs_batch(None, ["0x" + "11" * 20], [(1, 4), (5, 5)])  # type: ignore[arg-type]


def test_an_answer_repeated_in_place_of_another_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two answers with id 0 and none with id 1: the second span's blocks would be compared with the first's logs."""
    _answer(monkeypatch, [{"jsonrpc": "2.0", "id": 0, "result": []}, {"jsonrpc": "2.0", "id": 0, "result": []}])
    with pytest.raises(errors.ChainError, match=r"answers for ids \[0, 0\]"):
        fetch_logs_batch(None, ["0x" + "11" * 20], [(1, 4), (5, 5)])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ([{"jsonrpc": "2.0", "id": 0, "error": {"code": -32005, "message": "query returned more than 10000 results"}}], "more than"),
        ({"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "batch refused"}}, "batch refused"),
        ([{"jsonrpc": "2.0", "id": 0}], "no result"),
        ([{"jsonrpc": "2.0", "id": 0, "result": [{"address": 5}]}], "not a list of logs"),
        ([{"jsonrpc": "2.0", "id": "x", "result": []}], "ids that are not numbers"),
    ],
)
def test_an_error_or_a_malformed_answer_raises(monkeypatch: pytest.MonkeyPatch, body: Any, match: str) -> None:
    _answer(monkeypatch, body)
    with pytest.raises(errors.ChainError, match=match):
        fetch_logs_batch(None, ["0x" + "11" * 20], [(1, 4)])  # type: ignore[arg-type]
