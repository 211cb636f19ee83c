"""The real JD connector against the JD sandbox over real HTTP."""
from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from litestar import Litestar

from server.channels.connectors.base import (
    ConnectorAuthError,
    ConnectorError,
    ConnectorTransientError,
    FulfillmentUpdate,
    InventoryUpdate,
    NormalizedStatus,
    PaymentStatus,
)
from server.channels.connectors.jd import CONNECTOR
from server.channels.connectors.jd.signing import signed_params
from server.channels.sandbox.base import DEMO_SKUS
from server.channels.sandbox.jd import Sandbox
from server.core import clock
from server.core.clock import format_beijing, parse_beijing
from tests.support.live_server import live_server

SEARCH = "jingdong.pop.order.search"


@pytest.fixture
async def env():
    sandbox = Sandbox(seed=23)
    async with live_server(Litestar(route_handlers=[sandbox.router()])) as base, \
            httpx.AsyncClient(timeout=10) as http:
        yield sandbox, base, http


def connector(env, page_size: int = 50, **credentials):
    sandbox, base, http = env
    c = CONNECTOR({"api_base_url": f"{base}/sandbox/jd/routerjson"}, {**sandbox.credentials, **credentials}, http)
    c.page_size, c.retry_delays = page_size, (0.01, 0.02)
    return c


async def pull(c, since, until) -> list:
    return [f async for batch in c.fetch_orders(since, until) for f in batch]


def searches(sandbox) -> list[dict]:
    return [json.loads(r["params"]["360buy_param_json"]) for r in sandbox.requests
            if r["params"].get("method") == SEARCH]


def bump(sandbox, order_id: str) -> bool:
    for event in ("pay", "ship", "complete", "refund", "cancel"):
        try:
            sandbox.advance(order_id, event)
            return True
        except ValueError:
            continue
    return False


async def test_pull_across_windows_and_pages(env):
    sandbox = env[0]
    t0 = clock.now().replace(microsecond=0) - timedelta(hours=10)
    ids = [o.external_id for i in range(40) for o in sandbox.generate(1, at=t0 + timedelta(minutes=5 * i + 1))]
    ids += [o.external_id for i in range(10) for o in sandbox.generate(1, at=t0 + timedelta(hours=7, minutes=i))]
    fetched = await pull(connector(env, page_size=15), t0, t0 + timedelta(hours=9))

    assert [f.error for f in fetched if f.error] == []
    assert sorted(f.external_id for f in fetched) == sorted(ids)
    for f in fetched:
        assert f.order.updated_at == sandbox.orders[f.external_id].updated_at and f.order.receiver.masked
    calls = searches(sandbox)
    first_window = [int(c["page"]) for c in calls if c["start_date"] == format_beijing(t0)]
    assert first_window == [1, 3, 2, 1]
    assert all(c["dateType"] == "0" and c["sortType"] == "1" and c["optional_fields"] for c in calls)
    assert all(parse_beijing(c["end_date"]) - parse_beijing(c["start_date"]) <= timedelta(hours=6) for c in calls)


async def test_backward_paging_never_misses_an_order_changing_during_the_pull(env):
    sandbox = env[0]
    t0 = clock.now().replace(microsecond=0) - timedelta(hours=8)
    window_end = t0 + timedelta(hours=6)
    ids = [o.external_id for i in range(60) for o in sandbox.generate(1, at=t0 + timedelta(minutes=5 * i + 1))]
    changed: list[str] = []

    def hook(sb, params):
        if params.get("method") == SEARCH and len(searches(sb)) in (3, 5):
            sb.set_now(window_end + timedelta(minutes=5 + len(changed)))
            bumped = 0
            for order in sb.listing(t0, window_end):      # newest first
                if bumped < 3 and bump(sb, order.external_id):
                    changed.append(order.external_id)
                    bumped += 1

    sandbox.on_request = hook
    c = connector(env, page_size=12)
    first = await pull(c, t0, window_end)
    sandbox.on_request = None
    assert len(changed) == 6
    assert set(ids) - set(changed) <= {f.external_id for f in first}
    second = await pull(c, window_end - c.overlap, window_end + timedelta(hours=1))
    versions = {(f.external_id, f.order.updated_at) for f in first + second}
    for order_id in ids:
        assert (order_id, sandbox.orders[order_id].updated_at) in versions


async def test_bad_credentials_are_auth_errors(env):
    now = clock.now()
    with pytest.raises(ConnectorAuthError, match="Invalid Signature"):
        await pull(connector(env, app_secret="wrong"), now - timedelta(hours=1), now)
    with pytest.raises(ConnectorAuthError, match="access_token"):
        await pull(connector(env, access_token="expired"), now - timedelta(hours=1), now)
    check = await connector(env, app_key="other").test_connection()
    assert not check.ok and "Invalid app_key" in check.message
    good = await connector(env).test_connection()
    assert good.ok and good.shop_name == "茶语京东旗舰店"


