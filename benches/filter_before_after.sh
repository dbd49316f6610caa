#!/usr/bin/env bash
# `sluice filter` speed before and after a change, on one generated file:
# `-w 2 'select(.level=="error")'` (the fast condition path) and `.` (the
# identity projection), the two binaries in alternation (round-robin), the
# median of ROUNDS wall times each, plus instruction counts from
# `perf stat -e instructions` (steadier than time on a shared machine).
#
#   benches/filter_before_after.sh BEFORE_BINARY AFTER_BINARY
#
# Environment (defaults in brackets):
#   ROUNDS  rounds of every command [7]
#   LINES   lines of the generated file [1000000, ~100 MB]
#   WORK    scratch directory (the file is kept there) [$TMPDIR/sluice-filter-bench]
set -euo pipefail
BEFORE=${1:?before binary}
AFTER=${2:?after binary}
ROUNDS=${ROUNDS:-7}
LINES=${LINES:-1000000}
WORK=${WORK:-${TMPDIR:-/tmp}/sluice-filter-bench}
mkdir -p "$WORK"
DATA="$WORK/events-$LINES.jsonl"

if [[ ! -s "$DATA" ]]; then
    echo "[bench] generating $LINES lines into $DATA" >&2
    awk -v n="$LINES" 'BEGIN {
        split("info info info warn error debug", levels, " ");
        for (i = 1; i <= n; i++) {
            printf "{\"ts\":%d,\"level\":\"%s\",\"host\":\"web-%d\",\"status\":%d,\"latency_ms\":%.3f,\"msg\":\"request %d handled by worker %d\"}\n",
                1700000000 + i, levels[(i * 7) % 6 + 1], i % 13, 200 + (i % 5) * 100, (i % 997) / 7.0, i, i % 31
        }
    }' > "$DATA"
fi
ls -l "$DATA" >&2

declare -A times
run_one() { # name binary args...
    local name=$1 bin=$2; shift 2
    local t0 t1
    t0=$(date +%s.%N)
    "$bin" filter "$@" < "$DATA" > /dev/null
    t1=$(date +%s.%N)
    times[$name]+="$(echo "$t1 - $t0" | bc) "
}
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

for ((r = 1; r <= ROUNDS; r++)); do
    echo "[bench] round $r/$ROUNDS" >&2
    run_one "select before" "$BEFORE" -w 2 'select(.level=="error")'
    run_one "select after" "$AFTER" -w 2 'select(.level=="error")'
    run_one "identity before" "$BEFORE" -w 2 .
    run_one "identity after" "$AFTER" -w 2 .
done

instructions() { # binary args...
    local bin=$1; shift
    if command -v perf > /dev/null; then
        perf stat -x, -e instructions "$bin" filter "$@" < "$DATA" 2>&1 > /dev/null \
            | awk -F, '/instructions/ {print $1}'
    else
        echo "-"
    fi
}

echo "| program | before median s | after median s | before instructions | after instructions |"
echo "|---|---|---|---|---|"
for p in select identity; do
    case $p in
        select) args=(-w 2 'select(.level=="error")') ;;
        identity) args=(-w 2 .) ;;
    esac
    b=$(echo "${times[$p before]}" | median)
    a=$(echo "${times[$p after]}" | median)
    bi=$(instructions "$BEFORE" "${args[@]}")
    ai=$(instructions "$AFTER" "${args[@]}")
    echo "| \`filter ${args[*]}\` | $b | $a | $bi | $ai |"
done
