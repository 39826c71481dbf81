"""Fast decoding of raw contract logs, and the ledger-head hash chain over them.

eth-abi takes about 200 µs per event; an index of a busy ledger decodes hundreds of thousands of
them. The layouts here come from the shipped ABIs (:mod:`ledger.chain.abi`) and are decoded by slicing
32-byte words, which is exact for the types these contracts emit (uintN, bytes32, address, bool,
static arrays and tuples, dynamic arrays of static types, bytes). ``tests/provenance`` checks the
result against eth-abi for every event.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from ledger import errors
from ledger.chain.abi import Event, contract_abi
from ledger.chain.rpc import batch_decoded, call, call_decoded, raise_rpc_error, streamed
from ledger.domain.hashing import keccak

if TYPE_CHECKING:
    from web3 import Web3

#: Contract slots in the index: the ledger (with its registry) and the attestation contract.
LEDGER, ATTESTATIONS = 0, 1
CONTRACT_NAMES = {LEDGER: "RinneLedger", ATTESTATIONS: "GwpAttestations"}
_HEAD_MASK = (1 << 64) - 1

Decoder = Callable[[bytes, int, int], Any]  # (data, position of the head word, base of offsets) -> value


def _word(data: bytes, pos: int) -> int:
    return int.from_bytes(data[pos : pos + 32], "big")


def _static_size(t: str) -> int | None:
    """Head size in bytes of a static type, or None when the type is dynamic."""
    if t in ("bytes", "string") or t.endswith("[]"):
        return None
    m = re.fullmatch(r"(.*)\[(\d+)\]", t)
    if m:
        inner = _static_size(m.group(1))
        return None if inner is None else inner * int(m.group(2))
    if t.startswith("("):
        sizes = [_static_size(c) for c in _split_tuple(t)]
        known = [s for s in sizes if s is not None]
        return None if len(known) < len(sizes) else sum(known)
    return 32


def _split_tuple(t: str) -> list[str]:
    body, depth, parts, cur = t[1:-1], 0, [], ""
    for ch in body:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    if cur:
        parts.append(cur)
    return parts


def _scalar(t: str) -> Decoder:
    if t == "address":
        return lambda d, p, b: "0x" + d[p + 12 : p + 32].hex()
    if t == "bool":
        return lambda d, p, b: d[p + 31] != 0
    if t.startswith("bytes") and t != "bytes":
        return lambda d, p, b: d[p : p + 32]
    if t.startswith("uint"):
        return lambda d, p, b: int.from_bytes(d[p : p + 32], "big")
    raise ValueError(f"unsupported ABI type {t}")


def _decoder(t: str) -> Decoder:
    """Return a decoder reading type `t` whose head word sits at `pos` (offsets relative to `base`)."""
    if t in ("bytes", "string"):

        def dyn_bytes(d: bytes, p: int, b: int) -> Any:
            start = b + _word(d, p)
            n = _word(d, start)
            if start + 32 + n > len(d):
                raise ValueError("malformed log data: bytes run past the end")
            raw = d[start + 32 : start + 32 + n]
            return raw.decode() if t == "string" else raw

        return dyn_bytes
    if t.endswith("[]"):
        inner_t = t[:-2]
        size = _static_size(inner_t)
        if size is None:
            raise ValueError(f"unsupported ABI type {t}")
        inner = _decoder(inner_t)

        def dyn_array(d: bytes, p: int, b: int) -> Any:
            start = b + _word(d, p)
            n = _word(d, start)
            if start + 32 + n * size > len(d):  # a corrupted length must not make a 2**200-item list
                raise ValueError("malformed log data: array runs past the end")
            return [inner(d, start + 32 + k * size, start + 32) for k in range(n)]

        return dyn_array
    m = re.fullmatch(r"(.*)\[(\d+)\]", t)
    if m:
        inner_t, count = m.group(1), int(m.group(2))
        step = _static_size(inner_t)
        if step is None:
            raise ValueError(f"unsupported ABI type {t}")
        elem = _decoder(inner_t)
        return lambda d, p, b: [elem(d, p + k * step, b) for k in range(count)]
    if t.startswith("("):
        return _tuple_decoder(_split_tuple(t))
    return _scalar(t)


def _tuple_decoder(types: list[str]) -> Decoder:
    if any(_static_size(c) is None for c in types):
        # A dynamic tuple is referenced by an offset; its members' offsets are relative to its start.
        inner = _head_decoder(types)
        return lambda d, p, b: inner(d, b + _word(d, p))
    static = _head_decoder(types)
    return lambda d, p, b: static(d, p)


def _head_decoder(types: list[str]) -> Callable[[bytes, int], tuple[Any, ...]]:
    parts: list[tuple[int, Decoder]] = []
    pos = 0
    for t in types:
        parts.append((pos, _decoder(t)))
        size = _static_size(t)
        pos += 32 if size is None else size
    return lambda d, base: tuple(dec(d, base + off, base) for off, dec in parts)


def _static_expr(t: str, pos: int) -> str | None:
    """A Python expression decoding static type `t` whose head sits at constant offset `pos` of `d`
    (same slicing as the closures above), or None for types the closures must decode."""
    if t in ("bytes", "string") or t.endswith("[]"):
        return None
    m = re.fullmatch(r"(.*)\[(\d+)\]", t)
    if m:
        inner_t, count = m.group(1), int(m.group(2))
        size = _static_size(inner_t)
        if size is None:
            return None
        parts = [_static_expr(inner_t, pos + k * size) for k in range(count)]
        known = [p for p in parts if p is not None]
        return None if len(known) < len(parts) else "[" + ", ".join(known) + "]"
    if t.startswith("("):
        members = _split_tuple(t)
        sizes = [s for s in (_static_size(c) for c in members) if s is not None]
        if len(sizes) < len(members):
            return None
        parts, off = [], pos
        for c, size in zip(members, sizes):
            parts.append(_static_expr(c, off))
            off += size
        known = [p for p in parts if p is not None]
        return None if len(known) < len(parts) else "(" + ", ".join(known) + ",)"
    if t == "address":
        return f'"0x" + d[{pos + 12}:{pos + 32}].hex()'
    if t == "bool":
        return f"d[{pos + 31}] != 0"
    if t.startswith("bytes"):
        return f"d[{pos}:{pos + 32}]"
    if t.startswith("uint"):
        return f'_int(d[{pos}:{pos + 32}], "big")'
    raise ValueError(f"unsupported ABI type {t}")


def _compile_decode(
    indexed: tuple[tuple[str, str], ...], data_names: tuple[str, ...], data_types: list[str]
) -> Callable[[list[bytes], bytes], dict[str, Any]]:
    """Generate one function decoding topics and data straight into the name → value dict.

    The closures above interpret the type tree on every call (~10 µs for a LotCreated); the
    generated code slices at constant offsets (~3 µs) and gives the same values, dynamic members
    (arrays, bytes) still going through the closures and their bounds checks.
    """
    env: dict[str, Any] = {"_int": int.from_bytes}
    items = []
    for k, (name, t) in enumerate(indexed):
        topic = f"topics[{k + 1}]"
        if t == "address":
            expr = f'"0x" + {topic}[12:].hex()'
        elif t.startswith("uint") or t == "bool":
            expr = f'_int({topic}, "big")'
        else:
            expr = topic
        items.append((name, expr, k + 1))
    lines = ["def decode(topics, d):", "    n = len(topics)", "    out = {}"]
    for name, expr, need in items:
        lines.append(f"    if n > {need}: out[{name!r}] = {expr}")  # zip() semantics: missing topics are skipped
    pos = 0
    for k, (name, t) in enumerate(zip(data_names, data_types)):
        static = _static_expr(t, pos)
        if static is None:
            env[f"_dec{k}"] = _decoder(t)
        expr = f"_dec{k}(d, {pos}, 0)" if static is None else static
        lines.append(f"    out[{name!r}] = {expr}")
        size = _static_size(t)
        pos += 32 if size is None else size
    lines.append("    return out")
    exec(compile("\n".join(lines), f"<event decoder {'/'.join(data_names)}>", "exec"), env)
    decode: Callable[[list[bytes], bytes], dict[str, Any]] = env["decode"]
    return decode


@dataclass(frozen=True)
class EventLayout:
    """How to decode one event of one contract from its raw topics and data."""

    contract: int
    name: str
    topic0: bytes
    indexed: tuple[tuple[str, str], ...]
    data_names: tuple[str, ...]
    decode_data: Callable[[bytes, int], tuple[Any, ...]]
    fast_decode: Callable[[list[bytes], bytes], dict[str, Any]] | None = None

    def decode(self, topics: list[bytes], data: bytes) -> dict[str, Any]:
        """Decode a raw log into name → value (addresses as lowercase hex, bytes32 as bytes)."""
        if self.fast_decode is not None:
            return self.fast_decode(topics, data)
        out: dict[str, Any] = {}
        for (name, t), topic in zip(self.indexed, topics[1:]):
            if t == "address":
                out[name] = "0x" + topic[12:].hex()
            elif t.startswith("uint") or t == "bool":
                out[name] = int.from_bytes(topic, "big")
            else:
                out[name] = topic
        if self.data_names:
            for name, value in zip(self.data_names, self.decode_data(data, 0)):
                out[name] = value
        return out


def _layout(contract: int, ev: Event) -> EventLayout:
    return EventLayout(
        contract=contract,
        name=ev.name,
        topic0=ev.topic0,
        indexed=tuple(ev.indexed),
        data_names=tuple(ev.data_names),
        decode_data=_head_decoder(list(ev.data_types)),
        fast_decode=_compile_decode(tuple(ev.indexed), tuple(ev.data_names), list(ev.data_types)),
    )


_LAYOUTS: dict[tuple[int, bytes], EventLayout] | None = None


def layouts() -> dict[tuple[int, bytes], EventLayout]:
    """Return (contract slot, topic0) → layout for every event of both contracts."""
    global _LAYOUTS
    if _LAYOUTS is None:
        found = {}
        for slot, name in CONTRACT_NAMES.items():
            for ev in contract_abi(name).events.values():
                found[(slot, ev.topic0)] = _layout(slot, ev)
        _LAYOUTS = found
    return _LAYOUTS


def layout_by_name(contract: int, name: str) -> EventLayout:
    """Return the layout of event `name` of a contract slot."""
    for (slot, _), lay in layouts().items():
        if slot == contract and lay.name == name:
            return lay
    raise KeyError(name)


def event_hash(topics: list[bytes], data: bytes) -> bytes:
    """Return keccak256(topic0 ‖ topic1 ‖ … ‖ data): what the contracts feed into the ledger head."""
    return keccak(b"".join(topics) + data)


def advance_head(head: int, ev_hash: bytes) -> int:
    """Advance a packed head word (192-bit running hash ‖ 64-bit sequence) over one event hash."""
    h = int.from_bytes(keccak(head.to_bytes(32, "big") + ev_hash), "big")
    return (h & ~_HEAD_MASK & ((1 << 256) - 1)) | (((head & _HEAD_MASK) + 1) & _HEAD_MASK)


def split_topics(blob: bytes) -> list[bytes]:
    """Split concatenated 32-byte topics back into a list."""
    return [blob[i : i + 32] for i in range(0, len(blob), 32)]


# ------------------------------------------------------------------------------- reading logs
# The one way logs are read from a node: the index's sync, its verification and a freeze's lineage
# all come through here, and the one rule below says when a node refused a range for its size.

#: Words nodes use when a range or a result is too large for one eth_getLogs ("query returned more
#: than 10000 results", "block range too large", "exceed maximum block range", ...).
_LIMIT_WORDS = ("too many", "limit", "range", "exceed", "too large", "response size", "more than")


_T = TypeVar("_T")


class LogRangeTooLarge(errors.ChainError):
    """The node refused an eth_getLogs range for its size: ask for a smaller one."""


def is_range_error(exc: Exception) -> bool:
    """Whether a node's error says the requested log range or result was too large."""
    text = str(exc).lower()
    return any(w in text for w in _LIMIT_WORDS)


