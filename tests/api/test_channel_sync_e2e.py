"""Every platform end to end: sandbox over real HTTP → real connector → channel sync → orders.

The webhook path too: Shopify/WooCommerce sandboxes deliver signed webhooks to the running OMS app,
which answers fast, stores the delivery in the inbox and processes it in the job.
"""
import asyncio
import importlib
from datetime import timedelta

import httpx
import pytest
from litestar import Litestar

from server.catalog import service as catalog
from server.channels import inbox
from server.channels import service as channels
from server.channels.sandbox.base import DEMO_SKUS
from server.core import clock, db
from server.core.actor import system
from server.demo import SANDBOX_PATHS
from tests.support.live_server import live_server

PULL_PLATFORMS = ["taobao", "jd", "pinduoduo", "douyin", "amazon", "shopify", "woocommerce"]


def make_sandbox(platform):
    return importlib.import_module(f"server.channels.sandbox.{platform}").Sandbox(seed=7)


async def seed_catalog(actor):
    for sku in DEMO_SKUS:
        await catalog.create_sku(actor, {"code": sku.code, "name": sku.title_en, "list_price": sku.price_cny})


def config_for(platform, sandbox, base):
    cfg = dict(sandbox.credentials)
    cfg["api_base_url"] = base + SANDBOX_PATHS[platform]
    if platform == "amazon":
        cfg["lwa_url"] = base + "/sandbox/amazon/auth/o2/token"
    from server.channels.connectors import registry

    allowed = {f.name for f in registry.get(platform).config_fields} | {"api_base_url"}
    return {k: v for k, v in cfg.items() if k in allowed}


@pytest.mark.parametrize("platform", PULL_PLATFORMS)
async def test_pull_every_platform_into_orders(platform, merchant):
    actor = system(merchant["id"], "test")
    await seed_catalog(actor)
    sandbox = make_sandbox(platform)
    async with live_server(Litestar(route_handlers=[sandbox.router()])) as base:
        ch = await channels.create_channel(actor, platform=platform, name=f"{platform} shop",
                                           config=config_for(platform, sandbox, base))
        # orders placed a few minutes ago (connectors stay behind "now": Amazon's 2-minute rule etc.)
        sandbox.set_now(clock.now() - timedelta(minutes=6))
        made = sandbox.generate(30)
        sandbox.set_now(None)
        first = await channels.run_sync(ch["id"])
        assert first.get("error") is None, first
        assert first["fetched"] >= len(made) and first["created"] == len(made), first
        count = await db.fetchval("SELECT count(*) FROM sales_order WHERE channel_id = $1", ch["id"])
        assert count == len(made)
        # every order has lines; every line of a catalogue SKU is matched
        unmatched_known = await db.fetchval(
            "SELECT count(*) FROM order_line l JOIN sales_order o ON o.id = l.order_id "
            "WHERE o.channel_id = $1 AND l.sku_id IS NULL AND l.sku_code = ANY($2::text[])",
            ch["id"], [s.code for s in DEMO_SKUS])
        assert unmatched_known == 0
        assert await db.fetchval("SELECT bool_and(line_count > 0) FROM sales_order WHERE channel_id = $1", ch["id"])
        # a cancellation on the platform reaches the order on the next pull
        # ... and a change that lands just behind the saved cursor is caught by the overlap
        cursor = await db.fetchval("SELECT sync_cursor FROM channel WHERE id = $1", ch["id"])
        sandbox.set_now(cursor - timedelta(seconds=30))
        target = None
        for candidate in made:  # the first generated order that may still be cancelled
            try:
                sandbox.advance(candidate.external_id, "cancel")
                target = candidate.external_id
                break
            except ValueError:
                continue
        sandbox.set_now(None)
        assert target is not None
        second = await channels.run_sync(ch["id"])
        assert second.get("error") is None and second["created"] == 0, second
        status = await db.fetchval("SELECT status FROM sales_order WHERE channel_id = $1 AND external_id = $2",
                                   ch["id"], target)
        assert status == "cancelled"
        state = await channels.get_channel(actor, ch["id"])
        assert state["last_sync_ok"] and state["consecutive_failures"] == 0


async def test_failing_channel_backs_off_and_alerts(merchant):
    actor = system(merchant["id"], "test")
    sandbox = make_sandbox("taobao")
    async with live_server(Litestar(route_handlers=[sandbox.router()])) as base:
        cfg = config_for("taobao", sandbox, base)
        cfg["app_secret"] = "wrong-secret"
        ch = await channels.create_channel(actor, platform="taobao", name="bad", config=cfg)
        for _ in range(3):
            await db.execute("UPDATE channel SET sync_started_at = NULL WHERE id = $1", ch["id"])
            result = await channels.run_sync(ch["id"])
            assert result["error"]
        state = await channels.get_channel(actor, ch["id"])
        assert state["status"] == "failing" and state["consecutive_failures"] == 3 and state["alert_raised_at"]
        wait = (state["next_sync_at"] - state["last_sync_at"]).total_seconds()
        assert wait >= 8 * 300 - 5  # backed off (2^3 × the poll interval), not hammering
        assert await db.fetchval("SELECT count(*) FROM audit_entry WHERE action = 'channel.alert'") == 1


