"""Checking the index against the chain: ledger heads, block hashes and every stored log (the index is a cache anyone with disk access can edit)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ledger import errors
from ledger.chain.abi import contract_abi
from ledger.chain.logs import (
    ATTESTATIONS,
    CONTRACT_NAMES,
    LEDGER,
    advance_head,
    fetch_logs_batch,
    is_range_error,
    layouts,
    split_topics,
)
from ledger.chain.rpc import batch, call, close_sessions
from ledger.domain.hashing import keccak
from ledger.domain.models import Deployment
from ledger.index.base import _LOG_BITS, SCHEMA_VERSION, IndexBase, _damaged, _row_ok
from ledger.index.sync import _LOG_SPAN, _derive, _key

#: Stored events a re-fetched eth_getLogs span and a batch of spans may cover (more only in one block): the
#: comparison holds one batch's answers at a time, so its memory stays flat however long the ledger is.
_SPAN_EVENTS = 10_000
_BATCH_EVENTS = 20_000

#: Stored events whose relation rows :meth:`VerifyMixin.verify` compares at a time.
_TABLE_EVENTS = 50_000

#: Relation rows derived from events: lots, op_in, op_out, attested and units (:func:`_derive`).
_Rows = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[bytes]]]

if TYPE_CHECKING:
    from web3 import Web3


@dataclass(frozen=True)
class HeadsVerified:
    """What :meth:`EventIndex.verify_heads` checked, up to `to_block`.

    `head_blocks`: blocks at whose end both contracts' replayed ledger heads equal ``ledgerHead()``;
    `log_blocks`: blocks holding events whose stored rows were compared with the node's logs;
    `historical`: whether the heads were compared at every stored block (asked for with
    `every_block` and served by the node).
    """

    to_block: int
    events: int
    head_blocks: int
    log_blocks: int
    every_block: bool
    historical: bool
    seconds: float

    @property
    def note(self) -> str | None:
        """A one-line caveat when heads at every block were asked for and the node could not give them."""
        if self.historical or not self.every_block:
            return None
        return (
            f"heads checked only at block {self.to_block} (the node serves no historical state); every stored "
            "event was compared with the node's logs instead"
        )


_HEAD_FN = contract_abi("RinneLedger").fn("ledgerHead")


class _NoHistory(Exception):
    """The node refused ``eth_call`` at an old block (it keeps no historical state)."""


def _ledger_heads(w3: Web3, addresses: tuple[str, str], blocks: list[int], *, history: bool = False) -> list[tuple[int, int]]:
    """Both contracts' packed head words (running hash ‖ sequence) at the end of each of `blocks`.
    With `history`, a node's refusal (not a lost connection) is raised as :class:`_NoHistory`."""
    data = "0x" + _HEAD_FN.selector.hex()
    out: list[tuple[int, int]] = []
    for start in range(0, len(blocks), 250):  # 500 eth_calls a batch
        part = blocks[start : start + 250]
        reqs = [("eth_call", [{"to": a, "data": data}, hex(b)]) for b in part for a in addresses]
        try:
            raw = [bytes.fromhex(r[2:]) for r in batch(w3, reqs)]
        except errors.ConnectionFailed:
            raise
        except errors.ChainError:
            if not history:
                raise
            raise _NoHistory() from None
        for k in range(len(part)):
            out.append((_head_word(raw[2 * k]), _head_word(raw[2 * k + 1])))
    return out


def _head_word(raw: bytes) -> int:
    # ledgerHead() returns (uint64 sequence, bytes32 head); the head word carries the sequence in its
    # low 64 bits, so it alone is compared. No code (a block before the deployment) reads as 0.
    if not raw:
        return 0
    if len(raw) != 64:
        raise errors.NotDeployed(f"ledgerHead() returned {len(raw)} bytes, not 64: is this a Rinne contract?")
    word = int.from_bytes(raw[32:64], "big")
    if word & ((1 << 64) - 1) != int.from_bytes(raw[:32], "big"):
        raise errors.NotDeployed("ledgerHead() returned a sequence its head word does not carry: is this a Rinne contract?")
    return word


