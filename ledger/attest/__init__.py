"""Offline attestations: GWP claims signed under EIP-712, verified as the contract does, kept as files.

Internal layer of the Rinne library: import the public names from ``ledger`` (docs/architecture.md)."""
