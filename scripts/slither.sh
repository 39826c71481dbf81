#!/usr/bin/env bash
# Static analysis of the contracts with slither, offline, through the repo's solcjs shim.
#
# slither lives in its own virtual environment (.venv-slither), so its dependencies never disturb
# the library's pins in .venv. It compiles through forge (`--compile-force-framework foundry`, with
# foundry.toml's `solc = scripts/solc-shim`), into a temporary output folder, so it neither needs
# the internet nor touches build/forge. Analysed: contracts/ without contracts/test (forge skips
# the test folder) and without node_modules (OpenZeppelin).
#
# Passes when every High or Medium finding is answered in docs/security.md (its key, in backticks,
# in the "Static analysis" table); fails on any other. Low and informational findings are counted.
#
# Usage: scripts/slither.sh [--json OUT]     (about a minute; the first run installs slither)
set -euo pipefail
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$root"
SLITHER_VERSION="0.11.6"
venv="$root/.venv-slither"
out_json=""
if [ "${1:-}" = "--json" ]; then out_json="${2:?--json needs a file}"; fi

if [ ! -x "$venv/bin/slither" ] || ! "$venv/bin/slither" --version 2>/dev/null | grep -qx "$SLITHER_VERSION"; then
  echo "slither: installing slither-analyzer $SLITHER_VERSION into $venv" >&2
  "${PYTHON:-python3}" -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "slither-analyzer==$SLITHER_VERSION"
fi
[ -x "$root/node_modules/.bin/forge" ] || { echo "slither: forge not found: run npm ci" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# forge from node_modules, outputs in the temporary folder; slither gets the shim explicitly (installing
# slither puts a downloading `solc` on PATH, which must not be used).
export PATH="$root/node_modules/.bin:$PATH" FOUNDRY_OUT="$work/out" FOUNDRY_CACHE_PATH="$work/cache" FOUNDRY_OFFLINE=true
set +e
"$venv/bin/slither" . --compile-force-framework foundry --solc "$root/scripts/solc-shim" \
  --filter-paths "node_modules" --json "$work/slither.json" >"$work/slither.log" 2>&1
status=$?
set -e
if [ ! -s "$work/slither.json" ]; then
  cat "$work/slither.log" >&2
  echo "slither: no report (exit $status)" >&2
  exit 2
fi
[ -z "$out_json" ] || cp "$work/slither.json" "$out_json"

"$venv/bin/python" - "$work/slither.json" "$root/docs/security.md" <<'PY'
import json
import sys
from collections import Counter

report = json.load(open(sys.argv[1]))
if not report.get("success"):
    sys.exit(f"slither failed: {report.get('error')}")
try:
    doc = open(sys.argv[2], encoding="utf-8").read()
except FileNotFoundError:
    doc = ""


def name(element):
    """Contract.function.variable of a finding's first element."""
    parts = [element.get("name", "?").split("(")[0]]
    parent = element.get("type_specific_fields", {}).get("parent")
    while parent:
        parts.append(parent.get("name", "?").split("(")[0])
        parent = parent.get("type_specific_fields", {}).get("parent")
    return ".".join(reversed(parts))


results = report.get("results", {}).get("detectors", [])
counts = Counter(r["impact"] for r in results)
open_findings = []
for r in results:
    key = f"{r['check']}:{name(r['elements'][0])}" if r.get("elements") else r["check"]
    answered = f"`{key}`" in doc
    if r["impact"] in ("High", "Medium"):
        print(f"{'answered' if answered else 'OPEN    '}  {r['impact']:<6} {key}  ({r['first_markdown_element']})")
        if not answered:
            open_findings.append(key)
summary = ", ".join(f"{counts.get(i, 0)} {i.lower()}" for i in ("High", "Medium", "Low", "Informational", "Optimization"))
print(f"slither: {summary}")
if open_findings:
    print(f"slither: {len(open_findings)} high/medium finding(s) not answered in docs/security.md", file=sys.stderr)
    sys.exit(1)
print("slither: every high/medium finding is answered in docs/security.md")
PY
