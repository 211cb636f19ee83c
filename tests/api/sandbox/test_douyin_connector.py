"""The real Douyin connector against the Douyin sandbox over real HTTP."""
from __future__ import annotations

import hashlib
import json
import time
from datetime import timedelta

import httpx
import pytest
from litestar import Litestar

from server.channels.connectors import registry
from server.channels.connectors.base import (
    ConnectorAuthError,
    ConnectorError,
    ConnectorTransientError,
    FulfillmentUpdate,
    InventoryUpdate,
    NormalizedStatus,
)
from server.channels.connectors.douyin import CONNECTOR
from server.channels.sandbox.douyin import Sandbox
from server.core import clock
from tests.support.live_server import live_server

SEARCH = "order.searchList"


@pytest.fixture
async def env():
    sandbox = Sandbox(seed=7)
    async with live_server(Litestar(route_handlers=[sandbox.router()])) as base, \
            httpx.AsyncClient(timeout=10) as http:
        yield sandbox, base, http


def connector(env, page_size: int = 100, **credentials):
    sandbox, base, http = env
    c = CONNECTOR({"api_base_url": f"{base}/sandbox/douyin", "shop_id": sandbox.credentials["shop_id"]},
                  {**sandbox.credentials, **credentials}, http)
    c.page_size, c.retry_base, c.max_retry_wait = page_size, 0.01, 0.05
    return c


async def pull(c, since, until) -> list:
    return [f async for batch in c.fetch_orders(since, until) for f in batch]


def searches(sandbox) -> list[dict]:
    return [json.loads(r["param_json"]) for r in sandbox.requests if r["method"] == SEARCH]


def sign_md5(secret: str, query: dict, param_json: str) -> str:
    pattern = (f"{secret}app_key{query['app_key']}method{query['method']}param_json{param_json}"
               f"timestamp{query['timestamp']}v2{secret}")
    return hashlib.md5(pattern.encode()).hexdigest()


def test_registry_finds_the_connector():
    assert registry.get("douyin") is CONNECTOR
    assert CONNECTOR.platform == "douyin"
    assert {f.name for f in CONNECTOR.config_fields} >= {"app_key", "app_secret", "access_token", "shop_id",
                                                         "api_base_url"}
    assert {f.name for f in CONNECTOR.config_fields if f.secret} == {"app_secret", "access_token"}


async def test_multi_page_pull_reads_every_order_once_last_page_first(env):
    sandbox, *_ = env
    now = clock.now()
    sandbox.generate(35, at=now - timedelta(minutes=5))
    got = await pull(connector(env, page_size=10), now - timedelta(hours=1), now)
    assert sorted(f.external_id for f in got) == sorted(sandbox.orders)
    assert all(f.order is not None and f.error is None for f in got)
    pages = [p["page"] for p in searches(sandbox)]
    assert pages == [0, 3, 2, 1, 0]       # probe for the total, then from the last page back to the first
    first = searches(sandbox)[0]
    assert first["order_by"] == "update_time" and first["size"] == 10
    assert first["update_time_end"] - first["update_time_start"] <= 24 * 3600


async def test_busy_windows_are_split(env):
    sandbox, *_ = env
    now = clock.now()
    for minutes in range(30):
        sandbox.generate(1, at=now - timedelta(minutes=minutes + 1))
    c = connector(env, page_size=5)
    c.max_window_results = 8
    got = await pull(c, now - timedelta(hours=1), now)
    assert sorted(f.external_id for f in got) == sorted(sandbox.orders)
    assert len({(s["update_time_start"], s["update_time_end"]) for s in searches(sandbox)}) > 2


async def test_payload_maps_over_http(env):
    sandbox, *_ = env
    now = clock.now()
    [order] = sandbox.generate(1, status="shipped", at=now - timedelta(minutes=1))
    [fetched] = await pull(connector(env), now - timedelta(hours=1), now + timedelta(minutes=1))
    assert fetched.raw["order_id"] == order.external_id
    mapped = fetched.order
    assert mapped.status is NormalizedStatus.SHIPPED and mapped.currency == "CNY"
    assert mapped.receiver.masked and "*" in mapped.receiver.name and "*" in mapped.receiver.phone
    assert mapped.tracking_numbers and all(line.sku_code for line in mapped.lines)
    assert mapped.paid_total == order.payload["pay_amount"]


