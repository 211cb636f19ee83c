"""Ingest throughput: N three-line orders through the real pipeline, pull path and webhook path,
printed beside the raw asyncpg ceiling measured in the same run.

    .venv/bin/python bench/bench_ingest.py [--orders 20000] [--paths pipeline,pull,webhook] [--plan standard|plus]

Runs in its own database (oms_bench_ingest), reset on every run.
Pipeline: the orders mapped in memory and fed to `ingest.ingest` 250 at a time (the OMS alone).
Pull path: a Shopify sandbox in its own process serves N orders over HTTP; `channels.run_sync`
pages through them (250 per page, Link cursors) and ingests them, fetching the next page while one
is written. The sandbox applies Shopify's REST call limit (standard plan: bucket 40, 2 calls/s; plus:
400, 20/s), which bounds a pull of 80 pages to >= 24 s on the standard plan whatever the OMS does.
Webhook path: N signed Shopify webhooks POSTed to a running `oms serve` (32 at a time); a running
`oms worker` relays and processes them; timed until the last order exists.
Ceiling: raw asyncpg COPY of the same order + line rows into scratch tables (no pipeline), and raw
single-row conditional UPDATEs.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time

from _env import ROOT, reset_database, setup_env

SKUS = ["TEA-LJ-250", "CUP-CER-01", "POT-YX-300"]
SANDBOX_SCRIPT = """
import sys, uvicorn
sys.path.insert(0, {root!r})
from litestar import Litestar
from server.channels.sandbox.shopify import Sandbox
sb = Sandbox(seed=1)
sb.bucket_size, sb.leak_per_second = {bucket}, {leak}   # Shopify's REST call limit for the shop's plan
from datetime import timedelta
from server.core import clock
sb.set_now(clock.now() - timedelta(minutes=10))
sb.generate({n}, skus={skus!r}, status="paid")
sb.set_now(None)
uvicorn.run(Litestar(route_handlers=[sb.router()]), host="127.0.0.1", port={port}, log_level="warning")
"""


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_http(url: str, timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as c:
        while time.monotonic() < deadline:
            try:
                await c.get(url)
                return
            except httpx.HTTPError:
                await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


async def make_world():
    from server.auth import service as auth
    from server.catalog import service as catalog
    from server.channels.sandbox.base import DEMO_SKUS
    from server.core.actor import system

    merchant = await auth.create_merchant("bench", "Bench")
    actor = system(merchant["id"], "bench")
    for s in DEMO_SKUS:
        await catalog.create_sku(actor, {"code": s.code, "name": s.title_en, "list_price": s.price_usd})
    return actor


PLANS = {"standard": (40, 2.0), "plus": (400, 20.0)}   # REST leaky bucket: size, calls leaked per second


async def pull_path(actor, n: int, plan: str = "standard") -> float:
    from server.channels import service as channels
    from server.channels.sandbox.shopify import Sandbox
    from server.core import db

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", SANDBOX_SCRIPT.format(root=str(ROOT), n=n, skus=SKUS, port=port,
                                                                     bucket=PLANS[plan][0], leak=PLANS[plan][1])])  # noqa: S603
    try:
        await wait_http(f"http://127.0.0.1:{port}/sandbox/shopify/_sandbox/orders", 600)  # generating is slow on a busy machine
        cfg = {k: v for k, v in Sandbox.credentials.items() if k in ("shop_domain", "access_token", "client_secret")}
        cfg["api_base_url"] = f"http://127.0.0.1:{port}/sandbox/shopify"
        ch = await channels.create_channel(actor, platform="shopify", name=f"pull-{plan}", config=cfg)
        t = time.perf_counter()
        result = await channels.run_sync(ch["id"])
        elapsed = time.perf_counter() - t
        made = await db.fetchval("SELECT count(*) FROM sales_order WHERE channel_id = $1", ch["id"])
        assert made == n, (made, result)
        return elapsed
    finally:
        proc.terminate()
        proc.wait()


async def post_raw(port: int, requests: list[bytes], conns: int = 32) -> list[int]:
    """A load generator's client, not a library's: pre-built HTTP/1.1 requests over `conns` keep-alive
    connections (a few µs of CPU each), so the number measured is the server's, not httpx's (which
    needs about as much CPU per request as the server on this 2-core machine). Delivers again on a
    dropped connection, like a platform."""
    statuses = [0] * len(requests)
    todo = iter(range(len(requests)))

    async def one_connection() -> None:
        reader = writer = None
        for i in todo:
            for attempt in range(5):
                try:
                    if writer is None:
                        reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    writer.write(requests[i])
                    await writer.drain()
                    status = int((await reader.readline()).split()[1])
                    length = 0
                    while (line := await reader.readline()) not in (b"\r\n", b""):
                        if line.lower().startswith(b"content-length:"):
                            length = int(line.split(b":")[1])
                    await reader.readexactly(length)
                    statuses[i] = status
                    break
                except (OSError, IndexError, ValueError, asyncio.IncompleteReadError):
                    if writer is not None:
                        writer.close()
                    reader = writer = None
                    await asyncio.sleep(0.5 * (attempt + 1))
        if writer is not None:
            writer.close()

    await asyncio.gather(*(one_connection() for _ in range(conns)))
    return statuses


async def webhook_path(actor, n: int, env: dict, web_workers: int = 1, client: str = "httpx") -> tuple[float, float]:
    import httpx

    from server.channels import service as channels
    from server.channels.connectors._hmac import sign_base64
    from server.channels.sandbox.shopify import Sandbox
    from server.core import db

    sb = Sandbox(seed=2)
    orders = sb.generate(n, skus=SKUS, status="paid")
    cfg = {k: v for k, v in Sandbox.credentials.items() if k in ("shop_domain", "access_token", "client_secret")}
    ch = await channels.create_channel(actor, platform="shopify", name="hooks", config=cfg)
    port = free_port()
    def spawn(*cmd: str) -> subprocess.Popen:
        prof = os.environ.get("OMS_BENCH_PROFILE_DIR")   # e.g. /tmp/prof: pyinstrument each process
        pre = ["-m", "pyinstrument", "-o", f"{prof}/{cmd[0]}.txt"] if prof else []
        return subprocess.Popen([sys.executable, *pre, "-m", "server.cli", *cmd], env=env, cwd=ROOT)  # noqa: S603

    from server.core import queue

    # the database was reset, so its outbox ids start again: arq keeps results (and refuses job ids it
    # has seen) for 10 minutes, so a run soon after another would have its jobs silently dropped
    await (await queue.pool()).flushdb()
    await queue.close()
    web = spawn("serve", "--port", str(port), "--workers", str(web_workers))
    worker = spawn("worker")
    try:
        await wait_http(f"http://127.0.0.1:{port}/healthz")
        secret = Sandbox.credentials["client_secret"]
        bodies = [json.dumps(o.payload).encode() for o in orders]
        url = f"http://127.0.0.1:{port}/webhooks/channels/{ch['id']}"
        sem = asyncio.Semaphore(32)
        retries: list[int] = []
        if client == "raw":
            path = f"/webhooks/channels/{ch['id']}"
            reqs = [(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                     f"X-Shopify-Hmac-Sha256: {sign_base64(secret, b)}\r\nX-Shopify-Topic: orders/create\r\n"
                     f"X-Shopify-Webhook-Id: bench-{i}\r\nContent-Length: {len(b)}\r\n\r\n").encode() + b
                    for i, b in enumerate(bodies)]
        t0 = time.perf_counter()
        if client == "raw":
            statuses = await post_raw(port, reqs)
            assert set(statuses) <= {200, 202}, sorted(set(statuses))
        else:
            async with httpx.AsyncClient(timeout=30) as c:
                async def post(i: int, body: bytes) -> None:
                    async with sem:
                        for attempt in range(5):   # like a platform, deliver again when the connection drops
                            try:
                                r = await c.post(url, content=body, headers={
                                    "X-Shopify-Hmac-Sha256": sign_base64(secret, body), "X-Shopify-Topic": "orders/create",
                                    "X-Shopify-Webhook-Id": f"bench-{i}", "Content-Type": "application/json"})
                                break
                            except httpx.TransportError:
                                retries.append(i)
                                await asyncio.sleep(0.5 * (attempt + 1))
                        assert r.status_code in (200, 202), r.text

                await asyncio.gather(*(post(i, b) for i, b in enumerate(bodies)))
        received = time.perf_counter() - t0
        if retries:
            print(f"  (webhook: {len(retries)} deliveries retried after a dropped connection)")
        while await db.fetchval("SELECT count(*) FROM sales_order WHERE channel_id = $1", ch["id"]) < n:
            await asyncio.sleep(0.2)
            if time.perf_counter() - t0 > 1800:
                raise RuntimeError("webhooks not processed within 30 minutes")
        return received, time.perf_counter() - t0
    finally:
        for p in (web, worker):
            p.terminate()
        for p in (web, worker):
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:   # a pool that will not close must not hang the benchmark
                p.kill()
                p.wait()


async def pipeline_only(actor, n: int) -> float:
    """The same shape of orders, mapped in memory, straight into ingest.ingest (250 per batch): the
    OMS pipeline alone, without the platform's paging and rate limit."""
    from server.channels import service as channels
    from server.channels.connectors.shopify.mapping import to_fetched
    from server.channels.sandbox.shopify import Sandbox
    from server.core import db
    from server.orders import ingest

    fetched = [to_fetched(o.payload) for o in Sandbox(seed=3).generate(n, skus=SKUS, status="paid")]
    cfg = {k: v for k, v in Sandbox.credentials.items() if k in ("shop_domain", "access_token", "client_secret")}
    ch = await channels.create_channel(actor, platform="shopify", name="pipeline", config=cfg)
    row = dict(await db.fetchrow("SELECT * FROM channel WHERE id = $1", ch["id"]))
    t = time.perf_counter()
    for i in range(0, n, ingest.BATCH):
        await ingest.ingest(row, fetched[i:i + ingest.BATCH], source="pull")
    elapsed = time.perf_counter() - t
    assert await db.fetchval("SELECT count(*) FROM sales_order WHERE channel_id = $1", ch["id"]) == n
    return elapsed


