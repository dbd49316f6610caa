#!/usr/bin/env bash
# Ingest throughput of the `http_server` source: wrk POSTs bodies of 100
# JSON lines (about 110 bytes each) to a release `sluice run` whose source
# feeds a blackhole sink, once with ack = "delivered" (each answer waits for
# the sink's write) and once with ack = "accepted". Events/s is requests/s
# x 100, checked against the daemon's own count (its --report).
#
#   benches/http_server.sh [SECONDS] [CONNECTIONS]     # default 10 s, 32
#   SLUICE=target/release/sluice benches/http_server.sh
#
# Needs wrk (`apt-get install wrk`). Sourcing the file defines
# `http_server_bench SECONDS CONNECTIONS` for benches/http.sh, which prints
# one line per ack mode: mode, requests/s, events/s, p50 and p99 latency.
set -euo pipefail

http_server_bench() {
    local seconds=${1:-10} conns=${2:-32}
    local root
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    local bin=${SLUICE:-$root/target/release/sluice}
    if ! command -v wrk >/dev/null; then
        echo "http_server bench: wrk is not installed (apt-get install wrk)" >&2
        return 1
    fi
    if [[ -z ${SLUICE:-} ]]; then
        (cd "$root" && cargo build --release --quiet)
    fi
    local work
    work=$(mktemp -d)
    # One body of 100 events; the Lua script sends it with every request.
    python3 - "$work/body.jsonl" <<'EOF'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(100):
        f.write(json.dumps({"ts": "2026-11-25T10:00:%02d.%03dZ" % (i % 60, i), "host": "web-%d" % (i % 7),
                            "level": "info" if i % 10 else "error", "msg": "GET /api/items/%d 200 in %d ms" % (i, i % 37),
                            "n": i}, separators=(",", ":")) + "\n")
EOF
    cat >"$work/post.lua" <<EOF
local f = io.open("$work/body.jsonl", "rb")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/x-ndjson"
EOF
    printf '%-10s %5s %10s %12s %9s %9s  %s\n' ack conns req/s events/s p50 p99 check
    local mode
    for mode in delivered accepted; do
        cat >"$work/p.toml" <<EOF
[sources.in]
type = "http_server"
address = "127.0.0.1:0"
ack = "$mode"
max_connections = 256

[sinks.out]
type = "blackhole"
inputs = ["in"]
EOF
        RUST_LOG=info "$bin" run "$work/p.toml" --quiet --report "$work/report-$mode.json" 2>"$work/log-$mode" &
        local pid=$! addr=""
        local i
        for i in $(seq 200); do
            addr=$(sed -n 's/.*listening on http \([0-9.:]*\).*/\1/p' "$work/log-$mode" | head -1)
            [[ -n $addr ]] && break
            sleep 0.05
        done
        if [[ -z $addr ]]; then
            echo "http_server bench: the daemon did not start:" >&2
            cat "$work/log-$mode" >&2
            kill "$pid" 2>/dev/null || true
            return 1
        fi
        wrk -t2 -c"$conns" -d"${seconds}s" --latency -s "$work/post.lua" "http://$addr/" >"$work/wrk-$mode" 2>&1
        kill -TERM "$pid"
        wait "$pid" || true
        local reqs rps p50 p99 bad events
        reqs=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$work/wrk-$mode")
        rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\)/\1/p' "$work/wrk-$mode")
        p50=$(awk '$1 == "50%" {print $2}' "$work/wrk-$mode")
        p99=$(awk '$1 == "99%" {print $2}' "$work/wrk-$mode")
        bad=$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\)/\1/p' "$work/wrk-$mode")
        events=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(next(s["events_in"] for s in r["stages"] if s["name"]=="in"))' "$work/report-$mode.json")
        # Requests still in flight when wrk stopped are counted by sluice
        # but not by wrk: events_in is at least 100 x the answers.
        local check="ok: $events events in (>= $((reqs * 100)))"
        if [[ -n $bad ]] || ((events < reqs * 100)); then
            check="MISMATCH: non-2xx ${bad:-0}, events_in $events, answered $reqs"
        fi
        printf '%-10s %5s %10.0f %12.0f %9s %9s  %s\n' "$mode" "$conns" "$rps" \
            "$(python3 -c "print($rps * 100)")" "$p50" "$p99" "$check"
    done
    rm -rf "$work"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    http_server_bench "$@"
fi
