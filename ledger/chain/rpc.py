"""JSON-RPC plumbing: a web3 provider with retries, raw calls, batches and revert decoding."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast

import requests
from web3 import HTTPProvider, Web3
from web3.providers.base import JSONBaseProvider
from web3.providers.rpc.utils import ExceptionRetryConfiguration
from web3.types import RPCEndpoint

from ledger import errors
from ledger.chain._jsonrpc import raise_rpc_error as raise_rpc_error  # shared with the web3-free reads

# Transient transport failures are retried by web3's own machinery (reads and eth_sendRawTransaction,
# which is idempotent for the same signed bytes).
_RETRY = ExceptionRetryConfiguration(
    errors=(ConnectionError, requests.ConnectionError, requests.Timeout), retries=5, backoff_factor=0.2
)


def make_web3(rpc_url: str, timeout: float = 60.0) -> Web3:
    """Create a Web3 for `rpc_url` with retries and cached chain-id lookups."""
    provider = HTTPProvider(
        rpc_url,
        request_kwargs={"timeout": timeout},
        exception_retry_configuration=_RETRY,
        cache_allowed_requests=True,
    )
    return Web3(provider)


def call(w3: Web3, method: str, params: list[Any]) -> Any:
    """Make one JSON-RPC request and return its result; reverts become named exceptions."""
    try:
        response = w3.provider.make_request(RPCEndpoint(method), params)
    except (requests.ConnectionError, ConnectionError) as exc:
        raise errors.ConnectionFailed(f"cannot reach {_url(w3)}: {exc.__class__.__name__}") from None
    except requests.Timeout:
        raise errors.ConnectionFailed(f"{_url(w3)} timed out on {method}") from None
    if "error" in response:
        raise_rpc_error(method, response["error"])
    return response["result"]


_T = TypeVar("_T")
# requests sessions are not thread-safe: each thread keeps its own, one per endpoint.
_SESSIONS = threading.local()


def _http(w3: Web3) -> tuple[str, requests.Session, dict[str, Any]] | None:
    """The node's URL, this thread's session to it and the provider's request options; None when not HTTP."""
    provider = w3.provider
    url = getattr(provider, "endpoint_uri", None)
    kwargs_of = getattr(provider, "get_request_kwargs", None)
    if not isinstance(url, str) or not url.startswith(("http://", "https://")) or kwargs_of is None:
        return None
    sessions: dict[str, requests.Session] = _SESSIONS.__dict__.setdefault("by_url", {})
    session = sessions.get(url)
    if session is None:
        session = sessions[url] = requests.Session()
    return url, session, dict(kwargs_of())


def call_decoded(w3: Web3, method: str, params: list[Any], decode: Callable[[bytes], _T]) -> _T:
    """Make one JSON-RPC request and return ``decode(body)`` of the raw response body.

    For large responses (``eth_getLogs``): the body goes straight to a typed decoder instead of
    web3's ``json.loads`` into dicts and its middleware. `decode` reads the whole response object
    and raises for its ``error`` member (:func:`raise_rpc_error`). Not retried: the caller retries.
    A provider that is not HTTP goes through :func:`call`, its result re-encoded for `decode`.
    """
    http = _http(w3)
    if http is None:
        return decode(json.dumps({"jsonrpc": "2.0", "id": 1, "result": call(w3, method, params)}).encode())
    url, session, kwargs = http
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    try:
        response = session.post(url, data=body, **kwargs)
        content = response.content  # read here: a body cut short raises inside this try
    except requests.Timeout:
        raise errors.ConnectionFailed(f"{url} timed out on {method}") from None
    except (requests.RequestException, ConnectionError) as exc:  # refused, reset, a body cut short
        raise errors.ConnectionFailed(f"cannot reach {url}: {exc.__class__.__name__}") from None
    if response.status_code >= 400 and not content.lstrip().startswith(b"{"):
        raise errors.ChainError(f"{method} failed: HTTP {response.status_code} from the node")
    return decode(content)