def get_logs(
    w3: Web3, addresses: Sequence[str], start: int, end: int, *, topics: list[Any] | None = None, retries: int = 3
) -> list[dict[str, Any]]:
    """The raw logs of `addresses` in blocks `start`..`end` (one request, retried with backoff).

    Raises :class:`LogRangeTooLarge` when the node refuses the range for its size, and the node's
    error when retries run out.
    """
    query: dict[str, Any] = {"address": list(addresses), "fromBlock": hex(start), "toBlock": hex(end)}
    if topics is not None:
        query["topics"] = topics
    logs: list[dict[str, Any]] = _retried(lambda: call(w3, "eth_getLogs", [query]), retries)
    return logs


def _retried(once: Callable[[], _T], retries: int) -> _T:
    """``once()``, retried with backoff; a node's refusal of the range for its size raises
    :class:`LogRangeTooLarge` at once, and the last failure raises when retries run out."""
    delay = 0.2
    for attempt in range(retries + 1):
        try:
            return once()
        except errors.ConnectionFailed:
            if attempt == retries:
                raise
        except errors.ChainError as exc:
            if not isinstance(exc, _Malformed) and is_range_error(exc):
                raise LogRangeTooLarge(str(exc)) from None
            if attempt == retries:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 5.0)
    raise AssertionError("unreachable")


