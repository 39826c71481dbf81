"""The existence reads of a bulk import decode the node's batch answer themselves: an answer that lacks a
result, repeats another's, or carries an error must not be read as "this lot does not exist"."""

from __future__ import annotations

import json

import pytest

from ledger import errors
from ledger.client.bulk import _call_results

WORD = "0x" + "00" * 288


def _body(answers: list[dict]) -> bytes:
    return json.dumps(answers).encode()


def test_results_come_back_in_request_order_whatever_order_the_node_answers_in():
    answers = [{"jsonrpc": "2.0", "id": 1, "result": "0x01"}, {"jsonrpc": "2.0", "id": 0, "result": "0x00"}]
    assert _call_results(2)(_body(answers)) == ["0x00", "0x01"]


def test_a_missing_answer_is_refused_not_taken_for_an_absent_lot():
    with pytest.raises(errors.ChainError, match="no result for request 1 of 2"):
        _call_results(2)(_body([{"jsonrpc": "2.0", "id": 0, "result": WORD}, {"jsonrpc": "2.0", "id": 0, "result": WORD}]))


def test_an_error_answer_raises():
    with pytest.raises(errors.ChainError, match="header not found"):
        _call_results(1)(_body([{"jsonrpc": "2.0", "id": 0, "error": {"code": -32000, "message": "header not found"}}]))
    with pytest.raises(errors.ChainError, match="too large"):
        _call_results(1)(json.dumps({"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "batch too large"}}).encode())
