"""The real Shopify connector against the Shopify sandbox over real HTTP."""
from __future__ import annotations

import asyncio
import time
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
from server.channels.connectors.shopify import CONNECTOR
from server.channels.sandbox.shopify import Sandbox
from tests.support.live_server import live_server


@pytest.fixture
async def env():
    sandbox = Sandbox(seed=11)
    sandbox.retry_after = "0.05"
    async with live_server(Litestar(route_handlers=[sandbox.router()])) as base, \
            httpx.AsyncClient(timeout=10) as http:
        yield sandbox, base, http


def connector(env, page_size: int = 3, **credentials):
    sandbox, base, http = env
    config = {"shop_domain": sandbox.credentials["shop_domain"], "api_version": "2025-01",
              "api_base_url": f"{base}/sandbox/shopify", "page_size": page_size}
    c = CONNECTOR(config, {**sandbox.credentials, **credentials}, http)
    c.waits = []

    async def record(seconds: float) -> None:     # note the wait, but do not make the test sit it out
        c.waits.append(seconds)
        await asyncio.sleep(min(seconds, 0.01))
    c._sleep = record
    return c


async def pull(c, since, until) -> list[list]:
    return [batch async for batch in c.fetch_orders(since, until)]


def window(sandbox, minutes: int = 60):
    now = sandbox.now()
    return now - timedelta(minutes=minutes), now + timedelta(minutes=minutes)


def order_calls(sandbox) -> list[dict]:
    return [r["params"] for r in sandbox.requests if r["path"].endswith("/orders.json")]


async def test_registry_finds_the_connector():
    assert registry.get("shopify") is CONNECTOR
    assert {f.name for f in CONNECTOR.config_fields} >= {"shop_domain", "access_token", "api_version",
                                                         "client_secret", "api_base_url"}


async def test_paging_follows_only_the_link_header(env):
    sandbox = env[0]
    made = {o.external_id for o in sandbox.generate(8)}
    batches = await pull(connector(env), *window(sandbox))
    assert [len(b) for b in batches] == [3, 3, 2]
    fetched = [f for b in batches for f in b]
    assert {f.external_id for f in fetched} == made and all(f.order and not f.error for f in fetched)
    first, *rest = order_calls(sandbox)
    assert first["status"] == "any" and first["limit"] == "3"
    assert {"updated_at_min", "updated_at_max"} <= set(first)
    assert rest and all(set(p) == {"limit", "page_info"} for p in rest)


async def test_an_order_changing_during_the_pull_is_not_lost(env):
    sandbox = env[0]
    t0 = sandbox.now().replace(microsecond=0)
    sandbox.set_now(t0)
    ids = [o.external_id for o in sandbox.generate(7, status="paid")]
    since, until = t0 - timedelta(minutes=5), t0 + timedelta(hours=1)
    seen, first_page = [], None
    async for batch in connector(env).fetch_orders(since, until):
        seen.extend(f.external_id for f in batch)
        if first_page is None:
            first_page = [f.external_id for f in batch]
            sandbox.set_now(t0 + timedelta(minutes=1))
            sandbox.advance(first_page[0], "cancel")                     # already read
            sandbox.advance(next(i for i in ids if i not in first_page), "ship")   # not read yet
    assert sorted(seen) == sorted(ids)
    later = [f for b in await pull(connector(env), t0 + timedelta(seconds=30), until) for f in b]
    assert {f.external_id: f.order.status for f in later}[first_page[0]] is NormalizedStatus.CANCELLED


async def test_wrong_token_is_an_auth_error(env):
    env[0].generate(1)
    bad = connector(env, access_token="shpat_wrong")
    with pytest.raises(ConnectorAuthError, match="Invalid API key"):
        await pull(bad, *window(env[0]))
    check = await bad.test_connection()
    assert not check.ok and "401" in check.message


async def test_throttling_is_retried_after_retry_after(env):
    sandbox = env[0]
    sandbox.generate(2)
    throttled = {"errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume "
                           "uninterrupted service."}
    sandbox.fail_next += [(429, throttled), (429, throttled), (502, {"errors": "Bad Gateway"})]
    c = connector(env)
    fetched = [f for b in await pull(c, *window(sandbox)) for f in b]
    assert len(fetched) == 2
    assert c.waits[:2] == [0.05, 0.05] and c.waits[2] > 0
    sandbox.fail_next += [(503, {"errors": "Service Unavailable"})] * 4
    with pytest.raises(ConnectorTransientError, match="503"):
        await pull(c, *window(sandbox))


