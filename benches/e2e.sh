#!/usr/bin/env bash
# End-to-end benchmark of issue 3: sluice against `cat`, jq and jaq (when on
# PATH) on the same files, run in alternation (round-robin), medians of
# ROUNDS runs, peak RSS from /usr/bin/time -v, ratios measured in this run.
#
#   benches/e2e.sh                              # the full run (~6-9 min on 2 cores)
#   ROUNDS=1 SIZE=100000 APACHE_LINES=60000 GEN_COUNT=500000 SCALE_SIZE=5000 \
#     benches/e2e.sh                            # a quick check (~30 s)
#
# Environment (defaults in brackets):
#   ROUNDS        rounds of every command [5]
#   SIZE          JSON events in the generated data set [1000000, ~176.7 MB]
#   APACHE_LINES  lines of the repeated Apache error log [600000, ~51 MB]
#   HDFS_LINES    lines of the repeated Hadoop HDFS log [600000, ~86 MB]
#   BIG_SIZE      events of the memory scenario's large input [5000000, ~883 MB]
#   GEN_COUNT     events of the engine-overhead `generate` source [5000000]
#   SCALE_SIZE    events of the CPU-bound scaling scenario [40000]
#   SEED          seed of the generated data set [3]
#   WORK          scratch directory (data sets are kept there) [$TMPDIR/sluice-e2e]
#   SLUICE        a sluice binary to use instead of building one
#   TIMEOUT       seconds one command may run [300]
#   ONLY          space-separated scenario ids to run (filter identity text
#                 regex hdfs engine scaling memory) [all]
#   QUIET_WAIT    before each round, wait up to this many seconds for the CPUs
#                 to be >= 80% idle (a shared machine) [0: do not wait]
#
# Prints a markdown table on stdout (progress on stderr) and keeps the raw
# measurements in $WORK/results.tsv.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

ROUNDS=${ROUNDS:-5}
SIZE=${SIZE:-1000000}
APACHE_LINES=${APACHE_LINES:-600000}
HDFS_LINES=${HDFS_LINES:-600000}
BIG_SIZE=${BIG_SIZE:-5000000}
GEN_COUNT=${GEN_COUNT:-5000000}
SCALE_SIZE=${SCALE_SIZE:-40000}
SEED=${SEED:-3}
WORK=${WORK:-${TMPDIR:-/tmp}/sluice-e2e}
TIMEOUT=${TIMEOUT:-300}
ONLY=${ONLY:-filter identity text regex hdfs engine scaling memory}
QUIET_WAIT=${QUIET_WAIT:-0}

log() { echo "[e2e] $*" >&2; }
wants() { [[ " $ONLY " == *" $1 "* ]]; }

# Percentage of CPU time idle over the next second, all CPUs (from /proc/stat).
cpu_idle() {
    local a b
    read -r -a a < /proc/stat; sleep 1; read -r -a b < /proc/stat
    local busy=$(( (b[1] + b[2] + b[3] + b[6] + b[7] + b[8]) - (a[1] + a[2] + a[3] + a[6] + a[7] + a[8]) ))
    local idle=$(( (b[4] + b[5]) - (a[4] + a[5]) ))
    echo $(( 100 * idle / (busy + idle + 1) ))
}
# Waits (at most QUIET_WAIT seconds) until other work leaves the CPUs idle.
wait_quiet() {
    local waited=0 idle
    idle=$(cpu_idle)
    while (( idle < 80 && waited < QUIET_WAIT )); do
        sleep 4; waited=$((waited + 5)); idle=$(cpu_idle)
    done
    echo "$idle"
}

mkdir -p "$WORK"
for tool in python3 timeout; do
    command -v "$tool" >/dev/null || { log "$tool is required"; exit 2; }
