#!/usr/bin/env bash
# Reproduces the "Bulk push" figures of docs/performance.md on this machine:
#   bash scripts/bulk.sh            # all of it
#   bash scripts/bulk.sh speed      # N files: one bulk run against a shell loop of single pushes
#   bash scripts/bulk.sh journal    # throughput with the journal against without (--no-journal, RUNS=12 pairs):
#                                   # `local` (the sandbox as it is) and `wan` (pushes held 20 ms)
#   bash scripts/bulk.sh rss        # peak RSS of one bulk run over BIG files of 1 KiB
# N (default 2000) and BIG (default 100000) set the sizes. The sandbox runs
# in its own process (`digime sandbox`); the journal and the files are on
# $WORK (default /tmp/digime-bulk). Builds in release.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${WORK:-/tmp/digime-bulk}
N=${N:-2000}
BIG=${BIG:-100000}
MODE=${1:-all}
mkdir -p "$WORK"
cargo build -q --release --features cli --bin digime
DIGIME=$PWD/target/release/digime

rm -rf "$WORK/sb" "$WORK/state"
"$DIGIME" sandbox --port 0 --dir "$WORK/sb" > "$WORK/sandbox.out" 2>&1 &
SANDBOX_PID=$!
trap 'kill $SANDBOX_PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q 'Ctrl-C stops' "$WORK/sandbox.out" 2>/dev/null && break; sleep 0.1; done
# shellcheck disable=SC1091
. "$WORK/sb/digime.env"
export XDG_STATE_HOME="$WORK/state"

# $1 files of 1 KiB of random bytes in $2, 1000 to a folder.
make_files() {
  local count=$1 dir=$2 i=0
  [ -f "$dir/.count-$count" ] && return
  rm -rf "$dir"; mkdir -p "$dir"
  while [ $i -lt "$count" ]; do
    local n=$(( count - i < 1000 ? count - i : 1000 ))
    mkdir -p "$dir/d$((i / 1000))"
    head -c $(( n * 1024 )) /dev/urandom | split -b 1024 -a 4 - "$dir/d$((i / 1000))/f"
    i=$(( i + n ))
  done
  touch "$dir/.count-$count"
}

# Seconds since the epoch, with decimals.
now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.1f s, %.0f files/s", b - a, n / (b - a) }'; }

if [ "$MODE" = all ] || [ "$MODE" = speed ]; then
  make_files "$N" "$WORK/small"
  echo "== $N files of 1 KiB: a shell loop of single-file pushes"
  t0=$(now)
  find "$WORK/small" -type f -name 'f*' | sort | while read -r f; do
    "$DIGIME" push library "$f" --account acc-1 > /dev/null
  done
  t1=$(now)
  echo "loop:          $(rate "$N" "$t0" "$t1")"
  echo "== the same files: one bulk run, --jobs 8"
  rm -f "$WORK/speed.jsonl"
  t2=$(now)
  "$DIGIME" push library "$WORK/small" --account acc-1 --jobs 8 --journal "$WORK/speed.jsonl" > /dev/null
  t3=$(now)
  echo "bulk --jobs 8: $(rate "$N" "$t2" "$t3")"
  awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" 'BEGIN { printf "speed-up: %.1fx\n", (b - a) / (d - c) }'
fi

# $1 runs over the $2 files in $3: each a run with a fresh journal, then
# one with --no-journal; prints both rates and their ratio.
compare() {
  local runs=$1 count=$2 dir=$3 run t0 t1 t2
  for run in $(seq "$runs"); do
    rm -f "$WORK/j.jsonl"
    t0=$(now)
    "$DIGIME" push library "$dir" --account acc-1 --jobs 8 --journal "$WORK/j.jsonl" > /dev/null
    t1=$(now)
    "$DIGIME" push library "$dir" --account acc-1 --jobs 8 --no-journal > /dev/null 2>&1
    t2=$(now)
    awk -v r="$run" -v a="$t0" -v b="$t1" -v c="$t2" -v n="$count" 'BEGIN {
      printf "run %d: journal %.0f files/s, none %.0f files/s, ratio %.2f\n", r, n / (b - a), n / (c - b), (c - b) / (b - a) }'
  done
}

if [ "$MODE" = all ] || [ "$MODE" = journal ] || [ "$MODE" = local ]; then
  M=$(( N * 5 ))
  make_files "$M" "$WORK/journal-files"
  echo "== $M files of 1 KiB, --jobs 8: with the journal (a fresh one each run) against --no-journal, alternated"
  compare "${RUNS:-12}" "$M" "$WORK/journal-files"
fi

if [ "$MODE" = all ] || [ "$MODE" = journal ] || [ "$MODE" = wan ]; then
  M=$(( N * 2 ))
  make_files "$M" "$WORK/wan-files"
  echo "== the same against a slower API: every push held 20 ms by the sandbox, $M files, --jobs 8"
  CONTROL=${DIGIME_BASE_URL%/v1.7/}/sandbox
  curl -s -o /dev/null -X POST "$CONTROL/faults" \
    -d '{"path":"permission-access/import","delay_ms":20,"count":4000000000}'
  compare 3 "$M" "$WORK/wan-files"
  curl -s -o /dev/null -X DELETE "$CONTROL/faults"
fi

if [ "$MODE" = all ] || [ "$MODE" = rss ]; then
  make_files "$BIG" "$WORK/big"
  echo "== $BIG files of 1 KiB in $(( (BIG + 999) / 1000 )) folders, --jobs 8: peak RSS of digime"
  rm -f "$WORK/big.jsonl"
  /usr/bin/time -f '%M KiB peak RSS, %e s' \
    "$DIGIME" push library "$WORK/big" --account acc-1 --jobs 8 --journal "$WORK/big.jsonl" > /dev/null
  echo "-- the rerun (reads the journal: $(wc -l < "$WORK/big.jsonl") lines; everything skipped)"
  /usr/bin/time -f '%M KiB peak RSS, %e s' \
    "$DIGIME" push library "$WORK/big" --account acc-1 --jobs 8 --journal "$WORK/big.jsonl" > /dev/null
  echo "-- for scale: $(( BIG / 10 )) files"
  rm -f "$WORK/tenth.jsonl"
  find "$WORK/big" -maxdepth 1 -type d -name 'd*' | sort | head -$(( (BIG / 10 + 999) / 1000 )) > "$WORK/tenth.list"
  # shellcheck disable=SC2046
  /usr/bin/time -f '%M KiB peak RSS, %e s' \
    "$DIGIME" push library $(cat "$WORK/tenth.list") --account acc-1 --jobs 8 --journal "$WORK/tenth.jsonl" > /dev/null
fi
