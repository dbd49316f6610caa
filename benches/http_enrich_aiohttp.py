#!/usr/bin/env python3
"""The classic asyncio + aiohttp enrichment pipeline, for benches/http.sh.

    python3 benches/http_enrich_aiohttp.py BASE_URL COUNT [--workers 64] [--limit 64]

A producer puts COUNT items {"seq": i} on a bounded asyncio.Queue; WORKERS
tasks take them, each call held under one asyncio.Semaphore(LIMIT) (the
aiohttp connector allows as many connections), GET BASE_URL/users/SEQ with a
5 s timeout and up to 3 tries with exponential backoff, put the JSON answer
in item["http"], and hand the item to a collector through a second queue.
The collector counts. Prints one JSON line: {"calls", "wall_s", "errors"}.
This is the shape the textbooks and most blog posts show; sluice's
http_enrich stage is measured against it on the same service in the same run.
"""

import argparse
import asyncio
import json
import random
import sys
import time

import aiohttp


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("base")
    p.add_argument("count", type=int)
    p.add_argument("--workers", type=int, default=64)
    p.add_argument("--limit", type=int, default=64)
    args = p.parse_args()

    queue = asyncio.Queue(maxsize=1024)
    done = asyncio.Queue(maxsize=1024)
    sem = asyncio.Semaphore(args.limit)
    errors = 0
    connector = aiohttp.TCPConnector(limit=args.limit)
    timeout = aiohttp.ClientTimeout(total=5)

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def fetch(seq):
            for attempt in range(3):
                try:
                    async with sem:
                        async with session.get(f"{args.base}/users/{seq}") as r:
                            if r.status >= 500 or r.status in (408, 429):
                                raise aiohttp.ClientResponseError(
                                    r.request_info, (), status=r.status
                                )
                            r.raise_for_status()
                            return await r.json()
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    if attempt == 2:
                        raise
                    await asyncio.sleep(random.uniform(0, 0.1 * 2**attempt))

        async def worker():
            nonlocal errors
            while True:
                item = await queue.get()
                if item is None:
                    return
                try:
                    item["http"] = await fetch(item["seq"])
                except Exception:  # noqa: BLE001 - counted, like an errors output
                    errors += 1
                    item["http"] = None
                await done.put(item)

        async def producer():
            for i in range(args.count):
                await queue.put({"seq": i})
            for _ in range(args.workers):
                await queue.put(None)

        async def collector():
            for _ in range(args.count):
                await done.get()

        started = time.perf_counter()
        workers = [asyncio.create_task(worker()) for _ in range(args.workers)]
        await asyncio.gather(producer(), collector(), *workers)
        wall = time.perf_counter() - started

    print(json.dumps({"calls": args.count, "wall_s": round(wall, 3), "errors": errors}))
    sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main())
