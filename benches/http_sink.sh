#!/usr/bin/env bash
# The `http` sink's throughput (issue 12): events/s from a `generate`
# source through an `http` sink to a local server that answers at once.
#
# The server is a small Python asyncio HTTP/1.1 responder (no http.server:
# it reads the head, the Content-Length body, counts the events and
# inflates a gzip body, answers `200` with keep-alive); it reports its own CPU time so that a
# saturated server would show. Each variant is checked at the server: it
# must have received exactly COUNT events. `generate` -> `blackhole` is
# printed first as the ceiling of the rest of the graph.
#
#   benches/http_sink.sh                 # COUNT=2000000
#   COUNT=500000 benches/http_sink.sh
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-2000000}
cargo build --release --quiet
work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/server.py" <<'PY'
import asyncio, gzip, sys, time

events = 0
requests = 0

async def handle(reader, writer):
    global events, requests
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length, gzipped = 0, False
            line0 = head.split(b"\r\n", 1)[0]
            for h in head.split(b"\r\n")[1:]:
                k, _, v = h.partition(b":")
                k = k.strip().lower()
                if k == b"content-length":
                    length = int(v.strip())
                elif k == b"content-encoding":
                    gzipped = v.strip().lower() == b"gzip"
            body = await reader.readexactly(length) if length else b""
            if gzipped:
                body = gzip.decompress(body)
            if line0.startswith(b"GET /count"):
                text = f"{requests} {events} {time.process_time():.3f}".encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(text), text))
            else:
                requests += 1
                # NDJSON: one event per line; a JSON array of generate's
                # flat objects: one per `{`.
                events += body.count(b"\n") if not body.startswith(b"[") else body.count(b"{")
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()

async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0, limit=1 << 24)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()

asyncio.run(main())
PY

python3 "$work/server.py" > "$work/port" & server_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
port=$(cat "$work/port")

counts() {
  python3 -c "import urllib.request,sys; print(urllib.request.urlopen('http://127.0.0.1:$port/count').read().decode())"
}

# run NAME SINK_TOML: one run of COUNT events; prints events/s and checks
# the server's count.
run() {
  local name=$1 sink=$2
  cat > "$work/$name.toml" <<TOML
[sources.gen]
type = "generate"
count = $COUNT
[sinks.out]
inputs = ["gen"]
$sink
TOML
  read -r req0 ev0 cpu0 < <(counts)
  target/release/sluice run -q --report "$work/$name.json" "$work/$name.toml"
  read -r req1 ev1 cpu1 < <(counts)
  python3 - "$work/$name.json" "$name" "$((ev1 - ev0))" "$((req1 - req0))" "$cpu0" "$cpu1" "$COUNT" <<'PY'
import json, sys
report, name, events, requests, cpu0, cpu1, count = sys.argv[1:]
r = json.load(open(report))
out = next(s for s in r["stages"] if s["name"] == "out")
wall = r["elapsed_s"]
line = f"{name:<28} {out['events_out'] / wall:>12,.0f} events/s  ({wall:.2f} s"
if out["type"] == "http":
    cpu = float(cpu1) - float(cpu0)
    line += f", {int(requests)} requests, {out['bytes'] / wall / 1e6:.0f} MB/s sent, server CPU {cpu / wall:.0%}"
    assert int(events) == int(count), f"server got {events} events, expected {count}"
    assert out["errors"] == 0 and out["retries"] == 0, out
print(line + ")")
PY
}

echo "$COUNT events, $(nproc) cores, commit $(git rev-parse --short HEAD)"
run blackhole 'type = "blackhole"'
http="type = \"http\"
url = \"http://127.0.0.1:$port/ingest\""
run http_ndjson "$http"
run http_json_array "$http
encoding = \"json_array\""
run http_ndjson_gzip "$http
compression = \"gzip\""
run http_ndjson_concurrency_1 "$http
concurrency = 1"
