"""The Ledger client: one method per contract entry point, bulk writes, reads of contract state.

Internal layer of the Rinne library: import the public names from ``ledger`` (docs/architecture.md)."""
