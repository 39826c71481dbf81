"""The event index: a SQLite file of every event of a deployment, synced, checked against the chain, queried.

Internal layer of the Rinne library: import the public names from ``ledger`` (docs/architecture.md)."""
