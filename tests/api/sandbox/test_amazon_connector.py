"""The real Amazon SP-API connector against the Amazon sandbox over real HTTP."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from litestar import Litestar

from server.channels.connectors import registry
from server.channels.connectors.amazon import CONNECTOR
from server.channels.connectors.amazon.client import iso
from server.channels.connectors.base import (
    ConnectorAuthError,
    ConnectorError,
    ConnectorTransientError,
    FulfillmentUpdate,
    InventoryUpdate,
    NormalizedStatus,
)
from server.channels.sandbox.amazon import OPS, Rejected, Sandbox
from server.core import clock
from tests.support.live_server import live_server

FAST = dict.fromkeys(OPS, (2000.0, 4000))


@pytest.fixture
async def env():
    sandbox = Sandbox(seed=5, rate_limits=FAST, items_page_size=2)
    async with live_server(Litestar(route_handlers=[sandbox.router()])) as base, \
            httpx.AsyncClient(timeout=10) as http:
        yield sandbox, base, http


def connector(env, page_size: int = 100, **credentials):
    sandbox, base, http = env
    config = {"api_base_url": f"{base}/sandbox/amazon", "lwa_url": f"{base}/sandbox/amazon/auth/o2/token",
              "marketplace_ids": sandbox.credentials["marketplace_ids"]}
    c = CONNECTOR(config, {**sandbox.credentials, **credentials}, http)
    c.page_size, c.retry_base, c.max_retry_wait = page_size, 0.01, 1.0
    return c


async def pull(c, since, until) -> list:
    return [f async for batch in c.fetch_orders(since, until) for f in batch]


def calls(sandbox, operation: str) -> list[dict]:
    return [r["params"] for r in sandbox.requests if r["operation"] == operation]


def settled(minutes: int = 10):
    return clock.now() - timedelta(minutes=minutes)


async def token(env) -> str:
    sandbox, base, http = env
    c = sandbox.credentials
    resp = await http.post(f"{base}/sandbox/amazon/auth/o2/token", data={
        "grant_type": "refresh_token", "refresh_token": c["refresh_token"], "client_id": c["client_id"],
        "client_secret": c["client_secret"]})
    return resp.json()["access_token"]


def test_registry_finds_the_connector():
    assert registry.get("amazon") is CONNECTOR
    fields = {f.name: f for f in CONNECTOR.config_fields}
    assert set(fields) >= {"client_id", "client_secret", "refresh_token", "marketplace_ids", "lwa_url",
                           "api_base_url", "seller_id"}
    assert fields["client_secret"].secret and fields["refresh_token"].secret
    assert fields["lwa_url"].default == "https://api.amazon.com/auth/o2/token"
    assert not fields["seller_id"].required


def test_safe_until_is_two_minutes_behind():
    now = clock.now()
    assert CONNECTOR({}, {}, httpx.AsyncClient()).safe_until(now) == now - timedelta(minutes=2)


async def test_multi_page_pull_with_items(env):
    sandbox, *_ = env
    sandbox.generate(25, at=settled())
    got = await pull(connector(env, page_size=10), clock.now() - timedelta(hours=1), clock.now())
    assert sorted(f.external_id for f in got) == sorted(sandbox.orders)
    assert all(f.error is None for f in got)
    for f in got:   # the raw payload keeps the order and every item (items were paged two at a time)
        assert f.raw["order"]["AmazonOrderId"] == f.external_id
        assert [i["OrderItemId"] for i in f.raw["items"]] == [i["OrderItemId"] for i in sandbox.orders[f.external_id].items]
        assert len(f.order.lines) == len(f.raw["items"])
    pages = calls(sandbox, "getOrders")
    assert len(pages) == 3
    assert pages[0]["MaxResultsPerPage"] == "10" and "LastUpdatedAfter" in pages[0]
    assert all(set(p) == {"MarketplaceIds", "NextToken"} for p in pages[1:])
    assert any(p.get("NextToken") for p in calls(sandbox, "getOrderItems"))


async def test_the_connector_never_asks_for_the_last_two_minutes(env):
    sandbox, *_ = env
    sandbox.generate(3, at=settled())
    sandbox.generate(2, at=clock.now())           # not settled yet: Amazon would not show them either
    before_call = clock.now()
    got = await pull(connector(env), clock.now() - timedelta(hours=1), clock.now())
    assert len(got) == 3
    asked = clock.parse_iso(calls(sandbox, "getOrders")[0]["LastUpdatedBefore"])
    assert asked <= before_call - timedelta(minutes=2)


async def test_the_sandbox_enforces_the_two_minute_rule(env):
    _, base, http = env
    headers = {"x-amz-access-token": await token(env)}
    url = f"{base}/sandbox/amazon/orders/v0/orders"
    params = {"MarketplaceIds": "ATVPDKIKX0DER", "LastUpdatedAfter": iso(settled(60))}
    too_recent = await http.get(url, headers=headers, params={**params, "LastUpdatedBefore": iso(settled(1))})
    assert too_recent.status_code == 400 and too_recent.json()["errors"][0]["code"] == "InvalidInput"
    both = await http.get(url, headers=headers, params={**params, "CreatedAfter": iso(settled(60))})
    assert both.status_code == 400
    neither = await http.get(url, headers=headers, params={"MarketplaceIds": "ATVPDKIKX0DER"})
    assert neither.status_code == 400
    ok = await http.get(url, headers=headers, params={**params, "LastUpdatedBefore": iso(settled(3))})
    assert ok.status_code == 200 and "x-amzn-RateLimit-Limit" in ok.headers
    assert (await http.get(url, params=params)).status_code == 403


async def test_429_is_waited_out_and_retried(env):
    sandbox, *_ = env
    sandbox.generate(4, at=settled())
    sandbox.rates["getOrders"] = (5.0, 1)
    sandbox.drain("getOrders")                     # someone just spent the burst
    started = clock.now()
    got = await pull(connector(env), clock.now() - timedelta(hours=1), clock.now())
    assert len(got) == 4
    assert len(calls(sandbox, "getOrders")) == 2    # throttled once, then waited 1 / 5 s as the header said
    assert clock.now() - started >= timedelta(seconds=0.15)


async def test_injected_429_is_retried(env):
    sandbox, *_ = env
    sandbox.generate(2, at=settled())
    sandbox.fail_next.append((429, {"errors": [{"code": "QuotaExceeded",
                                                "message": "You exceeded your quota for the requested resource."}]}))
    assert len(await pull(connector(env), clock.now() - timedelta(hours=1), clock.now())) == 2
    assert len(calls(sandbox, "getOrders")) == 2


async def test_429_for_too_long_is_handed_back_as_transient(env):
    sandbox, *_ = env
    sandbox.rates["getOrders"] = (0.01, 1)          # 1 / 0.01 = 100 s, more than the connector will wait
    sandbox.drain("getOrders")
    with pytest.raises(ConnectorTransientError) as caught:
        await pull(connector(env), clock.now() - timedelta(hours=1), clock.now())
    assert caught.value.retry_after == pytest.approx(100.0)


async def test_server_errors_are_retried(env):
    sandbox, *_ = env
    sandbox.generate(2, at=settled())
    sandbox.fail_next.extend([(503, {"errors": [{"code": "ServiceUnavailable", "message": "try later"}]}),
                              (500, {"errors": [{"code": "InternalFailure", "message": "oops"}]})])
    assert len(await pull(connector(env), clock.now() - timedelta(hours=1), clock.now())) == 2


async def test_other_errors_carry_amazons_code_and_message(env):
    sandbox, *_ = env
    sandbox.fail_next.append((400, {"errors": [{"code": "InvalidInput", "message": "Invalid Input", "details": ""}]}))
    with pytest.raises(ConnectorError, match="InvalidInput: Invalid Input") as caught:
        await pull(connector(env), clock.now() - timedelta(hours=1), clock.now())
    assert caught.value.details["amazon_code"] == "InvalidInput"


async def test_expired_access_token_is_refreshed(env):
    sandbox, *_ = env
    sandbox.generate(2, at=settled())
    c = connector(env)
    assert len(await pull(c, clock.now() - timedelta(hours=1), clock.now())) == 2
    assert len(sandbox.tokens) == 1                 # one LWA call, the token cached since
    sandbox.expire_tokens()
    assert len(await pull(c, clock.now() - timedelta(hours=1), clock.now())) == 2
    assert len(sandbox.tokens) == 2


async def test_short_lived_tokens_are_renewed_before_they_expire():
    sandbox = Sandbox(rate_limits=FAST, token_ttl=1)
    sandbox.generate(1, at=settled())
    async with live_server(Litestar(route_handlers=[sandbox.router()])) as base, httpx.AsyncClient() as http:
        c = connector((sandbox, base, http))
        await pull(c, clock.now() - timedelta(hours=1), clock.now())
        await asyncio.sleep(0.6)                    # past half of the token's one-second life
        await pull(c, clock.now() - timedelta(hours=1), clock.now())
    assert len(sandbox.tokens) == 2
    sent = [r for r in sandbox.requests if r["operation"] == "getOrders"]
    assert len(sent) == 2                           # renewed ahead: no request went out with a stale token


@pytest.mark.parametrize("bad", [{"client_secret": "wrong"}, {"refresh_token": "Atzr|revoked"},
                                 {"client_id": "amzn1.application-oa2-client.other"}])
async def test_bad_credentials_are_auth_errors(env, bad):
    with pytest.raises(ConnectorAuthError):
        await pull(connector(env, **bad), clock.now() - timedelta(hours=1), clock.now())
    check = await connector(env, **bad).test_connection()
    assert not check.ok and "LWA" in check.message


async def test_access_denied_after_a_fresh_token_is_an_auth_error(env):
    sandbox, *_ = env
    denied = {"errors": [{"code": "Unauthorized", "message": "Access to requested resource is denied."}]}
    sandbox.fail_next.extend([(403, denied), (403, denied)])
    with pytest.raises(ConnectorAuthError, match="Unauthorized"):
        await pull(connector(env), clock.now() - timedelta(hours=1), clock.now())


async def test_afn_orders_are_not_ours_to_ship(env):
    sandbox, *_ = env
    sandbox.generate(1, channel="AFN", status="paid", at=settled())
    sandbox.generate(1, channel="MFN", status="paid", at=settled())
    got = await pull(connector(env), clock.now() - timedelta(hours=1), clock.now())
    assert sorted(f.order.fulfilled_by_platform for f in got) == [False, True]


async def test_an_order_that_fails_to_load_its_items_is_kept_raw(env, monkeypatch):
    sandbox, *_ = env
    broken, fine = sandbox.generate(2, at=settled())
    original = sandbox._op_getOrderItems

    def items(q, body, order_id):
        if order_id == broken.external_id:
            raise Rejected(400, "InvalidInput", "Invalid AmazonOrderId")
        return original(q, body, order_id)

    monkeypatch.setattr(sandbox, "_op_getOrderItems", items)
    got = {f.external_id: f for f in await pull(connector(env), clock.now() - timedelta(hours=1), clock.now())}
    assert got[fine.external_id].order is not None
    assert got[broken.external_id].order is None and "InvalidInput" in got[broken.external_id].error
    assert got[broken.external_id].raw["order"]["AmazonOrderId"] == broken.external_id


async def test_an_order_updated_during_paging_is_seen_at_its_latest_version(env):
    sandbox, *_ = env
    sandbox.generate(30, status="paid", channel="MFN", at=settled())
    c = connector(env, page_size=10)
    since = clock.now() - timedelta(hours=1)
    first_run: list = []
    changed = None
    async for batch in c.fetch_orders(since, clock.now()):
        if changed is None:
            changed = batch[0].external_id       # already read; it changes while we page on
            sandbox.set_now(clock.now() - timedelta(minutes=3))
            sandbox.advance(changed, "ship")
            sandbox.set_now(None)
        first_run.extend(batch)
    assert {f.external_id for f in first_run} == set(sandbox.orders)
    versions = [f.order.status for f in first_run if f.external_id == changed]
    assert versions == [NormalizedStatus.PAID, NormalizedStatus.SHIPPED]


async def test_push_inventory_reports_the_bad_sku_and_applies_the_others(env):
    sandbox, *_ = env
    results = await connector(env).push_inventory([
        InventoryUpdate("B0TEA", "TEA-LJ-250", 12, sku_code="TEA-LJ-250"),
        InventoryUpdate("", "NO-SUCH-SKU", 5, sku_code="NO-SUCH-SKU"),
        InventoryUpdate("", "CUP-CER-01", -3, sku_code="CUP-CER-01"),
    ])
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].key == "NO-SUCH-SKU" and "does not exist" in results[1].error and not results[1].transient
    assert sandbox.inventory["TEA-LJ-250"] == 12 and sandbox.inventory["CUP-CER-01"] == 0
    assert [(e["sku"], e["quantity"]) for e in sandbox.inventory_log] == [("TEA-LJ-250", 12), ("CUP-CER-01", 0)]


async def test_push_inventory_needs_the_seller_id(env):
    c = connector(env)
    c.credentials.pop("seller_id")
    with pytest.raises(ConnectorError) as caught:
        await c.push_inventory([InventoryUpdate("", "TEA-LJ-250", 1, sku_code="TEA-LJ-250")])
    assert caught.value.field == "seller_id"


async def test_push_inventory_throttled_is_transient(env):
    sandbox, *_ = env
    sandbox.rates["patchListingsItem"] = (0.001, 1)
    sandbox.drain("patchListingsItem")
    [result] = await connector(env).push_inventory([InventoryUpdate("", "TEA-LJ-250", 1, sku_code="TEA-LJ-250")])
    assert not result.ok and result.transient


async def test_push_fulfillment_ships_the_order(env):
    sandbox, *_ = env
    [order] = sandbox.generate(1, status="paid", channel="MFN", marketplace="A1PA6795UKMFR9", at=settled())
    c = connector(env)
    result = await c.push_fulfillment(FulfillmentUpdate(order.external_id, "DHL", "00340434161094042557"))
    assert result.ok, result.error
    assert sandbox.orders[order.external_id].payload["OrderStatus"] == "Shipped"
    shipment = sandbox.fulfillments[-1]
    assert shipment["carrier"] == "DHL" and shipment["tracking_number"] == "00340434161094042557"
    assert shipment["items"] == {i["OrderItemId"]: i["QuantityOrdered"] for i in order.items}
    again = await c.push_fulfillment(FulfillmentUpdate(order.external_id, "DHL", "00340434161094042557"))
    assert not again.ok and not again.transient


async def test_partial_shipment_and_other_carriers(env):
    sandbox, *_ = env
    [order] = sandbox.generate(1, status="paid", channel="MFN", skus=["TEA-LJ-250", "CUP-CER-01"], at=settled())
    first = order.items[0]["OrderItemId"]
    result = await connector(env).push_fulfillment(
        FulfillmentUpdate(order.external_id, "Yun Express", "YT2400000000001", external_line_ids=[first]))
    assert result.ok, result.error
    assert sandbox.orders[order.external_id].payload["OrderStatus"] == "PartiallyShipped"
    assert sandbox.fulfillments[-1]["carrier"] == "Other" and sandbox.fulfillments[-1]["carrier_name"] == "Yun Express"


async def test_afn_orders_cannot_be_confirmed(env):
    sandbox, *_ = env
    [order] = sandbox.generate(1, status="paid", channel="AFN", at=settled())
    result = await connector(env).push_fulfillment(FulfillmentUpdate(order.external_id, "UPS", "1Z999AA10123456784"))
    assert not result.ok and not result.transient and "InvalidInput" in result.error


async def test_connection_check(env):
    check = await connector(env).test_connection()
    assert check.ok and check.shop_name == "OMS Demo Tea Co." and "Amazon.co.jp" in check.message


async def test_control_endpoints(env):
    sandbox, base, http = env
    root = f"{base}/sandbox/amazon/_sandbox"
    resp = await http.post(f"{root}/generate", json={"count": 2, "status": "unpaid"})
    assert resp.status_code == 201
    ids = resp.json()["ids"]
    assert all(sandbox.orders[i].payload["OrderStatus"] == "Pending" for i in ids)
    assert (await http.post(f"{root}/orders/{ids[0]}/pay")).json()["order_status"] == "Unshipped"
    assert (await http.post(f"{root}/orders/{ids[1]}/refund")).status_code == 409
    assert (await http.post(f"{root}/orders/nope/pay")).status_code == 404
    listed = (await http.get(f"{root}/orders")).json()["orders"]
    assert {o["order"]["AmazonOrderId"] for o in listed} == set(ids) and all(o["items"] for o in listed)
    assert {row["sku"] for row in (await http.get(f"{root}/inventory")).json()["inventory"]} >= {"TEA-LJ-250"}


def test_generator_mix():
    sandbox = Sandbox(seed=9)
    orders = sandbox.generate(120, at=settled())
    payloads = [o.payload for o in orders]
    assert {p["OrderStatus"] for p in payloads} == {"Pending", "Unshipped"}
    assert {p["FulfillmentChannel"] for p in payloads} == {"AFN", "MFN"}
    assert {p["MarketplaceId"] for p in payloads} == {"ATVPDKIKX0DER", "A1F83G8C2ARO7P", "A1PA6795UKMFR9",
                                                      "A1VC38T7YXB528"}
    assert any("ShippingAddress" not in p for p in payloads)
    assert any("Name" in p.get("ShippingAddress", {}) for p in payloads)
    assert any("OrderTotal" not in p for p in payloads)
    items = [i for o in orders for i in o.items]
    assert any(i["ItemPrice"]["Amount"] in ("0", "0.00") for i in items)
    assert any(i["SellerSKU"] == "MYSTERY-01" for i in items)
    jpy = next(i for o in orders for i in o.items if i["ItemPrice"]["CurrencyCode"] == "JPY")
    assert "." not in jpy["ItemPrice"]["Amount"]
    with pytest.raises(ValueError):
        sandbox.advance(orders[0].external_id, "complete")
