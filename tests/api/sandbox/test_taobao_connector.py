"""The real Taobao connector against the Taobao sandbox over real HTTP."""
from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from litestar import Litestar

from server.channels.connectors import _gateway
from server.channels.connectors.base import (
    ConnectorAuthError,
    ConnectorError,
    ConnectorTransientError,
    FulfillmentUpdate,
    InventoryUpdate,
    NormalizedStatus,
)
from server.channels.connectors.taobao import CONNECTOR
from server.channels.connectors.taobao.signing import signed_params
from server.channels.sandbox.base import DEMO_SKUS
from server.channels.sandbox.taobao import Sandbox
from server.core import clock
from server.core.clock import format_beijing
from tests.support.live_server import live_server

INCREMENT = "taobao.trades.sold.increment.get"


@pytest.fixture
async def env():
    sandbox = Sandbox(seed=11)
    async with live_server(Litestar(route_handlers=[sandbox.router()])) as base, \
            httpx.AsyncClient(timeout=10) as http:
        yield sandbox, base, http


def connector(env, page_size: int = 100, **credentials):
    sandbox, base, http = env
    c = CONNECTOR({"api_base_url": f"{base}/sandbox/taobao/router/rest"},
                  {**sandbox.credentials, **credentials}, http)
    c.page_size, c.retry_delays, c.max_retry_after = page_size, (0.01, 0.02), 0.05
    return c


async def pull(c, since, until) -> list:
    return [f async for batch in c.fetch_orders(since, until) for f in batch]


def increment_calls(sandbox) -> list[dict]:
    return [r["params"] for r in sandbox.requests if r["params"].get("method") == INCREMENT]


def bump(sandbox, order_id: str) -> bool:
    """Change an order in whatever way its status allows; False for a finished or closed one."""
    for event in ("pay", "ship", "complete", "refund", "cancel"):
        try:
            sandbox.advance(order_id, event)
            return True
        except ValueError:
            continue
    return False


async def test_pull_across_windows_and_pages(env):
    sandbox = env[0]
    t0 = clock.now().replace(microsecond=0) - timedelta(hours=3)
    ids = [o.external_id for i in range(55) for o in sandbox.generate(1, at=t0 + timedelta(seconds=20 * i + 5))]
    ids += [o.external_id for i in range(12) for o in sandbox.generate(1, at=t0 + timedelta(minutes=70 + i))]
    fetched = await pull(connector(env, page_size=20), t0, t0 + timedelta(hours=2))

    assert [f.error for f in fetched if f.error] == []
    assert sorted(f.external_id for f in fetched) == sorted(ids)          # every order, once
    by_id = {f.external_id: f.order for f in fetched}
    for order_id in ids:
        assert by_id[order_id].updated_at == sandbox.orders[order_id].updated_at
        assert by_id[order_id].lines and by_id[order_id].receiver.masked
    calls = increment_calls(sandbox)
    first_window = [int(c["page_no"]) for c in calls if c["start_modified"] == format_beijing(t0)]
    assert first_window == [1, 3, 2, 1]         # learn the total, then last page back to the first
    for c in calls:
        span = clock.parse_beijing(c["end_modified"]) - clock.parse_beijing(c["start_modified"])
        assert span <= timedelta(minutes=30)
    assert len({c["start_modified"] for c in calls}) == 4


async def _pull_while_orders_change(env, t0):
    """90 orders in one window, 5 pages; the three newest change (and leave the window) right after
    the first page is read, three more after the third page."""
    sandbox = env[0]
    ids = [o.external_id for i in range(90) for o in sandbox.generate(1, at=t0 + timedelta(seconds=15 * i + 10))]
    window_end = t0 + timedelta(minutes=30)
    changed: list[str] = []

    def hook(sb, params):
        if params.get("method") != INCREMENT:
            return
        if len(increment_calls(sb)) in (3, 5):
            sb.set_now(window_end + timedelta(minutes=5 + len(changed)))
            bumped = 0
            for order in sb.listing(t0, window_end):      # newest first
                if bumped < 3 and bump(sb, order.external_id):
                    changed.append(order.external_id)
                    bumped += 1

    sandbox.on_request = hook
    c = connector(env, page_size=20)
    first = await pull(c, t0, window_end)
    sandbox.on_request = None
    return sandbox, c, ids, changed, first


