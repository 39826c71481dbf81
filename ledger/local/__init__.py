"""Local files: private folders and atomic writes, encrypted keystores, deployment records.

Internal layer of the Rinne library: import the public names from ``ledger`` (docs/architecture.md)."""
