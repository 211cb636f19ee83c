"""Stock pushes end to end over real HTTP: a stock change → the ledger's mark → the outbox → a real arq
worker → the connector → the platform sandbox, for all 7 platforms; coalescing (N rapid changes, one
push of the latest value); retry with backoff after a platform error (visible, then cleared); a
permanent refusal that is visible and does not block the other listings; GraphQL; tenant isolation."""
from __future__ import annotations

import asyncio
import contextlib
import importlib
from datetime import timedelta

import httpx
import pytest
from arq import create_pool
from arq.worker import Worker
from litestar import Litestar

from jobs import worker as worker_module
from server.catalog import service as catalog
from server.channels import service as channels
from server.channels.sandbox.base import DEMO_SKUS
from server.core import clock, db, outbox, queue
from server.core.actor import system
from server.demo import SANDBOX_PATHS
from server.inventory import channel_stock as cs
from server.inventory import channel_stock_push
from server.inventory import service as inventory
from tests.support.fixtures import wait_for
from tests.support.graphql import gql
from tests.support.live_server import live_server

PLATFORMS = ["shopify", "woocommerce", "taobao", "jd", "pinduoduo", "douyin", "amazon"]


def make_sandbox(platform):
    return importlib.import_module(f"server.channels.sandbox.{platform}").Sandbox(seed=11)


def config_for(platform, sandbox, base):
    from server.channels.connectors import registry

    cfg = dict(sandbox.credentials)
    cfg["api_base_url"] = base + SANDBOX_PATHS[platform]
    if platform == "amazon":
        cfg["lwa_url"] = base + "/sandbox/amazon/auth/o2/token"
    allowed = {f.name for f in registry.get(platform).config_fields} | {"api_base_url"}
    return {k: v for k, v in cfg.items() if k in allowed}


@contextlib.asynccontextmanager
async def running_worker():
    """A real arq worker with every registered job and an outbox relay, in this event loop."""
    redis = await create_pool(queue.redis_settings())
    settings = worker_module.worker_settings()
    w = Worker(functions=settings["functions"], redis_pool=redis, poll_delay=0.05, handle_signals=False,
               max_jobs=10, keep_result=0)
    relay = outbox.Relay(redis, poll_seconds=0.05)
    await relay.start()
    task = asyncio.create_task(w.async_run())
    try:
        yield
    finally:
        await relay.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        with contextlib.suppress(Exception):
            await w.close()


@contextlib.asynccontextmanager
async def platform_shop(merchant, platform):
    """A channel on the platform's sandbox (served over HTTP) whose listings come from a real pull."""
    actor = system(merchant["id"], "test")
    for sku in DEMO_SKUS:
        await catalog.create_sku(actor, {"code": sku.code, "name": sku.title_en, "list_price": sku.price_cny})
    sandbox = make_sandbox(platform)
    async with live_server(Litestar(route_handlers=[sandbox.router()])) as base:
        ch = await channels.create_channel(actor, platform=platform, name=f"{platform} shop",
                                           config=config_for(platform, sandbox, base))
        sandbox.set_now(clock.now() - timedelta(minutes=6))
        sandbox.generate(6)
        sandbox.set_now(None)
        result = await channels.run_sync(ch["id"])
        assert result.get("error") is None, result
        yield actor, ch, sandbox, base


async def sandbox_log(base, platform) -> list[dict]:
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.get(f"{base}{'/sandbox/' + platform}/_sandbox/inventory")
        assert r.status_code == 200, r.text
        return r.json()["log"]


def quantity_of(entry: dict) -> int:
    for key in ("quantity", "stock_num", "available"):
        if key in entry:
            return int(entry[key])
    raise AssertionError(f"no quantity in {entry}")


