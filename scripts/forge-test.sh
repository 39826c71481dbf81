#!/usr/bin/env bash
# Contract tests, offline: forge unit, fuzz and invariant tests (contracts/_test), then the gas check
# against .gas-snapshot. Called by `make test-forge`; assumes `npm ci` has installed node_modules.
# forge uses the repo's foundry.toml: solc is scripts/solc-shim (solcjs), offline = true, no forge-std.
#
#   scripts/forge-test.sh                 everything (invariants at 256 runs x depth 64)
#   FOUNDRY_PROFILE=quick scripts/forge-test.sh   a faster pass with fewer fuzz and invariant runs
set -euo pipefail
cd "$(dirname "$0")/.."
# The platform binary, not node_modules/.bin/forge: that npm wrapper (bin.mjs of @foundry-rs/forge
# 1.7.1) does not pass on forge's exit status, so failing tests would look like a success.
forge=$(ls node_modules/@foundry-rs/forge-*/bin/forge 2>/dev/null | head -1 || true)
if [[ -z $forge || ! -x $forge ]]; then
  echo "forge-test: no forge binary under node_modules/@foundry-rs/forge-*/bin; run 'npm ci' first" >&2
  exit 1
fi
python=python3
[[ -x .venv/bin/python ]] && python=.venv/bin/python

log=build/forge-test.log
mkdir -p build
set +e
"$forge" test 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One plain closing line for runners that count results ("N passed, N failed").
summary=$(grep -E '^Ran [0-9]+ test suites?' "$log" | tail -1 || true)
failed=unknown
if [[ $summary =~ ([0-9]+)\ tests\ passed,\ ([0-9]+)\ failed,\ ([0-9]+)\ skipped ]]; then
  echo "forge: ${BASH_REMATCH[1]} passed, ${BASH_REMATCH[2]} failed, ${BASH_REMATCH[3]} skipped"
  failed=${BASH_REMATCH[2]}
fi
if [[ $status -ne 0 || $failed != 0 ]]; then
  echo "forge-test: forge test failed" >&2
  exit 1
fi

"$python" scripts/gas_check.py