class LogRecord(msgspec.Struct, gc=False):
    """One log as ``eth_getLogs`` returns it (hex strings), the members the index reads."""

    # gc=False: a sync holds ~10k of these at once and they cannot form cycles (strings only).
    address: str
    topics: list[str]
    data: str
    blockNumber: str  # the JSON-RPC member names
    blockHash: str
    logIndex: str
    transactionHash: str | None = None
    blockTimestamp: str | None = None
    removed: bool = False


class _Malformed(errors.ChainError):
    """The node's eth_getLogs answer is not JSON-RPC with a list of logs."""


class _LogsResponse(msgspec.Struct, gc=False):
    result: list[LogRecord] | None = None
    error: dict[str, Any] | None = None


_DECODE_LOGS = msgspec.json.Decoder(_LogsResponse).decode


def log_records(logs: Sequence[Mapping[str, Any]]) -> list[LogRecord]:
    """Convert logs as JSON-RPC gives them, parsed into dicts elsewhere, to :class:`LogRecord`.

    A log that is not one (a member missing, or not a hex string) raises :class:`ledger.errors.ChainError`.
    """
    try:
        return msgspec.convert([x if isinstance(x, dict) else dict(x) for x in logs], list[LogRecord])
    except (msgspec.ValidationError, TypeError, ValueError) as exc:
        raise errors.ChainError(f"the node returned a malformed log ({exc})") from None


