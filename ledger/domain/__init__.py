"""Pure domain: identifiers, element-mass compositions, roles, states and records. No I/O, no web3.

Internal layer of the Rinne library: import the public names from ``ledger`` (docs/architecture.md)."""
