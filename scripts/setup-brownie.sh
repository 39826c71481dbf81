#!/usr/bin/env bash
# Set up brownie for this clone, offline-capable and idempotent:
#   1. .venv-brownie/ with eth-brownie==1.22.2. Brownie pins ~80 packages exactly (web3 7.16,
#      pytest 9.1.1, ...), so it gets its own virtual environment, never the library's .venv.
#   2. The solc shim (scripts/solc-shim: solcjs from node_modules) at brownie's compiler path,
#      <SOLCX_BINARY_PATH>/solc-v<version>. There is no native solc here and brownie would try to
#      download one; with a binary already at that path it compiles offline.
#      The folder is .venv-brownie/solcx/ (inside this clone, nothing under ~ is touched), and a
#      .pth file in the venv points py-solc-x at it, so `.venv-brownie/bin/brownie compile` works
#      without any environment variable. An explicit SOLCX_BINARY_PATH still wins.
#
# Usage: scripts/setup-brownie.sh            (RINNE_BROWNIE_PYTHON=python3.11 to pick the interpreter)
# Re-running is cheap: an existing venv with the right brownie is kept; the shim is rewritten.
set -euo pipefail

root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
venv="$root/.venv-brownie"
brownie_version="1.22.2"
solc_version="$(node -p 'require(process.argv[1]).solcVersion' "$root/contracts/compiler.json")"
python="${RINNE_BROWNIE_PYTHON:-}"

log() { printf 'setup-brownie: %s\n' "$*" >&2; }

# --- node tools the shim and brownie's development network need ---------------------------
if [[ ! -f "$root/node_modules/solc/package.json" || ! -x "$root/node_modules/.bin/anvil" ]]; then
  log "node_modules/ lacks solc or anvil: running npm ci"
  (cd "$root" && npm ci --no-audit --no-fund --ignore-scripts)  # as the Makefile: the Foundry binaries come as platform packages
fi

# --- the virtual environment ----------------------------------------------------------------
installed=""
if [[ -x "$venv/bin/python" ]]; then
  installed="$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("eth-brownie"))' 2>/dev/null || true)"
fi
if [[ "$installed" == "$brownie_version" ]]; then
  log "eth-brownie $brownie_version already in $venv"
else
  if [[ -z "$python" ]]; then
    # eth-brownie 1.22.2 is known to install on 3.11; prefer it, fall back to python3.
    for candidate in python3.11 python3; do
      if command -v "$candidate" >/dev/null 2>&1; then python="$candidate"; break; fi
    done
  fi
  [[ -n "$python" ]] || { log "no python3 found"; exit 1; }
  log "creating $venv with $("$python" --version 2>&1) and installing eth-brownie==$brownie_version"
  start=$(date +%s)
  "$python" -m venv --clear "$venv"
  # (the grep drops pip's warnings about this machine's missing local index folders)
  "$venv/bin/python" -m pip install --quiet "eth-brownie==$brownie_version" \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
  log "installed in $(( $(date +%s) - start )) s"
fi

# --- the solc shim at brownie's compiler path ---------------------------------------------
solcx_dir="$venv/solcx"
mkdir -p "$solcx_dir"
shim="$solcx_dir/solc-v$solc_version"
tmp="$(mktemp "$solcx_dir/.shim.XXXXXX")"
cat >"$tmp" <<EOF
#!/usr/bin/env bash
# Written by scripts/setup-brownie.sh: brownie/py-solc-x's solc $solc_version is the repo's solcjs shim.
exec "$root/scripts/solc-shim" "\$@"
EOF
chmod 755 "$tmp"
mv -f "$tmp" "$shim"

# Point py-solc-x at that folder for every process of this venv (unless the caller chose one).
"$venv/bin/python" - "$solcx_dir" <<'PY'
import os, sys, sysconfig
line = "import os; os.environ.get('SOLCX_BINARY_PATH') or os.environ.__setitem__('SOLCX_BINARY_PATH', %r)\n"
with open(os.path.join(sysconfig.get_paths()["purelib"], "rinne_solcx_path.pth"), "w") as f:
    f.write(line % sys.argv[1])
PY

# --- check -----------------------------------------------------------------------------------
reported="$("$shim" --version | sed -n 's/^Version: //p')"
[[ "$reported" == "$solc_version+"* ]] || { log "shim reports '$reported', expected $solc_version"; exit 1; }
log "solc shim $reported at $shim"
