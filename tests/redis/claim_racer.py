"""One racing process for test_concurrency: claims due tasks with several clients at once.

``python -m tests.redis.claim_racer URL PREFIX CLIENTS MODE`` connects CLIENTS
separate stores, reports ready on ``<PREFIX>:race:ready``, waits for a token on
``<PREFIX>:race:go``, then every client claims (5 at a time) until nothing is
left, and prints one claimed id per line. MODE ``atomic`` uses the store's
claim; ``naive`` reads the due ids and then marks them in a second round trip,
the race the Lua script exists to prevent (used to show the test can see it).
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

from taskshed_redis import RedisDataStore
from taskshed_redis.config import parse_url

from taskshed.timeutils import utcnow


async def _naive_claim(store: RedisDataStore, limit: int) -> list[str]:
    client = store.client
    now = utcnow().timestamp()
    ids = await client.zrangebyscore(store.keys.queue, "-inf", now, start=0, num=limit)
    for task_id in ids:
        await client.zadd(store.keys.queue, {task_id: now + 60})
    return [task_id.decode() for task_id in ids]


async def _client(store: RedisDataStore, mode: str, out: list[str]) -> None:
    while True:
        if mode == "naive":
            got = await _naive_claim(store, 5)
        else:
            now = utcnow()
            claims = await store.acquire_tasks(
                worker_id="racer", now=now, lease_until=now + timedelta(minutes=1), limit=5
            )
            got = [claim.task_id for claim in claims]
        if not got:
            return
        out.extend(got)


async def main(url: str, prefix: str, clients: int, mode: str) -> None:
    config = parse_url(url).config
    stores = [RedisDataStore(config, prefix=prefix) for _ in range(clients)]
    for store in stores:
        await store.start()
        await store.client.ping()  # open each store's own connection now
    control = stores[0].client
    await control.rpush(f"{prefix}:race:ready", "1")
    if await control.blpop([f"{prefix}:race:go"], timeout=30) is None:
        raise SystemExit("no go signal")
    out: list[str] = []
    await asyncio.gather(*(_client(store, mode, out) for store in stores))
    sys.stdout.write("".join(f"{task_id}\n" for task_id in out))
    for store in stores:
        await store.shutdown()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]))
