"""The no-oversell headline end to end, through the real surfaces at once: 50 units on hand, 200
paid one-unit orders from 5 channels — 100 signed Shopify webhooks over HTTP into 3 shops, worked off
by 2 real arq workers racing each other, and 100 GraphQL `orderCreate` calls over HTTP into the
website and POS channels, all in flight together. Exactly 50 reserved, 150 held out_of_stock, the
ledger equal to the levels; then 30 received release exactly the 30 held orders first in line."""
import asyncio
import json
import random

from server.catalog import service as catalog
from server.channels import service as channels
from server.channels.connectors._hmac import sign_base64
from server.channels.sandbox.shopify import Sandbox
from server.core import db, outbox, queue
from server.core.actor import system
from server.inventory import invariants
from server.inventory import service as inventory
from tests.api.test_webhook_inbox import SECRET, run_worker_burst

HOT = "HOT-1"
ORDER_CREATE = """mutation($input: OrderCreateInput!) {
  orderCreate(input: $input) { order { id status } errors { code field message } } }"""


def one_unit_payloads(n: int) -> list[tuple[str, bytes]]:
    """Sandbox Shopify orders cut down to one paid unit of the hot SKU."""
    out = []
    for o in Sandbox(seed=21).generate(n * 2):
        p = o.payload
        if p.get("cancelled_at") or len(out) == n:
            continue
        p["financial_status"] = "paid"
        p["line_items"] = [{**p["line_items"][0], "sku": HOT, "quantity": 1, "fulfillable_quantity": 1}]
        p["refunds"] = []
        out.append((o.external_id, json.dumps(p).encode()))
    assert len(out) == n
    return out


async def test_200_orders_from_webhooks_workers_and_graphql_for_50_units(client, merchant, api_key):
    actor = system(merchant["id"], "test")
    await catalog.create_sku(actor, {"code": HOT, "name": "Hot tea", "list_price": "99.00"})
    await inventory.create_warehouse(actor, {"code": "SZ", "name": "Shenzhen", "priority": 10})
    await inventory.receive(actor, "SZ", HOT, 50, "opening stock")
    cfg = {k: v for k, v in Sandbox.credentials.items() if k in ("shop_domain", "access_token", "client_secret")}
    cfg["api_base_url"] = "http://127.0.0.1:9"
    shops = [await channels.create_channel(actor, platform="shopify", name=f"Shop {i}", config=cfg) for i in range(3)]
    direct = [await channels.create_channel(actor, platform="website", name="Website"),
              await channels.create_channel(actor, platform="pos", name="Store")]
    _, key = await api_key(merchant, "admin")
    rng = random.Random(5)

    async def deliver(i: int, external_id: str, body: bytes) -> None:
        await asyncio.sleep(rng.random() / 20)
        headers = {"X-Shopify-Hmac-Sha256": sign_base64(SECRET, body), "X-Shopify-Topic": "orders/create",
                   "X-Shopify-Webhook-Id": f"evt-{external_id}", "Content-Type": "application/json",
                   "X-Shopify-Shop-Domain": Sandbox.credentials["shop_domain"]}
        r = await client.post(f"/webhooks/channels/{shops[i % 3]['id']}", content=body, headers=headers)
        assert r.status_code == 202, r.text

    async def api_order(i: int) -> None:
        await asyncio.sleep(rng.random() / 20)
        r = await client.post("/graphql", headers={"Authorization": f"Bearer {key}"}, json={
            "query": ORDER_CREATE, "variables": {"input": {
                "channel": str(direct[i % 2]["id"]), "externalId": f"A-{i:03d}", "idempotencyKey": f"k-{i}",
                "paid": True, "receiver": {"name": f"买家{i}", "phone": "13900001111"},
                "lines": [{"sku": HOT, "quantity": 1}]}}})
        assert r.status_code == 200 and not r.json()["data"]["orderCreate"]["errors"], r.text

    relay = outbox.Relay(await queue.pool(), poll_seconds=0.05)
    await relay.start()
    try:
        async def two_workers() -> None:
            deadline = asyncio.get_running_loop().time() + 60
            while await db.fetchval("SELECT count(*) FROM sales_order WHERE channel_id = ANY($1::bigint[])",
                                    [s["id"] for s in shops]) < 100:
                await asyncio.gather(run_worker_burst(), run_worker_burst())
                assert asyncio.get_running_loop().time() < deadline, "webhooks not worked off in time"
                await asyncio.sleep(0.05)

        payloads = one_unit_payloads(100)
        await asyncio.gather(*(deliver(i, ext, body) for i, (ext, body) in enumerate(payloads)),
                             *(api_order(i) for i in range(100)), two_workers())
    finally:
        await relay.stop()

    rows = await db.fetch("SELECT id, status, hold_reasons, paid_at, priority FROM sales_order WHERE merchant_id = $1",
                          merchant["id"])
    assert len(rows) == 200
    reserved = {r["order_id"] for r in await db.fetch("SELECT order_id FROM reservation WHERE status = 'reserved'")}
    held = [r for r in rows if r["hold_reasons"] == ["out_of_stock"]]
    assert len(reserved) == 50 and len(held) == 150
    level = await inventory.get_level(actor, "SZ", HOT)
    assert (level["on_hand"], level["reserved"], level["available"]) == (50, 50, 0)
    assert await invariants.oversold(merchant["id"]) == []
    assert await invariants.ledger_mismatches(merchant["id"]) == []
    assert await invariants.unaccounted_lines(merchant["id"]) == []

    queue_order = sorted(held, key=lambda r: (-r["priority"], r["paid_at"], r["id"]))
    result = await inventory.receive(actor, "SZ", HOT, 30, "PO-restock")
    assert result["released_orders"] == [r["id"] for r in queue_order[:30]]
    level = await inventory.get_level(actor, "SZ", HOT)
    assert (level["on_hand"], level["reserved"]) == (80, 80)
    assert await invariants.ledger_mismatches(merchant["id"]) == []
