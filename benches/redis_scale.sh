#!/usr/bin/env bash
# Throughput of 1, 2 and 3 sluice daemons sharing one Redis stream (issue 7).
#
#   benches/redis_scale.sh [ENTRIES] [DAEMON_COUNTS...]
#   benches/redis_scale.sh 300000 1 2 3
#   DELAY=1ms WORKERS=16 benches/redis_scale.sh 30000 1 2 3
#
# BATCH sets the source's batch_size (default 500).
# DELAY adds a `delay` stage (that long per event, WORKERS workers): each
# daemon is then bound by its simulated I/O, not by the CPU, which shows the
# scaling that several machines give even on a small one.
# For each count: a fresh redis-server on a free port (temporary directory),
# ENTRIES entries `{"n":i,...}` XADDed up front, then K daemons started at
# once (redis_stream source -> jq -> blackhole sink); the time runs until the
# group has read every entry (lag 0) and nothing is pending (all XACKed).
# Uses target/release/sluice (built when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

entries=${1:-300000}
shift || true
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(1 2 3)

command -v redis-server >/dev/null || { echo "needs redis-server" >&2; exit 1; }
[ -x target/release/sluice ] || cargo build --release --bin sluice
bin=$PWD/target/release/sluice

work=$(mktemp -d)
pids=()
redis_pid=
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    [ -n "$redis_pid" ] && kill -9 "$redis_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

field() { # field NAME: value of NAME in `XINFO GROUPS bench` (first group)
    redis-cli -p "$port" XINFO GROUPS bench | awk -v k="$1" 'prev==k {print; exit} {prev=$0}'
}

printf 'entries=%s cpus=%s\n' "$entries" "$(nproc)"
for k in "${counts[@]}"; do
    port=$(free_port)
    mkdir -p "$work/$k"
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
        --dir "$work/$k" --logfile "$work/$k/redis.log" &
    redis_pid=$!
    until redis-cli -p "$port" PING >/dev/null 2>&1; do sleep 0.05; done
    # Fill with pipelined XADDs (redis-cli --pipe speaks the inline protocol).
    awk -v n="$entries" 'BEGIN { for (i = 0; i < n; i++)
        printf "XADD bench * data \"{\\\"n\\\":%d,\\\"level\\\":\\\"info\\\",\\\"message\\\":\\\"event number %d\\\"}\"\r\n", i, i }' \
        | redis-cli -p "$port" --pipe >/dev/null
    redis-cli -p "$port" XGROUP CREATE bench g 0 >/dev/null
    slow= last=shape
    if [ -n "${DELAY:-}" ]; then
        slow=$(printf '[transforms.slow]\ntype = "delay"\ninputs = ["shape"]\nduration = "%s"\nworkers = %s\n' \
            "$DELAY" "${WORKERS:-16}")
        last=slow
    fi
    cat > "$work/$k/c.toml" <<EOF
[sources.in]
type = "redis_stream"
url = "redis://127.0.0.1:$port"
stream = "bench"
group = "g"
block = "100ms"
batch_size = ${BATCH:-500}

[transforms.shape]
type = "jq"
inputs = ["in"]
program = '{n, msg: .message}'
$slow

[sinks.out]
type = "blackhole"
inputs = ["$last"]
EOF
    start=$(date +%s.%N)
    pids=()
    for i in $(seq "$k"); do
        "$bin" run "$work/$k/c.toml" -q 2>"$work/$k/d$i.log" &
        pids+=($!)
    done
    while :; do
        lag=$(field lag); pending=$(field pending)
        [ "$lag" = "0" ] && [ "$pending" = "0" ] && break
        sleep 0.02
    done
    end=$(date +%s.%N)
    for p in "${pids[@]}"; do kill -TERM "$p"; done
    for p in "${pids[@]}"; do wait "$p" || true; done
    pids=()
    kill "$redis_pid"; wait "$redis_pid" 2>/dev/null || true; redis_pid=
    awk -v k="$k" -v n="$entries" -v s="$start" -v e="$end" \
        'BEGIN { t = e - s; printf "%d daemon(s): %.2f s, %.0f entries/s\n", k, t, n / t }'
done
