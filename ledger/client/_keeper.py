"""A writer thread for the openings of a bulk import's landed transactions (issue 16).

Keeping a landed chunk's openings is one vault batch: on a folder vault one SQLite transaction whose commit
waits for an fsync (about 8 ms on the benchmark's disk, 400 of them in an import of 100,000 lots). Done in the
thread that collects receipts, every fsync held up the next window of transactions, and a node that mines on
request hands over a window's receipts at once: one batch each, back to back.

The keeper takes each landed chunk as its receipt arrives and writes from a thread of its own: whatever landed
while it wrote the previous batch goes in the next one (a window's receipts: a few batches, not one each). It
writes as soon as it can, so a lot's openings are not kept later than before; SQLite releases the GIL while it
writes and syncs, so the collecting thread goes on meanwhile. A batch is still whole or absent on disk.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from ledger.domain.disclosure import Openings


class Keeper:
    """Keeps landed chunks' openings from a writer thread, coalescing what lands while it writes.

    :meth:`add` queues a chunk (and raises the writer's error, if it failed, so no more is sent);
    :meth:`close` waits until everything queued is kept and raises the writer's error, if any. Once the
    writer fails it keeps nothing more: the caller's recovery path keeps what is on-chain itself.
    """

    def __init__(self, keep: Callable[[list[Openings]], None]) -> None:
        self._keep = keep
        self._queue: list[Openings] = []
        self._cond = threading.Condition()
        self._closed = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="rinne-keeper", daemon=True)
        self._thread.start()

    def add(self, openings: list[Openings]) -> None:
        """Queue the openings of a landed chunk; raise the writer's error if it failed."""
        with self._cond:
            if self._error is not None:
                raise self._error
            self._queue.extend(openings)
            self._cond.notify()

    def close(self) -> None:
        """Wait until everything queued is kept (or the writer failed); raise the writer's error, if any."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join()
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue:
                    return
                todo, self._queue = self._queue, []
            try:
                self._keep(todo)
            except BaseException as e:  # handed to the importing thread, which raises it
                with self._cond:
                    self._error = e
                    self._queue = []
                return
