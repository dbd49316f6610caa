#!/usr/bin/env python3
"""A tiny user-lookup service for config/http-enrich.toml (and benches/http.sh).

    python3 config/http-enrich-service.py [--port 8085] [--delay 0.02]

GET /users/ID answers {"id": "ID", "name": "user ID", "tier": ...} after
--delay seconds; /users/ IDs starting with "missing" answer 404, and
/health answers 200 "ok". Python 3 standard library only: asyncio with
HTTP/1.1 keep-alive, so thousands of requests per second cost a few percent
of a core and the service is not what a benchmark measures. It counts the
requests it answered and the most it held at once, printed on SIGINT/SIGTERM
(and at GET /stats).
"""

import argparse
import asyncio
import json
import signal
import sys
from urllib.parse import unquote

TIERS = ["free", "pro", "gold"]


class Stats:
    requests = 0
    in_flight = 0
    max_in_flight = 0


def answer(path):
    """(status, body) for a request path."""
    if path == "/health":
        return 200, b"ok"
    if path == "/stats":
        return 200, json.dumps(
            {"requests": Stats.requests, "max_in_flight": Stats.max_in_flight}
        ).encode()
    if path.startswith("/users/"):
        uid = unquote(path[len("/users/"):].split("?", 1)[0])
        if uid.startswith("missing"):
            return 404, json.dumps({"error": "no such user", "id": uid}).encode()
        tier = TIERS[sum(uid.encode()) % len(TIERS)]
        return 200, json.dumps({"id": uid, "name": f"user {uid}", "tier": tier}).encode()
    return 404, b'{"error": "not found"}'


REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found"}


class Http(asyncio.Protocol):
    """HTTP/1.1 with keep-alive: one request at a time per connection."""

    def __init__(self, delay):
        self.delay = delay
        self.buf = b""
        self.transport = None
        self.busy = False

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.buf += data
        self.next_request()

    def next_request(self):
        if self.busy:
            return
        head_end = self.buf.find(b"\r\n\r\n")
        if head_end < 0:
            if len(self.buf) > 65536:
                self.transport.close()
            return
        head = self.buf[:head_end].decode("latin-1").split("\r\n")
        length = 0
        for line in head[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    self.transport.close()
                    return
        if len(self.buf) < head_end + 4 + length:
            return  # the body is still coming
        self.buf = self.buf[head_end + 4 + length:]
        parts = head[0].split(" ")
        path = parts[1] if len(parts) > 1 else "/"
        self.busy = True
        Stats.in_flight += 1
        Stats.max_in_flight = max(Stats.max_in_flight, Stats.in_flight)
        if self.delay > 0:
            asyncio.get_running_loop().call_later(self.delay, self.respond, path)
        else:
            self.respond(path)

    def respond(self, path):
        Stats.in_flight -= 1
        Stats.requests += 1
        self.busy = False
        if self.transport.is_closing():
            return
        status, body = answer(path)
        ctype = "application/json" if body[:1] in (b"{", b"[") else "text/plain"
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\n\r\n%s"
            % (status, REASONS.get(status, "").encode(), ctype.encode(), len(body), body)
        )
        self.next_request()


async def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8085)
    p.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    args = p.parse_args()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: Http(args.delay), args.host, args.port, backlog=1024
    )
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(
        f"listening on http://{args.host}:{args.port} (delay {args.delay}s)",
        file=sys.stderr,
        flush=True,
    )
    await stop.wait()
    server.close()
    print(
        f"answered {Stats.requests} requests, at most {Stats.max_in_flight} at once",
        file=sys.stderr,
    )


if __name__ == "__main__":
    asyncio.run(main())
