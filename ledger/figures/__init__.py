"""Figures: footprint, recycled content, origin, lifetime carbon, yields, triage; pure functions of replayed state.

Internal layer of the Rinne library: import the public names from ``ledger`` (docs/architecture.md)."""
