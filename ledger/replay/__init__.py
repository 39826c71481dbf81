"""Replay: stored events decoded and folded into an in-memory LedgerState; pure, no chain access.

Internal layer of the Rinne library: import the public names from ``ledger`` (docs/architecture.md)."""
