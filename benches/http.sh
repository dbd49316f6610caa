#!/usr/bin/env bash
# Issue 12's HTTP benchmarks, in one run (release build):
#
#   enrich  http_enrich against a service answering after DELAY_MS (20 ms) at
#           concurrency 64: CALLS (20 000) distinct keys, no cache hits; wall
#           time against the ideal CALLS × DELAY / 64, side by side with the
#           classic asyncio + aiohttp pipeline (benches/http_enrich_aiohttp.py:
#           Queue, 64 workers, Semaphore(64)) on the same service, rounds
#           alternating, medians.
#   server  ingest events/s into the http_server source (100-event bodies):
#           benches/http_server.sh, when present.
#   sink    http sink events/s to a local server answering at once:
#           benches/http_sink.sh, when present.
#
#   benches/http.sh                       # everything, ROUNDS=3
#   ONLY=enrich ROUNDS=5 benches/http.sh  # one part
#   CALLS=5000 ROUNDS=1 benches/http.sh   # a quick check
#
# The service is config/http-enrich-service.py (Python standard library,
# asyncio, keep-alive), restarted for every run so its counts (requests
# answered, most held at once) belong to that run; they are printed next to
# each figure as a check that every call was made and the limit held.
# aiohttp is installed into a venv under $WORK when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

CALLS=${CALLS:-20000}
DELAY_MS=${DELAY_MS:-20}
CONCURRENCY=${CONCURRENCY:-64}
WORKERS=${WORKERS:-4}          # http_enrich workers (the limit is stage-wide)
PY_WORKERS=${PY_WORKERS:-64}   # asyncio worker tasks
ROUNDS=${ROUNDS:-3}
ONLY=${ONLY:-"enrich server sink"}
WORK=${WORK:-${TMPDIR:-/tmp}/sluice-http-bench}
mkdir -p "$WORK"

cargo build --release --quiet
BIN=$PWD/target/release/sluice

