"""The order list at a million orders: p50/p95 of the staff page and of GraphQL `orders(first: 50)`
with status + channel + date filters, and with a search — beside raw asyncpg running the same SQL.

    .venv/bin/python bench/bench_orders_list.py [--orders 1000000] [--runs 60] [--keep]

Loads the orders with COPY (2 lines each) once into its own database (`--keep` reuses a loaded one),
then times requests through the real app (httpx over ASGI, one process, no network) and the raw query.
Aim: p95 < 150 ms for the page, < 100 ms for GraphQL.
"""
from __future__ import annotations

import argparse
import asyncio
import random
import time
from datetime import UTC, datetime, timedelta

from _env import reset_database, setup_env, summary

STATUSES = (["awaiting_review"] * 20 + ["shipped"] * 30 + ["completed"] * 35 + ["on_hold"] * 3
            + ["cancelled"] * 7 + ["pending_payment"] * 5)
PROVINCES = [("广东省", "深圳市"), ("浙江省", "杭州市"), ("北京市", "北京市"), ("上海市", "上海市"), ("江苏省", "南京市"),
             ("四川省", "成都市"), ("湖北省", "武汉市"), ("California", "Los Angeles"), ("Bayern", "München")]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英"
SKUS = ["TEA-LJ-250", "TEA-PE-357", "CUP-CER-01", "POT-YX-300", "KET-EL-1L", "SET-GIFT-01", "TRAY-BMB-L"]
NOW = datetime(2026, 11, 22, tzinfo=UTC)


