#!/usr/bin/env bash
# Read latency of the server on the Istanbul scenario (4k entries) against the
# same scenario grown to ENTRIES (default a million; the ledger benchmark's
# mix: a quarter claims, the rest remarks): the same sequence of /checkpoint,
# /api/entries/N and /api/exchanges/progress requests over one connection per
# run, timed by farm-bench with the 4k server as the baseline.
# Usage: bench/read_latency.sh [ENTRIES] [REQUESTS]
set -euo pipefail
cd "$(dirname "$0")/.."
entries="${1:-1000000}"
requests="${2:-3000}"
cargo build --release -q --locked -p truce-cli -p truce-ledger --examples --bins
truce=target/release/truce
out=bench/out/read_latency
# The logs are kept for the next run (remove bench/out/read_latency to remake them).
if [ ! -f "$out/large-$entries" ]; then
  rm -rf "$out" && mkdir -p "$out"
  "$truce" scenario load --data "$out/small" istanbul-2025 >/dev/null
  cp -a "$out/small" "$out/large"
  target/release/examples/grow_log "$out/large" "$entries"
  touch "$out/large-$entries"
fi

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
serve() { # DIR PORT: start a server and wait until its start-up verification is done
  "$truce" serve --data "$1" --addr "127.0.0.1:$2" >"$out/serve-$2.log" 2>&1 &
  pids+=($!)
  until curl -sf "http://127.0.0.1:$2/log" | grep -q "entries verified at"; do sleep 1; done
}
requests_file() { # DIR PORT FILE: the request sequence, entry indices spread over the log
  local token size
  token=$("$truce" token add --data "$1" --actor intermediary --label read-latency)
  size=$(curl -sf "http://127.0.0.1:$2/checkpoint" | sed -n 2p)
  for ((i = 0; i < requests; i += 3)); do
    printf 'url = "http://127.0.0.1:%s/checkpoint"\noutput = /dev/null\n' "$2"
    printf 'url = "http://127.0.0.1:%s/api/entries/%s"\noutput = /dev/null\n' "$2" $(((i * 7919) % size))
    printf 'url = "http://127.0.0.1:%s/api/exchanges/progress?term=joint-exchange-2025-06-02%%23prisoners"\noutput = /dev/null\n' "$2"
  done >"$3"
  printf 'header = "Authorization: Bearer %s"\n' "$token" >"$3.auth"
}
serve "$out/small" 18091
serve "$out/large" 18092
requests_file "$out/small" 18091 "$out/small.curl"
requests_file "$out/large" 18092 "$out/large.curl"
for f in small large; do # every request must answer 200
  codes=$(curl -s -K "$out/$f.curl.auth" -K "$out/$f.curl" -w '%{http_code}\n' | sort | uniq -c)
  echo "$f: $codes"
  [ "$(echo "$codes" | awk '{print $2}')" = 200 ]
done
farm-bench -n 9 --timeout 600 --vs "curl -sf -K $out/small.curl.auth -K $out/small.curl" \
  -- curl -sf -K "$out/large.curl.auth" -K "$out/large.curl"