async def listing_rows(actor, ch) -> dict[str, dict]:
    page = await cs.list_listings(actor, ch["id"], first=200)
    return {i["sku_code"]: i for i in page.items if i["sku_code"]}


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_every_platform_receives_the_quantity_of_a_real_stock_change(platform, merchant):
    async with platform_shop(merchant, platform) as (actor, ch, sandbox, base):
        rows = await listing_rows(actor, ch)
        assert rows, "the pull made matched listings"
        code, listing = sorted(rows.items())[0]
        await cs.update_policy(actor, ch["id"], {"mode": "pool", "buffer": 2})
        await inventory.create_warehouse(actor, {"code": "SZ", "name": "Shenzhen", "priority": 10})
        before = len(await sandbox_log(base, platform))
        async with running_worker():
            await inventory.receive(actor, "SZ", code, 40, "PO-1")

            async def pushed():
                row = (await listing_rows(actor, ch))[code]
                return row if row["state"] == "ok" else None

            row = await wait_for(pushed, timeout=20)
        # the paid orders of the pull were backordered and are now reserved: what is left, minus the buffer
        assert row["sellable"] == max(0, row["available"] - 2) and row["available"] <= 40
        assert row["last_pushed_qty"] == row["sellable"] and row["last_pushed_at"] is not None
        assert row["last_error"] == "" and row["attempts"] == 1
        log = await sandbox_log(base, platform)
        mine = [e for e in log[before:] if quantity_of(e) == row["sellable"]]
        assert mine, log[before:]
        if platform != "shopify":       # Shopify is keyed by the variant's inventory item, not the variant
            assert any(str(v) in (listing["platform_sku_id"], listing["platform_sku_code"], code)
                       for e in mine for v in e.values()), mine
        else:
            item = sandbox.products[code]["inventory_item_id"]
            assert sandbox.inventory[str(item)] == row["sellable"]


async def test_rapid_changes_coalesce_into_one_push_of_the_latest_value(merchant):
    async with platform_shop(merchant, "jd") as (actor, ch, _sandbox, base):
        code = sorted(await listing_rows(actor, ch))[0]
        await inventory.create_warehouse(actor, {"code": "SZ", "name": "Shenzhen", "priority": 10})
        await channel_stock_push.push_channel(ch["id"])     # nothing marked yet: nothing pushed
        before = len(await sandbox_log(base, "jd"))
        for n in range(10):
            await inventory.receive(actor, "SZ", code, 5 + n, f"PO-{n}")
        # ten changes, one waiting job for the channel
        assert await db.fetchval("SELECT count(*) FROM outbox WHERE job_name = $1 AND enqueued_at IS NULL",
                                 cs.PUSH_JOB) == 1
        result = await channel_stock_push.push_channel(ch["id"])
        row = (await listing_rows(actor, ch))[code]
        log = (await sandbox_log(base, "jd"))[before:]
        pushes_of_code = [e for e in log if e.get("platform_sku_id") == row["platform_sku_id"]]
        assert len(pushes_of_code) == 1 and quantity_of(pushes_of_code[0]) == row["sellable"] == row["last_pushed_qty"]
        assert row["sellable"] == row["available"] and result["failed"] == 0
        # nothing left: a second run pushes nothing and schedules nothing
        await db.execute("UPDATE outbox SET enqueued_at = now(), done_at = now()")
        assert (await channel_stock_push.push_channel(ch["id"]))["pushed"] == 0
        assert await db.fetchval("SELECT count(*) FROM outbox WHERE done_at IS NULL") == 0
        assert len(await sandbox_log(base, "jd")) == before + len(log)


