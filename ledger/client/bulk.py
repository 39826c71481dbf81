"""Bulk writes: many lots, offers or acceptances per transaction, pipelined, sized from the chain's gas limit."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any

from eth_abi import encode as abi_encode
from eth_utils import to_checksum_address
from pydantic import BaseModel, ConfigDict

from ledger import errors
from ledger.chain.abi import artifact
from ledger.chain.rpc import batch, batch_decoded, call, raise_rpc_error
from ledger.chain.tx import Sender
from ledger.client._keeper import Keeper
from ledger.client.base import LEDGER_ABI
from ledger.client.identity import IdentityMixin
from ledger.client.inputs import commitment
from ledger.domain.composition import Composition
from ledger.domain.disclosure import Openings
from ledger.domain.enums import LotState
from ledger.domain.ids import hex_of, id_bytes, label_of
from ledger.domain.models import LotSpec

#: Lots per mintBatch transaction on a chain with 30M-gas blocks: about 82k gas each, so a transaction
#: stays under the 15M gas target and the base fee does not climb during an import. The bulk methods
#: size their transactions from the chain's own block gas limit (see :func:`_bulk_chunk`).
BULK_BATCH = 150


#: Calldata cap of one bulk transaction: geth-based pools refuse transactions over 128 KiB.
_MAX_TX_BYTES = 120_000


#: Gas cap of one transaction since Osaka (EIP-7825), whatever the block gas limit.
_MAX_TX_GAS = 1 << 24


#: Items whose gas a probe estimate measures before the bulk methods size their transactions.
_PROBE = 64


class BulkResult(BaseModel):
    """Outcome of a bulk write."""

    model_config = ConfigDict(frozen=True)

    done: int
    skipped: int
    transactions: int
    gas_used: int


def _word(value: int) -> bytes:
    try:
        return value.to_bytes(32, "big")
    except OverflowError:
        raise errors.InvalidInput(f"{value} does not fit an unsigned 256-bit word") from None


#: A lot spec's words that rows cut from one batch share: its composition, the material and evidence words.
_SharedWords = dict[tuple[str, str, int], tuple[Composition, bytes]]


def _lot_spec_words(spec: LotSpec, shared: _SharedWords | None = None) -> bytes:
    """The ABI encoding of a Solidity LotSpec (a static tuple of 11 words).

    With `shared`, the material, evidence and composition words of specs that share their composition object
    (an import's rows that differ only in id and origin, see the CLI's lot file reader) are encoded once.
    """
    mass = spec.mass
    if not 0 <= mass < 1 << 64:
        raise errors.InvalidInput(f"mass {mass} does not fit uint64")
    comp = spec.composition
    key = (spec.material, spec.evidence, id(comp))
    hit = shared.get(key) if shared is not None else None
    if hit is None or hit[0] is not comp:  # the composition object itself, not another at a reused address
        total, pre, post = comp.words()
        hit = (comp, b"".join((id_bytes(spec.material), *(_word(w) for w in (*total, *pre, *post)))))
        if shared is not None:
            shared[key] = hit
    lot_id, origin, evidence = id_bytes(spec.lot_id), id_bytes(spec.origin), id_bytes(spec.evidence)
    if any(len(p) != 32 for p in (lot_id, origin, evidence)) or len(hit[1]) != 32 * 7:
        raise errors.InvalidInput("lot spec fields must be 32 bytes")
    material, words = hit[1][:32], hit[1][32:]
    return b"".join((lot_id, material, _word(mass), origin, evidence, words))


def _encode_arrays(selector: bytes, arrays: Sequence[Sequence[bytes]]) -> bytes:
    """Encode a call whose arguments are dynamic arrays of static elements (each already encoded)."""
    heads, tails, offset = [], [], 32 * len(arrays)
    for arr in arrays:
        heads.append(_word(offset))
        tail = _word(len(arr)) + b"".join(arr)
        tails.append(tail)
        offset += len(tail)
    return selector + b"".join(heads) + b"".join(tails)


def _bulk_chunk(gas_limit: int, per_item: int, overhead: int, item_bytes: int) -> int:
    """Items per bulk transaction: half the block gas limit (the EIP-1559 target, so the base fee
    does not climb as the import fills blocks) and at most 2^24 gas (EIP-7825), at most
    `_MAX_TX_BYTES` of calldata, at least one."""
    by_gas = (min(gas_limit // 2, _MAX_TX_GAS) - overhead) // max(per_item, 1) if gas_limit else BULK_BATCH
    return max(1, min(by_gas, _MAX_TX_BYTES // item_bytes))


#: Lots one LotReader eth_call reads: its answer is returned as if it were runtime code, which EIP-170 caps at
#: 24,576 bytes, 96 a lot (about 7k gas a lot, so under 2M gas a call).
_READ_BATCH = 256


#: LotReader calls per JSON-RPC batch request: about 0.3 MB of request and 0.8 MB of answer (Anvil takes 2 MB).
_CALLS_PER_REQUEST = 16


#: Existence-read requests in flight at once.
_READERS = 2


@cache
def _lot_reader_code(evm: str) -> bytes:
    """The creation code of LotReader for EVM build `evm` (its constructor returns the figures; see
    contracts/utils/LotReader.sol)."""
    return bytes.fromhex(artifact("LotReader", evm)["bytecode"][2:])


def _call_results(n: int) -> Callable[[bytes], list[str]]:
    """A batch_decoded decoder: the `n` results of a batch of eth_calls in request order (an error raises)."""

    def decode(body: bytes) -> list[str]:
        answers = json.loads(body)
        if isinstance(answers, dict):  # a node that rejects the whole batch
            raise_rpc_error("batch", answers.get("error", answers))
        by_id: dict[int, Any] = {}
        for a in answers:
            by_id[int(a.get("id", -1))] = a
        out = []
        for k in range(n):
            a = by_id.get(k)
            if a is None:
                raise errors.ChainError(f"the node's batch answer has no result for request {k} of {n}")
            if "error" in a:
                raise_rpc_error("eth_call", a["error"])
            out.append(str(a["result"]))
        return out

    return decode


def _preflight(sender: Sender, to: str, datas: Sequence[bytes]) -> None:
    """Try each call with eth_call (in batch requests of at most ~1 MB: Anvil takes 2 MB a request);
    a revert raises its named error before anything is sent."""
    start = 0
    while start < len(datas):
        end, size = start, 0
        while end < len(datas) and (end == start or size + len(datas[end]) <= 500_000):
            size += len(datas[end])
            end += 1
        batch(sender.w3, [("eth_call", [{"from": sender.address, "to": to, "data": hex_of(d)}, "latest"]) for d in datas[start:end]])
        start = end


class BulkMixin(IdentityMixin):
    """The bulk methods of :class:`ledger.Ledger`."""

    def mint_many(
        self,
        specs: Sequence[LotSpec],
        *,
        batch_size: int | None = None,
        progress: Callable[[int], None] | None = None,
        checked: bool = False,
    ) -> BulkResult:
        """Mint many lots through `mintBatch`, pipelined; lots that already exist are skipped, so a
        retried import after a crash neither loses nor doubles any lot.

        Without `batch_size`, each transaction carries as many lots as half the chain's block gas
        limit allows (the EIP-1559 target, so the base fee does not climb), at most 120 kB of calldata.
        With `checked`, the caller has just read (:meth:`lots_on_chain`) that none of `specs` exists, and they
        are not read again: a lot minted by another writer in between makes its transaction revert
        (``RinneLedgerLotExists``, nothing doubled), and a re-run skips it.
        """
        ids = [id_bytes(s.lot_id) for s in specs]
        if len(set(ids)) != len(ids):
            raise errors.InvalidInput("the import names the same lot id twice")
        existing = {} if checked else self._existing(ids)
        todo = [s for s, i in zip(specs, ids) if i not in existing]
        for s, i in zip(specs, ids):
            # The mass is stored beside the commitment (material and composition): both must be this spec's.
            if i in existing and existing[i] != (s.mass, commitment(s.material, s.composition)):
                raise errors.InvalidInput(f"lot {label_of(s.lot_id)} already exists with other content")
        if progress and len(specs) - len(todo):
            progress(len(specs) - len(todo))
        if not todo:
            return BulkResult(done=0, skipped=len(specs), transactions=0, gas_used=0)
        d = self._deployment()
        fn = LEDGER_ABI.fn("mintBatch")
        sender = self._sender()
        pending: list[Openings] = []
        todo = self._commit_lots(todo, pending)
        shared: _SharedWords = {}
        rows = [_lot_spec_words(s, shared) for s in todo]
        # One estimate of a probe chunk, scaled per lot, instead of one round trip per transaction.
        probe = rows[: batch_size or _PROBE]
        per_lot = sender.estimate(d.ledger, _encode_arrays(fn.selector, [probe])) // len(probe) + 2_000
        size = batch_size or _bulk_chunk(sender.block_gas_limit(), per_lot, 30_000, len(rows[0]))
        chunks = [rows[i : i + size] for i in range(0, len(rows), size)]
        calls = [(d.ledger, _encode_arrays(fn.selector, [c]), per_lot * len(c) + 30_000) for c in chunks]
        # send_many reports one receipt at a time; the caller counts lots, so advance by each chunk's size.
        sizes = iter(len(c) for c in chunks)
        # The openings of each transaction's lots are kept as its receipt arrives, not once every chunk has
        # landed: an import that fails or is interrupted part-way leaves no lot on-chain whose site nobody can open.
        by_lot: dict[bytes, list[Openings]] = {}
        for o in pending:  # a lot's origin and evidence openings
            by_lot.setdefault(self._lot_of(o), []).append(o)
        landed = iter([o for s in todo[i : i + size] for o in by_lot.get(id_bytes(s.lot_id), [])] for i in range(0, len(todo), size))

        # A vault's batches are written from a thread of their own, so that receipts are not held up by fsyncs.
        keeper = Keeper(self._keep) if self.vault is not None else None

        def on_receipt(_n: int) -> None:
            if keeper is None:
                self._keep(next(landed))
            else:
                keeper.add(next(landed))
            if progress:
                progress(next(sizes))

        try:
            receipts = sender.send_many(calls, progress=on_receipt)
            if keeper is not None:
                keeper.close()  # every landed chunk kept before the import says it is done
        except BaseException:
            if keeper is not None:
                try:
                    keeper.close()  # what the writer has queued is kept first
                except Exception:  # its failure: the openings of what landed are kept just below
                    pass
            # Transactions sent before the failure may land after it: keep the openings of the lots now on-chain
            # and held by this account (those this run created), whatever stopped it.
            held = self._held_here(todo)
            self._keep([o for o in pending if self._lot_of(o) in held])
            raise
        gas = sum(int(r["gasUsed"], 16) for r in receipts)
        return BulkResult(done=len(todo), skipped=len(specs) - len(todo), transactions=len(receipts), gas_used=gas)

    def _held_here(self, specs: Sequence[LotSpec]) -> set[bytes]:
        """The ids of `specs` that exist on-chain held by this account (batched eth_call)."""
        d = self._deployment()
        f = LEDGER_ABI.fn("lot")
        me = self.address.lower()
        out: set[bytes] = set()
        ids = [id_bytes(s.lot_id) for s in specs]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            results = batch(self.w3, [("eth_call", [{"to": d.ledger, "data": hex_of(f.selector + i)}, "latest"]) for i in chunk])
            for i, r in zip(chunk, results):
                # lot(bytes32): word 0 the holder, word 1 the state (see _existing).
                if len(r) == 2 + 9 * 64 and int(r[2 + 64 : 2 + 128], 16) != LotState.NONE and "0x" + r[2 + 24 : 2 + 64] == me:
                    out.add(i)
        return out

    def lots_on_chain(self, lot_ids: Sequence[str]) -> dict[str, tuple[int, str]]:
        """Return lowercase 0x-hex id → (mass, commitment) of those of `lot_ids` that exist on-chain.

        What a re-run of an import compares a file's rows with (the commitment covers material and
        composition; the mass is stored beside it), read at one block in JSON-RPC batches.
        """
        found = self._existing([id_bytes(i) for i in lot_ids])
        return {hex_of(i): v for i, v in found.items()}

    def _existing(self, ids: Sequence[bytes]) -> dict[bytes, tuple[int, str]]:
        """Map of id → (mass, commitment) for the ids that exist on-chain, read at one block.

        Each ``eth_call`` runs the never-deployed LotReader (contracts/utils/LotReader.sol) over
        `_READ_BATCH` lots: a node answers one call per lot with far more overhead than the reads themselves.
        """
        d = self._deployment()
        # One block for every call, so that a lot minted between two calls cannot be seen half.
        block = hex(int(call(self.w3, "eth_blockNumber", []), 16))
        chunks = [list(ids[start : start + _READ_BATCH]) for start in range(0, len(ids), _READ_BATCH)]
        code = _lot_reader_code(d.evm_version)  # the build the ledger's node runs
        ledger = to_checksum_address(d.ledger)

        def read(group: list[list[bytes]]) -> list[str]:
            # Built as text and decoded straight from the body (no web3 formatting or middleware).
            reqs: list[tuple[str, list[Any]]] = [
                ("eth_call", [{"data": hex_of(code + abi_encode(["address", "bytes32[]"], [ledger, c]))}, block]) for c in group
            ]
            return batch_decoded(self.w3, reqs, _call_results(len(group)))

        groups = [chunks[k : k + _CALLS_PER_REQUEST] for k in range(0, len(chunks), _CALLS_PER_REQUEST)]
        if len(groups) > 1:
            # Two requests in flight: the node answers one while this process encodes or decodes the other.
            pool = ThreadPoolExecutor(max_workers=_READERS)
            try:
                answers = [r for rs in pool.map(read, groups) for r in rs]
            finally:
                # On Ctrl-C or a failed request, drop the requests not started instead of reading them all first.
                pool.shutdown(wait=False, cancel_futures=True)
        else:
            answers = [r for g in groups for r in read(g)]
        out: dict[bytes, tuple[int, str]] = {}
        for chunk, r in zip(chunks, answers):
            # Three words a lot: state (0: none), mass, commitment.
            if len(r) != 2 + 192 * len(chunk):
                raise errors.ChainError(
                    f"the lot reader returned {len(r) // 2 - 1} bytes for {len(chunk)} lots, expected {96 * len(chunk)}"
                )
            for k, i in enumerate(chunk):
                at = 2 + 192 * k
                if int(r[at : at + 64], 16) != LotState.NONE:
                    out[i] = (int(r[at + 64 : at + 128], 16), "0x" + r[at + 128 : at + 192].lower())
        return out

    def offer_many(self, offers: Sequence[tuple[str, str]], *, batch_size: int | None = None) -> BulkResult:
        """Offer many lots through `offerBatch`, pipelined (sized like :meth:`mint_many`)."""
        ids = [id_bytes(i) for i, _ in offers]
        words: dict[str, bytes] = {}  # checksumming costs ~0.1 ms: once per recipient, not per offer
        for _, t in offers:
            if t not in words:
                words[t] = bytes(12) + bytes.fromhex(to_checksum_address(t)[2:])
        return self._pipelined("offerBatch", [ids, [words[t] for _, t in offers]], batch_size)

    def accept_many(self, lot_ids: Sequence[str], *, batch_size: int | None = None) -> BulkResult:
        """Accept many offers through `acceptBatch`, pipelined (sized like :meth:`mint_many`)."""
        return self._pipelined("acceptBatch", [[id_bytes(i) for i in lot_ids]], batch_size)

    def _pipelined(self, fn_name: str, columns: list[list[bytes]], batch_size: int | None) -> BulkResult:
        """Send a batch entry point whose arguments are parallel arrays of static 32-byte words.

        Every chunk is tried with eth_call (in batch requests) before any is sent, so an item the
        contract refuses raises its named error and nothing is written. Gas comes from one estimate
        of a probe chunk, scaled per item (eth_estimateGas runs a chunk many times over).
        """
        n = len(columns[0])
        if not n:
            return BulkResult(done=0, skipped=0, transactions=0, gas_used=0)
        d = self._deployment()
        fn = LEDGER_ABI.fn(fn_name)
        sender = self._sender()
        k = min(n, batch_size or _PROBE)
        per_item = sender.estimate(d.ledger, _encode_arrays(fn.selector, [c[:k] for c in columns])) // k + 1_000
        size = batch_size or _bulk_chunk(sender.block_gas_limit(), per_item, 30_000, 32 * len(columns))
        datas = [_encode_arrays(fn.selector, [c[i : i + size] for c in columns]) for i in range(0, n, size)]
        _preflight(sender, d.ledger, datas)
        calls = [(d.ledger, data, per_item * len(range(i, min(i + size, n))) + 30_000) for data, i in zip(datas, range(0, n, size))]
        receipts = sender.send_many(calls)
        return BulkResult(done=n, skipped=0, transactions=len(receipts), gas_used=sum(int(r["gasUsed"], 16) for r in receipts))
