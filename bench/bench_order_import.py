"""Order CSV import: preview and commit of a file of N rows (two rows = one two-line order) through
`csv_import.preview_order_import` / `apply_order_import`, beside raw asyncpg COPY of the same rows.

    .venv/bin/python bench/bench_order_import.py [--rows 10000] [--mode all_or_nothing|good_rows]

Runs in its own database (oms_bench_import), reset on every run.
"""
from __future__ import annotations

import argparse
import asyncio
import time

from _env import reset_database, setup_env


def make_file(rows: int) -> bytes:
    out = ["external_id,placed_at,receiver_name,receiver_phone,province,city,district,address,sku,quantity,unit_price"]
    for n in range(rows // 2):
        out.append(f"P-{n},2024-05-07 09:{n % 60:02d},张{n},139{n:08d},浙江省,杭州市,西湖区,路 {n} 号,TEA-LJ-250,1,")
        out.append(f"P-{n},,,,,,,,CUP-CER-01,2,40")
    return ("\n".join(out) + "\n").encode()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--mode", default="all_or_nothing")
    args = parser.parse_args()
    from server.auth import service as auth
    from server.catalog import service as catalog
    from server.channels import service as channels
    from server.core import db
    from server.core.actor import system
    from server.orders import csv_import

    await reset_database()
    merchant = await auth.create_merchant("bench", "Bench")
    actor = system(merchant["id"], "bench")
    await catalog.create_sku(actor, {"code": "TEA-LJ-250", "name": "Longjing", "list_price": "168.00"})
    await catalog.create_sku(actor, {"code": "CUP-CER-01", "name": "Cup", "list_price": "45.50"})
    await channels.create_channel(actor, platform="website", name="Web")
    from server.customers import normalize

    normalize.region("CN", "北京市", "北京市", "海淀区")   # a running server has cpca's tables loaded (~2 s once)
    data = make_file(args.rows)
    orders = args.rows // 2
    print(f"order CSV import: {args.rows:,} rows = {orders:,} two-line orders, mode {args.mode}, PostgreSQL durable")

    async with db.connection() as conn:
        await conn.execute("CREATE TEMP TABLE o (LIKE sales_order INCLUDING DEFAULTS); "
                           "CREATE TEMP TABLE l (LIKE order_line INCLUDING DEFAULTS)")
        from datetime import UTC, datetime

        now = datetime.now(UTC)
        t = time.perf_counter()
        await conn.copy_records_to_table("o", records=[(i, 1, 1, f"P-{i}", f"SO{i}", "awaiting_review", "paid", "CNY", now)
                                                       for i in range(orders)],
                                         columns=["id", "merchant_id", "channel_id", "external_id", "order_number",
                                                  "status", "payment_status", "currency", "placed_at"])
        await conn.copy_records_to_table("l", records=[(i, 1, j, 1, 1000) for i in range(orders) for j in (1, 2)],
                                         columns=["order_id", "merchant_id", "line_no", "quantity", "unit_price"])
        ceiling = time.perf_counter() - t
    print(f"  ceiling  raw asyncpg COPY of the same orders + lines: {ceiling:6.2f} s")

    t = time.perf_counter()
    preview = await csv_import.preview_order_import(actor, data, channel_ref="Web")
    preview_s = time.perf_counter() - t
    assert preview.ok, preview.errors[:3]
    print(f"  preview  {preview_s:6.1f} s  ({args.rows / preview_s:7.0f} rows/s)")
    t = time.perf_counter()
    result = await csv_import.apply_order_import(actor, data, args.mode, channel_ref="Web")
    apply_s = time.perf_counter() - t
    assert result.counts() == {"created": orders}, result.counts()
    print(f"  commit   {apply_s:6.1f} s  ({args.rows / apply_s:7.0f} rows/s, {orders / apply_s:6.0f} orders/s)")
    t = time.perf_counter()
    again = await csv_import.apply_order_import(actor, data, args.mode, channel_ref="Web")
    again_s = time.perf_counter() - t
    assert again.counts() == {"already_imported": orders}, again.counts()
    print(f"  re-import (all already imported): {again_s:6.1f} s")
    reserved = await db.fetchval("SELECT count(*) FROM sales_order WHERE hold_reasons = '{}'")
    print(f"  orders {await db.fetchval('SELECT count(*) FROM sales_order'):,}, lines "
          f"{await db.fetchval('SELECT count(*) FROM order_line'):,}, without holds {reserved:,}")


if __name__ == "__main__":
    setup_env("oms_bench_import")
    asyncio.run(main())