async def test_platform_error_is_visible_retried_with_backoff_then_cleared(merchant):
    async with platform_shop(merchant, "jd") as (actor, ch, sandbox, _base):
        code = sorted(await listing_rows(actor, ch))[0]
        await inventory.create_warehouse(actor, {"code": "SZ", "name": "Shenzhen", "priority": 10})
        await inventory.receive(actor, "SZ", code, 30)
        await db.execute("UPDATE listing_stock_push SET dirty = false")    # only this listing matters
        await db.execute("DELETE FROM stock_push_mark WHERE listing_id <> $1",
                         (await listing_rows(actor, ch))[code]["id"])
        await db.execute("UPDATE outbox SET enqueued_at = now(), done_at = now()")   # as if the job ran here
        sandbox.fail_next.extend([(503, {"error": "busy"})] * 3)        # the connector's own retries too
        await channel_stock_push.push_channel(ch["id"])
        row = (await listing_rows(actor, ch))[code]
        assert row["state"] == "retrying" and row["attempts"] == 1 and "503" in row["last_error"]
        assert row["last_pushed_qty"] is None
        wait1 = (row["next_attempt_at"] - row["last_attempt_at"]).total_seconds()
        assert 0.9 <= wait1 <= 1.5
        # the retry job waits for the backoff
        delay = await db.fetchval("SELECT extract(epoch FROM available_at - now()) FROM outbox "
                                  "WHERE job_name = $1 AND enqueued_at IS NULL", cs.PUSH_JOB)
        assert 0.5 <= delay <= 1.5
        # not due yet: nothing is sent
        requests = len(sandbox.requests)
        await channel_stock_push.push_channel(ch["id"])
        assert len(sandbox.requests) == requests
        await asyncio.sleep(wait1 + 0.05)
        sandbox.fail_next.extend([(503, {"error": "busy"})] * 3)
        await channel_stock_push.push_channel(ch["id"])
        row = (await listing_rows(actor, ch))[code]
        assert row["attempts"] == 2 and row["state"] == "retrying"
        wait2 = (row["next_attempt_at"] - row["last_attempt_at"]).total_seconds()
        assert 1.9 <= wait2 <= 2.5                                         # backoff doubles
        await asyncio.sleep(wait2 + 0.05)
        await channel_stock_push.push_channel(ch["id"])
        row = (await listing_rows(actor, ch))[code]
        assert row["state"] == "ok" and row["last_error"] == "" and row["last_pushed_qty"] == row["sellable"] == 30
        assert row["attempts"] == 3 and row["next_attempt_at"] is None


async def test_permanent_refusal_is_visible_and_does_not_block_others(merchant):
    async with platform_shop(merchant, "jd") as (actor, ch, _sandbox, _base):
        rows = await listing_rows(actor, ch)
        good_code = sorted(rows)[0]
        await catalog.create_sku(actor, {"code": "GHOST-1", "name": "Ghost"})
        ghost = await db.fetchval(
            """INSERT INTO channel_listing (merchant_id, channel_id, platform_product_id, platform_sku_id,
                                            platform_sku_code, title, sku_id, match_method)
               SELECT $1, $2, '1', '424242', 'GHOST-1', 'gone from the shop', id, 'code' FROM sku WHERE code = 'GHOST-1'
               RETURNING id""", merchant["id"], ch["id"])
        await inventory.create_warehouse(actor, {"code": "SZ", "name": "Shenzhen", "priority": 10})
        await inventory.receive(actor, "SZ", "GHOST-1", 3)
        await inventory.receive(actor, "SZ", good_code, 8)
        result = await channel_stock_push.push_channel(ch["id"])
        rows = await listing_rows(actor, ch)
        assert rows["GHOST-1"]["state"] == "failed" and rows["GHOST-1"]["id"] == ghost
        assert "424242" in rows["GHOST-1"]["last_error"] or "refused" in rows["GHOST-1"]["last_error"]
        assert rows[good_code]["state"] == "ok" and rows[good_code]["last_pushed_qty"] == rows[good_code]["sellable"]
        assert result["failed"] == 1
        # a permanent failure is not retried until something changes
        assert not await db.fetchval("SELECT dirty FROM listing_stock_push WHERE listing_id = $1", ghost)
        assert (await cs.list_listings(actor, ch["id"], state="failed")).items[0]["id"] == ghost


POLICY = """query($c: String!) { channelStockPolicy(channel: $c) { channel { id name } saved overrideCount
  policy { mode percent quota buffer maxListed zeroAt allWarehouses warehouseIds }
  eligibleWarehouses { id code } } }"""
POLICY_UPDATE = """mutation($c: String!, $listing: ID, $input: ChannelStockPolicyInput!) {
  channelStockPolicyUpdate(channel: $c, listing: $listing, input: $input) {
    settings { saved policy { mode percent buffer maxListed warehouseIds allWarehouses } }
    listing { listingId sellable override { mode quota } }
    errors { code field message } } }"""
PUSHES = """query($c: String!, $filter: ListingStockPushFilter, $first: Int, $after: String) {
  listingStockPushes(channel: $c, filter: $filter, first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { node { listingId sku platformSkuId available sellable state lastPushedQuantity lastPushedAt
                   lastResult lastError attempts override { mode } } } } }"""