async def test_near_the_bucket_limit_the_connector_slows_down(env):
    sandbox = env[0]
    sandbox._bucket = (sandbox.bucket_size - 6.0, time.monotonic())
    c = connector(env)
    assert (await c.test_connection()).ok
    assert c.waits and 0 < c.waits[0] <= 10
    sandbox.leak_per_second = 500.0
    sandbox._bucket = (float(sandbox.bucket_size), time.monotonic())      # overflowing: the sandbox throttles
    assert (await c.test_connection()).ok
    assert 0.05 in c.waits


async def test_page_info_with_filters_is_rejected_like_shopify(env):
    sandbox, base, http = env
    sandbox.generate(5)
    headers = {"X-Shopify-Access-Token": sandbox.credentials["access_token"]}
    url = f"{base}/sandbox/shopify/admin/api/2025-01/orders.json"
    first = await http.get(url, params={"status": "any", "limit": 2}, headers=headers)
    assert first.status_code == 200 and 'rel="next"' in first.headers["link"]
    cursor = first.headers["link"].split("page_info=")[1].split(">")[0]
    again = await http.get(url, params={"page_info": cursor, "status": "any"}, headers=headers)
    assert again.status_code == 400 and "cannot be passed when page_info" in again.json()["errors"]["status"]
    too_many = await http.get(url, params={"limit": 251}, headers=headers)
    assert too_many.status_code == 400


async def test_push_inventory_sets_levels_and_reports_each_item(env):
    sandbox = env[0]
    tea, pot = sandbox.products["TEA-LJ-250"], sandbox.products["POT-YX-300"]
    results = await connector(env).push_inventory([
        InventoryUpdate(str(tea["product_id"]), str(tea["inventory_item_id"]), 17, sku_code="TEA-LJ-250"),
        InventoryUpdate(str(pot["product_id"]), "46999999999", 3),
        InventoryUpdate(str(pot["product_id"]), "not-an-id", 3),
        InventoryUpdate(str(pot["product_id"]), str(pot["inventory_item_id"]), 0),
    ])
    assert [r.ok for r in results] == [True, False, False, True]
    assert "Inventory item does not exist" in results[1].error and not results[1].transient
    assert sandbox.inventory[str(tea["inventory_item_id"])] == 17
    assert sandbox.inventory[str(pot["inventory_item_id"])] == 0
    active = next(loc["id"] for loc in sandbox.locations if loc["active"])
    assert {entry["location_id"] for entry in sandbox.inventory_log} == {active}


async def test_push_inventory_flags_transient_failures(env):
    sandbox = env[0]
    item = sandbox.products["CUP-CER-01"]["inventory_item_id"]
    sandbox.fail_next += [(503, {"errors": "Service Unavailable"})] * 4
    [result] = await connector(env).push_inventory([InventoryUpdate("1", str(item), 5, location_id="61000000002")])
    assert not result.ok and result.transient and "503" in result.error


async def test_push_fulfillment_whole_and_partial(env):
    sandbox = env[0]
    whole, partial = sandbox.generate(2, status="paid", skus=["TEA-LJ-250", "CUP-CER-01"], pickup=False)
    c = connector(env)
    ok = await c.push_fulfillment(FulfillmentUpdate(whole.external_id, "ups", "1Z999AA10123456784",
                                                    tracking_url="https://www.ups.com/track?tracknum=1Z999AA10123456784"))
    assert ok.ok, ok.error
    record = sandbox.fulfillments[-1]
    assert (record["tracking_company"], record["tracking_number"]) == ("UPS", "1Z999AA10123456784")
    first_line = str(partial.payload["line_items"][0]["id"])
    assert (await c.push_fulfillment(FulfillmentUpdate(partial.external_id, "usps", "9400100000000000000001",
                                                       external_line_ids=[first_line]))).ok
    assert sandbox.fulfillments[-1]["line_items"] == {first_line: partial.payload["line_items"][0]["quantity"]}
    statuses = {f.external_id: f.order for b in await pull(c, *window(sandbox)) for f in b}
    assert statuses[whole.external_id].status is NormalizedStatus.SHIPPED
    assert statuses[whole.external_id].tracking_numbers == ["1Z999AA10123456784"]
    assert statuses[partial.external_id].status is NormalizedStatus.PARTIALLY_SHIPPED
    again = await c.push_fulfillment(FulfillmentUpdate(whole.external_id, "ups", "1Z999AA10123456784"))
    assert not again.ok and "no open fulfillment order" in again.error
    missing = await c.push_fulfillment(FulfillmentUpdate("123", "ups", "1Z"))
    assert not missing.ok and "404" in missing.error


