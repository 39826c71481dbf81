"""The `rinne` command line: a thin click shell over the `ledger` library.

Installed as the package ``rinne_cli`` (source folder ``cli/``); the entry point is
:func:`rinne_cli.main.main`.
"""

from ._deferred import install as _defer_bls

_defer_bls()  # before anything imports web3: see cli/_deferred.py
