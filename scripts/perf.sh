#!/usr/bin/env bash
# Reproduces the figures of docs/performance.md on this machine.
#   bash scripts/perf.sh            # all of it
#   bash scripts/perf.sh large      # only the 1 GiB push against curl
# Needs: curl, openssl. Builds in release. Leaves its files in $WORK.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${WORK:-/tmp/digime-perf}
mkdir -p "$WORK"
cargo build -q --release --features sandbox-bin,__bench --example bench_push --example curl_headers --bin digime-sandbox
BENCH=target/release/examples/bench_push
SANDBOX=target/release/digime-sandbox

if [ "${1:-}" != "large" ]; then
echo "== signing (criterion)"
cargo bench -q --features __bench --bench signing 2>/dev/null | grep -E "^(sign|parse)|time:"

echo "== small pushes: 1 KiB, concurrency 8, in-process sandbox"
for run in 1 2 3; do $BENCH --count 10000 --size 1024 --concurrency 8 | tail -1; done
echo "-- the same with a distinct descriptor per push (two signatures each)"
$BENCH --count 10000 --size 1024 --concurrency 8 --distinct-descriptors | tail -1

echo "== refresh storm: 200 concurrent pushes, expired token"
$BENCH --count 200 --size 1024 --concurrency 200 --expired-token | tail -1

echo "== cost by size (concurrency 8) and by concurrency (1 KiB)"
for size in 1024 65536 1048576 16777216; do
  n=$(( size >= 16777216 ? 64 : (size >= 1048576 ? 500 : 3000) ))
  echo -n "size $size: "; $BENCH --count $n --size $size --concurrency 8 | tail -1
done
for c in 1 4 16 64; do
  echo -n "concurrency $c: "; $BENCH --count 5000 --size 1024 --concurrency $c | tail -1
done

fi

echo "== large push: 1 GiB from a file, sandbox in its own process"
[ -f "$WORK/1g.bin" ] || head -c $((1 << 30)) /dev/urandom > "$WORK/1g.bin"
openssl genrsa -out "$WORK/key.pem" 2048 2>/dev/null
openssl rsa -in "$WORK/key.pem" -pubout -out "$WORK/public.pem" 2>/dev/null
$SANDBOX --port 0 --app-id perf-app --contract perf-contract="$WORK/public.pem" \
  --user perf-user --accounts bench-account --token-out "$WORK/token.json" --keep-bytes 0 \
  > "$WORK/sandbox.out" 2> "$WORK/sandbox.err" &
SANDBOX_PID=$!
trap 'kill $SANDBOX_PID 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q listening "$WORK/sandbox.out" 2>/dev/null && break; sleep 0.1; done
BASE=$(grep -o 'http://[^ ]*' "$WORK/sandbox.out" | head -1)
for run in 1 2 3; do
  target/release/examples/curl_headers perf-app perf-contract "$WORK/key.pem" "$WORK/token.json" > "$WORK/headers.txt"
  # `--data-binary @file` reads the whole file into memory first and gives up
  # on 1 GiB here ("out of memory"); `-T file -X POST` sends the same request
  # (method, headers, Content-Length, body) streamed from disk.
  echo -n "curl -T (POST): "
  curl -s -o /dev/null -w '%{speed_upload} bytes/s, HTTP %{http_code}\n' -H @"$WORK/headers.txt" \
    -H 'Content-Type: application/octet-stream' -H 'Expect:' -X POST -T "$WORK/1g.bin" \
    "${BASE}permission-access/import"
  echo -n "digime: "
  $BENCH --count 1 --concurrency 1 --file "$WORK/1g.bin" --base-url "$BASE" --app-id perf-app \
    --contract-id perf-contract --key "$WORK/key.pem" --token "$WORK/token.json" | tail -1
done