async def load(n: int) -> tuple[int, list[int]]:
    from server.auth import service as auth
    from server.channels import service as channels
    from server.core import db
    from server.core.actor import system

    merchant = await auth.create_merchant("bench", "Bench")
    actor = system(merchant["id"], "bench")
    chans = [(await channels.create_channel(actor, platform=p, name=f"{p}-{i}"))["id"]
             for i, p in enumerate(["website", "pos"] * 4)]
    rng = random.Random(42)
    cols = ["id", "merchant_id", "channel_id", "external_id", "order_number", "status", "payment_status",
            "currency", "placed_at", "buyer_name", "receiver_name", "receiver_phone", "phone_tail", "province", "city",
            "total", "items_total", "sku_codes", "line_count", "platform_updated_at"]
    line_cols = ["order_id", "merchant_id", "line_no", "sku_code", "title", "quantity", "unit_price"]
    t = time.perf_counter()
    chunk = 100_000
    async with db.connection() as conn:
        for start in range(1, n + 1, chunk):
            rows, lines = [], []
            for i in range(start, min(n, start + chunk - 1) + 1):
                name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
                phone = f"+86138{rng.randrange(10**8):08d}"
                prov, city = rng.choice(PROVINCES)
                skus = rng.sample(SKUS, 2)
                placed = NOW - timedelta(seconds=rng.randrange(365 * 86400))
                total = rng.randrange(1000, 200000)
                rows.append((i, merchant["id"], rng.choice(chans), f"EXT{i}", f"SO{i:08d}", rng.choice(STATUSES),
                             "paid", "CNY", placed, name, name, phone, phone[-4:], prov, city, total, total,
                             sorted(skus), 2, placed))
                lines += [(i, merchant["id"], 1, skus[0], skus[0], 1, total // 2),
                          (i, merchant["id"], 2, skus[1], skus[1], 1, total - total // 2)]
            await conn.copy_records_to_table("sales_order", records=rows, columns=cols)
            await conn.copy_records_to_table("order_line", records=lines, columns=line_cols)
        await conn.execute(f"SELECT setval('sales_order_id_seq', {n})")
        await conn.execute("ANALYZE sales_order; ANALYZE order_line;")
    print(f"  loaded {n:,} orders + {2 * n:,} lines with COPY in {time.perf_counter() - t:.0f} s")
    return merchant["id"], chans


async def timed(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        await fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


GQL = """query($f: OrderFilterInput, $after: String) { orders(filter: $f, first: 50, after: $after) {
  totalCount pageInfo { hasNextPage endCursor }
  edges { node { id orderNumber externalId status platformStatus placedAt channel { id platform name }
                 total { amount currency minorUnits } receiver { name phone province city }
                 lines { sku title quantity unitPrice { amount } } } } } }"""


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--keep", action="store_true", help="reuse an already loaded bench database")
    args = parser.parse_args()
    import httpx

    from server.app import create_app
    from server.auth import apikeys
    from server.core import db
    from server.core.actor import system

    if args.keep and await _loaded(args.orders):
        await db.start_pool()
        mid = await db.fetchval("SELECT id FROM merchant WHERE slug = 'bench'")
        chans = [r["id"] for r in await db.fetch("SELECT id FROM channel WHERE merchant_id = $1 ORDER BY id", mid)]
    else:
        await reset_database()
        mid, chans = await load(args.orders)
    _, key = await apikeys.create(system(mid, "bench"), name="bench", role="admin")
    await db.execute("DELETE FROM login_attempt")
    from server.auth import service as auth

    await auth.bootstrap_admin(mid, f"bench{time.time_ns()}@example.com", "bench-password-1", "Bench")
    email = await db.fetchval("SELECT email FROM app_user WHERE merchant_id = $1 ORDER BY id DESC LIMIT 1", mid)

    frm, to = (NOW - timedelta(days=60)).isoformat(), (NOW - timedelta(days=30)).isoformat()
    filters = {"status": ["shipped"], "channel": [str(chans[2])], "placedFrom": frm, "placedTo": to}
    cases = {
        "status+channel+dates": filters,
        "search by buyer name": {"search": "王芳"},
        "search by phone tail": {"search": "1234"},
        "search by order number": {"search": f"SO{args.orders // 2:08d}"},
    }
    app = create_app()
    async with app.lifespan(), httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b") as c:
        await c.get("/login")
        await c.post("/login", data={"email": email, "password": "bench-password-1",
                                     "_csrf": c.cookies.get("oms_csrf", "")})
        page_status = (await c.get("/orders")).status_code
        page_ok = page_status == 200
        print(f"order list, {args.orders:,} orders, {args.runs} runs each (PostgreSQL durable)")
        if not page_ok:
            print(f"  page /orders answered {page_status}: the page is not timed")
        for label, f in cases.items():
            async def gql(f=f):
                resp = await c.post("/graphql", json={"query": GQL, "variables": {"f": f}},
                                    headers={"Authorization": f"Bearer {key}"})
                assert resp.status_code == 200 and "errors" not in resp.json(), resp.text[:300]

            params = {"status": f.get("status", [""])[0], "channel": (f.get("channel") or [""])[0],
                      "placed_from": f.get("placedFrom", "")[:10], "placed_to": f.get("placedTo", "")[:10],
                      "search": f.get("search", "")}

            async def page(params=params):
                resp = await c.get("/orders", params={k: v for k, v in params.items() if v})
                assert resp.status_code == 200, resp.status_code

            from server.orders import queries

            qf = queries.OrderFilter(status=f.get("status"), channel_ids=[int(x) for x in f.get("channel", [])] or None,
                                     placed_from=datetime.fromisoformat(frm) if "placedFrom" in f else None,
                                     placed_to=datetime.fromisoformat(to) if "placedTo" in f else None,
                                     search=f.get("search"))
            where, qargs = queries.build_where(system(mid, "bench"), qf)
            sql = (f"SELECT {queries.LIST_COLUMNS} FROM sales_order o JOIN channel c ON c.id = o.channel_id "
                   f"WHERE {' AND '.join(where)} ORDER BY o.placed_at DESC, o.id DESC LIMIT 51")

            async def raw(sql=sql, qargs=qargs):
                async with db.connection() as conn:
                    await conn.fetch(sql, *qargs)

            await gql()
            print(f"  {label}")
            print(f"    raw asyncpg (same SQL) {summary(await timed(raw, args.runs))}")
            print(f"    GraphQL orders(50)     {summary(await timed(gql, args.runs))}   aim p95 < 100 ms")
            if page_ok:
                print(f"    page /orders           {summary(await timed(page, args.runs))}   aim p95 < 150 ms")


async def _loaded(n: int) -> bool:
    from server.core import db

    try:
        await db.start_pool()
        return (await db.fetchval("SELECT count(*) FROM sales_order")) >= n
    except Exception:
        return False


if __name__ == "__main__":
    setup_env()
    asyncio.run(main())
