"""The real Pinduoduo connector against the Pinduoduo sandbox over real HTTP."""
from __future__ import annotations

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
from server.channels.connectors.pinduoduo import CONNECTOR
from server.channels.connectors.pinduoduo.signing import signed_params
from server.channels.sandbox.base import DEMO_SKUS
from server.channels.sandbox.pinduoduo import Sandbox
from server.core import clock
from server.core.clock import to_unix
from tests.support.live_server import live_server

INCREMENT = "pdd.order.number.list.increment.get"


@pytest.fixture
async def env():
    sandbox = Sandbox(seed=31)
    async with live_server(Litestar(route_handlers=[sandbox.router()])) as base, \
            httpx.AsyncClient(timeout=10) as http:
        yield sandbox, base, http


def connector(env, page_size: int = 100, **credentials):
    sandbox, base, http = env
    c = CONNECTOR({"api_base_url": f"{base}/sandbox/pinduoduo/api/router"},
                  {**sandbox.credentials, **credentials}, http)
    c.page_size, c.retry_delays = page_size, (0.01, 0.02)
    return c


async def pull(c, since, until) -> list:
    return [f async for batch in c.fetch_orders(since, until) for f in batch]


def increments(sandbox) -> list[dict]:
    return [r["params"] for r in sandbox.requests if r["params"].get("type") == INCREMENT]


def bump(sandbox, order_id: str) -> bool:
    for event in ("pay", "ship", "deliver", "complete", "refund", "cancel"):
        try:
            sandbox.advance(order_id, event)
            return True
        except ValueError:
            continue
    return False


async def test_pull_across_windows_and_pages(env):
    sandbox = env[0]
    t0 = clock.now().replace(microsecond=0) - timedelta(hours=3)
    ids = [o.external_id for i in range(45) for o in sandbox.generate(1, at=t0 + timedelta(seconds=30 * i + 5))]
    ids += [o.external_id for i in range(8) for o in sandbox.generate(1, at=t0 + timedelta(minutes=65 + i))]
    fetched = await pull(connector(env, page_size=20), t0, t0 + timedelta(minutes=80))

    assert [f.error for f in fetched if f.error] == []
    assert sorted(f.external_id for f in fetched) == sorted(ids)
    for f in fetched:
        assert f.order.updated_at == sandbox.orders[f.external_id].updated_at
    calls = increments(sandbox)
    assert [int(c["page"]) for c in calls if c["start_updated_at"] == str(to_unix(t0))] == [1, 3, 2, 1]
    assert all(int(c["end_updated_at"]) - int(c["start_updated_at"]) <= 1800 for c in calls)
    assert all(c["order_status"] == "5" and c["refund_status"] == "5" for c in calls)
    assert len({c["start_updated_at"] for c in calls}) == 3


async def test_backward_paging_never_misses_an_order_changing_during_the_pull(env):
    sandbox = env[0]
    t0 = clock.now().replace(microsecond=0) - timedelta(hours=2)
    window_end = t0 + timedelta(minutes=30)
    ids = [o.external_id for i in range(70) for o in sandbox.generate(1, at=t0 + timedelta(seconds=20 * i + 10))]
    changed: list[str] = []

    def hook(sb, params):
        if params.get("type") == INCREMENT and len(increments(sb)) in (3, 5):
            sb.set_now(window_end + timedelta(minutes=5 + len(changed)))
            bumped = 0
            for order in sb.listing(t0, window_end):      # newest first
                if bumped < 3 and bump(sb, order.external_id):
                    changed.append(order.external_id)
                    bumped += 1

    sandbox.on_request = hook
    c = connector(env, page_size=15)
    first = await pull(c, t0, window_end)
    sandbox.on_request = None
    assert len(changed) == 6
    assert set(ids) - set(changed) <= {f.external_id for f in first}
    second = await pull(c, window_end - c.overlap, window_end + timedelta(minutes=30))
    versions = {(f.external_id, f.order.updated_at) for f in first + second}
    for order_id in ids:
        assert (order_id, sandbox.orders[order_id].updated_at) in versions


async def test_bad_credentials_are_auth_errors(env):
    now = clock.now()
    with pytest.raises(ConnectorAuthError, match="签名验证失败"):
        await pull(connector(env, client_secret="wrong"), now - timedelta(minutes=10), now)
    with pytest.raises(ConnectorAuthError, match="access_token"):
        await pull(connector(env, access_token="expired"), now - timedelta(minutes=10), now)
    check = await connector(env, client_id="42").test_connection()
    assert not check.ok and "10016" in check.message
    good = await connector(env).test_connection()
    assert good.ok and good.shop_name == "茶语小铺"