def _decode_logs(body: bytes) -> list[LogRecord]:
    try:
        response = _DECODE_LOGS(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise _Malformed(f"eth_getLogs failed: the node's answer is not a list of logs ({exc})") from None
    if response.error is not None:
        raise_rpc_error("eth_getLogs", response.error)
    if response.result is None:
        raise _Malformed("eth_getLogs failed: the node's answer has no result")
    return response.result


def fetch_logs(w3: Web3, addresses: Sequence[str], start: int, end: int, *, retries: int = 3) -> list[LogRecord]:
    """The raw logs of `addresses` in blocks `start`..`end` as :class:`LogRecord`, retried as :func:`get_logs` is.

    The response body is decoded straight into typed records (msgspec: about half the time of
    ``json.loads`` into dicts, and no dict per log). Raises :class:`LogRangeTooLarge` when the node
    refuses the range for its size; an answer that is not a list of logs is retried, then raises.
    """
    query: dict[str, Any] = {"address": list(addresses), "fromBlock": hex(start), "toBlock": hex(end)}
    return _retried(lambda: call_decoded(w3, "eth_getLogs", [query], _decode_logs), retries)


#: Bytes of a streamed eth_getLogs body decoded at once (about 850 of the ledger's logs): what one piece
#: of :func:`stream_logs` holds, however many logs the answer has. A sync holds about five pieces
#: (ledger/index/sync.py); on the 1M-event bench chain its peak was 182 MB with 1 MB pieces, 197-202 MB
#: with 2 MB and 241 MB with 4 MB, at the same speed.
PIECE_BYTES = 1 << 20

#: How a JSON-RPC answer with a result array starts, as nodes write it; :func:`stream_logs` streams only
#: such an answer (any other is read whole). Group 1 is everything up to the array's opening bracket.
_HEAD = re.compile(
    rb'(\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*"id"\s*:\s*1|"id"\s*:\s*1\s*,\s*"jsonrpc"\s*:\s*"2\.0")\s*,\s*"result"\s*:\s*)\['
)
_DECODE_PIECE = msgspec.json.Decoder(list[LogRecord]).decode
_OPEN, _COMMA, _CLOSE = ord("["), ord(","), ord("]")


class LogStreamBroken(errors.ChainError):
    """A streamed eth_getLogs answer failed after some of its logs were handed over: fetch the range again."""


def _split_pieces(chunks: Iterator[bytes], piece_bytes: int) -> Generator[list[LogRecord], None, None]:
    """Decode a JSON-RPC eth_getLogs answer arriving in `chunks` into lists of logs of about `piece_bytes`
    of the body each (the last one may be empty); raises as :func:`fetch_logs` does for an answer that is
    not a list of logs, after the pieces before the fault.

    The body is cut only where the bytes ``},{`` separate two logs: a cut is taken once what lies before
    it decodes as a list of logs, which it does only at a real boundary (a cut inside a string or a
    nested value leaves a string or a bracket open: not JSON). The rest of the answer, from the last
    cut to the end, is decoded with its head as one whole answer, so its tail is checked as
    :func:`fetch_logs` checks one. An answer that does not start as :data:`_HEAD` says (an error, a node
    writing its members in another order) is decoded whole.
    """
    buf = bytearray()
    for chunk in chunks:
        buf += chunk
        if len(buf) >= 256:
            break
    m = _HEAD.match(buf)
    if m is None:  # not the usual form: read and decode it whole
        for chunk in chunks:
            buf += chunk
        yield _decode_logs(bytes(buf))
        return
    head = m.group(1)
    del buf[: m.end() - 1]  # buf starts with the array's "[" from here on
    next_try = piece_bytes
    for chunk in chunks:
        buf += chunk
        if len(buf) < next_try:
            continue
        cut = buf.rfind(b"},{")
        if cut < 0:
            next_try = len(buf) + piece_bytes
            continue
        # "[" log, …, log "]": the comma after the cut becomes the closing bracket for the decoder, then
        # the opening bracket of what is left (no copy of the piece).
        buf[cut + 1] = _CLOSE
        try:
            logs = _DECODE_PIECE(memoryview(buf)[: cut + 2])
        except (msgspec.DecodeError, msgspec.ValidationError):
            # Not a boundary (or a malformed log, which the whole decode below reports): try a later cut
            # once as much again has arrived, so that a body without one is not decoded over and over.
            buf[cut + 1] = _COMMA
            next_try = len(buf) * 2
            continue
        buf[cut + 1] = _OPEN
        del buf[: cut + 1]
        next_try = piece_bytes
        box = [logs]
        del logs
        yield box.pop()  # not kept in this frame while the next piece arrives
    yield _decode_logs(head + bytes(buf))


def stream_logs(
    w3: Web3, addresses: Sequence[str], start: int, end: int, *, retries: int = 3, piece_bytes: int | None = None
) -> Generator[list[LogRecord], None, None]:
    """The logs of `addresses` in blocks `start`..`end`, as :func:`fetch_logs` gives them, in pieces of
    about `piece_bytes` of the answer: one block's answer may hold tens of thousands of logs, and no
    more than a piece of them need be held at once.

    Until the first piece is handed over, failures are retried as :func:`fetch_logs` retries them (and a
    refused range raises :class:`LogRangeTooLarge`); a failure after it raises :class:`LogStreamBroken`,
    for the caller to drop what it took of the answer and ask again. `piece_bytes` defaults to
    :data:`PIECE_BYTES`; the body is read from the socket in parts no larger than a piece (at most 1 MB).
    """
    size = PIECE_BYTES if piece_bytes is None else max(1, piece_bytes)
    query: dict[str, Any] = {"address": list(addresses), "fromBlock": hex(start), "toBlock": hex(end)}

    def first() -> tuple[list[LogRecord], Generator[list[LogRecord], None, None] | None, Any]:
        opened = streamed(w3, "eth_getLogs", [query], min(size, 1 << 20))
        chunks = opened.__enter__()
        try:
            if chunks is None:  # not HTTP: one piece
                logs = call_decoded(w3, "eth_getLogs", [query], _decode_logs)
                opened.__exit__(None, None, None)
                return logs, None, None
            pieces = _split_pieces(chunks, size)
            return next(pieces), pieces, opened
        except BaseException as exc:
            opened.__exit__(type(exc), exc, exc.__traceback__)
            raise

    logs, rest, opened = _retried(first, retries)
    try:
        yield logs
        del logs
        if rest is not None:
            try:
                yield from rest
            except errors.ChainError as exc:
                raise LogStreamBroken(f"{exc}: the range {start}..{end} is fetched again") from None
    finally:
        if rest is not None:
            rest.close()
            opened.__exit__(None, None, None)


class _BatchLogsResponse(msgspec.Struct, gc=False):
    id: int | str | None = None
    result: list[LogRecord] | None = None
    error: dict[str, Any] | None = None


_DECODE_BATCH = msgspec.json.Decoder(list[_BatchLogsResponse] | dict[str, Any]).decode


def _decode_logs_batch(body: bytes) -> list[tuple[int, list[LogRecord]]]:
    try:
        responses = _DECODE_BATCH(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise _Malformed(f"eth_getLogs failed: the node's answer is not a list of logs ({exc})") from None
    if isinstance(responses, dict):  # a node that rejects the whole batch
        raise_rpc_error("batch", responses.get("error", responses))
    out = []
    for r in responses:
        if r.error is not None:
            raise_rpc_error("eth_getLogs", r.error)
        if r.result is None:
            raise _Malformed("eth_getLogs failed: the node's answer has no result")
        try:
            out.append((int(str(r.id)), r.result))
        except ValueError:
            raise _Malformed("eth_getLogs failed: the node's batch answer has ids that are not numbers") from None
    out.sort(key=lambda x: x[0])
    return out


def fetch_logs_batch(w3: Web3, addresses: Sequence[str], spans: Sequence[tuple[int, int]]) -> list[list[LogRecord]]:
    """The raw logs of `addresses` in each of the block `spans`, as :class:`LogRecord`, in one JSON-RPC batch.

    Decoded by msgspec as :func:`fetch_logs` is (web3's batch path parses every log into a dict first and
    runs its middleware over it: about half of what re-reading the chain's logs costs). Raises the node's
    error (a refused range size too, for the caller to split) and :class:`ledger.errors.ChainError` when
    the answer is not one list of logs per span.
    """
    reqs: list[tuple[str, list[Any]]] = [
        ("eth_getLogs", [{"address": list(addresses), "fromBlock": hex(a), "toBlock": hex(z)}]) for a, z in spans
    ]
    answers = batch_decoded(w3, reqs, _decode_logs_batch)
    # One answer per span, matched by id: a missing or repeated one must not shift the others onto the
    # wrong blocks (or leave a span unchecked).
    if [k for k, _ in answers] != list(range(len(reqs))):
        raise _Malformed(f"eth_getLogs failed: {len(reqs)} requests in the batch, answers for ids {[k for k, _ in answers][:10]}")
    return [logs for _, logs in answers]


def get_logs_chunked(
    w3: Web3, addresses: Sequence[str], start: int, end: int, *, topics: list[Any] | None = None, chunk: int = 50_000
) -> list[dict[str, Any]]:
    """The logs of `addresses` in blocks `start`..`end`, in ranges of `chunk` blocks, halved while the
    node refuses a range for its size; removed (reorged) logs are dropped."""
    out: list[dict[str, Any]] = []
    lo = start
    while lo <= end:
        hi = min(lo + chunk - 1, end)
        try:
            logs = get_logs(w3, addresses, lo, hi, topics=topics)
        except LogRangeTooLarge:
            if hi == lo:
                raise
            chunk = max(1, chunk // 2)
            continue
        out.extend(logs)
        lo = hi + 1
    return [log for log in out if not log.get("removed")]
