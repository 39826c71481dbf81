"""The event index of one deployment: a SQLite file of every event, with sync, checks and queries."""

from __future__ import annotations

from ledger.index.queries import QueryMixin
from ledger.index.sync import SyncMixin
from ledger.index.verify import VerifyMixin


class EventIndex(SyncMixin, VerifyMixin, QueryMixin):
    """The SQLite event index of one deployment. Open it with :meth:`EventIndex.open`."""