async def test_an_order_updated_during_paging_is_seen_at_its_latest_version(env):
    sandbox, *_ = env
    now = clock.now()
    sandbox.generate(25, status="paid", at=now - timedelta(minutes=5))
    oldest = min(sandbox.orders.values(), key=lambda o: (o.payload["update_time"], o.external_id)).external_id
    c = connector(env, page_size=10)
    first_run: list = []
    async for batch in c.fetch_orders(now - timedelta(hours=1), now):
        if not first_run:
            # it sits on page 0, which is read last; shipping it moves it out of this window
            sandbox.set_now(now + timedelta(seconds=5))
            sandbox.advance(oldest, "ship")
            sandbox.set_now(None)
        first_run.extend(batch)
    assert set(sandbox.orders) - {f.external_id for f in first_run} <= {oldest}
    second_run = await pull(c, now - c.overlap, now + timedelta(minutes=1))
    latest = [f for f in first_run + second_run if f.external_id == oldest]
    assert latest[-1].order.status is NormalizedStatus.SHIPPED
    assert {f.external_id for f in first_run + second_run} == set(sandbox.orders)


async def test_md5_signing_is_accepted_too(env):
    sandbox, *_ = env
    sandbox.generate(2)
    c = connector(env)
    c.sign_method = "md5"
    assert len(await pull(c, clock.now() - timedelta(hours=2), clock.now() + timedelta(minutes=1))) == 2


@pytest.mark.parametrize("bad", [{"app_secret": "wrong"}, {"access_token": "expired-token"}, {"app_key": "nope"}])
async def test_bad_credentials_are_auth_errors(env, bad):
    with pytest.raises(ConnectorAuthError):
        await pull(connector(env, **bad), clock.now() - timedelta(hours=1), clock.now())


async def test_the_gateway_rejects_unsorted_param_json(env):
    sandbox, base, http = env
    creds = sandbox.credentials
    query = {"app_key": creds["app_key"], "method": SEARCH, "v": "2", "access_token": creds["access_token"],
             "timestamp": str(clock.to_unix(clock.now())), "sign_method": "md5"}
    url = f"{base}/sandbox/douyin/order/searchList"
    for body, code in (('{"size":10,"page":0}', 40003), ('{"page":0,"size":10}', 10000)):
        resp = await http.post(url, params={**query, "sign": sign_md5(creds["app_secret"], query, body)}, content=body)
        answer = resp.json()
        assert answer["code"] == code and set(answer) == {"code", "msg", "sub_code", "sub_msg", "data", "log_id"}
    assert answer["data"]["total"] == 0


async def test_stale_timestamp_is_rejected(env):
    sandbox, *_ = env
    sandbox.set_now(clock.now() + timedelta(minutes=30))
    with pytest.raises(ConnectorError, match=r"isv\.timestamp-invalid"):
        await pull(connector(env), clock.now() - timedelta(hours=1), clock.now())


async def test_throttling_and_server_errors_are_retried(env):
    sandbox, *_ = env
    sandbox.generate(3)
    sandbox.fail_next.append((200, {"code": 60000, "msg": "触发限流，请稍后重试", "sub_code": "isv.flow-limit",
                                    "sub_msg": "", "data": None, "log_id": "x"}))
    sandbox.fail_next.append((502, {"message": "bad gateway"}))
    got = await pull(connector(env), clock.now() - timedelta(hours=2), clock.now() + timedelta(minutes=1))
    assert len(got) == 3


async def test_persistent_throttling_gives_up_with_a_transient_error(env):
    sandbox, *_ = env
    throttled = {"code": 60000, "msg": "触发限流，请稍后重试", "sub_code": "", "sub_msg": "", "data": None, "log_id": "x"}
    sandbox.fail_next.extend([(200, throttled)] * 10)
    c = connector(env)
    with pytest.raises(ConnectorTransientError):
        await pull(c, clock.now() - timedelta(hours=1), clock.now())
    assert len(sandbox.fail_next) == 10 - c.max_attempts


async def test_sandbox_throttle_is_waited_out(env):
    sandbox, *_ = env
    sandbox.rate_limit = (20.0, 1)
    sandbox._bucket = (0.0, time.monotonic())      # the burst was just used up
    assert (await connector(env).test_connection()).ok
    assert len([r for r in sandbox.requests if r["method"] == "shop.getShopCategory"]) > 1