async def test_backward_paging_never_misses_an_order_changing_during_the_pull(env):
    t0 = clock.now().replace(microsecond=0) - timedelta(hours=2)
    sandbox, c, ids, changed, first = await _pull_while_orders_change(env, t0)
    assert len(changed) == 6
    seen_first = {f.external_id for f in first}
    assert set(ids) - set(changed) <= seen_first       # nothing that stayed in the window was skipped
    # the next run starts from the cursor less the overlap and sees the changed orders' new versions
    second = await pull(c, t0 + timedelta(minutes=30) - c.overlap, t0 + timedelta(hours=1))
    versions = {(f.external_id, f.order.updated_at) for f in first + second}
    for order_id in ids:
        assert (order_id, sandbox.orders[order_id].updated_at) in versions


async def test_forward_paging_would_have_missed_orders(env, monkeypatch):
    """Control for the test above: the same changes with first-to-last paging lose rows."""
    monkeypatch.setattr(_gateway, "backward_pages", lambda total, size: list(range(1, -(-total // size) + 1)))
    t0 = clock.now().replace(microsecond=0) - timedelta(hours=2)
    _sandbox, _c, ids, changed, first = await _pull_while_orders_change(env, t0)
    assert set(ids) - set(changed) - {f.external_id for f in first}


async def test_wrong_secret_or_session_is_an_auth_error(env):
    now = clock.now()
    with pytest.raises(ConnectorAuthError, match="Invalid signature"):
        await pull(connector(env, app_secret="not-the-secret"), now - timedelta(minutes=5), now)
    with pytest.raises(ConnectorAuthError, match="Invalid session"):
        await pull(connector(env, session="stale"), now - timedelta(minutes=5), now)
    check = await connector(env, app_key="someone-else").test_connection()
    assert not check.ok and "29" in check.message


async def test_hmac_signing_is_accepted(env):
    check = await connector(env, sign_method="hmac").test_connection()
    assert check.ok and check.shop_name == "茶语旗舰店"


async def test_stale_timestamp_and_missing_signature_are_rejected(env):
    sandbox, base, http = env
    creds = sandbox.credentials
    stale = signed_params(method="taobao.time.get", app_key=creds["app_key"], secret=creds["app_secret"],
                          session=creds["session"], sign_method="md5", business={},
                          timestamp=clock.now() - timedelta(minutes=11))
    answer = (await http.post(f"{base}/sandbox/taobao/router/rest", data=stale)).json()
    assert answer["error_response"]["code"] == 31
    fresh = {**stale, "timestamp": format_beijing(clock.now())}
    del fresh["sign"]
    answer = (await http.get(f"{base}/sandbox/taobao/router/rest", params=fresh)).json()
    assert answer["error_response"]["code"] == 24


async def test_window_larger_than_a_day_is_rejected_by_the_sandbox(env):
    now = clock.now()
    with pytest.raises(ConnectorError) as caught:
        await connector(env).call(INCREMENT, fields="tid", start_modified=format_beijing(now - timedelta(days=2)),
                                  end_modified=format_beijing(now))
    assert not isinstance(caught.value, ConnectorAuthError)
    assert caught.value.details["sub_code"] == "isv.invalid-parameter"


async def test_push_inventory_sets_stock_and_reports_each_sku(env):
    sandbox = env[0]
    tea, cup = (sandbox.catalog_ids(s) for s in DEMO_SKUS[:2])
    results = await connector(env).push_inventory([
        InventoryUpdate(platform_product_id=tea[0], platform_sku_id=tea[1], quantity=7),
        InventoryUpdate(platform_product_id="999", platform_sku_id="888", quantity=1),
        InventoryUpdate(platform_product_id=cup[0], platform_sku_id=cup[1], quantity=0),
    ])
    assert [(r.key, r.ok, r.transient) for r in results] == [(tea[1], True, False), ("888", False, False),
                                                             (cup[1], True, False)]
    assert "isv.item-not-exist" in results[1].error
    assert sandbox.inventory[tea[1]] == 7 and sandbox.inventory[cup[1]] == 0
    assert [e["quantity"] for e in sandbox.inventory_log] == [7, 0]


async def test_push_fulfillment_ships_the_trade(env):
    sandbox = env[0]
    whole = sandbox.generate(1, status="paid")[0]
    split = sandbox.generate(1, status="paid", lines=2, gift=False)[0]
    c = connector(env)
    result = await c.push_fulfillment(FulfillmentUpdate(whole.external_id, "SF", "SF1234567890"))
    assert result.ok and sandbox.orders[whole.external_id].payload["status"] == "WAIT_BUYER_CONFIRM_GOODS"
    again = await c.push_fulfillment(FulfillmentUpdate(whole.external_id, "SF", "SF1234567890"))
    assert not again.ok and "订单状态不允许发货" in again.error
    oid = split.payload["orders"]["order"][0]["oid_str"]
    part = await c.push_fulfillment(FulfillmentUpdate(split.external_id, "YTO", "YT9876543210", [oid]))
    assert part.ok
    fetched = (await pull(c, clock.now() - timedelta(minutes=5), clock.now() + timedelta(minutes=1)))
    status = {f.external_id: f.order.status for f in fetched}
    assert status[split.external_id] is NormalizedStatus.PARTIALLY_SHIPPED
    assert [f["tracking_number"] for f in sandbox.fulfillments] == ["SF1234567890", "YT9876543210"]


async def test_transient_errors_are_retried(env):
    sandbox = env[0]
    sandbox.fail_next = [
        (503, {"message": "upstream busy"}),
        (200, {"error_response": {"code": 7, "msg": "App Call Limited",
                                  "sub_code": "accesscontrol.limited-by-app-access-count",
                                  "sub_msg": "This ban will last for 1 more seconds"}}),
    ]
    check = await connector(env).test_connection()
    assert check.ok and len(sandbox.requests) == 3
    sandbox.fail_next = [(200, {"error_response": {"code": 15, "msg": "Remote service error",
                                                   "sub_code": "isp.top-remote-connection-timeout"}})] * 3
    with pytest.raises(ConnectorTransientError):
        await connector(env).call("taobao.user.seller.get", fields="nick")


async def test_unmappable_trade_is_yielded_with_its_reason(env):
    sandbox = env[0]
    order = sandbox.generate(1, status="paid")[0]
    order.payload["status"] = "SOMETHING_NEW"
    fetched = await pull(connector(env), clock.now() - timedelta(minutes=5), clock.now() + timedelta(minutes=1))
    assert len(fetched) == 1 and fetched[0].order is None and "SOMETHING_NEW" in fetched[0].error
    assert fetched[0].raw["tid_str"] == order.external_id


async def test_control_endpoints(env):
    sandbox, base, http = env
    root = f"{base}/sandbox/taobao/_sandbox"
    made = (await http.post(f"{root}/generate", json={"count": 2, "status": "paid", "skus": ["TEA-LJ-250"]})).json()
    assert len(made["ids"]) == 2
    moved = await http.post(f"{root}/orders/{made['ids'][0]}/ship")
    assert moved.status_code == 200 and moved.json()["status"] == "WAIT_BUYER_CONFIRM_GOODS"
    assert (await http.post(f"{root}/orders/{made['ids'][0]}/pay")).status_code == 409
    assert (await http.post(f"{root}/orders/nope/pay")).status_code == 404
    assert (await http.post(f"{root}/generate", json={"count": 1, "status": "lost"})).status_code == 400
    listed = (await http.get(f"{root}/orders")).json()["orders"]
    assert {o["id"] for o in listed} == set(made["ids"])
    stock = (await http.get(f"{root}/inventory")).json()
    assert stock["inventory"][sandbox.catalog_ids(DEMO_SKUS[0])[1]] == 100 and stock["log"] == []


async def test_a_trade_whose_fullinfo_fails_is_kept_as_an_error_row(env):
    sandbox = env[0]
    broken, fine = (o.external_id for o in sandbox.generate(2, status="paid"))

    def hook(sb, params):
        if params.get("method") == "taobao.trade.fullinfo.get" and params.get("tid") == broken:
            sb.fail_next.append((200, {"error_response": {"code": 15, "msg": "Remote service error",
                                                          "sub_code": "isv.trade-not-exist", "sub_msg": "交易不存在"}}))

    sandbox.on_request = hook
    fetched = {f.external_id: f for f in
               await pull(connector(env), clock.now() - timedelta(minutes=5), clock.now() + timedelta(minutes=1))}
    assert fetched[fine].order is not None
    assert fetched[broken].order is None and "isv.trade-not-exist" in fetched[broken].error
    assert str(fetched[broken].raw["tid"]) == broken and "orders" not in fetched[broken].raw   # the listing row