svc_pid=
cleanup() {
  if [[ -n $svc_pid ]]; then kill "$svc_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_service DELAY_SECONDS: sets $port and $svc_pid once it listens.
start_service() {
  port=$(free_port)
  rm -f "$WORK/service.log" # the background child truncates it, maybe after the first grep
  python3 config/http-enrich-service.py --port "$port" --delay "$1" 2>"$WORK/service.log" &
  svc_pid=$!
  for _ in $(seq 200); do
    grep -q "listening on http://127.0.0.1:$port " "$WORK/service.log" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "the service did not start:" >&2
  cat "$WORK/service.log" >&2
  exit 1
}

# stop_service: leaves "REQUESTS MAX_IN_FLIGHT", as the service counted
# them, in $STATS.
stop_service() {
  STATS=$(python3 - "$port" <<'PY'
import json, sys, urllib.request
s = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/stats"))
print(s["requests"] - 1, s["max_in_flight"])  # minus this request itself
PY
)
  kill "$svc_pid"
  wait "$svc_pid" 2>/dev/null || true
  svc_pid=
}

ensure_aiohttp() {
  PY=$WORK/venv/bin/python
  if ! "$PY" -c 'import aiohttp' 2>/dev/null; then
    echo "installing aiohttp into $WORK/venv ..." >&2
    python3 -m venv "$WORK/venv"
    "$WORK/venv/bin/pip" install --quiet aiohttp
  fi
  AIOHTTP_VERSION=$("$PY" -c 'import aiohttp; print(aiohttp.__version__)')
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# timed OUT_PREFIX CMD...: runs CMD under /usr/bin/time; leaves wall seconds,
# CPU % and peak RSS (KiB) in OUT_PREFIX.time, stdout in OUT_PREFIX.out.
timed() {
  local prefix=$1
  shift
  /usr/bin/time -f '%e %P %M' -o "$prefix.time" "$@" >"$prefix.out"
}

bench_enrich() {
  ensure_aiohttp
  local delay ideal cfg
  delay=$(awk -v ms="$DELAY_MS" 'BEGIN {print ms / 1000}')
  ideal=$(awk -v n="$CALLS" -v d="$delay" -v c="$CONCURRENCY" 'BEGIN {printf "%.3f", n * d / c}')
  cfg=$WORK/enrich.toml
  : >"$WORK/enrich.rows"
  for round in $(seq "$ROUNDS"); do
    # sluice: generate → http_enrich → blackhole.
    start_service "$delay"
    cat >"$cfg" <<TOML
[sources.gen]
type = "generate"
count = $CALLS
[transforms.enrich]
type = "http_enrich"
inputs = ["gen"]
url = "http://127.0.0.1:$port/users/{.seq}"
workers = $WORKERS
concurrency = $CONCURRENCY
[sinks.out]
type = "blackhole"
inputs = ["enrich"]
TOML
    timed "$WORK/sluice" "$BIN" run -q --report "$WORK/report.json" "$cfg"
    stop_service
    read -r seen most <<<"$STATS"
    python3 - "$WORK/report.json" "$CALLS" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = next(s for s in r["stages"] if s["name"] == "enrich")
n = int(sys.argv[2])
assert s["events_out"] == n and s["errors"] == 0, s
c = s["counters"]
assert c["http_requests"] - c["http_retries"] == n and c["http_failures"] == 0, c
t = s["timings_ms"]["http_request"]
open(sys.argv[1] + ".calls", "w").write(f'{t["p50_ms"]} {t["p99_ms"]}\n')
PY
    read -r wall cpu rss <"$WORK/sluice.time"
    read -r p50 p99 <"$WORK/report.json.calls"
    echo "sluice $wall ${cpu%\%} $rss $seen $most $p50 $p99" >>"$WORK/enrich.rows"

    # The classic asyncio + aiohttp pipeline on a fresh service.
    start_service "$delay"
    timed "$WORK/py" "$PY" benches/http_enrich_aiohttp.py "http://127.0.0.1:$port" "$CALLS" \
      --workers "$PY_WORKERS" --limit "$CONCURRENCY"
    stop_service
    read -r seen most <<<"$STATS"
    grep -q '"errors": 0' "$WORK/py.out" || { echo "aiohttp run had errors: $(cat "$WORK/py.out")" >&2; exit 1; }
    read -r wall cpu rss <"$WORK/py.time"
    echo "aiohttp $wall ${cpu%\%} $rss $seen $most" >>"$WORK/enrich.rows"
    echo "round $round/$ROUNDS done" >&2
  done

  echo
  echo "http_enrich: $CALLS calls, service answering after ${DELAY_MS} ms, concurrency $CONCURRENCY;"
  echo "ideal ${ideal} s (calls × delay / concurrency); medians of $ROUNDS rounds; aiohttp $AIOHTTP_VERSION, $(python3 --version)"
  echo
  echo "| pipeline | wall s | × ideal | calls/s | CPU % | peak RSS MiB | calls seen by the service | most in flight |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  local tool label w c r s m
  for tool in sluice aiohttp; do
    case $tool in
      sluice) label="sluice http_enrich (workers=$WORKERS, concurrency=$CONCURRENCY)" ;;
      aiohttp) label="asyncio + aiohttp (Queue, $PY_WORKERS workers, Semaphore($CONCURRENCY))" ;;
    esac
    w=$(awk -v t="$tool" '$1 == t {print $2}' "$WORK/enrich.rows" | median)
    c=$(awk -v t="$tool" '$1 == t {print $3}' "$WORK/enrich.rows" | median)
    r=$(awk -v t="$tool" '$1 == t {print $4}' "$WORK/enrich.rows" | median)
    s=$(awk -v t="$tool" '$1 == t {print $5}' "$WORK/enrich.rows" | median)
    m=$(awk -v t="$tool" '$1 == t {print $6}' "$WORK/enrich.rows" | sort -g | tail -1)
    awk -v l="$label" -v w="$w" -v i="$ideal" -v n="$CALLS" -v c="$c" -v r="$r" -v s="$s" -v m="$m" \
      'BEGIN {printf "| %s | %.3f | %.2f | %.0f | %.0f | %.1f | %d | %d |\n", l, w, w / i, n / w, c, r / 1024, s, m}'
  done
  local sw pw
  sw=$(awk '$1 == "sluice" {print $2}' "$WORK/enrich.rows" | median)
  pw=$(awk '$1 == "aiohttp" {print $2}' "$WORK/enrich.rows" | median)
  # The service's own pace under this machine's load: the gap between
  # the ideal and a pipeline that keeps every permit busy.
  local p50 p99
  p50=$(awk '$1 == "sluice" {print $7}' "$WORK/enrich.rows" | median)
  p99=$(awk '$1 == "sluice" {print $8}' "$WORK/enrich.rows" | median)
  printf '\nsluice saw each call take p50 %.1f ms, p99 %.1f ms (the service adds to its %s ms under load):\n' "$p50" "$p99" "$DELAY_MS"
  awk -v n="$CALLS" -v p="$p50" -v c="$CONCURRENCY" -v s="$sw" 'BEGIN {
    printf "at p50, %d calls through %d permits take %.3f s; sluice took %.2fx that\n", n, c, n * p / 1000 / c, s / (n * p / 1000 / c) }'
  awk -v s="$sw" -v p="$pw" -v i="$ideal" 'BEGIN {
    printf "\ntarget: within 1.5x of the ideal: %s (%.2fx); ahead of aiohttp: %s (%.2fx faster)\n",
      (s <= 1.5 * i) ? "met" : "missed", s / i, (s < p) ? "met" : "missed", p / s }'
}

# Hooks for the other two parts of issue 12: each script prints its own
# figures; this one only runs them in the same session.
bench_server() {
  if [[ -x benches/http_server.sh ]]; then
    benches/http_server.sh
  else
    echo "(http_server source: benches/http_server.sh is not here yet)"
  fi
}

bench_sink() {
  if [[ -x benches/http_sink.sh ]]; then
    benches/http_sink.sh
  else
    echo "(http sink: benches/http_sink.sh is not here yet)"
  fi
}

echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), commit $(git rev-parse --short HEAD)"
for part in $ONLY; do
  case $part in
    enrich) bench_enrich ;;
    server) bench_server ;;
    sink) bench_sink ;;
    *) echo "unknown part $part (enrich server sink)" >&2; exit 2 ;;
  esac
done
