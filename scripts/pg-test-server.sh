#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests of the shared index (issue 15): initdb into a temporary
# directory, listen on 127.0.0.1 only, on a free port, and print the URL of a fresh database, e.g.
#   export RINNE_TEST_PG_URL=$(bash scripts/pg-test-server.sh)
# Stop it with `bash scripts/pg-test-server.sh stop DIR` (DIR is printed on stderr). Run as root, the
# server runs as the `postgres` user (initdb refuses root); as anyone else, as that user.
set -euo pipefail
if [ "${1:-}" = stop ]; then
  dir=$2
  run=()
  [ "$(id -u)" = 0 ] && run=(runuser -u postgres --)
  "${run[@]}" "$(cat "$dir/bin")/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null
  rm -rf "$dir"
  exit 0
fi
bin=$(dirname "$(readlink -f "$(command -v initdb 2>/dev/null)" 2>/dev/null || ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1)")
[ -x "$bin/initdb" ] || { echo "pg-test-server: no PostgreSQL server binaries (apt-get install postgresql)" >&2; exit 1; }
run=()
dir=$(mktemp -d /tmp/rinne-pg.XXXXXX)
if [ "$(id -u)" = 0 ]; then
  run=(runuser -u postgres --)
  chown postgres "$dir"
fi
echo "$bin" >"$dir/bin"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${run[@]}" "$bin/initdb" -D "$dir/data" -U rinne --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
# Only TCP on loopback (no socket in /var/run, which another cluster may own); fsync off: a test server.
"${run[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null
"${run[@]}" "$bin/createdb" -h 127.0.0.1 -p "$port" -U rinne rinne
echo "pg-test-server: data in $dir (stop: bash scripts/pg-test-server.sh stop $dir)" >&2
echo "postgresql://rinne@127.0.0.1:$port/rinne"
