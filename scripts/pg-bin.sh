#!/usr/bin/env bash
# Prints the folder of PostgreSQL's server binaries, looked for in the order
# the tests use (tests/it/support/postgres.rs): PG_BIN, `pg_config --bindir`,
# `initdb` on PATH, the newest /usr/lib/postgresql/*/bin. Prints nothing when
# none is found. (Homebrew's prefix, the tests' last place, is on PATH where
# Homebrew is installed.)
[ -n "${PG_BIN:-}" ] && { echo "$PG_BIN"; exit 0; }
command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ] && { pg_config --bindir; exit 0; }
command -v initdb >/dev/null && { dirname "$(command -v initdb)"; exit 0; }
ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
