#!/usr/bin/env bash
# Runs the whole benchmark suite (about 15 minutes on 2 cores) and writes the
# JSON results and tables to bench/results, the plots to docs/. Needs the
# peers: bench/install-peers.sh. Not run by CI.
#
#   LATENCY=30s bench/run.sh     # the issue's 30 s latency runs (default 10s)
#   HOLD=35s                     # idle hold before the liveness check
#   PIN_SERVER=1 PIN_CLIENTS=0   # CPUs for the servers and for the tool
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/results
mkdir -p "$out" bench/.bin docs
go build -o bench/.bin/logtail-bench ./cmd/logtail-bench
go build -o bench/.bin/logtaild ./cmd/logtaild
B=bench/.bin/logtail-bench
common=(-dir "${DIR:-/tmp/logtail-bench}" -logtaild-bin bench/.bin/logtaild
  -pin-server "${PIN_SERVER:-1}" -pin-clients "${PIN_CLIENTS:-0}")
lat=${LATENCY:-10s}
hold=${HOLD:-35s}
log() { echo "== $*" >&2; }

{
  echo "date: $(date -u +%FT%TZ)"
  echo "nproc: $(nproc)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
  echo "kernel: $(uname -r)"
  echo "go: $(go version)"
  echo "websocketd: $(websocketd --version 2>&1 | head -1)"
  echo "frontail: $(bench/node_modules/.bin/frontail --version 2>&1)"
  echo "node: $(node --version)"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$out/machine.txt"

# Throughput: the peers are 10-50x slower, so they get fewer lines per run
# (each run still lasts about a second); rates, not counts, are compared.
for c in 1 10 100; do
  case $c in 1) big=1000000 small=100000 ;; 10) big=200000 small=20000 ;; 100) big=50000 small=3000 ;; esac
  log "throughput, $c clients"
  $B throughput "${common[@]}" -target logtaild -clients $c -lines $big -repeat 3 -json "$out/tp-logtaild-$c.json"
  $B throughput "${common[@]}" -target websocketd,frontail -clients $c -lines $small -repeat 3 -calibrate=false -json "$out/tp-peers-$c.json"
  if [ $c = 1 ]; then
    $B throughput "${common[@]}" -target tail -clients 1 -lines $big -repeat 3 -calibrate=false -json "$out/tp-tail-1.json"
  fi
done

log "html vs text"
$B html "${common[@]}" -lines 500000 -repeat 3 -json "$out/html.json"

log "lastn"
$B lastn "${common[@]}" -target logtaild,websocketd -repeat 7 -json "$out/lastn.json"

log "latency ($lat)"
$B latency "${common[@]}" -target logtaild,websocketd,frontail,floor -clients 1,100 -duration "$lat" -json "$out/latency.json"

log "idle (hold $hold)"
$B idle "${common[@]}" -target logtaild,frontail,floor -streams 1000,10000 -hold "$hold" -fanouts 10 -timeout 20m -json "$out/idle.json"
$B idle "${common[@]}" -target websocketd -streams 300 -hold "$hold" -fanouts 10 -json "$out/idle-websocketd.json"

echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/machine.txt"
$B plot -in "$out" -out docs

if [ -z "${SKIP_GOBENCH:-}" ]; then
  log "go micro-benchmarks"
  go test -run '^$' -bench . -benchtime 2s ./tailer ./render > "$out/gobench.txt" 2>&1 || true
  go test -run '^$' -bench 'StreamFollow|Frames' -benchtime 2s ./cmd/logtaild >> "$out/gobench.txt" 2>&1 || true
  go test -run '^$' -bench Parser ./cmd/logtail-bench >> "$out/gobench.txt" 2>&1 || true
fi
