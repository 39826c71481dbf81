#!/usr/bin/env bash
# brownie's part of `make test`: set up .venv-brownie (idempotent, see scripts/setup-brownie.sh),
# then run tests/brownie in it. Those tests drive brownie in subprocesses: `brownie compile` offline
# in a temporary copy of the project (checked against ledger/artifacts/), and a deployment on
# brownie's development network (Anvil from node_modules/.bin, on a free port).
#
# Usage: scripts/test-brownie.sh [pytest arguments...]
#
# tests/brownie/pytest.ini (not pyproject.toml) configures this run: brownie's pytest plugin off,
# and tests/brownie as rootdir so the main suite's conftest files (web3 8, the library) stay out.
set -euo pipefail
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$root"
"$root/scripts/setup-brownie.sh"
exec "$root/.venv-brownie/bin/python" -m pytest -c "$root/tests/brownie/pytest.ini" "$root/tests/brownie" "$@"
