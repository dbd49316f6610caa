#!/usr/bin/env bash
# A tap never slows the graph (issue 13): the throughput of a running
# daemon (generate -> jq, 2 workers -> blackhole) measured over WINDOW
# seconds from /metrics, in alternation:
#
#   none      no tap open (the send path reads one atomic per batch)
#   stalled   a tap on `gen` whose reader never reads (a TCP client that
#             sends the request and stops): its copies are dropped, counted
#   reading   `sluice tap gen > /dev/null`, a reader that keeps up
#   base      (with BASE=path) the same daemon built before taps existed,
#             no tap: the cost of the untapped send path
#
# Prints a markdown table of the medians and each mode's ratio to `none`:
# events/s, and events per CPU-second of the daemon (utime + stime from
# /proc, less sensitive than wall-clock throughput to other work on a shared
# machine). The claim is `stalled` within 10% of `none`.
#
#   benches/tap.sh                         # ROUNDS=5 WINDOW=8
#   ROUNDS=3 WINDOW=5 BASE=/tmp/sluice-base benches/tap.sh
#
# Environment: ROUNDS [5], WINDOW seconds per measure [8], WARMUP seconds
# before it [2], SLUICE (a binary instead of building one), BASE, PORT
# [19598 + a random offset].
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
WINDOW=${WINDOW:-8}
WARMUP=${WARMUP:-2}
PORT=${PORT:-$((19598 + RANDOM % 1000))}
if [[ -z "${SLUICE:-}" ]]; then
    cargo build --release --quiet
    SLUICE=target/release/sluice
fi
MODES="none stalled reading"
[[ -n "${BASE:-}" ]] && MODES="$MODES base"

work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cat > "$work/p.toml" <<TOML
[pipeline]
metrics_address = "127.0.0.1:$PORT"

[sources.gen]
type = "generate"

[transforms.shape]
type = "jq"
inputs = ["gen"]
program = "{seq, host, level}"
workers = 2

[sinks.null]
type = "blackhole"
inputs = ["shape"]
TOML

# events_in of `null` from /metrics.
count() {
    python3 - "$PORT" <<'PY'
import sys, urllib.request
text = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=10).read().decode()
for line in text.splitlines():
    if line.startswith('sluice_events_in_total{stage="null"} '):
        print(line.split()[1])
PY
}

# Waits until the API answers.
wait_up() {
    for _ in $(seq 200); do
        count >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "the daemon did not come up" >&2
    exit 1
}

# One measure of mode $1: prints events/s.
measure() {
    local mode=$1 bin=$SLUICE tapper=""
    [[ $mode == base ]] && bin=$BASE
    "$bin" run -q "$work/p.toml" 2>"$work/err" & local pid=$!
    wait_up
    case $mode in
        stalled)
            # Send the request, never read the answer: the server's socket
            # buffers fill, then the tap's buffer, then copies are dropped.
            exec 3<>"/dev/tcp/127.0.0.1/$PORT"
            printf 'GET /api/v1/tap?stage=gen HTTP/1.1\r\nHost: bench\r\n\r\n' >&3
            ;;
        reading)
            "$SLUICE" tap --address "127.0.0.1:$PORT" gen >/dev/null 2>&1 & tapper=$!
            ;;
    esac
    sleep "$WARMUP"
    local a b ca cb
    ca=$(cpu "$pid"); a=$(count); sleep "$WINDOW"; b=$(count); cb=$(cpu "$pid")
    if [[ $mode == stalled ]]; then
        dropped=$(python3 - "$PORT" <<'PY'
import sys, urllib.request
text = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=10).read().decode()
print(next((l.split()[1] for l in text.splitlines() if l.startswith("sluice_tap_dropped_total ")), "0"))
PY
)
        echo "[tap] stalled tap: $dropped copies dropped" >&2
    fi
    kill -TERM "$pid"; wait "$pid" || true
    [[ -n $tapper ]] && { kill "$tapper" 2>/dev/null; wait "$tapper" 2>/dev/null || true; }
    [[ $mode == stalled ]] && exec 3>&-
    python3 -c "print(($b - $a) / $WINDOW, ($b - $a) / max(($cb - $ca) / $(getconf CLK_TCK), 1e-9))"
}

# CPU time (clock ticks, user + system) of process $1 so far.
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }

declare -A rates per_cpu
for round in $(seq "$ROUNDS"); do
    for mode in $MODES; do
        read -r r e <<<"$(measure "$mode")"
        echo "[tap] round $round $mode: $r events/s, $e events per CPU-second" >&2
        rates[$mode]="${rates[$mode]:-} $r"
        per_cpu[$mode]="${per_cpu[$mode]:-} $e"
    done
done

median() { python3 -c "import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }
none=$(median ${rates[none]})
none_cpu=$(median ${per_cpu[none]})
echo "| mode | events/s (median of $ROUNDS × ${WINDOW}s) | vs none | events per CPU-second | vs none |"
echo "|---|---:|---:|---:|---:|"
for mode in $MODES; do
    m=$(median ${rates[$mode]})
    c=$(median ${per_cpu[$mode]})
    python3 -c "print(f'| $mode | {$m:,.0f} | {$m / $none:.3f} | {$c:,.0f} | {$c / $none_cpu:.3f} |')"
done
echo
echo "load: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"
