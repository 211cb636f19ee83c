"""Stock change → platform sandbox receives the new quantity: latency with the worker running.

    .venv/bin/python bench/bench_stock_push.py [--changes 60] [--burst 20]

Setup (not timed): a merchant with the demo SKUs, one warehouse, a JD channel whose listings come
from a real pull of the JD sandbox (served over HTTP by this process), and a real `oms worker` (outbox
relay + arq) in its own process.
Timed, sequential: one stock change at a time (a receipt or an adjustment through the inventory
service, committed) → the ledger marks the listings → the push job (debounced 0.25 s) → the JD
connector → the sandbox records the quantity. Latency = commit of the change → the sandbox receiving
exactly the listing's new sellable quantity. Then a burst: `--burst` changes of one SKU as fast as
possible; reported: how many pushes the sandbox got for it and the latency to the final value
(latest value wins).
Aim (issue 4): p95 < 2 s.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time

from _env import ROOT, pct, reset_database, setup_env


class Arrivals:
    """Wraps the sandbox's stock log: when each (sku id, quantity) arrived (perf_counter)."""

    def __init__(self, sandbox):
        self.seen: list[tuple[float, str, int]] = []
        original = sandbox.log_stock

        def log_stock(product_id, sku_id, quantity, mode):
            self.seen.append((time.perf_counter(), str(sku_id), int(quantity)))
            return original(product_id, sku_id, quantity, mode)

        sandbox.log_stock = log_stock

    async def wait(self, sku_id: str, quantity: int, since: float, timeout: float = 30.0) -> float:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            for at, s, q in self.seen:
                if at >= since and s == sku_id and q == quantity:
                    return at
            await asyncio.sleep(0.005)
        raise RuntimeError(f"sandbox never received {quantity} for {sku_id}")

    def count(self, sku_id: str, since: float) -> int:
        return sum(1 for at, s, _ in self.seen if at >= since and s == sku_id)


async def main(env: dict, changes: int, burst: int) -> None:
    await reset_database()
    from litestar import Litestar

    from server.auth import service as auth
    from server.catalog import service as catalog
    from server.channels import service as channels
    from server.channels.connectors import registry
    from server.channels.sandbox.base import DEMO_SKUS
    from server.channels.sandbox.jd import Sandbox
    from server.core.actor import system
    from server.demo import SANDBOX_PATHS
    from server.inventory import channel_stock as cs
    from server.inventory import service as inventory
    from tests.support.live_server import live_server

    merchant = await auth.create_merchant("bench", "Bench")
    actor = system(merchant["id"], "bench")
    for s in DEMO_SKUS:
        await catalog.create_sku(actor, {"code": s.code, "name": s.title_en, "list_price": s.price_cny})
    sandbox = Sandbox(seed=5)
    arrivals = Arrivals(sandbox)
    async with live_server(Litestar(route_handlers=[sandbox.router()])) as base:
        allowed = {f.name for f in registry.get("jd").config_fields} | {"api_base_url"}
        cfg = {k: v for k, v in {**sandbox.credentials, "api_base_url": base + SANDBOX_PATHS["jd"]}.items()
               if k in allowed}
        ch = await channels.create_channel(actor, platform="jd", name="JD", config=cfg)
        from datetime import timedelta

        from server.core import clock
        sandbox.set_now(clock.now() - timedelta(minutes=6))
        sandbox.generate(20, status="unpaid") if _accepts_status(sandbox) else sandbox.generate(20)
        sandbox.set_now(None)
        result = await channels.run_sync(ch["id"])
        assert result.get("error") is None, result
        await inventory.create_warehouse(actor, {"code": "SZ", "name": "Shenzhen", "priority": 10})
        listings = [i for i in (await cs.list_listings(actor, ch["id"], first=200)).items if i["sku_code"]]
        print(f"{len(listings)} matched JD listings; starting the worker")

        worker = subprocess.Popen([sys.executable, "-m", "server.cli", "worker"], env=env, cwd=ROOT)  # noqa: S603
        try:
            # warm-up: the first change of every listing (also reserves any paid backorders)
            for item in listings:
                await inventory.receive(actor, "SZ", item["sku_code"], 50, "warm-up")
            for item in listings:
                row = (await cs.list_listings(actor, ch["id"], listing_ids=[item["id"]], first=1)).items[0]
                await arrivals.wait(item["platform_sku_id"], row["sellable"], 0.0, timeout=60)

            latencies: list[float] = []
            rng = random.Random(7)
            for n in range(changes):
                item = listings[n % len(listings)]
                t0 = time.perf_counter()
                if n % 3 == 2:
                    await inventory.adjust(actor, "SZ", item["sku_code"], delta=-1, reason="bench")
                else:
                    await inventory.receive(actor, "SZ", item["sku_code"], rng.randint(1, 5), f"PO-{n}")
                committed = time.perf_counter()
                row = (await cs.list_listings(actor, ch["id"], listing_ids=[item["id"]], first=1)).items[0]
                try:
                    at = await arrivals.wait(item["platform_sku_id"], row["sellable"], t0)
                except RuntimeError:
                    now = (await cs.list_listings(actor, ch["id"], listing_ids=[item["id"]], first=1)).items[0]
                    print("MISSED", n, {k: now[k] for k in ("available", "sellable", "state", "last_pushed_qty",
                                                            "last_error", "attempts")},
                          [x for x in arrivals.seen if x[1] == item["platform_sku_id"]][-3:], t0)
                    raise
                latencies.append((at - committed) * 1000)
                await asyncio.sleep(rng.uniform(0.0, 0.3))
            lat = sorted(latencies)
            print(f"sequential: {len(lat)} changes  p50 {pct(lat, 50):7.1f} ms  p95 {pct(lat, 95):7.1f} ms  "
                  f"max {lat[-1]:7.1f} ms   (aim: p95 < 2000 ms)")

            item = listings[0]
            t0 = time.perf_counter()
            for n in range(burst):
                await inventory.receive(actor, "SZ", item["sku_code"], 1, f"burst-{n}")
            committed = time.perf_counter()
            row = (await cs.list_listings(actor, ch["id"], listing_ids=[item["id"]], first=1)).items[0]
            at = await arrivals.wait(item["platform_sku_id"], row["sellable"], t0)
            await asyncio.sleep(1.0)
            print(f"burst: {burst} changes in {(committed - t0) * 1000:.0f} ms → {arrivals.count(item['platform_sku_id'], t0)} "
                  f"pushes of that listing; final value {row['sellable']} received "
                  f"{(at - committed) * 1000:.0f} ms after the last change")
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()


def _accepts_status(sandbox) -> bool:
    try:
        sandbox.generate(0, status="unpaid")
        return True
    except (TypeError, ValueError):
        return False


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=60)
    parser.add_argument("--burst", type=int, default=20)
    args = parser.parse_args()
    os.chdir(ROOT)
    environment = setup_env("oms_bench_stock_push")      # outside the event loop: creates the database
    asyncio.run(main(environment, args.changes, args.burst))