async def test_connection_check_names_the_shop(env):
    check = await connector(env).test_connection()
    assert check.ok and check.shop_name == "OMS Demo Tea House"


async def test_register_webhooks_then_signed_deliveries_are_accepted(env):
    sandbox, base, http = env
    received: list[tuple[dict, bytes]] = []
    answers = [500]                        # the receiver is down for the first delivery

    @post("/hooks/shopify", status_code=200)
    async def hook(request: Request) -> Response:
        received.append((dict(request.headers), await request.body()))
        return Response(content="", status_code=answers.pop(0) if answers else 200)

    async with live_server(Litestar(route_handlers=[hook])) as receiver:
        address = f"{receiver}/hooks/shopify"
        c = connector(env)
        ids = await c.register_webhooks(address)
        assert len(ids) == 4 and await c.register_webhooks(address) == ids
        assert sorted(w["topic"] for w in sandbox.webhooks) == sorted(
            ["orders/create", "orders/updated", "orders/cancelled", "refunds/create"])

        made = await http.post(f"{base}/sandbox/shopify/_sandbox/generate", json={"count": 1, "status": "paid"})
        order_id = made.json()["ids"][0]
        assert made.json()["delivered"] == 0 and sandbox.outbox.log[-1]["status"] == 500
        sandbox.outbox.pending[0].due = 0                       # the retry is due now
        assert await sandbox.deliver_pending(http) == 1
        headers, body = received[-1]
        assert headers["x-shopify-topic"] == "orders/create" and c.verify_webhook(headers, body)
        event = c.parse_webhook(headers, body)
        assert event.event_id == headers["x-shopify-webhook-id"]
        assert event.orders[0].order.external_id == order_id
        assert received[0][1] == body and received[0][0]["x-shopify-webhook-id"] == event.event_id

        refunded = await http.post(f"{base}/sandbox/shopify/_sandbox/orders/{order_id}/partial_refund")
        assert refunded.status_code == 200 and refunded.json()["delivered"] == 2
        assert all(c.verify_webhook(h, b) for h, b in received[-2:])
        events = {e.topic: e for e in (c.parse_webhook(h, b) for h, b in received[-2:])}
        assert set(events) == {"refunds/create", "orders/updated"}
        stub = events["refunds/create"].orders[0]
        assert (stub.external_id, stub.order, stub.error) == (order_id, None, None)
        wrong = connector(env, client_secret="another app")
        assert not wrong.verify_webhook(*received[-1])


async def test_sandbox_control_endpoints(env):
    sandbox, base, http = env
    made = await http.post(f"{base}/sandbox/shopify/_sandbox/generate", json={"count": 2, "currency": "JPY"})
    assert made.status_code == 201 and len(made.json()["ids"]) == 2
    listed = (await http.get(f"{base}/sandbox/shopify/_sandbox/orders")).json()["orders"]
    assert {o["currency"] for o in listed} == {"JPY"}
    bad = await http.post(f"{base}/sandbox/shopify/_sandbox/orders/{made.json()['ids'][0]}/deliver")
    assert bad.status_code == 409
    assert (await http.post(f"{base}/sandbox/shopify/_sandbox/generate", json={"skus": ["NOPE"]})).status_code == 400
    inventory = (await http.get(f"{base}/sandbox/shopify/_sandbox/inventory")).json()
    assert set(inventory) == {"inventory", "log"} and len(inventory["inventory"]) == len(sandbox.products)
    await http.post(f"{base}/sandbox/shopify/_sandbox/fail_next", json={"status": 500, "body": {"errors": "boom"}})
    with pytest.raises(ConnectorTransientError):
        c = connector(env)
        sandbox.fail_next += [(500, {"errors": "boom"})] * 3
        await pull(c, *window(sandbox))
    with pytest.raises(ConnectorError, match="422: address: is invalid"):
        await connector(env).register_webhooks("not a url")
