"""Ingest throughput: N three-line orders through the real pipeline, pull path and webhook path,
printed beside the raw asyncpg ceiling measured in the same run.

    .venv/bin/python bench/bench_ingest.py [--orders 20000]

Pull path: a Shopify sandbox in its own process serves N orders over HTTP; `channels.run_sync`
pages through them (250 per page, Link cursors) and ingests them.
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


async def pull_path(actor, n: int) -> float:
    from server.channels import service as channels
    from server.channels.sandbox.shopify import Sandbox
    from server.core import db

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", SANDBOX_SCRIPT.format(root=str(ROOT), n=n, skus=SKUS, port=port)])  # noqa: S603
    try:
        await wait_http(f"http://127.0.0.1:{port}/sandbox/shopify/_sandbox/orders", 120)
        cfg = {k: v for k, v in Sandbox.credentials.items() if k in ("shop_domain", "access_token", "client_secret")}
        cfg["api_base_url"] = f"http://127.0.0.1:{port}/sandbox/shopify"
        ch = await channels.create_channel(actor, platform="shopify", name="pull", config=cfg)
        t = time.perf_counter()
        result = await channels.run_sync(ch["id"])
        elapsed = time.perf_counter() - t
        made = await db.fetchval("SELECT count(*) FROM sales_order WHERE channel_id = $1", ch["id"])
        assert made == n, (made, result)
        return elapsed
    finally:
        proc.terminate()
        proc.wait()


async def webhook_path(actor, n: int, env: dict) -> tuple[float, float]:
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
    web = subprocess.Popen([sys.executable, "-m", "server.cli", "serve", "--port", str(port)], env=env, cwd=ROOT)  # noqa: S603
    worker = subprocess.Popen([sys.executable, "-m", "server.cli", "worker"], env=env, cwd=ROOT)  # noqa: S603
    try:
        await wait_http(f"http://127.0.0.1:{port}/healthz")
        secret = Sandbox.credentials["client_secret"]
        bodies = [json.dumps(o.payload).encode() for o in orders]
        url = f"http://127.0.0.1:{port}/webhooks/channels/{ch['id']}"
        sem = asyncio.Semaphore(32)
        t0 = time.perf_counter()
        async with httpx.AsyncClient(timeout=30) as c:
            async def post(i: int, body: bytes) -> None:
                async with sem:
                    r = await c.post(url, content=body, headers={
                        "X-Shopify-Hmac-Sha256": sign_base64(secret, body), "X-Shopify-Topic": "orders/create",
                        "X-Shopify-Webhook-Id": f"bench-{i}", "Content-Type": "application/json"})
                    assert r.status_code == 202, r.text

            await asyncio.gather(*(post(i, b) for i, b in enumerate(bodies)))
        received = time.perf_counter() - t0
        while await db.fetchval("SELECT count(*) FROM sales_order WHERE channel_id = $1", ch["id"]) < n:
            await asyncio.sleep(0.2)
            if time.perf_counter() - t0 > 1800:
                raise RuntimeError("webhooks not processed within 30 minutes")
        return received, time.perf_counter() - t0
    finally:
        for p in (web, worker):
            p.terminate()
        for p in (web, worker):
            p.wait()


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
    args = parser.parse_args()
    env = dict(__import__("os").environ)
    await reset_database()
    actor = await make_world()
    n = args.orders
    print(f"ingest benchmark: {n} three-line orders, PostgreSQL durable, {os.cpu_count()} cores")
    copy_s, upd_rate = await raw_ceiling(n)
    print(f"  ceiling  raw asyncpg COPY of {n} orders + {3 * n} lines: {n / copy_s:9.0f} orders/s "
          f"({copy_s:.2f} s); raw conditional UPDATE: {upd_rate:7.0f}/s")
    pull_s = await pull_path(actor, n)
    print(f"  pull     sandbox → HTTP (250/page) → connector → pipeline:   {n / pull_s:9.0f} orders/s ({pull_s:.1f} s)")
    recv_s, total_s = await webhook_path(actor, n, env)
    print(f"  webhook  received (verify+inbox+outbox), 32 concurrent:      {n / recv_s:9.0f} orders/s ({recv_s:.1f} s)")
    print(f"  webhook  end to end (received → job → order exists):          {n / total_s:9.0f} orders/s ({total_s:.1f} s)")
    print("  aim: >= 1,000 orders/s on this 2-core machine")


if __name__ == "__main__":
    setup_env()  # before the event loop: it creates the bench database synchronously
    asyncio.run(main())
