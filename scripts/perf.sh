#!/usr/bin/env bash
# Reproduces the figures of docs/performance.md on this machine.
#   bash scripts/perf.sh            # all of it
#   bash scripts/perf.sh large      # only the 1 GiB push against curl
#   bash scripts/perf.sh web        # only the browser upload through web_push
# Needs: curl, openssl. Builds in release. Leaves its files in $WORK.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${WORK:-/tmp/digime-perf}
mkdir -p "$WORK"
MODE=${1:-all}
cargo build -q --release -p digime-perf --bin bench_push --bin curl_headers
cargo build -q --release --features sandbox-bin --example web_push --bin digime-sandbox
BENCH=target/release/bench_push
SANDBOX=target/release/digime-sandbox

if [ "$MODE" = all ]; then
echo "== signing (criterion)"
cargo bench -q -p digime-perf --bench signing 2>/dev/null | grep -E "^(sign|parse)|time:"

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
if [ "$MODE" != web ]; then
echo "== large push: 1 GiB from a file, sandbox in its own process"
for run in 1 2 3; do
  target/release/curl_headers perf-app perf-contract "$WORK/key.pem" "$WORK/token.json" > "$WORK/headers.txt"
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
fi

if [ "$MODE" != large ]; then
echo "== browser upload: 1 GiB through web_push (curl -F) vs the same file sent by bench_push --file"
# web_push talks to the same sandbox as a real digi.me (the DIGIME_* variables);
# curl is the browser: it connects (consent on the sandbox's onboard page,
# cookies kept) and posts the upload form. The app answers once the push is
# stored, so curl's total time is the browser-to-library time.
DIGIME_BASE_URL="$BASE" DIGIME_APP_ID=perf-app DIGIME_CONTRACT_ID=perf-contract \
  DIGIME_KEY_FILE="$WORK/key.pem" target/release/examples/web_push --port 0 --max-upload $((2 << 30)) \
  > "$WORK/web.out" 2> "$WORK/web.err" &
WEB_PID=$!
trap 'kill $SANDBOX_PID $WEB_PID 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q listening "$WORK/web.out" 2>/dev/null && break; sleep 0.1; done
WEB=$(grep -o 'http://[^ ]*' "$WORK/web.out" | head -1)
rm -f "$WORK/cookies"
curl -s -o /dev/null -c "$WORK/cookies" -b "$WORK/cookies" -L "${WEB}connect"
# CPU seconds of a process so far (user + system), from /proc.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }
plus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a + b }'; }
TIMEFORMAT='%U %S'
for run in 1 2 3; do
  web0=$(cpu $WEB_PID); sbx0=$(cpu $SANDBOX_PID)
  echo -n "web_push (browser to library): "
  { time curl -s -o "$WORK/web-result.html" -b "$WORK/cookies" -H 'Expect:' \
      -w '%{size_upload} %{time_total}\n' \
      -F mime_type=application/octet-stream -F "file=@$WORK/1g.bin" "${WEB}upload" \
      > "$WORK/web-curl.out"; } 2> "$WORK/web-curl.time"
  grep -q 'id="result"' "$WORK/web-result.html" || { echo "the upload failed" >&2; exit 1; }
  read -r bytes seconds < "$WORK/web-curl.out"
  read -r cu cs < "$WORK/web-curl.time"
  awk -v b="$bytes" -v t="$seconds" -v w0="$web0" -v w1="$(cpu $WEB_PID)" -v s0="$sbx0" \
    -v s1="$(cpu $SANDBOX_PID)" -v c="$(plus "$cu" "$cs")" 'BEGIN {
    printf "%.0f MiB/s (%.2f s); CPU s: curl %.2f, web_push %.2f, sandbox %.2f\n",
      b / t / 1048576, t, c, w1 - w0, s1 - s0 }'
  sbx0=$(cpu $SANDBOX_PID)
  echo -n "bench_push --file: "
  { time $BENCH --count 1 --concurrency 1 --file "$WORK/1g.bin" --base-url "$BASE" --app-id perf-app \
      --contract-id perf-contract --key "$WORK/key.pem" --token "$WORK/token.json" \
      | tail -1 > "$WORK/bench.out"; } 2> "$WORK/bench.time"
  read -r bu bs < "$WORK/bench.time"
  echo "$(cat "$WORK/bench.out"); CPU s: bench_push $(plus "$bu" "$bs"), sandbox $(plus "$(cpu $SANDBOX_PID)" "-$sbx0")"
done
fi