done
if [[ ! -x /usr/bin/time ]]; then
    log "/usr/bin/time missing: installing GNU time"
    apt-get install -y -qq time >/dev/null 2>&1 ||
        { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
fi
HAVE_JQ=0; command -v jq >/dev/null && HAVE_JQ=1
HAVE_JAQ=0; command -v jaq >/dev/null && HAVE_JAQ=1
[[ $HAVE_JQ == 1 ]] || log "jq not on PATH: no jq rows, no ratios to jq"
[[ $HAVE_JAQ == 1 ]] || log "jaq not on PATH: no jaq rows (cargo install jaq --locked)"

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
LOADS=""; IDLES=""

# ---- build ---------------------------------------------------------------
if [[ -z "${SLUICE:-}" ]]; then
    log "cargo build --release"
    cargo build --release --quiet
    SLUICE="${CARGO_TARGET_DIR:-$ROOT/target}/release/sluice"
fi
[[ -x "$SLUICE" ]] || { log "no sluice binary at $SLUICE"; exit 2; }

# ---- data sets (fixed seed; kept in $WORK between runs) -------------------
EVENTS="$WORK/events-$SIZE-s$SEED.jsonl"
APACHE="$WORK/apache-$APACHE_LINES.log"
SCALE_IN="$WORK/scale-$SCALE_SIZE-s$SEED.jsonl"

# generate_events FILE COUNT: the e2e data set (seed $SEED).
generate_events() {
    log "generating $1 ($2 events, seed $SEED)"
    python3 - "$1.tmp" "$2" "$SEED" <<'PY'
import random, sys
path, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(seed)
hosts = [f"web-{i:02d}" for i in range(1, 13)] + [f"db-{i}" for i in range(1, 4)]
levels = ["debug"] * 15 + ["info"] * 55 + ["warn"] * 20 + ["error"] * 10
paths = ["/", "/login", "/logout", "/api/orders", "/api/users", "/api/cart",
         "/static/app.js", "/health", "/search"]
methods = ["GET", "GET", "GET", "POST", "PUT"]
msgs = {"debug": ["cache lookup", "parsed request headers"],
        "info": ["request served", "user logged in", "order created"],
        "warn": ["slow response", "retrying upstream"],
        "error": ["upstream timed out", "connection reset by peer", "database unavailable"]}
status = {"error": [500, 502, 503, 504], "warn": [404, 429, 499]}
with open(path, "w") as f:
    out = []
    for i in range(n):
        lv = rnd.choice(levels)
        st = rnd.choice(status[lv]) if lv in status else 200
        ms = i * 7
        ts = (f"2026-01-01T{ms // 3600000 % 24:02d}:{ms // 60000 % 60:02d}:"
              f"{ms // 1000 % 60:02d}.{ms % 1000:03d}Z")
        out.append(
            f'{{"ts":"{ts}","host":"{rnd.choice(hosts)}","level":"{lv}","status":{st},'
            f'"method":"{rnd.choice(methods)}","path":"{rnd.choice(paths)}",'
            f'"latency_ms":{rnd.randint(1, 2000)},"user":"user-{rnd.randint(1, 99999)}",'
            f'"message":"{rnd.choice(msgs[lv])}"}}\n')
        if len(out) >= 10000:
            f.write("".join(out)); out.clear()
    f.write("".join(out))
PY
    mv "$1.tmp" "$1"
}
[[ -s "$EVENTS" ]] || generate_events "$EVENTS" "$SIZE"
# repeat_log SRC DST N: the first N lines of SRC repeated, LF endings.
repeat_log() {
    log "generating $2 ($3 lines of $(basename "$1"), LF endings)"
    python3 - "$1" "$2.tmp" "$3" <<'PY'
import sys
src, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
lines = [l.rstrip("\r\n") + "\n" for l in open(src, newline="")]
with open(path, "w") as f:
    for i in range(0, n, len(lines)):
        f.write("".join(lines[: min(len(lines), n - i)]))
PY
    mv "$2.tmp" "$2"
}
[[ -s "$APACHE" ]] || repeat_log "$ROOT/tests/data/loghub/Apache_2k.log" "$APACHE" "$APACHE_LINES"
HDFS="$WORK/hdfs-$HDFS_LINES.log"
if wants hdfs && [[ ! -s "$HDFS" ]]; then
    repeat_log "$ROOT/tests/data/loghub/HDFS_2k.log" "$HDFS" "$HDFS_LINES"
fi
BIG="$WORK/events-$BIG_SIZE-s$SEED.jsonl"
SMALL="$WORK/events-100000-s$SEED.jsonl"
if wants memory; then
    [[ -s "$BIG" ]] || generate_events "$BIG" "$BIG_SIZE"
    [[ -s "$SMALL" ]] || head -n 100000 "$BIG" > "$SMALL"
fi
if [[ ! -s "$SCALE_IN" ]]; then
    head -n "$SCALE_SIZE" "$EVENTS" > "$SCALE_IN"
fi

# ---- configs ----------------------------------------------------------------
OUT="$WORK/out"
mkdir -p "$OUT"
cat > "$WORK/text.toml" <<EOF
# Lines only: text in, text out, no transform.
[sources.in]
type = "file"
path = "$APACHE"
codec = "text"

[sinks.out]
type = "file"
inputs = ["in"]
path = "$OUT/text-sluice"
codec = "text"
append = false
EOF
cat > "$WORK/regex.toml" <<EOF
[sources.in]
type = "file"
path = "$APACHE"
codec = "text"

[transforms.parse]
type = "parse_regex"
inputs = ["in"]
workers = 2
pattern = '^\[(?P<time>[^\]]+)\] \[(?P<level>[a-z]+)\] (?P<content>.*)$'

[sinks.out]
type = "file"
inputs = ["parse"]
path = "$OUT/regex-sluice"
ordered = true
append = false
EOF
# Hadoop HDFS in loghub's format: a lazy content group, then `\s*$`.
HDFS_PATTERN='^(?P<Date>\d{6}) (?P<Time>\d{6}) (?P<Pid>\d+) (?P<Level>\w+) (?P<Component>[^:]+): (?P<Content>.*?)\s*$'
cat > "$WORK/hdfs.toml" <<EOF
[sources.in]
type = "file"
path = "$HDFS"
codec = "text"

[transforms.parse]
type = "parse_regex"
inputs = ["in"]
workers = 2
pattern = '''$HDFS_PATTERN'''

[sinks.out]
type = "file"
inputs = ["parse"]
path = "$OUT/hdfs-sluice"
ordered = true
append = false
EOF
cat > "$WORK/engine.toml" <<EOF
[pipeline]
seed = 1

[sources.gen]
type = "generate"
count = $GEN_COUNT

[transforms.noop]
type = "jq"
inputs = ["gen"]
program = "."
workers = 2

[sinks.hole]
type = "blackhole"
inputs = ["noop"]
EOF

SELECT='select(.level=="error")'
CAPTURE='capture("^\\[(?<time>[^\\]]+)\\] \\[(?<level>[a-z]+)\\] (?<content>.*)$")'
HEAVY='[range(0; 200)] | add'
HDFS_CAPTURE='capture("^(?<Date>\\d{6}) (?<Time>\\d{6}) (?<Pid>\\d+) (?<Level>\\w+) (?<Component>[^:]+): (?<Content>.*?)\\s*$")'

# ---- measuring ----------------------------------------------------------------
RESULTS="$WORK/results.tsv"
printf 'scenario\ttool\tround\twall_s\trss_kb\tcpu_pct\tothers_pct\tbytes\tevents\treport_eps\tstatus\n' > "$RESULTS"

# measure SCENARIO TOOL ROUND BYTES EVENTS STDIN STDOUT CMD...
measure() {
    local scen=$1 tool=$2 round=$3 bytes=$4 events=$5 in=$6 out=$7
    shift 7
    local tf="$WORK/time.txt" status=0 t0 t1 rss cpu eps=""
    rm -f "$WORK/report.json"
    local s0 s1
    read -r -a s0 < /proc/stat
    t0=$(date +%s%N)
    /usr/bin/time -v -o "$tf" timeout "$TIMEOUT" "$@" < "$in" > "$out" 2> "$WORK/stderr.txt" ||
        status=$?
    t1=$(date +%s%N)
    read -r -a s1 < /proc/stat
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tf")
    cpu=$(awk -F': ' '/Percent of CPU/ {sub("%", "", $2); print $2}' "$tf")
    if [[ -s "$WORK/report.json" ]]; then
        eps=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["events_per_s"])' \
            "$WORK/report.json")
    fi
    local wall others
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", (b - a) / 1e9 }')
    # CPU the rest of the machine used meanwhile, in % of one CPU: all busy
    # ticks (USER_HZ = 100/s) minus this command's own share; coarse for
    # runs under a second.
    local ticks=$(( (s1[1] + s1[2] + s1[3] + s1[6] + s1[7] + s1[8]) - (s0[1] + s0[2] + s0[3] + s0[6] + s0[7] + s0[8]) ))
    others=$(awk -v t="$ticks" -v w="$wall" -v own="${cpu:-0}" \
        'BEGIN { o = t / w - own; printf "%.0f", (o < 0 ? 0 : o) }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$scen" "$tool" "$round" "$wall" "${rss:-0}" "${cpu:-0}" "$others" "$bytes" "$events" "$eps" "$status" \
        >> "$RESULTS"
    if [[ $status != 0 ]]; then
        log "  $scen / $tool: exit $status: $(head -c 300 "$WORK/stderr.txt")"
    fi
    log "  $scen / $tool: ${wall}s, ${rss:-?} kB, ${cpu:-?}% CPU (others meanwhile: ${others}%)"
}

fsize() { stat -c %s "$1"; }
flines() { wc -l < "$1" | tr -d ' '; }
EV_BYTES=$(fsize "$EVENTS"); EV_N=$(flines "$EVENTS")
AP_BYTES=$(fsize "$APACHE"); AP_N=$(flines "$APACHE")
SC_BYTES=$(fsize "$SCALE_IN"); SC_N=$(flines "$SCALE_IN")
HD_BYTES=0; HD_N=0
if wants hdfs; then HD_BYTES=$(fsize "$HDFS"); HD_N=$(flines "$HDFS"); fi
CATCAT=(sh -c 'cat "$1" | cat' sh)

CHECKS="$WORK/checks.txt"
: > "$CHECKS"
same() { # same LABEL A B: byte-identical outputs?
    if cmp -s "$2" "$3"; then echo "- $1: identical" >> "$CHECKS"
    else echo "- $1: DIFFERENT ($(wc -l < "$2") vs $(wc -l < "$3") lines)" >> "$CHECKS"; fi
}

log "load average before: $LOAD_START; $(nproc) CPUs; $ROUNDS rounds"
for round in $(seq 1 "$ROUNDS"); do
    IDLE=$(wait_quiet)
    LOADS="$LOADS $(cut -d' ' -f1 /proc/loadavg)"; IDLES="$IDLES $IDLE%"
    log "round $round/$ROUNDS (load average $(cut -d' ' -f1 /proc/loadavg), CPUs ${IDLE}% idle)"
    if wants filter; then
        measure filter "cat f | cat" "$round" "$EV_BYTES" "$EV_N" /dev/null "$OUT/cat" "${CATCAT[@]}" "$EVENTS"
        [[ $HAVE_JQ == 1 ]] && measure filter jq "$round" "$EV_BYTES" "$EV_N" "$EVENTS" "$OUT/filter-jq" jq -c "$SELECT"
        [[ $HAVE_JAQ == 1 ]] && measure filter jaq "$round" "$EV_BYTES" "$EV_N" "$EVENTS" "$OUT/filter-jaq" jaq -c "$SELECT"
        measure filter "sluice filter -w 2" "$round" "$EV_BYTES" "$EV_N" "$EVENTS" "$OUT/filter-sluice" "$SLUICE" filter -w 2 "$SELECT"
        if [[ $round == 1 && $HAVE_JQ == 1 ]]; then
            same "filter: sluice vs jq" "$OUT/filter-sluice" "$OUT/filter-jq"
            [[ $HAVE_JAQ == 1 ]] && same "filter: jaq vs jq" "$OUT/filter-jaq" "$OUT/filter-jq"
        fi
    fi
    if wants identity; then
        measure identity "cat f | cat" "$round" "$EV_BYTES" "$EV_N" /dev/null "$OUT/cat" "${CATCAT[@]}" "$EVENTS"
        [[ $HAVE_JQ == 1 ]] && measure identity jq "$round" "$EV_BYTES" "$EV_N" "$EVENTS" "$OUT/id-jq" jq -c .
        [[ $HAVE_JAQ == 1 ]] && measure identity jaq "$round" "$EV_BYTES" "$EV_N" "$EVENTS" "$OUT/id-jaq" jaq -c .
        measure identity "sluice filter -w 2" "$round" "$EV_BYTES" "$EV_N" "$EVENTS" "$OUT/id-sluice" "$SLUICE" filter -w 2 .
        if [[ $round == 1 ]]; then
            same "identity: sluice vs input" "$OUT/id-sluice" "$EVENTS"
        fi
    fi
    if wants text; then
        measure text "cat f | cat" "$round" "$AP_BYTES" "$AP_N" /dev/null "$OUT/cat" "${CATCAT[@]}" "$APACHE"
        measure text "sluice run (text→text)" "$round" "$AP_BYTES" "$AP_N" /dev/null /dev/null "$SLUICE" run -q "$WORK/text.toml"
        [[ $round == 1 ]] && same "text: sluice vs input" "$OUT/text-sluice" "$APACHE"
    fi
    if wants regex; then
        measure regex "cat f | cat" "$round" "$AP_BYTES" "$AP_N" /dev/null "$OUT/cat" "${CATCAT[@]}" "$APACHE"
        [[ $HAVE_JQ == 1 ]] && measure regex "jq -R capture" "$round" "$AP_BYTES" "$AP_N" "$APACHE" "$OUT/regex-jq" jq -R -c "$CAPTURE"
        [[ $HAVE_JAQ == 1 ]] && measure regex "jaq -R capture" "$round" "$AP_BYTES" "$AP_N" "$APACHE" "$OUT/regex-jaq" jaq -R -c "$CAPTURE"
        measure regex "sluice filter -R -w 2 capture" "$round" "$AP_BYTES" "$AP_N" "$APACHE" "$OUT/regex-sluice-jq" "$SLUICE" filter -R -w 2 "$CAPTURE"
        measure regex "sluice parse_regex w=2" "$round" "$AP_BYTES" "$AP_N" /dev/null /dev/null "$SLUICE" run -q "$WORK/regex.toml"
        if [[ $round == 1 && $HAVE_JQ == 1 ]]; then
            same "regex: sluice parse_regex vs jq capture" "$OUT/regex-sluice" "$OUT/regex-jq"
            same "regex: sluice filter capture vs jq capture" "$OUT/regex-sluice-jq" "$OUT/regex-jq"
        fi
    fi
    if wants hdfs; then
        measure hdfs "cat f | cat" "$round" "$HD_BYTES" "$HD_N" /dev/null "$OUT/cat" "${CATCAT[@]}" "$HDFS"
        [[ $HAVE_JQ == 1 ]] && measure hdfs "jq -R capture" "$round" "$HD_BYTES" "$HD_N" "$HDFS" "$OUT/hdfs-jq" jq -R -c "$HDFS_CAPTURE"
        measure hdfs "sluice parse_regex w=2" "$round" "$HD_BYTES" "$HD_N" /dev/null /dev/null "$SLUICE" run -q "$WORK/hdfs.toml"
        if [[ $round == 1 && $HAVE_JQ == 1 ]]; then
            same "hdfs: sluice parse_regex vs jq capture" "$OUT/hdfs-sluice" "$OUT/hdfs-jq"
        fi
    fi
    if wants memory; then
        measure memory "sluice filter -w 2, 100k events" "$round" "$(fsize "$SMALL")" 100000 "$SMALL" /dev/null "$SLUICE" filter -w 2 "$SELECT"
        measure memory "sluice filter -w 2, $BIG_SIZE events" "$round" "$(fsize "$BIG")" "$BIG_SIZE" "$BIG" /dev/null "$SLUICE" filter -w 2 "$SELECT"
    fi
    if wants engine; then
        measure engine "sluice generate→jq . w=2→blackhole" "$round" 0 "$GEN_COUNT" /dev/null /dev/null \
            "$SLUICE" run -q "$WORK/engine.toml" --report "$WORK/report.json"
    fi
    if wants scaling; then
        [[ $HAVE_JQ == 1 ]] && measure scaling "jq" "$round" "$SC_BYTES" "$SC_N" "$SCALE_IN" "$OUT/scale-jq" jq -c "$HEAVY"
        measure scaling "sluice filter -w 1" "$round" "$SC_BYTES" "$SC_N" "$SCALE_IN" "$OUT/scale-w1" "$SLUICE" filter -w 1 "$HEAVY"
        measure scaling "sluice filter -w 2" "$round" "$SC_BYTES" "$SC_N" "$SCALE_IN" "$OUT/scale-w2" "$SLUICE" filter -w 2 "$HEAVY"
    fi
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the table ------------------------------------------------------------------
python3 - "$RESULTS" "$CHECKS" <<PY
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
order, runs = [], {}
for r in rows:
    key = (r["scenario"], r["tool"])
    if key not in runs:
        order.append(key); runs[key] = []
    runs[key].append(r)

def med(key, field="wall_s"):
    rs = [r for r in runs.get(key, []) if r["status"] == "0"]
    vals = [float(r[field]) for r in rs if r[field]]
    return statistics.median(vals) if vals else None

titles = {
    "filter": "select(.level==\"error\"), $SIZE JSON events",
    "identity": "\`.\` (parse, validate, re-emit), same file",
    "text": "text lines in and out, no transform, Apache file",
    "regex": "Apache $APACHE_LINES lines → {time, level, content}",
    "engine": "generate $GEN_COUNT → jq \`.\` w=2 → blackhole",
    "scaling": "\`$HEAVY\` on $SCALE_SIZE events",
    "hdfs": "HDFS $HDFS_LINES lines → 6 fields (lazy content group, then trailing spaces)",
    "memory": "peak RSS, select on 100k and on $BIG_SIZE events",
}
print("| scenario | tool | wall s (median) | MB/s | events/s | peak RSS MiB | CPU % | others' CPU % | × cat | × jq | × jaq |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
def fmt(x, spec):
    return "—" if x is None else format(x, spec)
def cell(text):  # a literal | would end the markdown cell
    return text.replace("|", chr(92) + "|")
shown = set()
summary = {}
for key in order:
    scen, tool = key
    rs = runs[key]
    ok = [r for r in rs if r["status"] == "0"]
    wall = med(key)
    rss = max((int(r["rss_kb"]) for r in ok), default=None)
    nbytes, nev = int(rs[0]["bytes"]), int(rs[0]["events"])
    mbs = nbytes / wall / 1e6 if wall and nbytes else None
    eps = med(key, "report_eps") if scen == "engine" else (nev / wall if wall else None)
    def ratio(base):
        bk = next((k for k in order if k[0] == scen and k[1] == base), None)
        bw = med(bk) if bk else None
        return None if not (bw and wall) or bk == key else bw / wall
    cat = ratio("cat f | cat")
    jqr = ratio("jq") or ratio("jq -R capture")
    jaqr = ratio("jaq") or ratio("jaq -R capture")
    summary[key] = dict(wall=wall, mbs=mbs, eps=eps, rss=rss, cat=cat, jq=jqr, jaq=jaqr)
    failed = len(rs) - len(ok)
    name = tool + (f" ({failed} failed)" if failed else "")
    title = "" if scen in shown else titles.get(scen, scen)
    shown.add(scen)
    cpu = med(key, "cpu_pct")
    others = med(key, "others_pct")
    summary[key]["others"] = others
    print(f"| {cell(title)} | {cell(name)} | {fmt(wall, '.3f')} | {fmt(mbs, '.1f')} | "
          f"{fmt(eps, ',.0f')} | {fmt(rss and rss / 1024, '.1f')} | {fmt(cpu, '.0f')} | "
          f"{fmt(others, '.0f')} | "
          f"{fmt(cat, '.2f')} | {fmt(jqr, '.2f')} | {fmt(jaqr, '.2f')} |")

print()
print("Targets of issue 3 (met when the measured value reaches the target):")
print()
def target(label, value, goal, unit="", higher=True):
    if value is None:
        print(f"- {label}: not measured"); return
    ok = value >= goal if higher else value <= goal
    print(f"- {label}: {value:,.2f}{unit} vs target {'≥' if higher else '≤'} {goal:,}{unit}: "
          f"{'met' if ok else 'MISSED (' + format(value / goal, '.0%') + ' of it)'}")
s = lambda k: summary.get(k, {})
f = s(("filter", "sluice filter -w 2"))
target("filter -w 2, MB/s", f.get("mbs"), 400, " MB/s")
target("filter -w 2, × jq", f.get("jq"), 7, "×")
target("filter -w 2, × jaq", f.get("jaq"), 4.5, "×")
target("filter -w 2, peak RSS", f.get("rss") and f["rss"] / 1024, 30, " MiB", higher=False)
target("filter ., MB/s", s(("identity", "sluice filter -w 2")).get("mbs"), 300, " MB/s")
target("text pipeline, × cat (≥ 0.5 = within 2× of cat)", s(("text", "sluice run (text→text)")).get("cat"), 0.5, "×")
target("parse_regex w=2, MB/s", s(("regex", "sluice parse_regex w=2")).get("mbs"), 100, " MB/s")
target("engine, events/s", s(("engine", "sluice generate→jq . w=2→blackhole")).get("eps"), 5_000_000)
w1, w2 = s(("scaling", "sluice filter -w 1")).get("wall"), s(("scaling", "sluice filter -w 2")).get("wall")
target("scaling, w=2 vs w=1", w1 / w2 if w1 and w2 else None, 1.8, "×")
busy = s(("scaling", "sluice filter -w 2")).get("others")
if busy is not None and busy > 20:
    print(f"  (other processes used {busy:.0f}% of a CPU meanwhile: the second core was not free)")
print()
print("Targets of issue 15:")
print()
fcat = s(("filter", "sluice filter -w 2")).get("cat")
target("filter -w 2, × jq", f.get("jq"), 12, "×")
target("filter -w 2, share of cat | cat's MB/s", fcat and 100 * fcat, 50, "%")
icat = s(("identity", "sluice filter -w 2")).get("cat")
target("filter ., share of cat | cat's MB/s", icat and 100 * icat, 40, "%")
target("filter -w 2, peak RSS", f.get("rss") and f["rss"] / 1024, 24, " MiB", higher=False)
small = next((v for k, v in summary.items() if k[0] == "memory" and "100k" in k[1]), {})
big = next((v for k, v in summary.items() if k[0] == "memory" and "100k" not in k[1]), {})
if small.get("rss") and big.get("rss"):
    target("peak RSS, large input vs 100k events", 100 * (big["rss"] / small["rss"] - 1), 10, "%", higher=False)
hcat = s(("hdfs", "sluice parse_regex w=2")).get("cat")
target("parse_regex on HDFS, share of cat | cat's MB/s", hcat and 100 * hcat, 15, "%")
checks = open(sys.argv[2]).read().strip()
if checks:
    print(); print("Output checks (round 1):"); print(); print(checks)
PY
echo
echo "Machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')); load average (1/5/15 min) before: $LOAD_START, after: $LOAD_END; at each round's start, 1-min load:$LOADS, CPUs idle:$IDLES"
REV=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo "${SLUICE_REV:-unknown}")
echo "Tools: $("$SLUICE" --version 2>/dev/null || echo sluice) (commit $REV), $( [[ $HAVE_JQ == 1 ]] && jq --version ), $( [[ $HAVE_JAQ == 1 ]] && jaq --version ); $ROUNDS rounds in alternation; $(date -u '+%Y-%m-%d %H:%M UTC')"
