#!/usr/bin/env bash
# The fleet figures of docs/scaling.md: bench_fleet with the PostgreSQL token
# store against the same processes without it, alternated in one run so that
# both see the same machine. Starts a throwaway PostgreSQL cluster (as the
# `postgres` user when run as root) and removes it at the end.
#
#   scripts/fleet.sh [ROUNDS] [bench_fleet flags…]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
shift || true
flags=("$@")
[ ${#flags[@]} -gt 0 ] || flags=(--processes 4 --concurrency 8 --users 10 --count 5000 --expire-every-ms 1000)

bin=$(bash scripts/pg-bin.sh)
[ -x "$bin/initdb" ] || { echo "no PostgreSQL found: install PostgreSQL 11 or newer, or set PG_BIN" >&2; exit 2; }
runas=()
[ "$(id -u)" = 0 ] && runas=(runuser -u postgres --)

dir=$(mktemp -d /tmp/digime-fleet-pg.XXXXXX)
[ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() { "${runas[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT
"${runas[@]}" "$bin/initdb" -D "$dir/data" -A trust -U postgres --no-sync >/dev/null
"${runas[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w start \
  -o "-p $port -h 127.0.0.1 -k $dir -c max_connections=200" >/dev/null

cargo build --release --quiet -p digime-perf --bin bench_fleet
bench=target/release/bench_fleet
url="postgres://postgres@127.0.0.1:$port/postgres"
for round in $(seq 1 "$rounds"); do
  for mode in memory postgres; do
    if [ "$mode" = postgres ]; then
      "${runas[@]}" "$bin/psql" -q -h 127.0.0.1 -p "$port" -U postgres -c 'DROP TABLE IF EXISTS digime_tokens' >/dev/null
      line=$("$bench" "${flags[@]}" --token-store "$url" 2>/dev/null | tail -1)
    else
      line=$("$bench" "${flags[@]}" 2>/dev/null | tail -1)
    fi
    echo "round $round $mode $line"
  done
done