@pytest.mark.parametrize("platform", ["shopify", "woocommerce"])
async def test_webhooks_from_sandbox_reach_orders(platform, merchant, app):
    actor = system(merchant["id"], "test")
    await seed_catalog(actor)
    sandbox = make_sandbox(platform)
    async with live_server(Litestar(route_handlers=[sandbox.router()])) as sb_base, \
            live_server(app, lifespan="off") as oms_base:
        ch = await channels.create_channel(actor, platform=platform, name=f"{platform} hooks",
                                           config=config_for(platform, sandbox, sb_base))
        connector = channels.connector_for(dict(await db.fetchrow("SELECT * FROM channel WHERE id = $1", ch["id"])))
        await connector.register_webhooks(f"{oms_base}/webhooks/channels/{ch['id']}")
        made = sandbox.generate(5)
        async with httpx.AsyncClient() as http:
            delivered = await sandbox.deliver_pending(http)
        assert delivered >= 5
        rows = await db.fetch("SELECT id, status FROM webhook_inbox WHERE channel_id = $1", ch["id"])
        assert len(rows) >= 5 and all(r["status"] == "received" for r in rows)
        for r in rows:
            await inbox.process(r["id"])
        ids = {o.external_id for o in made}
        got = {r["external_id"] for r in await db.fetch("SELECT external_id FROM sales_order WHERE channel_id = $1",
                                                        ch["id"])}
        assert ids <= got


async def test_bad_signature_is_401_and_recorded(merchant, client):
    actor = system(merchant["id"], "test")
    sandbox = make_sandbox("shopify")
    ch = await channels.create_channel(actor, platform="shopify", name="sig",
                                       config=config_for("shopify", sandbox, "http://127.0.0.1:9"))
    r = await client.post(f"/webhooks/channels/{ch['id']}", content=b'{"id": 1}',
                          headers={"X-Shopify-Hmac-Sha256": "bm9wZQ==", "X-Shopify-Topic": "orders/create",
                                   "X-Shopify-Webhook-Id": "w-1", "Content-Type": "application/json"})
    assert r.status_code == 401
    row = await db.fetchrow("SELECT * FROM webhook_inbox")
    assert row["status"] == "rejected" and not row["signature_valid"] and bytes(row["body"]) == b'{"id": 1}'
    assert await db.fetchval("SELECT count(*) FROM outbox") == 0


async def test_twenty_concurrent_deliveries_make_one_order(merchant, client):
    from server.channels.connectors._hmac import sign_base64

    actor = system(merchant["id"], "test")
    await seed_catalog(actor)
    sandbox = make_sandbox("shopify")
    ch = await channels.create_channel(actor, platform="shopify", name="dup",
                                       config=config_for("shopify", sandbox, "http://127.0.0.1:9"))
    (made,) = sandbox.generate(1)
    import json

    body = json.dumps(made.payload).encode()
    headers = {"X-Shopify-Hmac-Sha256": sign_base64(sandbox.credentials["client_secret"], body),
               "X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": "same-delivery",
               "X-Shopify-Shop-Domain": sandbox.credentials["shop_domain"], "Content-Type": "application/json"}
    responses = await asyncio.gather(*(client.post(f"/webhooks/channels/{ch['id']}", content=body, headers=headers)
                                       for _ in range(20)))
    assert sorted({r.status_code for r in responses}) in ([200, 202], [202])
    assert await db.fetchval("SELECT count(*) FROM webhook_inbox") == 1
    rows = await db.fetch("SELECT id FROM webhook_inbox")
    await asyncio.gather(*(inbox.process(rows[0]["id"]) for _ in range(5)))
    assert await db.fetchval("SELECT count(*) FROM sales_order") == 1


async def test_malformed_webhook_is_kept_and_marked_failed(merchant, client):
    from server.channels.connectors._hmac import sign_base64

    actor = system(merchant["id"], "test")
    sandbox = make_sandbox("shopify")
    ch = await channels.create_channel(actor, platform="shopify", name="bad body",
                                       config=config_for("shopify", sandbox, "http://127.0.0.1:9"))
    body = b'{"id": 5, "line_items": "not a list"'
    headers = {"X-Shopify-Hmac-Sha256": sign_base64(sandbox.credentials["client_secret"], body),
               "X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": "broken-1"}
    r = await client.post(f"/webhooks/channels/{ch['id']}", content=body, headers=headers)
    assert r.status_code == 202
    inbox_id = r.json()["id"]
    await inbox.process(inbox_id)
    row = await db.fetchrow("SELECT * FROM webhook_inbox WHERE id = $1", inbox_id)
    assert row["status"] == "failed" and row["error"] and bytes(row["body"]) == body
