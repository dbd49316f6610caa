#!/usr/bin/env bash
# Chaos run of the daemon: N minutes of mixed load and faults, then a check
# that nothing acknowledged was lost.
#
#   benches/chaos.sh            # 2 minutes
#   MINUTES=5 benches/chaos.sh  # or: benches/chaos.sh 5
#
# Load: good JSON lines appended to two followed files (`follow = true`,
# `data_dir`), and tcp clients that connect, send good lines mixed with
# garbage, and sometimes vanish mid-line. Faults at random moments: SIGHUP
# (the same config, a changed one, or an invalid one), a tcp sink whose
# peer (this script) stops reading for a while, and `kill -9` followed by
# a restart. The end: a final stretch without kills, the clients finish
# and close, the output catches up, a graceful SIGTERM drains.
#
# Checks (exit status 1 when one fails):
# - ordered file sink fed by the files: every line exactly once, in order
#   per file (effectively-once across kill -9 and reloads);
# - unordered file sink and tcp sink fed by the files: every line at least once;
# - tcp lines (no acknowledgement to the client): lines sent to a daemon
#   that was then killed may be lost and are reported apart; lines of the
#   last run, which stopped gracefully after the clients closed, must all
#   arrive.
#
# Environment (defaults in brackets):
#   MINUTES   length of the run [2]
#   SEED      seed of every random choice [time-based, printed]
#   RATE      lines per second appended to each followed file [800]
#   SLUICE    the binary to test [built from this tree: target/debug/sluice]
#   PROFILE   `release` to build and test target/release/sluice [debug]
#   WORK      scratch directory, kept for inspection [a fresh temp dir]
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${1:-${MINUTES:-2}}
if [[ -z "${SLUICE:-}" ]]; then
    # Always the current sources: a stale binary would test old code.
    if [[ ${PROFILE:-debug} == release ]]; then
        cargo build -q --release; SLUICE=target/release/sluice
    else
        cargo build -q; SLUICE=target/debug/sluice
    fi
fi
WORK=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/sluice-chaos.XXXXXX")}
exec python3 - "$SLUICE" "$MINUTES" "$WORK" <<'PY'
import json, os, random, signal, socket, subprocess, sys, threading, time
import urllib.request

