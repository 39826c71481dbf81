"""The audit: the whole ledger replayed, proven complete by the ledger heads, compared with storage, every claim judged.

Internal layer of the Rinne library: import the public names from ``ledger`` (docs/architecture.md)."""