RESYNC = """mutation($c: String!) { channelStockResync(channel: $c) { queued errors { code field message } } }"""



async def test_graphql_policy_pushes_resync_and_tenancy(client, merchant, other_merchant, api_key):
    async with platform_shop(merchant, "taobao") as (actor, ch, _sandbox, _base):
        _, key = await api_key(merchant, "admin")
        _, their_key = await api_key(other_merchant, "admin")
        _, viewer = await api_key(merchant, "partner_readonly")
        await inventory.create_warehouse(actor, {"code": "SZ", "name": "Shenzhen", "priority": 10})
        body = await gql(client, POLICY, key, {"c": ch["name"]})
        got = body["data"]["channelStockPolicy"]
        assert got["saved"] is False and got["policy"]["mode"] == "POOL" and got["policy"]["allWarehouses"]
        assert [w["code"] for w in got["eligibleWarehouses"]] == ["SZ"]

        bad = await gql(client, POLICY_UPDATE, key, {"c": str(ch["id"]), "input": {
            "mode": "PERCENT", "percent": 150, "buffer": -1, "warehouses": ["NOPE"]}})
        assert {e["field"] for e in bad["data"]["channelStockPolicyUpdate"]["errors"]} == {"warehouses"}
        bad = await gql(client, POLICY_UPDATE, key, {"c": str(ch["id"]), "input": {
            "mode": "PERCENT", "percent": 150, "buffer": -1}})
        assert {(e["code"], e["field"]) for e in bad["data"]["channelStockPolicyUpdate"]["errors"]} == {
            ("out_of_range", "percent"), ("out_of_range", "buffer")}
        ok = await gql(client, POLICY_UPDATE, key, {"c": str(ch["id"]), "input": {
            "mode": "PERCENT", "percent": 50, "buffer": 2, "warehouses": ["SZ"]}})
        settings = ok["data"]["channelStockPolicyUpdate"]["settings"]
        assert settings["saved"] and settings["policy"]["percent"] == 50 and not settings["policy"]["allWarehouses"]

        code = sorted(await listing_rows(actor, ch))[0]
        await inventory.receive(actor, "SZ", code, 22)
        await channel_stock_push.push_channel(ch["id"])
        pushes = await gql(client, PUSHES, key, {"c": ch["name"], "filter": {"state": "OK"}})
        nodes = [e["node"] for e in pushes["data"]["listingStockPushes"]["edges"]]
        node = next(n for n in nodes if n["sku"] == code)
        assert node["sellable"] == max(0, node["available"] - 2) // 2 == node["lastPushedQuantity"]
        assert node["lastResult"] == "ok" and node["attempts"] == 1 and node["state"] == "OK"

        override = await gql(client, POLICY_UPDATE, key, {"c": ch["name"], "listing": node["listingId"],
                                                          "input": {"mode": "QUOTA", "quota": 1}})
        listing = override["data"]["channelStockPolicyUpdate"]["listing"]
        assert listing["override"] == {"mode": "QUOTA", "quota": 1} and listing["sellable"] == min(1, node["available"])

        resync = await gql(client, RESYNC, key, {"c": ch["name"]})
        assert resync["data"]["channelStockResync"]["queued"] == len(await listing_rows(actor, ch))

        # another merchant cannot see or change this channel; a read-only key may read but not change
        for query, variables in ((POLICY, {"c": str(ch["id"])}), (RESYNC, {"c": str(ch["id"])})):
            answer = await gql(client, query, their_key, variables)
            text = str(answer)
            assert "not_found" in text and code not in text
        answer = await gql(client, PUSHES, their_key, {"c": str(ch["id"])})
        assert answer["data"] is None or not answer["data"].get("listingStockPushes")
        denied = await gql(client, RESYNC, viewer, {"c": str(ch["id"])})
        assert denied["data"]["channelStockResync"]["errors"][0]["code"] == "permission_denied"
        assert (await gql(client, POLICY, viewer, {"c": str(ch["id"])}))["data"]["channelStockPolicy"]["saved"]
