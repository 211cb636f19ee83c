"""The real WooCommerce connector against the WooCommerce sandbox over real HTTP."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from litestar import Litestar, Request, Response, post

from server.channels.connectors import registry
from server.channels.connectors.base import (
    ConnectorAuthError,
    ConnectorError,
    ConnectorTransientError,
    FulfillmentUpdate,
    InventoryUpdate,
    NormalizedStatus,
)
from server.channels.connectors.woocommerce import CONNECTOR
from server.channels.sandbox.woocommerce import VARIABLE_PARENT, Sandbox
from tests.support.live_server import live_server


@pytest.fixture
async def env():
    sandbox = Sandbox(seed=13)
    sandbox.retry_after = "0.05"
    async with live_server(Litestar(route_handlers=[sandbox.router()])) as base, \
            httpx.AsyncClient(timeout=10) as http:
        yield sandbox, base, http


def connector(env, page_size: int = 3, **credentials):
    sandbox, base, http = env
    config = {"site_url": sandbox.credentials["site_url"], "api_base_url": f"{base}/sandbox/woocommerce",
              "page_size": page_size}
    c = CONNECTOR(config, {**sandbox.credentials, **credentials}, http)
    c.waits = []

    async def record(seconds: float) -> None:     # note the wait, but do not make the test sit it out
        c.waits.append(seconds)
        await asyncio.sleep(min(seconds, 0.01))
    c._sleep = record
    return c


async def pull(c, since, until) -> list[list]:
    return [batch async for batch in c.fetch_orders(since, until)]


def order_calls(sandbox) -> list[dict]:
    return [r["params"] for r in sandbox.requests if r["path"].endswith("/wp-json/wc/v3/orders")]


def pinned(sandbox):
    t0 = sandbox.now().replace(microsecond=0)
    sandbox.set_now(t0)
    return t0


async def test_registry_finds_the_connector():
    assert registry.get("woocommerce") is CONNECTOR
    assert {f.name for f in CONNECTOR.config_fields} >= {"site_url", "consumer_key", "consumer_secret",
                                                         "webhook_secret", "api_base_url"}


async def test_paging_uses_total_pages_and_gmt_modified_window(env):
    sandbox = env[0]
    t0 = pinned(sandbox)
    made = {o.external_id for o in sandbox.generate(7)}
    batches = await pull(connector(env), t0 - timedelta(minutes=5), t0 + timedelta(minutes=5))
    assert [len(b) for b in batches] == [3, 3, 1]
    assert {f.external_id for b in batches for f in b} == made
    assert all(f.order and not f.error for b in batches for f in b)
    calls = order_calls(sandbox)
    assert [c["page"] for c in calls] == ["1", "2", "3"]
    assert all(c["orderby"] == "modified" and c["order"] == "asc" and c["dates_are_gmt"] == "true"
               and c["per_page"] == "3" for c in calls)
    assert calls[0]["modified_after"] == (t0 - timedelta(minutes=5)).replace(tzinfo=None).isoformat()


async def test_an_order_leaving_the_window_mid_pull_does_not_hide_another(env):
    sandbox = env[0]
    t0 = pinned(sandbox)
    ids = [o.external_id for o in sandbox.generate(7, status="paid")]
    since, until = t0 - timedelta(minutes=5), t0 + timedelta(seconds=1)
    seen = []
    async for batch in connector(env).fetch_orders(since, until):
        if not seen:        # after page 1: an order already read changes and moves past `until`
            sandbox.set_now(t0 + timedelta(minutes=1))
            sandbox.advance(batch[0].external_id, "ship")
        seen.extend(f.external_id for f in batch)
    assert sorted(seen) == sorted(ids)          # every order once; none slid past a page boundary
    moved = [f for b in await pull(connector(env), until - timedelta(minutes=2), t0 + timedelta(minutes=5))
             for f in b if f.external_id == seen[0]]
    assert moved[0].order.status is NormalizedStatus.COMPLETED


async def test_an_order_jumping_to_the_end_mid_pull_does_not_hide_another(env):
    sandbox = env[0]
    t0 = pinned(sandbox)
    ids = [o.external_id for o in sandbox.generate(7, status="paid")]
    seen = []
    async for batch in connector(env).fetch_orders(t0 - timedelta(minutes=5), t0 + timedelta(hours=1)):
        if not seen:        # still inside the window, now sorted last
            sandbox.set_now(t0 + timedelta(minutes=1))
            sandbox.advance(batch[0].external_id, "cancel")
        seen.extend((f.external_id, f.order.status) for f in batch)
    assert {i for i, _ in seen} == set(ids)
    assert (seen[0][0], NormalizedStatus.CANCELLED) in seen         # its new version came too


async def test_wrong_keys_are_auth_errors(env):
    sandbox = env[0]
    sandbox.generate(1)
    window = (sandbox.now() - timedelta(hours=1), sandbox.now() + timedelta(hours=1))
    with pytest.raises(ConnectorAuthError, match="Consumer secret is invalid"):
        await pull(connector(env, consumer_secret="cs_wrong"), *window)
    with pytest.raises(ConnectorAuthError, match="Consumer key is invalid"):
        await pull(connector(env, consumer_key="ck_wrong"), *window)
    check = await connector(env, consumer_key="ck_wrong").test_connection()
    assert not check.ok and "401" in check.message
    via_query = connector(env)
    via_query.config["query_string_auth"] = True
    assert len([f for b in await pull(via_query, *window) for f in b]) == 1


async def test_throttling_and_server_errors_are_retried(env):
    sandbox = env[0]
    sandbox.generate(2)
    window = (sandbox.now() - timedelta(hours=1), sandbox.now() + timedelta(hours=1))
    sandbox.fail_next += [(429, {"code": "too_many_requests", "message": "Slow down", "data": {"status": 429}}),
                          (500, {"code": "internal_server_error", "message": "Database gone", "data": {"status": 500}})]
    c = connector(env)
    assert len([f for b in await pull(c, *window) for f in b]) == 2
    assert c.waits[0] == 0.05 and len(c.waits) == 2
    sandbox.fail_next += [(503, {"code": "x", "message": "Maintenance", "data": {"status": 503}})] * 4
    with pytest.raises(ConnectorTransientError, match="Maintenance"):
        await pull(c, *window)


async def test_bad_parameters_come_back_with_the_platform_message(env):
    sandbox, base, http = env
    c = connector(env)
    auth = (sandbox.credentials["consumer_key"], sandbox.credentials["consumer_secret"])
    answer = await http.get(f"{base}/sandbox/woocommerce/wp-json/wc/v3/orders", params={"per_page": 101}, auth=auth)
    assert answer.status_code == 400 and answer.json()["code"] == "rest_invalid_param"
    assert answer.headers["content-type"].startswith("application/json")
    c.config["page_size"] = 100
    assert c.page_size == 100
    with pytest.raises(ConnectorError, match="Invalid ID"):
        await c._get("orders/999999")


async def test_push_inventory_batches_products_and_variations(env):
    sandbox = env[0]
    (tea_parent, tea_vid), (pot_id, _) = sandbox.sku_ids["TEA-LJ-250"], sandbox.sku_ids["POT-YX-300"]
    results = await connector(env).push_inventory([
        InventoryUpdate(str(tea_parent), str(tea_vid), 12, sku_code="TEA-LJ-250"),
        InventoryUpdate(str(pot_id), str(pot_id), 4, sku_code="POT-YX-300"),
        InventoryUpdate("99999", "99999", 1),
        InventoryUpdate(str(tea_parent), "424242", 1),
        InventoryUpdate("x", "y", 1),
    ])
    assert [r.ok for r in results] == [True, True, False, False, False]
    assert "Invalid ID" in results[2].error and not results[2].transient
    assert (sandbox.inventory[str(tea_vid)], sandbox.inventory[str(pot_id)]) == (12, 4)
    assert sandbox.variations[tea_vid]["manage_stock"] is True
    paths = [r["path"].split("/wc/v3/")[1] for r in sandbox.requests]
    assert sorted(paths) == sorted(["products/batch", f"products/{VARIABLE_PARENT}/variations/batch"])


async def test_push_inventory_reports_a_failed_batch_per_item(env):
    sandbox = env[0]
    sandbox.fail_next += [(502, {"code": "bad_gateway", "message": "Bad gateway", "data": {"status": 502}})] * 4
    pid = sandbox.sku_ids["KET-EL-1L"][0]
    results = await connector(env).push_inventory([InventoryUpdate(str(pid), "", 3), InventoryUpdate(str(pid), "", 2)])
    assert [(r.ok, r.transient) for r in results] == [(False, True), (False, True)]


async def test_push_fulfillment_adds_a_note_and_completes(env):
    sandbox = env[0]
    order, other = sandbox.generate(2, status="paid", skus=["TEA-PE-357", "TRAY-BMB-L"])
    c = connector(env)
    update = FulfillmentUpdate(order.external_id, "royal_mail", "JD014600003828374",
                               tracking_url="https://www.royalmail.com/track-your-item#/tracking-results/JD014600003828374")
    assert (await c.push_fulfillment(update)).ok
    assert order.payload["status"] == "completed" and order.payload["date_completed_gmt"]
    [note] = sandbox.notes[order.external_id]
    assert "JD014600003828374" in note["note"] and note["customer_note"] is True
    assert sandbox.fulfillments[-1]["order_id"] == order.external_id
    assert (await c.push_fulfillment(update)).ok and len(sandbox.notes[order.external_id]) == 1   # idempotent
    first_line = str(other.payload["line_items"][0]["id"])
    assert (await c.push_fulfillment(FulfillmentUpdate(other.external_id, "dpd", "15501234567890",
                                                       external_line_ids=[first_line]))).ok
    assert other.payload["status"] == "processing" and len(sandbox.notes[other.external_id]) == 1
    sandbox.advance(other.external_id, "cancel")
    refused = await c.push_fulfillment(FulfillmentUpdate(other.external_id, "dpd", "1"))
    assert not refused.ok and "cancelled" in refused.error
    missing = await c.push_fulfillment(FulfillmentUpdate("5", "dpd", "1"))
    assert not missing.ok and "404" in missing.error


async def test_connection_check_names_the_site(env):
    check = await connector(env).test_connection()
    assert check.ok and check.shop_name == "OMS Demo Tea Shop" and "9.4.2" in check.message


async def test_register_webhooks_ping_and_signed_deliveries(env):
    sandbox, base, http = env
    received: list[tuple[dict, bytes]] = []

    @post("/hooks/woo", status_code=200)
    async def hook(request: Request) -> Response:
        received.append((dict(request.headers), await request.body()))
        return Response(content="", status_code=200)

    async with live_server(Litestar(route_handlers=[hook])) as receiver:
        address = f"{receiver}/hooks/woo"
        c = connector(env)
        ids = await c.register_webhooks(address)
        assert len(ids) == 4 and await c.register_webhooks(address) == ids
        assert len(sandbox.webhooks) == 4 and all("secret" not in w for w in (await c._get("webhooks")))

        assert await sandbox.deliver_pending(http) == 4          # the creation pings
        for headers, body in received:
            assert body.startswith(b"webhook_id=") and c.verify_webhook(headers, body)
            assert c.parse_webhook(headers, body).topic == "ping"

        made = await http.post(f"{base}/sandbox/woocommerce/_sandbox/generate", json={"count": 1, "currency": "EUR"})
        order_id = made.json()["ids"][0]
        headers, body = received[-1]
        assert headers["x-wc-webhook-topic"] == "order.created"
        assert b"Mozilla\\/5.0" in body               # wp_json_encode escapes slashes; signed as sent
        assert c.verify_webhook(headers, body)
        event = c.parse_webhook(headers, body)
        assert event.orders[0].order.external_id == order_id and event.orders[0].order.currency == "EUR"
        assert event.event_id.startswith(headers["x-wc-webhook-delivery-id"])
        assert not connector(env, webhook_secret="not ours").verify_webhook(headers, body)

        await http.post(f"{base}/sandbox/woocommerce/_sandbox/orders/{order_id}/cancel")
        headers, body = received[-1]
        assert c.verify_webhook(headers, body)
        assert c.parse_webhook(headers, body).orders[0].order.status is NormalizedStatus.CANCELLED


async def test_failing_receiver_disables_the_webhook_and_registering_rearms_it(env):
    sandbox, _, http = env
    c = connector(env)
    address = "http://127.0.0.1:9/unreachable"
    await c.register_webhooks(address)
    sandbox.outbox.RETRY_DELAYS = (0.0,) * 8
    sandbox.generate(1)
    for _ in range(8):
        await sandbox.deliver_pending(http)
    created = next(w for w in sandbox.webhooks if w["topic"] == "order.created")
    assert created["status"] == "disabled"
    held = [d for d in sandbox.outbox.pending if d.topic == "order.created"]
    await c.register_webhooks(address)
    assert created["status"] == "active" and held and held[0] in sandbox.outbox.pending