BIN, MINUTES, WORK = os.path.abspath(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
SEED = int(os.environ.get("SEED", str(int(time.time()))))
RATE = int(os.environ.get("RATE", "800"))
rng = random.Random(SEED)
os.makedirs(f"{WORK}/in", exist_ok=True)
os.makedirs(f"{WORK}/logs", exist_ok=True)
T0 = time.monotonic()
CHAOS_END = T0 + MINUTES * 60 * 0.85   # then: reloads only, no kills
END = T0 + MINUTES * 60
HARD_END = END + 300                   # every wait below is bounded by this

def log(msg):
    print(f"[{time.monotonic() - T0:7.1f}s] {msg}", file=sys.stderr, flush=True)

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

NET_PORT, METRICS_PORT = free_port(), free_port()

# ---- the tcp sink's peer: collects lines, stalls on demand ---------------
peer_ids = []            # (src, i) of every file line received
stall = threading.Event()
peer_sock = socket.socket(); peer_sock.bind(("127.0.0.1", 0)); peer_sock.listen(16)
PEER_PORT = peer_sock.getsockname()[1]
stop_all = threading.Event()

def peer_conn(c):
    buf = b""
    c.settimeout(0.2)
    while time.monotonic() < HARD_END:
        if stall.is_set():
            time.sleep(0.05); continue
        try:
            data = c.recv(65536)
        except socket.timeout:
            if stop_all.is_set(): break
            continue
        except OSError:
            break
        if not data: break
        buf += data
        *lines, buf = buf.split(b"\n")
        for l in lines:
            try:
                v = json.loads(l); peer_ids.append((v["src"], v["i"]))
            except Exception:
                pass
    c.close()

def peer_accept():
    peer_sock.settimeout(0.2)
    while not stop_all.is_set() and time.monotonic() < HARD_END:
        try:
            c, _ = peer_sock.accept()
        except socket.timeout:
            continue
        threading.Thread(target=peer_conn, args=(c,), daemon=True).start()

# ---- config variants -------------------------------------------------------
def config(variant):
    v = variant % 4
    jitter = [500, 800, 300, 1000][v]
    program = ['{c, k}', '{c, k, v: 1}', '{c, k}', '{c, k, v: 3}'][v]
    extra = '\n[sinks.extra]\ntype = "blackhole"\ninputs = ["work"]\n' if v in (1, 2) else ""
    max_line = "max_line_bytes = 65536\n" if v == 3 else ""   # restarts the file source
    comment = "# reload variant %d\n" % variant
    return f'''{comment}[pipeline]
data_dir = "{WORK}/state"
capacity = 512
metrics_address = "127.0.0.1:{METRICS_PORT}"
shutdown_grace = "60s"

[sources.files]
type = "file"
path = ["{WORK}/in/a.jsonl", "{WORK}/in/b.jsonl"]
follow = true
{max_line}
[sources.net]
type = "tcp"
address = "127.0.0.1:{NET_PORT}"

[transforms.work]
type = "delay"
inputs = ["files"]
duration = "0ms"
jitter = "{jitter}us"
workers = 4

[transforms.net_shape]
type = "jq"
inputs = ["net"]
program = '{program}'

[sinks.ordered_out]
type = "file"
inputs = ["work"]
path = "{WORK}/ordered.jsonl"
ordered = true

[sinks.all_out]
type = "file"
inputs = ["work", "net_shape"]
path = "{WORK}/all.jsonl"

[sinks.peer]
type = "tcp"
inputs = ["work"]
address = "127.0.0.1:{PEER_PORT}"
{extra}'''

CFG = f"{WORK}/chaos.toml"
def write_config(text):
    tmp = CFG + ".tmp"
    with open(tmp, "w") as f: f.write(text)
    os.replace(tmp, CFG)

# ---- followed files -------------------------------------------------------
written = {"a": 0, "b": 0}
writer_stop = threading.Event()
for s in written: open(f"{WORK}/in/{s}.jsonl", "a").close()

def file_writer():
    files = {s: open(f"{WORK}/in/{s}.jsonl", "a") for s in written}
    step = 0.02
    while not writer_stop.is_set() and time.monotonic() < HARD_END:
        for s, f in files.items():
            n = max(1, int(RATE * step))
            chunk = "".join('{"src":"%s","i":%d,"pad":"%s"}\n' % (s, written[s] + j, "x" * ((written[s] + j) % 30)) for j in range(n))
            f.write(chunk); f.flush()
            written[s] += n
        time.sleep(step)
    for f in files.values(): f.close()

# ---- tcp clients -----------------------------------------------------------
life = 0                       # which daemon run is up (set by the main thread)
tcp_sent = {}                  # life -> set of k fully sent to that run
tcp_doubt = set()              # k whose send raised: maybe sent, never required
clients_stop = threading.Event()
k_lock = threading.Lock(); next_k = [0]
garbage_sent = [0]; vanished = [0]

def new_k():
    with k_lock:
        next_k[0] += 1; return next_k[0]

def client(cid):
    crng = random.Random(SEED * 31 + cid)
    while not clients_stop.is_set() and time.monotonic() < HARD_END:
        my_life = life
        try:
            s = socket.create_connection(("127.0.0.1", NET_PORT), timeout=2)
        except OSError:
            time.sleep(0.05); continue
        sent = tcp_sent.setdefault(my_life, set())
        try:
            for _ in range(crng.randint(1, 300)):
                if clients_stop.is_set(): break
                r = crng.random()
                if r < 0.85:
                    k = new_k(); line = b'{"c":%d,"k":%d}\n' % (cid, k)
                    try:
                        s.sendall(line)
                    except OSError:
                        tcp_doubt.add(k); raise
                    sent.add(k)
                elif r < 0.97:
                    s.sendall(crng.choice([b'{"broken": \n', b'\xff\xfe not json\n', b'[1,2\n', b'}\n']))
                    garbage_sent[0] += 1
                else:
                    # Vanish mid-line: half of a line that never ends.
                    s.sendall(b'{"c":%d,"k":-1,"cut' % cid); vanished[0] += 1
                    break
                if crng.random() < 0.05: time.sleep(0.01)
        except OSError:
            pass
        finally:
            s.close()
        time.sleep(crng.uniform(0, 0.05))

# ---- the daemon -------------------------------------------------------------
proc = None
def metrics():
    with urllib.request.urlopen(f"http://127.0.0.1:{METRICS_PORT}/metrics", timeout=5) as r:
        return r.read().decode()

def metric(text, name, stage=None):
    key = f'{name}{{stage="{stage}"}} ' if stage else f"{name} "
    for l in text.splitlines():
        if l.startswith(key): return float(l[len(key):])
    return None

def start():
    global proc, life
    life += 1
    err = open(f"{WORK}/logs/run-{life}.log", "w")
    proc = subprocess.Popen([BIN, "run", CFG], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=err, env=dict(os.environ, RUST_LOG="info"))
    deadline = time.monotonic() + 60
    while True:
        try:
            metrics(); return
        except Exception:
            if proc.poll() is not None:
                sys.exit(f"chaos: run {life} exited at start with {proc.returncode}; see {WORK}/logs/run-{life}.log")
            if time.monotonic() > deadline:
                sys.exit(f"chaos: run {life} never served /metrics")
            time.sleep(0.05)

def log_count(needle):
    n = 0
    for name in os.listdir(f"{WORK}/logs"):
        with open(f"{WORK}/logs/{name}", errors="replace") as f:
            n += f.read().count(needle)
    return n

# One line per SIGHUP, whatever became of it.
COMPLETE, REJECTED, IGNORED = "reload complete", "reload rejected, the running", "SIGHUP ignored"
variant = 0
write_config(config(variant))
threading.Thread(target=peer_accept, daemon=True).start()
start()
writer = threading.Thread(target=file_writer); writer.start()
clients = [threading.Thread(target=client, args=(c,)) for c in range(3)]
for c in clients: c.start()

kills = hups = invalid = stalls = 0
stall_until = 0.0
while time.monotonic() < END:
    time.sleep(rng.uniform(0.5, 4.0))
    now = time.monotonic()
    if stall.is_set() and now > stall_until:
        stall.clear()
    r = rng.random()
    if r < 0.15 and not stall.is_set():
        stall.set(); stall_until = now + rng.uniform(1, 5); stalls += 1
        log(f"peer stalls for {stall_until - now:.1f}s")
    elif r < 0.55:
        if rng.random() < 0.15:
            # Invalid: rejected, the running graph stays; restored right after.
            write_config(config(variant) + "\n[sinks.broken]\ntype = \"nope\"\n")
            answered = log_count(REJECTED) + log_count(IGNORED)
            proc.send_signal(signal.SIGHUP); invalid += 1
            deadline = time.monotonic() + 30
            while log_count(REJECTED) + log_count(IGNORED) == answered and time.monotonic() < deadline:
                time.sleep(0.05)
            write_config(config(variant))
            log("SIGHUP with an invalid config")
        else:
            if rng.random() < 0.6:
                variant += 1; write_config(config(variant))
            proc.send_signal(signal.SIGHUP); hups += 1
            log(f"SIGHUP (variant {variant % 4})")
    elif r < 0.8 and now < CHAOS_END:
        proc.kill(); proc.wait(); kills += 1
        log(f"kill -9 of run {life}")
        time.sleep(rng.uniform(0, 0.5))
        start()

# ---- the graceful end ---------------------------------------------------------
stall.clear()
writer_stop.set(); writer.join()
clients_stop.set()
for c in clients: c.join(timeout=30)
total_file = sum(written.values())
log(f"load stopped; waiting for the output to catch up with {total_file} file lines")
def lines(path):
    try:
        with open(path, "rb") as f: return f.read().count(b"\n")
    except FileNotFoundError:
        return 0
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    try:
        m = metrics()
    except Exception:
        m = ""
    if (lines(f"{WORK}/ordered.jsonl") >= total_file and metric(m, "sluice_source_connections", "net") == 0
            and metric(m, "sluice_in_flight_events") == 0):
        break
    time.sleep(0.2)
proc.send_signal(signal.SIGTERM)
try:
    status = proc.wait(timeout=120)
except subprocess.TimeoutExpired:
    proc.kill(); status = "killed after 120s"
stop_all.set()
time.sleep(0.5)   # the peer reads what the closed connection still holds

# ---- the check ------------------------------------------------------------------
def read_json_lines(path):
    good, bad = [], 0
    try:
        with open(path, "rb") as f:
            for l in f:
                try: good.append(json.loads(l))
                except Exception: bad += 1
    except FileNotFoundError:
        pass
    return good, bad

expected = {(s, i) for s, n in written.items() for i in range(n)}
ordered, ordered_bad = read_json_lines(f"{WORK}/ordered.jsonl")
seen, dups, out_of_order, last = {}, 0, 0, {}
for v in ordered:
    key = (v["src"], v["i"])
    seen[key] = seen.get(key, 0) + 1
    if seen[key] > 1: dups += 1
    elif v["i"] < last.get(v["src"], -1): out_of_order += 1
    last[v["src"]] = max(last.get(v["src"], -1), v["i"])
ordered_missing = len(expected - seen.keys())

allv, all_bad = read_json_lines(f"{WORK}/all.jsonl")
all_files = {(v["src"], v["i"]) for v in allv if "src" in v}
all_missing = len(expected - all_files)
tcp_got = {v["k"] for v in allv if "k" in v and "src" not in v}
peer_missing = len(expected - set(peer_ids))

final = life
tcp_sent_total = sum(len(s) for s in tcp_sent.values())
lost_at_kill = sum(len(s - tcp_got) for l, s in tcp_sent.items() if l != final)
lost_graceful = len(tcp_sent.get(final, set()) - tcp_got)
unknown = len(tcp_got - set().union(*tcp_sent.values(), tcp_doubt)) if tcp_sent else len(tcp_got)

reloads_done, rejected, ignored = log_count(COMPLETE), log_count(REJECTED), log_count(IGNORED)
minutes = (time.monotonic() - T0) / 60
checked = len(ordered) + len(allv) + len(peer_ids)
lost = ordered_missing + all_missing + peer_missing + lost_graceful
failed = lost or dups or out_of_order or ordered_bad or all_bad or unknown or status != 0
print(f"""chaos: seed {SEED}, work dir {WORK}
  minutes              {minutes:.1f}
  lines written        {total_file} to files + {tcp_sent_total} good tcp lines ({garbage_sent[0]} garbage, {vanished[0]} cut mid-line)
  lines checked        {checked} (ordered {len(ordered)}, unordered {len(allv)}, tcp peer {len(peer_ids)})
  kills                {kills} (kill -9, then restart)
  reloads              {hups + invalid} SIGHUP sent ({invalid} with an invalid config): {reloads_done} completed, {rejected} rejected, {ignored} ignored (previous reload still draining)
  peer stalls          {stalls}
  lost                 {lost}: ordered {ordered_missing}, unordered {all_missing}, tcp sink {peer_missing}, tcp lines of the graceful run {lost_graceful}
  duplicates (ordered) {dups}, out of order {out_of_order}, unparsable lines {ordered_bad + all_bad}
  tcp lines lost at kill -9 (no acknowledgement to a tcp client): {lost_at_kill} of {tcp_sent_total - len(tcp_sent.get(final, set()))}
  tcp lines never sent but received: {unknown}
  final exit status    {status}""")
sys.exit(1 if failed else 0)
PY
