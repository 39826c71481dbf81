"""Queries people ask of the index: traces up and down the material graph, registry and custody listings.

Internal layer of the Rinne library: import the public names from ``ledger`` (docs/architecture.md)."""