async def test_stale_timestamp_and_form_posts(env):
    sandbox, base, http = env
    creds = sandbox.credentials

    def params(at):
        return signed_params(method="pdd.mall.info.get", client_id=creds["client_id"], secret=creds["client_secret"],
                             access_token=creds["access_token"], at=at, business={})

    stale = (await http.post(f"{base}/sandbox/pinduoduo/api/router", json=params(clock.now() - timedelta(minutes=11))))
    assert stale.json()["error_response"]["error_code"] == 10001
    as_form = await http.post(f"{base}/sandbox/pinduoduo/api/router", data=params(clock.now()))
    assert as_form.json()["mall_info_get_response"]["mall_name"] == "茶语小铺"


async def test_window_longer_than_30_minutes_is_rejected_by_the_sandbox(env):
    now = clock.now()
    c = connector(env)
    c.window = timedelta(minutes=45)
    with pytest.raises(ConnectorError, match="30分钟") as caught:
        await pull(c, now - timedelta(hours=1), now)
    assert not isinstance(caught.value, ConnectorAuthError | ConnectorTransientError)


async def test_push_inventory_sets_stock_and_reports_each_sku(env):
    sandbox = env[0]
    tea, kettle = (sandbox.catalog_ids(s) for s in (DEMO_SKUS[0], DEMO_SKUS[4]))
    results = await connector(env).push_inventory([
        InventoryUpdate(platform_product_id=tea[0], platform_sku_id=tea[1], quantity=9),
        InventoryUpdate(platform_product_id=kettle[0], platform_sku_id=tea[1], quantity=1),   # wrong pairing
        InventoryUpdate(platform_product_id=kettle[0], platform_sku_id=kettle[1], quantity=4),
    ])
    assert [(r.key, r.ok) for r in results] == [(tea[1], True), (tea[1], False), (kettle[1], True)]
    assert "不存在" in results[1].error
    assert sandbox.inventory[tea[1]] == 9 and sandbox.inventory[kettle[1]] == 4
    assert [(e["platform_sku_id"], e["mode"]) for e in sandbox.inventory_log] == [(tea[1], "full"), (kettle[1], "full")]


async def test_push_fulfillment_ships_and_masks(env):
    sandbox = env[0]
    paid = sandbox.generate(1, status="paid")[0]
    forming = sandbox.generate(1, status="unpaid")[0]
    c = connector(env)
    assert "*" not in paid.payload["receiver_phone"]
    assert (await c.push_fulfillment(FulfillmentUpdate(paid.external_id, "115", "SF9988776655"))).ok
    assert paid.payload["order_status"] == 2 and "*" in paid.payload["receiver_phone"]
    refused = await c.push_fulfillment(FulfillmentUpdate(forming.external_id, "115", "SF1"))
    assert not refused.ok and "不允许发货" in refused.error
    fetched = {f.external_id: f.order for f in
               await pull(c, clock.now() - timedelta(minutes=5), clock.now() + timedelta(minutes=1))}
    assert fetched[paid.external_id].status is NormalizedStatus.SHIPPED
    assert fetched[paid.external_id].receiver.masked
    assert (fetched[forming.external_id].status, fetched[forming.external_id].payment_status) == (
        NormalizedStatus.PENDING_PAYMENT, PaymentStatus.PAID)
    assert sandbox.fulfillments[0]["tracking_number"] == "SF9988776655"


async def test_transient_errors_are_retried(env):
    sandbox = env[0]
    sandbox.fail_next = [(500, {}), (200, {"error_response": {"error_code": 70031, "error_msg": "调用过于频繁"}})]
    assert (await connector(env).test_connection()).ok and len(sandbox.requests) == 3
    sandbox.fail_next = [(200, {"error_response": {"error_code": 52001, "error_msg": "系统异常"}})] * 3
    with pytest.raises(ConnectorTransientError):
        await connector(env).call("pdd.mall.info.get")


async def test_control_endpoints(env):
    _sandbox, base, http = env
    root = f"{base}/sandbox/pinduoduo/_sandbox"
    made = (await http.post(f"{root}/generate", json={"count": 3, "status": "shipped", "lines": 2})).json()["ids"]
    assert len(made) == 3
    assert (await http.post(f"{root}/orders/{made[0]}/deliver")).json()["status"].startswith("order_status=3")
    assert (await http.post(f"{root}/orders/{made[1]}/partial_refund")).status_code == 409
    assert (await http.post(f"{root}/generate", json={"status": "partially_refunded"})).status_code == 400
    listed = (await http.get(f"{root}/orders")).json()["orders"]
    assert {o["id"] for o in listed} == set(made)
    assert (await http.get(f"{root}/inventory")).json()["fulfillments"] == []
