"""Reservation throughput through the service path, spread over 10,000 SKUs and on one hot SKU,
printed beside the raw asyncpg conditional-UPDATE ceiling measured in the same run.

    .venv/bin/python bench/bench_reservations.py [--orders 4000] [--concurrency 8]

Setup (not timed): 10,000 SKUs and one warehouse holding plenty of each; one-line paid orders ingested
through the real pipeline while the merchant has no warehouse yet, so nothing is reserved; then the
warehouse and its stock (receipts in the ledger).
Timed: `inventory.reconcile_orders` — what ingest, orderCreate, cancel and hold release call — on
those orders: (1) one order per transaction, `--concurrency` at once (the partner/staff path);
(2) 250 orders per transaction, two at once (an ingest batch per worker). Each reservation is a locked
order, a conditional stock UPDATE, a ledger movement, a reservation row and a timeline event.
Ceiling: single-row `UPDATE … SET reserved = reserved + 1 WHERE id = $1 AND on_hand - reserved >= 1
RETURNING` in autocommit on a durable (logged) table, one connection and `--concurrency` connections,
spread over 10,000 rows and on one row.
Aim (issue 4): >= 50 % of the raw ceiling when spread.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import time

from _env import reset_database, setup_env

N_SKUS = 10_000
BATCH = 250


async def world():
    """A merchant with 10,000 SKUs and a channel; returns (actor, channel row)."""
    from server.auth import service as auth
    from server.channels import service as channels
    from server.core import db
    from server.core.actor import system

    merchant = await auth.create_merchant("bench", "Bench")
    actor = system(merchant["id"], "bench")
    mid = merchant["id"]
    await db.execute("INSERT INTO product (merchant_id, name) SELECT $1, 'P' || g FROM generate_series(1, $2) g",
                     mid, N_SKUS)
    await db.execute(
        """INSERT INTO sku (merchant_id, product_id, code, name, list_price_minor)
           SELECT $1, p.id, 'SKU-' || lpad(row_number() OVER (ORDER BY p.id)::text, 5, '0'), p.name, 1000
           FROM product p WHERE p.merchant_id = $1""", mid)
    made = await channels.create_channel(actor, platform="website", name="Web")
    ch = dict(await db.fetchrow("SELECT * FROM channel WHERE id = $1", made["id"]))
    return actor, ch


async def make_orders(ch: dict, prefix: str, codes: list[str]) -> list[int]:
    """One-line paid orders through the ingest pipeline (nothing is reserved: no warehouse yet)."""
    from server.core import db
    from server.orders import ingest
    from tests.support.orders import fetched, line, order

    normalized = [order(f"{prefix}-{i}", lines=[line(code, 1)], buyer_id=f"{prefix}{i % 500}",
                        phone=f"1380000{i % 500:04d}") for i, code in enumerate(codes)]
    await ingest.ingest(ch, [fetched(o) for o in normalized], source="pull")
    return [r["id"] for r in await db.fetch(
        "SELECT id FROM sales_order WHERE channel_id = $1 AND external_id LIKE $2 ORDER BY id", ch["id"], f"{prefix}-%")]


async def stock_up(actor, on_hand: int) -> None:
    """The warehouse and a receipt of `on_hand` units of every SKU (levels and ledger in one go)."""
    from server.core import db
    from server.inventory import service as inventory

    wh = await inventory.create_warehouse(actor, {"code": "MAIN", "name": "Main"})
    async with db.transaction():
        await db.execute(
            """INSERT INTO stock_level (merchant_id, warehouse_id, sku_id, on_hand)
               SELECT merchant_id, $2, id, $3 FROM sku WHERE merchant_id = $1""", actor.merchant_id, wh["id"], on_hand)
        await db.execute(
            """INSERT INTO stock_movement (merchant_id, stock_level_id, warehouse_id, sku_id, kind, on_hand_delta,
                                           reference, actor_label)
               SELECT merchant_id, id, warehouse_id, sku_id, 'receipt', on_hand, 'bench', 'bench'
               FROM stock_level WHERE warehouse_id = $1""", wh["id"])


async def service_single(actor, ids: list[int], concurrency: int) -> float:
    from server.core import db
    from server.inventory import service as inventory

    queue = list(ids)

    async def worker():
        while queue:
            oid = queue.pop()
            async with db.transaction():
                await inventory.reconcile_orders(actor, [oid])

    t = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(ids) / (time.perf_counter() - t)


async def service_batched(actor, ids: list[int], workers: int = 2) -> float:
    from server.core import db
    from server.inventory import service as inventory

    batches = [ids[i:i + BATCH] for i in range(0, len(ids), BATCH)]

    async def worker():
        while batches:
            batch = batches.pop()
            async with db.transaction():
                await inventory.reconcile_orders(actor, batch)

    t = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return len(ids) / (time.perf_counter() - t)


async def raw_ceiling(m: int, concurrency: int) -> dict[str, float]:
    """Raw asyncpg single-row conditional UPDATEs, autocommit, on a logged table."""
    import asyncpg

    from server.core.db import database_url

    conns = [await asyncpg.connect(database_url()) for _ in range(concurrency)]
    out = {}
    try:
        await conns[0].execute(
            "DROP TABLE IF EXISTS bench_stock; CREATE TABLE bench_stock (id int PRIMARY KEY, on_hand int, reserved int,"
            " CHECK (reserved <= on_hand)); INSERT INTO bench_stock SELECT g, 1000000000, 0 FROM generate_series(1, $1) g"
            .replace("$1", str(N_SKUS)))
        sql = "UPDATE bench_stock SET reserved = reserved + 1 WHERE id = $1 AND on_hand - reserved >= 1 RETURNING reserved"
        rng = random.Random(1)
        for label, pick in (("spread", lambda: rng.randrange(1, N_SKUS + 1)), ("hot", lambda: 1)):
            for n_conn in (1, concurrency):
                todo = [pick() for _ in range(m)]

                async def run(conn, todo=todo):
                    while todo:
                        await conn.fetchval(sql, todo.pop())

                t = time.perf_counter()
                await asyncio.gather(*(run(c) for c in conns[:n_conn]))
                out[f"{label}/{n_conn}"] = m / (time.perf_counter() - t)
        await conns[0].execute("DROP TABLE bench_stock")
    finally:
        for c in conns:
            await c.close()
    return out


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=4000, help="orders per measurement (four measurements)")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    from server.core import db

    n, c = args.orders, args.concurrency
    await reset_database()
    actor, ch = await world()
    rng = random.Random(7)
    codes = [f"SKU-{i:05d}" for i in range(1, N_SKUS + 1)]
    t = time.perf_counter()
    sets = {
        "spread-single": await make_orders(ch, "SS", [rng.choice(codes) for _ in range(n)]),
        "spread-batch": await make_orders(ch, "SB", [rng.choice(codes) for _ in range(n)]),
        "hot-single": await make_orders(ch, "HS", [codes[0]] * n),
        "hot-batch": await make_orders(ch, "HB", [codes[0]] * n),
    }
    setup_s = time.perf_counter() - t
    await stock_up(actor, on_hand=10 * n)
    print(f"reservation benchmark: {n} one-line orders per measurement, {N_SKUS} SKUs, PostgreSQL durable, "
          f"{os.cpu_count()} cores (setup: {4 * n} orders ingested in {setup_s:.1f} s)")

    raw = await raw_ceiling(max(n, 5000), c)
    print(f"  ceiling  raw asyncpg conditional UPDATE, 1 connection:   spread {raw['spread/1']:7.0f}/s   "
          f"hot {raw['hot/1']:7.0f}/s")
    print(f"  ceiling  raw asyncpg conditional UPDATE, {c} connections:  spread {raw[f'spread/{c}']:7.0f}/s   "
          f"hot {raw[f'hot/{c}']:7.0f}/s")

    results = {
        "spread-single": await service_single(actor, sets["spread-single"], c),
        "hot-single": await service_single(actor, sets["hot-single"], c),
        "spread-batch": await service_batched(actor, sets["spread-batch"]),
        "hot-batch": await service_batched(actor, sets["hot-batch"]),
    }
    reserved = await db.fetchval("SELECT count(*) FROM reservation WHERE status = 'reserved'")
    assert reserved == 4 * n, reserved
    best_raw = max(raw["spread/1"], raw[f"spread/{c}"])
    best_hot = max(raw["hot/1"], raw[f"hot/{c}"])
    print(f"  service  reconcile_orders, 1 order/transaction, {c} at once: spread {results['spread-single']:7.0f}/s "
          f"({100 * results['spread-single'] / best_raw:3.0f} %)   hot {results['hot-single']:7.0f}/s "
          f"({100 * results['hot-single'] / best_hot:3.0f} %)")
    print(f"  service  reconcile_orders, {BATCH} orders/transaction, 2 at once: spread {results['spread-batch']:7.0f}/s "
          f"({100 * results['spread-batch'] / best_raw:3.0f} %)   hot {results['hot-batch']:7.0f}/s "
          f"({100 * results['hot-batch'] / best_hot:3.0f} %)")
    print("  (% of the best raw ceiling of the same shape); aim: >= 50 % of the raw ceiling when spread")
    from server.inventory import invariants

    assert await invariants.ledger_mismatches() == [] and await invariants.oversold() == []


if __name__ == "__main__":
    setup_env("oms_bench_reservations")  # before the event loop: it creates the bench database synchronously
    asyncio.run(main())
