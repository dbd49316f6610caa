#!/usr/bin/env bash
# Runs each cargo-fuzz target (fuzz/) for SECONDS (default 300), one after
# the other, and prints executions and time per target.
#
#   benches/fuzz.sh [SECONDS]          # needs nightly and `cargo install cargo-fuzz`
#   TARGETS="decode" benches/fuzz.sh 60
#
# New inputs go to a scratch corpus ($TMPDIR/sluice-fuzz/TARGET); the
# committed seeds in fuzz/corpus/TARGET are read, never written. A crash
# leaves its input in fuzz/artifacts/TARGET/ and makes the exit status 1:
# fix it, then add the input to fuzz/corpus/TARGET/ (tests/fuzz_corpus.rs
# replays every seed in `cargo test`).
set -euo pipefail
SECONDS_EACH=${1:-300}
TARGETS=${TARGETS:-"decode canonical fast_path"}
cd "$(dirname "$0")/../fuzz"
WORK=${TMPDIR:-/tmp}/sluice-fuzz
# Release with debug assertions (overflow checks); no sanitizer: the crate is
# safe Rust, and on a small machine throughput matters more.
FLAGS=(-s none -a)
cargo +nightly fuzz build "${FLAGS[@]}" >/dev/null
status=0
printf '%-10s %12s %8s %10s  %s\n' target executions seconds exec/s result
for t in $TARGETS; do
    mkdir -p "$WORK/$t"
    log="$WORK/$t.log"
    if cargo +nightly fuzz run "${FLAGS[@]}" "$t" "$WORK/$t" "corpus/$t" -- \
        -max_total_time="$SECONDS_EACH" -print_final_stats=1 >"$log" 2>&1; then
        result=ok
    else
        result="FAILED: see $log and fuzz/artifacts/$t/"
        status=1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
    runs=${runs:-?}
    secs=${secs:-$SECONDS_EACH}
    rate=$([ "$runs" != "?" ] && [ "$secs" -gt 0 ] && echo $((runs / secs)) || echo "?")
    printf '%-10s %12s %8s %10s  %s\n' "$t" "$runs" "$secs" "$rate" "$result"
done
exit $status