async def test_push_inventory_reports_the_bad_sku_and_applies_the_others(env):
    sandbox, *_ = env
    by_code = {e["code"]: e for e in sandbox.catalogue.values()}
    tea, cup = by_code["TEA-LJ-250"], by_code["CUP-CER-01"]
    results = await connector(env).push_inventory([
        InventoryUpdate(tea["product_id"], tea["sku_id"], 12, sku_code="TEA-LJ-250"),
        InventoryUpdate("3658000000000099999", "1737398770249999", 5, sku_code="NOPE"),
        InventoryUpdate("", "", 0, sku_code="CUP-CER-01"),
    ])
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].key == "1737398770249999" and "不存在" in (results[1].error or "") and not results[1].transient
    assert sandbox.inventory[tea["sku_id"]] == 12 and sandbox.inventory[cup["sku_id"]] == 0
    assert [(e["code"], e["stock_num"], e["incremental"]) for e in sandbox.inventory_log] == [
        ("TEA-LJ-250", 12, False), ("CUP-CER-01", 0, False)]


async def test_push_fulfillment_ships_the_order(env):
    sandbox, *_ = env
    [order] = sandbox.generate(1, status="paid")
    c = connector(env)
    result = await c.push_fulfillment(FulfillmentUpdate(order.external_id, "shunfeng", "SF1400000000001"))
    assert result.ok, result.error
    assert sandbox.orders[order.external_id].payload["order_status"] == 3
    assert sandbox.fulfillments[-1]["logistics_code"] == "SF1400000000001"
    fetched = await c.get_order(order.external_id)
    assert fetched.order.status is NormalizedStatus.SHIPPED and fetched.order.tracking_numbers == ["SF1400000000001"]
    again = await c.push_fulfillment(FulfillmentUpdate(order.external_id, "shunfeng", "SF1400000000002"))
    assert not again.ok and not again.transient


async def test_unreadable_order_is_kept_raw_with_the_reason(env):
    sandbox, *_ = env
    [order] = sandbox.generate(1)
    order.payload["order_status"] = 77
    [fetched] = await pull(connector(env), clock.now() - timedelta(hours=2), clock.now() + timedelta(minutes=1))
    assert fetched.order is None and "77" in fetched.error and fetched.raw["order_id"] == order.external_id


async def test_connection_check(env):
    assert (await connector(env).test_connection()).ok
    check = await connector(env, access_token="revoked").test_connection()
    assert not check.ok and "access-token" in check.message


async def test_control_endpoints(env):
    sandbox, base, http = env
    root = f"{base}/sandbox/douyin/_sandbox"
    resp = await http.post(f"{root}/generate", json={"count": 2, "status": "unpaid", "skus": ["TEA-PE-357"]})
    assert resp.status_code == 201
    ids = resp.json()["ids"]
    assert len(ids) == 2 and all(sandbox.orders[i].payload["order_status"] == 1 for i in ids)
    assert (await http.post(f"{root}/orders/{ids[0]}/pay")).json()["order_status"] == 2
    assert (await http.post(f"{root}/orders/{ids[1]}/complete")).status_code == 409
    assert (await http.post(f"{root}/orders/0/pay")).status_code == 404
    listed = (await http.get(f"{root}/orders")).json()["orders"]
    assert {o["order_id"] for o in listed} == set(ids)
    stock = (await http.get(f"{root}/inventory")).json()
    assert {row["code"] for row in stock["inventory"]} >= {"TEA-LJ-250", "MYSTERY-01"} and stock["log"] == []


def test_generator_and_life_cycle():
    sandbox = Sandbox(seed=3)
    orders = sandbox.generate(60)
    statuses = {o.payload["order_status"] for o in orders}
    assert statuses == {1, 2}
    codes = {s["code"] for o in orders for s in o.payload["sku_order_list"]}
    assert "MYSTERY-01" in codes
    assert any(s["goods_price"] == 0 and s["given_product_type"] == "FREE" for o in orders
               for s in o.payload["sku_order_list"])
    paid = next(o for o in orders if o.payload["order_status"] == 2 and len(o.payload["sku_order_list"]) >= 2)
    before = paid.payload["update_time"]
    sandbox.advance(paid.external_id, "partial_refund")
    assert paid.payload["update_time"] > before
    sandbox.advance(paid.external_id, "ship")
    sandbox.advance(paid.external_id, "complete")
    with pytest.raises(ValueError):
        sandbox.advance(paid.external_id, "ship")
    unpaid = next(o for o in orders if o.payload["order_status"] == 1)
    with pytest.raises(ValueError):
        sandbox.advance(unpaid.external_id, "refund")
    sandbox.advance(unpaid.external_id, "cancel")
    assert unpaid.payload["order_status"] == 4
