"""Exports: the battery passport (Battery Pass 1.2, Annex XIII), PACT footprints, QR codes, HTML pages.

Internal layer of the Rinne library: import the public names from ``ledger`` (docs/architecture.md)."""
