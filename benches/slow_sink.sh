#!/usr/bin/env bash
# Memory under a slow sink (issue 3): 10 000 000 events offered to a sink
# that takes 10 000 events/s, for SECONDS seconds; prints RSS every second.
# Backpressure must keep RSS flat after the first second.
#
#   benches/slow_sink.sh          # SECONDS=30
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-30}
cargo build --release --quiet
cfg=$(mktemp --suffix=.toml)
trap 'rm -f "$cfg"' EXIT
cat > "$cfg" <<TOML
[sources.gen]
type = "generate"
count = 10000000
[transforms.noop]
type = "jq"
inputs = ["gen"]
program = "."
workers = 2
[sinks.slow]
type = "blackhole"
inputs = ["noop"]
rate = 10000
TOML
target/release/sluice run -q "$cfg" & pid=$!
for s in $(seq "$DURATION"); do
  sleep 1
  printf '%s s: %s kB\n' "$s" "$(awk '/VmRSS/ {print $2}' /proc/$pid/status)"
done
kill -TERM "$pid"
wait "$pid" || true