async def raw_ceiling(n: int) -> tuple[float, float]:
    """COPY the same shape of rows with raw asyncpg; and raw conditional single-row UPDATEs."""
    import asyncpg

    from server.core.db import database_url

    conn = await asyncpg.connect(database_url())
    try:
        await conn.execute("CREATE TEMP TABLE o (LIKE sales_order INCLUDING DEFAULTS); "
                           "CREATE TEMP TABLE l (LIKE order_line INCLUDING DEFAULTS);")
        from datetime import UTC, datetime

        now = datetime.now(UTC)
        orders = [(i, 1, 1, f"E{i}", f"SO{i}", "awaiting_review", "paid", "CNY", now) for i in range(n)]
        lines = [(i, 1, j, 2, 1000) for i in range(n) for j in range(1, 4)]
        t = time.perf_counter()
        async with conn.transaction():
            await conn.copy_records_to_table("o", records=orders, columns=[
                "id", "merchant_id", "channel_id", "external_id", "order_number", "status", "payment_status",
                "currency", "placed_at"])
            await conn.copy_records_to_table("l", records=lines, columns=[
                "order_id", "merchant_id", "line_no", "quantity", "unit_price"])
        copy_s = time.perf_counter() - t
        await conn.execute("CREATE TEMP TABLE s (id int PRIMARY KEY, on_hand int, reserved int);"
                           "INSERT INTO s SELECT g, 1000000, 0 FROM generate_series(1, 10000) g")
        m = 5000
        t = time.perf_counter()
        for i in range(m):
            await conn.fetchval("UPDATE s SET reserved = reserved + 1 WHERE id = $1 AND on_hand - reserved >= 1 "
                                "RETURNING reserved", i % 10000 + 1)
        upd_rate = m / (time.perf_counter() - t)
        return copy_s, upd_rate
    finally:
        await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=20000)
    parser.add_argument("--paths", default="pipeline,pull,webhook", help="which paths to time (comma-separated)")
    parser.add_argument("--plan", default="standard", choices=sorted(PLANS),
                        help="the Shopify plan whose REST call limit the sandbox applies to the pull")
    parser.add_argument("--web-workers", type=int, default=1, help="`oms serve --workers` for the webhook path")
    parser.add_argument("--webhook-client", default="httpx", choices=["httpx", "raw"],
                        help="who posts the webhooks: httpx (its CPU is counted against the server on 2 cores) "
                             "or raw (pre-built requests over keep-alive sockets, like a load generator)")
    args = parser.parse_args()
    env = dict(__import__("os").environ)
    await reset_database()
    actor = await make_world()
    n = args.orders
    print(f"ingest benchmark: {n} three-line orders, PostgreSQL durable, {os.cpu_count()} cores")
    copy_s, upd_rate = await raw_ceiling(n)
    print(f"  ceiling  raw asyncpg COPY of {n} orders + {3 * n} lines: {n / copy_s:9.0f} orders/s "
          f"({copy_s:.2f} s); raw conditional UPDATE: {upd_rate:7.0f}/s")
    paths = args.paths.split(",")
    if "pipeline" in paths:
        from server.customers import normalize

        normalize.region("CN", "北京市", "北京市", "海淀区")   # a running worker has cpca's tables loaded
        pipe_s = await pipeline_only(actor, n)
        print(f"  pipeline mapped orders → ingest (250/batch), no HTTP:        {n / pipe_s:9.0f} orders/s ({pipe_s:.1f} s)")
    if "pull" in paths:
        bucket, leak = PLANS[args.plan]
        floor = max(0, n / 250 - bucket * 0.8) / leak
        pull_s = await pull_path(actor, n, args.plan)
        print(f"  pull     sandbox → HTTP (250/page) → connector → pipeline:   {n / pull_s:9.0f} orders/s ({pull_s:.1f} s)")
        print(f"           (Shopify {args.plan} call limit {bucket} + {leak:g}/s: the pages alone need >= {floor:.0f} s)")
    if "webhook" in paths:
        recv_s, total_s = await webhook_path(actor, n, env, args.web_workers, args.webhook_client)
        print(f"  webhook  received (verify+inbox+outbox), 32 concurrent, {args.web_workers} web process(es): "
              f"{n / recv_s:6.0f} orders/s ({recv_s:.1f} s), {args.webhook_client} client")
        print(f"  webhook  end to end (received → job → order exists):          {n / total_s:9.0f} orders/s ({total_s:.1f} s)")
    print("  aim: >= 1,000 orders/s on this 2-core machine")


if __name__ == "__main__":
    setup_env("oms_bench_ingest")  # its own database (the list benchmark keeps its million orders); before the event loop: it creates the bench database synchronously
    asyncio.run(main())
