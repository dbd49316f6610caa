#!/usr/bin/env bash
# Cost of acknowledgements (issue 15): file -> jq -> file with
# `pipeline.data_dir` set (every batch acknowledged once written, offsets
# checkpointed) against the same graph without it. Rounds alternate;
# medians of ROUNDS; prints a markdown table on stdout.
#
#   benches/ack_cost.sh                  # 1M events (the e2e data set), 5 rounds
#   ROUNDS=3 EVENTS=/path/to.jsonl benches/ack_cost.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
WORK=${WORK:-${TMPDIR:-/tmp}/sluice-ack-cost}
EVENTS=${EVENTS:-${TMPDIR:-/tmp}/sluice-e2e/events-1000000-s3.jsonl}
SLUICE=${SLUICE:-}
if [[ -z "$SLUICE" ]]; then
    cargo build --release --quiet
    SLUICE="${CARGO_TARGET_DIR:-$PWD/target}/release/sluice"
fi
[[ -s "$EVENTS" ]] || { echo "no $EVENTS: run benches/e2e.sh once (ONLY=filter ROUNDS=1) to make it" >&2; exit 2; }
mkdir -p "$WORK"
config() { # config NAME PROGRAM DATA_DIR
    cat > "$WORK/$1.toml" <<TOML
[pipeline]
${3:+data_dir = \"$3\"}
[sources.in]
type = "file"
path = "$EVENTS"
[transforms.t]
type = "jq"
inputs = ["in"]
program = '$2'
workers = 2
[sinks.out]
type = "file"
inputs = ["t"]
path = "$WORK/$1.out"
append = false
TOML
}
config select-plain 'select(.level=="error")' ""
config select-ack 'select(.level=="error")' "$WORK/state"
config identity-plain '.' ""
config identity-ack '.' "$WORK/state"
RESULTS="$WORK/results.tsv"
: > "$RESULTS"
for round in $(seq 1 "$ROUNDS"); do
    for name in select-plain select-ack identity-plain identity-ack; do
        rm -rf "$WORK/state"
        t0=$(date +%s%N)
        "$SLUICE" run -q "$WORK/$name.toml"
        t1=$(date +%s%N)
        echo -e "$name\t$(( (t1 - t0) / 1000000 ))" >> "$RESULTS"
        echo "[ack] round $round $name: $(( (t1 - t0) / 1000000 )) ms" >&2
    done
done
cmp -s "$WORK/select-plain.out" "$WORK/select-ack.out" || echo "select outputs DIFFER" >&2
python3 - "$RESULTS" <<'PY'
import statistics, sys, collections
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    name, ms = line.split()
    runs[name].append(int(ms))
print("| program | without data_dir (ms, median) | with data_dir (ms, median) | cost | all runs without / with |")
print("|---|---:|---:|---:|---|")
for prog in ["select", "identity"]:
    a, b = runs[prog + "-plain"], runs[prog + "-ack"]
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"| {prog} | {ma:.0f} | {mb:.0f} | {100 * (mb - ma) / ma:+.1f}% | {a} / {b} |")
PY
