#!/usr/bin/env bash
# Crash test at full size (issue 4): a 2 000 000-line file -> 4 workers ->
# file sink, SIGKILLed at KILLS random moments and restarted each time; at
# the end the output must hold every input line exactly once (ordered sink,
# effectively-once) or at least once (unordered sink).
#
#   benches/crash.sh                 # LINES=2000000 KILLS=10
#   LINES=200000 KILLS=5 benches/crash.sh
set -euo pipefail
cd "$(dirname "$0")/.."
LINES=${LINES:-2000000}
KILLS=${KILLS:-10}
SEED=${SEED:-42}
cargo build --release --quiet
BIN=$PWD/target/release/sluice
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$work/in.jsonl" "$LINES" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(1, int(sys.argv[2]) + 1):
        f.write('{"id":%d,"pad":"%s"}\n' % (i, "x" * (i % 40)))
PY
RANDOM=$SEED
for mode in ordered unordered; do
  ordered=$([ "$mode" = ordered ] && echo true || echo false)
  rm -rf "$work/state" "$work/out.jsonl"
  cat > "$work/p.toml" <<TOML
[pipeline]
data_dir = "$work/state"
[sources.app]
type = "file"
path = "$work/in.jsonl"
[transforms.work]
type = "jq"
inputs = ["app"]
program = '{id, twice: (.id * 2)}'
workers = 4
[sinks.out]
type = "file"
inputs = ["work"]
path = "$work/out.jsonl"
ordered = $ordered
TOML
  killed=0
  for _ in $(seq "$KILLS"); do
    "$BIN" run -q "$work/p.toml" & pid=$!
    sleep "0.$((RANDOM % 9 + 1))"
    if kill -9 "$pid" 2>/dev/null; then killed=$((killed + 1)); fi
    wait "$pid" 2>/dev/null || true
  done
  "$BIN" run -q "$work/p.toml"
  total=$(wc -l < "$work/out.jsonl")
  unique=$(cut -d, -f1 "$work/out.jsonl" | sort -u | wc -l)
  inorder=$(awk -F'[:,]' '$2 != NR {bad++} END {print bad+0}' "$work/out.jsonl")
  echo "$mode: $LINES lines, $killed kill -9, output $total lines, $unique distinct, $((total - unique)) duplicates, $((LINES - unique)) lost, $inorder out of place"
done
