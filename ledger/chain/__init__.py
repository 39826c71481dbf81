"""Chain plumbing: JSON-RPC, transactions, ABI and revert decoding, the log decoder, the managed node, the trust root.

Internal layer of the Rinne library: import the public names from ``ledger`` (docs/architecture.md)."""