async def test_stale_timestamp_is_rejected(env):
    sandbox, base, http = env
    creds = sandbox.credentials
    stale = signed_params(method="jingdong.seller.vender.info.get", app_key=creds["app_key"],
                          secret=creds["app_secret"], access_token=creds["access_token"],
                          at=clock.now() - timedelta(minutes=7), business={})
    answer = (await http.post(f"{base}/sandbox/jd/routerjson", data=stale)).json()
    assert answer["error_response"]["code"] == "8"


async def test_window_longer_than_a_month_is_rejected_by_the_sandbox(env):
    now = clock.now()
    c = connector(env)
    c.window = timedelta(days=40)
    with pytest.raises(ConnectorError, match="一个月") as caught:
        await pull(c, now - timedelta(days=35), now)
    assert not isinstance(caught.value, ConnectorAuthError)


async def test_push_inventory_sets_stock_and_reports_each_sku(env):
    sandbox = env[0]
    tea, pot = (sandbox.catalog_ids(s) for s in (DEMO_SKUS[0], DEMO_SKUS[3]))
    results = await connector(env).push_inventory([
        InventoryUpdate(platform_product_id=tea[0], platform_sku_id=tea[1], quantity=12),
        InventoryUpdate(platform_product_id="1", platform_sku_id="424242", quantity=3),
        InventoryUpdate(platform_product_id=pot[0], platform_sku_id=pot[1], quantity=-2),
    ])
    assert [(r.key, r.ok) for r in results] == [(tea[1], True), ("424242", False), (pot[1], True)]
    assert "不存在" in results[1].error and not results[1].transient
    assert sandbox.inventory[tea[1]] == 12 and sandbox.inventory[pot[1]] == 0   # negatives clamp to zero


async def test_push_fulfillment(env):
    sandbox = env[0]
    paid = sandbox.generate(1, status="paid")[0]
    c = connector(env)
    result = await c.push_fulfillment(FulfillmentUpdate(paid.external_id, "467", "SF1122334455"))
    assert result.ok and sandbox.orders[paid.external_id].payload["orderState"] == "WAIT_GOODS_RECEIVE_CONFIRM"
    again = await c.push_fulfillment(FulfillmentUpdate(paid.external_id, "467", "SF1122334455"))
    assert not again.ok and "不能出库" in again.error
    split = await c.push_fulfillment(FulfillmentUpdate(paid.external_id, "467", "SF1", ["100012000000"]))
    assert not split.ok and "whole orders" in split.error
    fetched = await pull(c, clock.now() - timedelta(minutes=5), clock.now() + timedelta(minutes=1))
    [shipped] = [f.order for f in fetched if f.external_id == paid.external_id]
    assert shipped.status is NormalizedStatus.SHIPPED and shipped.tracking_numbers == ["SF1122334455"]
    assert sandbox.fulfillments[0]["carrier"] == "467"


async def test_cod_and_refunded_orders_over_the_wire(env):
    sandbox = env[0]
    cod = sandbox.generate(1, status="unpaid")[0]
    refunded = sandbox.generate(1, status="refunded")[0]
    fetched = {f.external_id: f.order for f in
               await pull(connector(env), clock.now() - timedelta(minutes=5), clock.now() + timedelta(minutes=1))}
    assert fetched[cod.external_id].payment_status is PaymentStatus.COD
    assert (fetched[refunded.external_id].status, fetched[refunded.external_id].payment_status) == (
        NormalizedStatus.CANCELLED, PaymentStatus.REFUNDED)


async def test_transient_errors_are_retried(env):
    sandbox = env[0]
    sandbox.fail_next = [(502, {"message": "bad gateway"}),
                         (200, {"error_response": {"code": "2", "zh_desc": "限制时间内调用失败次数",
                                                   "en_desc": "App Call Limited"}})]
    assert (await connector(env).test_connection()).ok and len(sandbox.requests) == 3
    sandbox.fail_next = [(503, {})] * 3
    with pytest.raises(ConnectorTransientError):
        await connector(env).call("jingdong.seller.vender.info.get")


async def test_control_endpoints(env):
    sandbox, base, http = env
    root = f"{base}/sandbox/jd/_sandbox"
    made = (await http.post(f"{root}/generate", json={"count": 1, "status": "paid"})).json()["ids"]
    assert (await http.post(f"{root}/orders/{made[0]}/ship")).json()["status"] == "WAIT_GOODS_RECEIVE_CONFIRM"
    refused = await http.post(f"{root}/orders/{made[0]}/partial_refund")
    assert refused.status_code == 409 and "per-line" in refused.text
    assert [o["id"] for o in (await http.get(f"{root}/orders")).json()["orders"]] == made
    assert sandbox.catalog_ids(DEMO_SKUS[0])[1] in (await http.get(f"{root}/inventory")).json()["inventory"]
