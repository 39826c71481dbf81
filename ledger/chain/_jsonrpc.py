"""A JSON-RPC client over the standard library, for reads that need neither web3 nor eth-account.

web3 and eth-account take about 0.35 s to import, more than half of `rinne lot show` (issue 16 asks
< 0.6 s): a read is a POST of a JSON body, which ``http.client`` does with one kept-alive connection.
Errors mean what :mod:`ledger.chain.rpc` makes of them: a refused or reset connection is retried as web3
retries a read, then :class:`~ledger.errors.ConnectionFailed`; an ``error`` member is a named revert
or :class:`~ledger.errors.ChainError` (:func:`raise_rpc_error`, shared with :mod:`ledger.chain.rpc`).
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

from ledger import errors

#: Transport retries and their backoff, as ledger.chain.rpc asks of web3 (0.2 s doubling, 5 tries).
RETRIES, BACKOFF = 5, 0.2


def raise_rpc_error(method: str, error: Mapping[str, Any]) -> NoReturn:
    """Raise the library error a JSON-RPC ``error`` object stands for (a revert by its name)."""
    data = error.get("data")
    if isinstance(data, dict):  # some nodes nest it: {"data": ...}, or Ganache's eth_estimateGas {"result": ...}
        data = data.get("data") if "data" in data else data.get("result")
    if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
        # Only a revert needs the ABI decoder (eth_abi): loaded here, not with every read.
        from ledger.chain.abi import decode_revert

        raise decode_revert(bytes.fromhex(data[2:]))
    message = str(error.get("message", error))
    if "revert" in message.lower():
        raise errors.TransactionFailed(f"{method}: {message}")
    raise errors.ChainError(f"{method} failed: {message}")


class JsonRpc:
    """One node's JSON-RPC endpoint over HTTP(S): single requests and batches on a kept-alive connection.

    For reads: a request is sent again after a transport failure, so it must be one that may run twice.
    Not thread-safe (one connection): a thread that reads in parallel makes its own.
    """

    def __init__(self, url: str, timeout: float = 60.0) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise errors.ConfigError(f"{url!r} is not an http:// or https:// JSON-RPC URL")
        self.url = url
        self._timeout = timeout
        self._parts = parts
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._conn: http.client.HTTPConnection | None = None

    def __repr__(self) -> str:
        return f"JsonRpc({self.url!r})"

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            kind = http.client.HTTPSConnection if self._parts.scheme == "https" else http.client.HTTPConnection
            self._conn = kind(self._parts.hostname or "", self._parts.port, timeout=self._timeout)
        return self._conn

    def close(self) -> None:
        """Close the kept-alive connection (the next request opens another)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _post(self, what: str, payload: Any) -> Any:
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._parts.username:  # https://user:secret@host/: a hosted node's basic authentication
            import base64

            user = urllib.parse.unquote(self._parts.username) + ":" + urllib.parse.unquote(self._parts.password or "")
            headers["Authorization"] = "Basic " + base64.b64encode(user.encode()).decode()
        for attempt in range(RETRIES):
            conn = self._connection()
            try:
                conn.request("POST", self._path, body, headers)
                response = conn.getresponse()
                content = response.read()  # read here: a body cut short raises inside this try
                break
            except TimeoutError:
                self.close()
                raise errors.ConnectionFailed(f"{self.url} timed out on {what}") from None
            except (OSError, http.client.HTTPException) as exc:  # refused, reset, a kept-alive connection the node closed
                self.close()
                if attempt == RETRIES - 1:
                    raise errors.ConnectionFailed(f"cannot reach {self.url}: {exc.__class__.__name__}") from None
                time.sleep(BACKOFF * 2**attempt)
        if response.will_close:
            self.close()
        if response.status >= 400 and not content.lstrip().startswith((b"{", b"[")):
            raise errors.ChainError(f"{what} failed: HTTP {response.status} from the node")
        try:
            return json.loads(content)
        except ValueError:
            raise errors.ChainError(f"{what} failed: the node answered with no JSON (HTTP {response.status})") from None

    def request(self, method: str, params: list[Any]) -> Any:
        """Make one JSON-RPC request and return its result; reverts become named exceptions."""
        response = self._post(method, {"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        if not isinstance(response, dict):
            raise errors.ChainError(f"{method} failed: the node answered with no JSON-RPC response object")
        if "error" in response:
            raise_rpc_error(method, response["error"])
        return response.get("result")

    def batch(self, requests: Iterable[tuple[str, list[Any]]]) -> list[Any]:
        """Send requests as one JSON-RPC batch array; return results in order (errors raise)."""
        reqs = list(requests)
        if not reqs:
            return []
        payload = [{"jsonrpc": "2.0", "id": k, "method": m, "params": p} for k, (m, p) in enumerate(reqs)]
        responses = self._post("batch", payload)
        if isinstance(responses, dict):  # a node that rejects the whole batch
            raise_rpc_error("batch", responses.get("error", responses))
        by_id = {str(r.get("id")): r for r in responses if isinstance(r, dict)}
        out = []
        for k, (method, _) in enumerate(reqs):
            resp = by_id.get(str(k))
            if resp is None:
                raise errors.ChainError(f"batch failed: the node sent no answer to request {k} ({method})")
            if "error" in resp:
                raise_rpc_error(method, resp["error"])
            out.append(resp.get("result"))
        return out


__all__ = ["JsonRpc", "raise_rpc_error"]