@contextmanager
def streamed(w3: Web3, method: str, params: list[Any], chunk_bytes: int = 1 << 20) -> Iterator[Iterator[bytes] | None]:
    """Make one JSON-RPC request and give its response body as it arrives, in pieces of up to `chunk_bytes`.

    For answers too large to hold whole (one block's ``eth_getLogs`` can be tens of megabytes). Gives None
    when the provider is not HTTP (the caller reads through :func:`call_decoded` then). Transport failures,
    before or while the body arrives, raise :class:`ledger.errors.ConnectionFailed`; an HTTP error whose body
    is not JSON raises :class:`ledger.errors.ChainError`. Not retried: the caller retries. The connection
    is released when the block ends, read to its end or not.
    """
    http = _http(w3)
    if http is None:
        yield None
        return
    url, session, kwargs = http
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    try:
        response = session.post(url, data=body, stream=True, **kwargs)
    except requests.Timeout:
        raise errors.ConnectionFailed(f"{url} timed out on {method}") from None
    except (requests.RequestException, ConnectionError) as exc:
        raise errors.ConnectionFailed(f"cannot reach {url}: {exc.__class__.__name__}") from None
    with response:
        if response.status_code >= 400:
            try:
                content = response.content
            except (requests.RequestException, ConnectionError) as exc:
                raise errors.ConnectionFailed(f"cannot reach {url}: {exc.__class__.__name__}") from None
            if not content.lstrip().startswith(b"{"):
                raise errors.ChainError(f"{method} failed: HTTP {response.status_code} from the node")
            yield iter((content,))
            return

        def pieces() -> Iterator[bytes]:
            try:
                yield from response.iter_content(chunk_bytes)
            except requests.Timeout:
                raise errors.ConnectionFailed(f"{url} timed out on {method}") from None
            except (requests.RequestException, ConnectionError) as exc:  # reset, a body cut short
                raise errors.ConnectionFailed(f"cannot reach {url}: {exc.__class__.__name__}") from None

        yield pieces()


def batch_decoded(w3: Web3, requests_: list[tuple[str, list[Any]]], decode: Callable[[bytes], list[_T]]) -> list[_T]:
    """Send requests as one JSON-RPC batch and return ``decode(body)`` of the raw response body.

    `decode` turns the body into one item per request (the caller matches them to the requests by
    their ids, 0 to n-1, and raises for an ``error`` member). Transport failures are retried as :func:`batch` retries them. A provider that
    is not HTTP goes through :func:`batch`, its results re-encoded for `decode`.
    """
    if not requests_:
        return []
    provider = w3.provider
    url = getattr(provider, "endpoint_uri", None)
    kwargs_of = getattr(provider, "get_request_kwargs", None)
    if not isinstance(url, str) or not url.startswith(("http://", "https://")) or kwargs_of is None:
        results = batch(w3, requests_)
        return decode(json.dumps([{"jsonrpc": "2.0", "id": k, "result": r} for k, r in enumerate(results)]).encode())
    body = json.dumps([{"jsonrpc": "2.0", "id": k, "method": m, "params": p} for k, (m, p) in enumerate(requests_)]).encode()
    sessions: dict[str, requests.Session] = _SESSIONS.__dict__.setdefault("by_url", {})
    for attempt in range(_RETRY.retries):
        session = sessions.get(url)
        if session is None:
            session = sessions[url] = requests.Session()
        try:
            response = session.post(url, data=body, **dict(kwargs_of()))
            content = response.content  # read here: a body cut short raises inside this try
            break
        except (requests.RequestException, ConnectionError) as exc:  # refused, reset, timed out, cut short
            sessions.pop(url, None)
            session.close()
            if attempt == _RETRY.retries - 1:
                raise errors.ConnectionFailed(f"cannot reach {url}: {exc.__class__.__name__}") from None
            time.sleep(_RETRY.backoff_factor * 2**attempt)
    if response.status_code >= 400 and not content.lstrip().startswith((b"{", b"[")):
        raise errors.ChainError(f"batch failed: HTTP {response.status_code} from the node")
    return decode(content)


def close_sessions() -> None:
    """Close the HTTP sessions :func:`call_decoded` opened in the calling thread."""
    sessions: dict[str, requests.Session] = _SESSIONS.__dict__.pop("by_url", {})
    for session in sessions.values():
        session.close()


def batch(w3: Web3, requests_: Iterable[tuple[str, list[Any]]]) -> list[Any]:
    """Send requests as one JSON-RPC batch array; return results in order (errors raise).

    Batches carry reads only, so a transport failure is retried as web3 retries single reads
    (web3 itself does not retry batches).
    """
    reqs = list(requests_)
    if not reqs:
        return []
    # Web3 types its provider as BaseProvider; batches need a JSON-RPC one (make_web3 builds an HTTPProvider).
    provider = cast(JSONBaseProvider, w3.provider)
    endpoints = [(RPCEndpoint(method), params) for method, params in reqs]
    for attempt in range(_RETRY.retries):
        try:
            responses = provider.make_batch_request(endpoints)
            break
        except (requests.ConnectionError, ConnectionError, requests.Timeout) as exc:
            if attempt == _RETRY.retries - 1:
                raise errors.ConnectionFailed(f"cannot reach {_url(w3)}: {exc.__class__.__name__}") from None
            time.sleep(_RETRY.backoff_factor * 2**attempt)
    if isinstance(responses, dict):  # a node that rejects the whole batch
        raise_rpc_error("batch", responses.get("error", responses))
    by_id = sorted(responses, key=lambda r: int(str(r["id"])))
    out = []
    for (method, _), resp in zip(reqs, by_id):
        if "error" in resp:
            raise_rpc_error(method, resp["error"])
        out.append(resp["result"])
    return out


def _url(w3: Web3) -> str:
    return str(getattr(w3.provider, "endpoint_uri", "the node"))