def _first_difference(mine: list[tuple[Any, ...]], chain: list[tuple[Any, ...]]) -> tuple[int, str]:
    """The first block where stored rows (block, log index, block hash, tx, contract, topics, data)
    and the chain's differ, and what differs."""
    fields = ("block", "log index", "block hash", "transaction", "contract", "topics", "data")
    for m, c in zip(mine, chain):
        if m == c:
            continue
        if m[:2] == c[:2]:
            what = next(f for f, x, y in zip(fields, m, c) if x != y)
            return m[0], f"the event at log index {m[1]}: its {what} is not the chain's"
        if c[:2] < m[:2]:
            return c[0], f"the chain's event at log index {c[1]} is missing from the index"
        return m[0], f"the index holds an event at log index {m[1]} the chain does not"
    if len(mine) > len(chain):
        return mine[len(chain)][0], f"the index holds an event at log index {mine[len(chain)][1]} the chain does not"
    return chain[len(mine)][0], f"the chain's event at log index {chain[len(mine)][1]} is missing from the index"


class VerifyMixin(IndexBase):
    """Verification of an :class:`EventIndex` against its own rows and the chain."""

    def verify(self, w3: Web3 | None = None, *, after_block: int = -1) -> None:
        """Check that the index says what its own raw logs say, and with `w3` what the chain says.

        Event ids, names and keys and the lots, operation and attestation tables must follow from the
        raw logs; with `w3`, every stored block hash and time must be the chain's. The raw logs
        themselves are checked by the audit (ledger heads, contract storage). With `after_block`, only
        what the index holds of the blocks after it (an incremental audit's part). Raises IndexCorrupt
        when the index cannot be trusted: delete it and sync again.
        """
        first = (after_block + 1) << _LOG_BITS if after_block >= 0 else 0
        # The derived tables are compared a batch of events at a time (memory stays flat however long the
        # ledger is); any batch that differs sends the whole comparison to _compare_tables, whose verdict
        # and finding are the ones given. Events are checked to the end first: their findings come first.
        units = {lot for (lot,) in self.conn.execute("SELECT key FROM events WHERE id >= ? AND name = 'UnitCreated'", (first,))}
        same = True
        for lo, hi, rows in self._derived_batches(first, _TABLE_EVENTS):
            same = same and self._batch_same(lo, hi, rows, units)
        if not (same and self._stored_unique(first)):
            self._compare_tables(first)
        if self._meta("schema") != SCHEMA_VERSION:
            raise _damaged(self.path, "schema record altered")
        blocks = self.conn.execute(
            "SELECT number, hash, timestamp FROM blocks WHERE number > ? ORDER BY number", (after_block,)
        ).fetchall()
        synced = self.synced_block
        if (
            synced is not None
            and synced > after_block
            and (not blocks or blocks[-1][0] != synced or blocks[-1][2] != self.chain_timestamp)
        ):
            raise _damaged(self.path, "the synced block and time do not match the block table")
        used = {b for (b,) in self.conn.execute("SELECT DISTINCT block FROM events WHERE id >= ?", (first,))}
        if not used <= {b[0] for b in blocks}:
            raise _damaged(self.path, "events of blocks the block table does not know")
        if w3 is None:
            return
        for start in range(0, len(blocks), 500):
            part = blocks[start : start + 500]
            for (number, h, ts), blk in zip(part, batch(w3, [("eth_getBlockByNumber", [hex(n), False]) for n, _, _ in part])):
                if blk is None or bytes.fromhex(blk["hash"][2:]) != h or int(blk["timestamp"], 16) != ts:
                    raise errors.IndexCorrupt(
                        f"{self.path}: block {number} differs from the chain's (a reorg since the last sync, or a "
                        "damaged index): sync again, or delete the index and sync again"
                    )

    def _derived_batches(self, first: int, every: int) -> Iterator[tuple[int, int | None, _Rows]]:
        """Check each stored event from id `first` on and derive its relation rows (lots, op_in, op_out,
        attested, units); yield them with the event id range [lo, hi) they come from every `every` events,
        the last range open (hi None). Raises IndexCorrupt at the first event that is not its log."""
        lay = layouts()
        lo, n = first, 0
        rows: _Rows = ([], [], [], [], [])
        for eid, block, li, contract, name, key, blob, data in self.conn.execute(
            "SELECT id, block, log_index, contract, name, key, topics, data FROM events WHERE id >= ? ORDER BY id", (first,)
        ).rows():
            if not _row_ok(eid, block, li, contract, blob, data):
                raise _damaged(self.path, f"event row {eid!r} is malformed")
            topics = split_topics(blob)
            layout = lay.get((contract, topics[0]))
            want = layout.name if layout else "?"
            if name != want or key != _key(want, topics):
                raise _damaged(self.path, f"event {eid} is stored as {name!r} but its log is {want!r}")
            try:
                _derive(eid, layout, topics, data, *rows)
            except (ValueError, IndexError, TypeError):
                raise _damaged(self.path, f"event {eid} cannot be decoded") from None
            n += 1
            if n >= every:
                yield lo, eid + 1, rows
                lo, n, rows = eid + 1, 0, ([], [], [], [], [])
        yield lo, None, rows

    def _derived_tables(self, rows: _Rows, units: set[bytes]) -> list[tuple[str, str, list[tuple[Any, ...]]]]:
        """Each relation table's name, the query of its stored rows up to its event id column, and the sorted rows
        `rows` derive (a lot re-created keeps its last row; a lot with a unit in `units` is of kind 1)."""
        lots, ins, outs, atts, _ = rows
        derived_lots = {row[0]: (*row, 0) for row in lots}
        for lot_id in units:
            if lot_id in derived_lots:
                derived_lots[lot_id] = (*derived_lots[lot_id][:6], 1)
        # A unit of a lot made before `after_block` cannot be: units are created with their lot.
        return [
            (
                "lots",
                "SELECT lot_id, event, material, mass, origin, holder, kind FROM lots WHERE event",
                sorted(derived_lots.values()),
            ),
            ("op_in", "SELECT op, pos, lot_id, used FROM op_in WHERE op", sorted(ins)),
            ("op_out", "SELECT op, pos, lot_id FROM op_out WHERE op", sorted(outs)),
            ("attested", "SELECT uid, lot_id, event FROM attested WHERE event", sorted({a[0]: a for a in atts}.values())),
        ]

    def _batch_same(self, lo: int, hi: int | None, rows: _Rows, units: set[bytes]) -> bool:
        """Whether the stored rows of the events in [lo, hi) (hi None: all from lo on) are the ones `rows` derive."""
        for _, sql, derived in self._derived_tables(rows, units):
            column = sql.rsplit(" ", 1)[-1]
            query, params = (f"{sql} >= ?", (lo,)) if hi is None else (f"{sql} >= ? AND {column} < ?", (lo, hi))
            try:
                if sorted(self.conn.execute(query, params).fetchall()) != derived:
                    return False
            except TypeError:  # values of mixed types that do not even compare: _compare_tables says so
                return False
        return True

    def _stored_unique(self, first: int) -> bool:
        """Whether no lot and no attestation uid is stored twice from event id `first` on (the batches cannot see
        a duplicate in two of them; the whole comparison does)."""
        for sql in (
            "SELECT 1 FROM lots WHERE event >= ? GROUP BY lot_id HAVING COUNT(*) > 1 LIMIT 1",
            "SELECT 1 FROM attested WHERE event >= ? GROUP BY uid HAVING COUNT(*) > 1 LIMIT 1",
        ):
            if self.conn.execute(sql, (first,)).fetchone() is not None:
                return False
        return True

    def _compare_tables(self, first: int) -> None:
        """Compare every relation table from event id `first` on with what all stored events derive, at once
        (memory grows with the ledger: only when a batch differed). Raises IndexCorrupt naming the first table that differs."""
        rows: _Rows = ([], [], [], [], [])
        for _, _, part in self._derived_batches(first, 1 << 62):
            rows = part
        units = {lot for (lot,) in rows[4]}
        for table, sql, derived in self._derived_tables(rows, units):
            try:
                stored = sorted(self.conn.execute(f"{sql} >= ?", (first,)).fetchall())
            except TypeError:  # values of mixed types that do not even compare
                raise _damaged(self.path, f"table {table} holds malformed rows") from None
            if stored != derived:
                raise _damaged(self.path, f"table {table} does not follow from the stored events")

    def verify_heads(
        self,
        w3: Web3,
        *,
        to_block: int | None = None,
        deployment: Deployment | None = None,
        every_block: bool = False,
        since: tuple[int, int, int] | None = None,
    ) -> HeadsVerified:
        """Check the index against the chain up to `to_block` (default: the synced block) before answering from it.

        Runs :meth:`verify` with `w3` first (the derived tables follow from the raw logs; every stored
        block number, hash and time is the chain's). Then replays the stored raw logs and compares both
        contracts' (sequence, running hash) with their ``ledgerHead()`` at `to_block`, which binds the
        set and order of each contract's events; and it binds every event to its block and to one order
        across both contracts by comparing the stored rows with ``eth_getLogs`` of every block from the
        deployment on, row for row (block number and hash, log index, transaction, contract, topics, data).

        With `every_block`, the heads are compared at the end of every stored block instead (the
        contracts' own word for each block, needs a node with historical state; about 50x slower on
        Anvil), and only the blocks holding events of both contracts are fetched again, for the order
        between the two inside a block, which neither head holds. A node that refuses ``eth_call`` at
        old blocks gets the default check and the result says so (:attr:`HeadsVerified.note`).

        With `deployment`, the index must belong to it. With `since` = (block, ledger head, attestations
        head), a point an incremental audit has checked the chain's heads at, only the blocks after it are
        checked, the heads replayed on from those words. Raises IndexCorrupt naming the first block
        that differs.
        """
        t0 = time.perf_counter()
        after_block = -1 if since is None else since[0]
        self.verify(w3, after_block=after_block)
        d, synced = self.deployment, self.synced_block
        if d is None or synced is None:
            if self.event_count() or self.conn.execute("SELECT 1 FROM blocks LIMIT 1").fetchone():
                raise _damaged(self.path, "events without a deployment or synced block")
            return HeadsVerified(0, 0, 0, 0, every_block, every_block, time.perf_counter() - t0)
        if deployment is not None and (d.chain_id, d.ledger.lower(), d.attestations.lower(), d.block) != (
            deployment.chain_id,
            deployment.ledger.lower(),
            deployment.attestations.lower(),
            deployment.block,
        ):
            raise errors.IndexCorrupt(
                f"{self.path}: the index records another deployment than chain {deployment.chain_id} ledger "
                f"{deployment.ledger} from block {deployment.block}: delete the index and sync again"
            )
        served = int(call(w3, "eth_chainId", []), 16)
        if served != d.chain_id:
            raise errors.IndexCorrupt(
                f"{self.path} indexes chain {d.chain_id}, the node serves chain {served}: use another index file"
            )
        end = synced if to_block is None else to_block
        if not d.block <= end <= synced:
            raise errors.InvalidInput(f"to_block {end} is outside the indexed blocks {d.block}-{synced}")
        # One pass over the raw logs: both head words as of the last event of every block, and which
        # contracts each block holds events of.
        heads = [0, 0] if since is None else [since[1], since[2]]
        first = 0 if since is None else (since[0] + 1) << _LOG_BITS
        after: dict[int, tuple[int, int]] = {}
        mixed: dict[int, int] = {}
        events = 0
        for eid, block, li, contract, blob, data in self.conn.execute(
            "SELECT id, block, log_index, contract, topics, data FROM events WHERE id >= ? AND id < ? ORDER BY id",
            (first, (end + 1) << _LOG_BITS),
        ):
            if not _row_ok(eid, block, li, contract, blob, data):
                raise _damaged(self.path, f"event row {eid!r} is malformed")
            heads[contract] = advance_head(heads[contract], keccak(blob + data))  # = event_hash of the split topics
            after[block] = (heads[0], heads[1])
            mixed[block] = mixed.get(block, 0) | (1 << contract)
            events += 1
        stored = {
            n: h for n, h in self.conn.execute("SELECT number, hash FROM blocks WHERE number > ? AND number <= ?", (after_block, end))
        }
        checked = sorted(set(stored) | set(after) | {end})
        if checked[0] < d.block:
            raise errors.IndexCorrupt(
                f"{self.path}: block {checked[0]} precedes the deployment (block {d.block}): delete the index and sync again"
            )
        expect: list[tuple[int, int]] = []
        cur = (0, 0) if since is None else (since[1], since[2])
        for b in checked:
            cur = after.get(b, cur)
            expect.append(cur)
        addresses = (d.ledger, d.attestations)
        # The heads at `end` first: a node that cannot answer even that fails here, whatever its history.
        last = _ledger_heads(w3, addresses, [end])
        historical = every_block
        if every_block:
            try:
                chain = _ledger_heads(w3, addresses, checked[:-1], history=True) + last
            except _NoHistory:  # pruned state ("BlockOutOfRangeError", "missing trie node"): the default check
                historical = False
        if not historical:
            checked, expect, chain = [end], [expect[-1]], last
        bad_heads = next(
            (
                (b, k, mine, theirs)
                for b, mine, theirs in zip(checked, expect, chain)
                for k in (LEDGER, ATTESTATIONS)
                if mine[k] != theirs[k]
            ),
            None,
        )
        if historical:
            log_blocks = sorted(b for b, m in mixed.items() if m == 3)
            bad_logs = self._compare_logs(w3, addresses, [(b, b) for b in log_blocks], stored)
        else:
            log_blocks = sorted(mixed)
            bad_logs = self._compare_logs(w3, addresses, [(max(d.block, after_block + 1), end)], stored) if end > after_block else None
        if bad_heads is not None and (bad_logs is None or bad_heads[0] <= bad_logs[0]):
            b, k, mine, theirs = bad_heads
            mask = (1 << 64) - 1
            raise errors.IndexCorrupt(
                f"{self.path}: block {b} differs from the chain's ledger heads ({CONTRACT_NAMES[k]}: the index replays "
                f"{mine[k] & mask} events to head {mine[k].to_bytes(32, 'big').hex()[:12]}…, the chain counts {theirs[k] & mask} "
                f"to {theirs[k].to_bytes(32, 'big').hex()[:12]}…): delete the index and sync again"
            )
        if bad_logs is not None:
            raise errors.IndexCorrupt(
                f"{self.path}: block {bad_logs[0]} differs from the chain's logs ({bad_logs[1]}): delete the index and sync again"
            )
        return HeadsVerified(end, events, len(checked), len(log_blocks), every_block, historical, time.perf_counter() - t0)

    def _compare_logs(
        self, w3: Web3, addresses: tuple[str, str], ranges: list[tuple[int, int]], hashes: dict[int, bytes]
    ) -> tuple[int, str] | None:
        """Fetch the logs of block `ranges` again and compare them with the stored rows; return the
        first block that differs and how, or None. Long ranges go in spans the node accepts."""
        try:
            return self._compare_spans(w3, addresses, ranges, hashes)
        finally:
            close_sessions()  # the HTTP session fetch_logs_batch opened in this thread

    def _compare_spans(
        self, w3: Web3, addresses: tuple[str, str], ranges: list[tuple[int, int]], hashes: dict[int, bytes]
    ) -> tuple[int, str] | None:
        slots = {addresses[0].lower(): LEDGER, addresses[1].lower(): ATTESTATIONS}
        spans: list[tuple[int, int]] = []
        for a, z in ranges:
            spans.extend((lo, min(lo + _LOG_SPAN - 1, z)) for lo in range(a, z + 1, _LOG_SPAN))
        sized = self._sized(spans)
        pos = 0
        while pos < len(sized):
            # One batch: up to 100 spans and about _BATCH_EVENTS stored events (at least one span), so that
            # no answer holds the whole ledger: a bulk-mined chain puts 100,000s of events in a few blocks.
            end, held = pos + 1, sized[pos][2]
            while end < len(sized) and end - pos < 100 and held + sized[end][2] <= _BATCH_EVENTS:
                held += sized[end][2]
                end += 1
            part = [(a, z) for a, z, _ in sized[pos:end]]
            try:
                answers = fetch_logs_batch(w3, addresses, part)
            except errors.ConnectionFailed:
                raise
            except errors.ChainError as exc:
                # A node's result limit ("query returned more than 10000 results", "block range too
                # large"): every span of the batch split in four, down to single blocks.
                if all(a == z for a, z in part) or not is_range_error(exc):
                    raise
                smaller: list[tuple[int, int]] = []
                for a, z in part:
                    step = max(1, (z - a + 1) // 4)
                    smaller.extend((lo, min(lo + step - 1, z)) for lo in range(a, z + 1, step))
                sized[pos:end] = self._sized(smaller)
                continue
            for (a, z), logs in zip(part, answers):
                chain: list[tuple[Any, ...]] = []
                for log in logs:
                    slot = slots.get(log.address.lower())
                    if log.removed or slot is None:
                        continue
                    tx = log.transactionHash
                    try:
                        chain.append(
                            (
                                int(log.blockNumber, 16),
                                int(log.logIndex, 16),
                                bytes.fromhex(log.blockHash[2:]),
                                bytes.fromhex(tx[2:]) if tx else None,
                                slot,
                                bytes.fromhex("".join(t[2:] for t in log.topics)),
                                bytes.fromhex(log.data[2:]),
                            )
                        )
                    except ValueError as exc:
                        raise errors.ChainError(f"the node returned a malformed log in block {log.blockNumber} ({exc})") from None
                chain.sort(key=lambda r: (r[0], r[1]))
                mine = [
                    (blk, li, hashes.get(blk), tx, contract, topics, data)
                    for blk, li, tx, contract, topics, data in self.conn.execute(
                        "SELECT block, log_index, tx_hash, contract, topics, data FROM events WHERE id >= ? AND id < ? ORDER BY id",
                        (a << _LOG_BITS, (z + 1) << _LOG_BITS),
                    )
                ]
                if mine != chain:
                    return _first_difference(mine, chain)
            pos = end
        return None

    def _count(self, a: int, z: int) -> int:
        """Stored events in blocks a..z (a range of the primary key: no table scan)."""
        row = self.conn.execute(
            "SELECT COUNT(*) FROM events WHERE id >= ? AND id < ?", (a << _LOG_BITS, (z + 1) << _LOG_BITS)
        ).fetchone()
        return int(row[0])

    def _sized(self, spans: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
        """`spans` with their stored event counts, those holding more than _SPAN_EVENTS halved until they do
        not (or are one block)."""
        out: list[tuple[int, int, int]] = []
        todo = list(reversed(spans))
        while todo:
            a, z = todo.pop()
            n = self._count(a, z)
            if a < z and n > _SPAN_EVENTS:
                mid = (a + z) // 2
                todo += [(mid + 1, z), (a, mid)]
            else:
                out.append((a, z, n))
        return out
