"""GraphQL orders end to end over HTTP with API keys: create (idempotent, validated), read, filter and
page, the order commands, money formatting, PII masking, roles and tenant isolation."""
from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from server.catalog import service as catalog
from server.channels import service as channels
from server.core import db
from server.core.actor import system
from server.orders import service as orders
from server.orders.service import LineInput, OrderInput, ReceiverInput
from tests.support.graphql import gql

ORDER_FIELDS = """
  id orderNumber externalId channel { id platform name } status paymentStatus platformStatus holdReasons tags
  buyerName buyerNote placedAt paidAt updatedAt currency
  total { amount currency minorUnits } itemsTotal { amount minorUnits } shippingFee { amount minorUnits }
  discountTotal { amount minorUnits } refundedTotal { amount minorUnits }
  receiver { name phone countryCode province city district address postcode }
  lines { id sku platformSku title quantity unitPrice { amount currency minorUnits }
          discount { amount minorUnits } refundedQuantity }
  events { at kind fromStatus toStatus actor message }
  notes { at author body }
"""
ORDER_CREATE = f"""mutation($input: OrderCreateInput!) {{
  orderCreate(input: $input) {{ order {{ {ORDER_FIELDS} }} created errors {{ code field message }} }} }}"""
ORDER = f"query($id: ID!) {{ order(id: $id) {{ {ORDER_FIELDS} }} }}"
ORDERS = """query($filter: OrderFilterInput, $first: Int, $after: String) {
  orders(filter: $filter, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { id externalId status placedAt channel { id platform }
                          receiver { phone address } lines { sku quantity } } } } }"""
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)



async def world(merchant) -> dict:
    actor = system(merchant["id"], "test")
    await catalog.create_sku(actor, {"code": "TEA-LJ-250", "name": "Longjing 250g", "list_price": "168.00"})
    await catalog.create_sku(actor, {"code": "CUP-CER-01", "name": "Cup", "list_price": "45.50"})
    web = await channels.create_channel(actor, platform="website", name="Web")
    pos = await channels.create_channel(actor, platform="pos", name="Store")
    return {"actor": actor, "web": web, "pos": pos}


def create_input(channel_id, ext="W-1001", **kw) -> dict:
    data = {
        "channel": str(channel_id), "externalId": ext, "currency": "CNY", "paid": True,
        "placedAt": "2026-11-20T10:30:00+08:00", "shippingFee": "10.00", "buyerNote": "please gift wrap",
        "receiver": {"name": "李四", "phone": "13900001111", "countryCode": "CN", "province": "浙江省",
                     "city": "杭州市", "district": "西湖区", "address": "文三路 1 号", "postcode": "310000"},
        "lines": [{"sku": "TEA-LJ-250", "quantity": 2}, {"sku": "CUP-CER-01", "quantity": 1, "unitPrice": "40"}],
    }
    data.update(kw)
    return data


async def test_order_create_returns_the_order_and_reads_back(client, merchant, api_key):
    w = await world(merchant)
    _, key = await api_key(merchant, "admin", name="shop site")
    body = await gql(client, ORDER_CREATE, key, {"input": create_input(w["web"]["id"], idempotencyKey="k-1")})
    assert "errors" not in body, body
    result = body["data"]["orderCreate"]
    assert result["errors"] == [] and result["created"] is True
    o = result["order"]
    assert o["id"].isdigit() and o["externalId"] == "W-1001" and o["orderNumber"].startswith("SO")
    assert o["channel"] == {"id": str(w["web"]["id"]), "platform": "website", "name": "Web"}
    assert o["status"] == "awaiting_review" and o["paymentStatus"] == "paid"
    assert o["placedAt"].startswith("2026-11-20T02:30:00") and o["buyerNote"] == "please gift wrap"
    assert o["total"] == {"amount": "386.00", "currency": "CNY", "minorUnits": 38600}  # 2×168 + 40 + 10
    assert o["itemsTotal"] == {"amount": "376.00", "minorUnits": 37600}
    assert o["shippingFee"] == {"amount": "10.00", "minorUnits": 1000}
    assert o["discountTotal"] == {"amount": "0.00", "minorUnits": 0}
    assert o["receiver"] == {"name": "李四", "phone": "+8613900001111", "countryCode": "CN", "province": "浙江省",
                             "city": "杭州市", "district": "西湖区", "address": "文三路 1 号", "postcode": "310000"}
    tea, cup = o["lines"]
    assert tea["sku"] == "TEA-LJ-250" and tea["platformSku"] == "TEA-LJ-250" and tea["quantity"] == 2
    assert tea["title"] == "Longjing 250g" and tea["refundedQuantity"] == 0
    assert tea["unitPrice"] == {"amount": "168.00", "currency": "CNY", "minorUnits": 16800}
    assert cup["unitPrice"]["amount"] == "40.00" and cup["discount"] == {"amount": "0.00", "minorUnits": 0}
    assert [e["kind"] for e in o["events"]] == ["created"] and o["events"][0]["toStatus"] == "awaiting_review"
    assert o["notes"] == []

    by_id = (await gql(client, ORDER, key, {"id": o["id"]}))["data"]["order"]
    by_number = (await gql(client, ORDER, key, {"id": o["orderNumber"]}))["data"]["order"]
    assert by_id == o and by_number == o
    assert (await gql(client, ORDER, key, {"id": "no-such-order"}))["data"]["order"] is None
    assert (await gql(client, ORDER, key, {"id": "9" * 25}))["data"]["order"] is None


async def test_the_same_idempotency_key_returns_the_same_order(client, merchant, api_key):
    w = await world(merchant)
    _, key = await api_key(merchant, "admin")
    variables = {"input": create_input(w["web"]["id"], idempotencyKey="retry-7")}
    first = (await gql(client, ORDER_CREATE, key, variables))["data"]["orderCreate"]
    second = (await gql(client, ORDER_CREATE, key, variables))["data"]["orderCreate"]
    assert first["created"] is True and second["created"] is False and second["errors"] == []
    assert second["order"]["id"] == first["order"]["id"]
    assert await db.fetchval("SELECT count(*) FROM sales_order") == 1
    # another key for the same external id is a duplicate, reported on the field
    third = (await gql(client, ORDER_CREATE, key, {"input": create_input(w["web"]["id"], idempotencyKey="other")}))
    result = third["data"]["orderCreate"]
    assert result["order"] is None and [(e["code"], e["field"]) for e in result["errors"]] == [
        ("duplicate_order", "externalId")]


async def test_ten_concurrent_requests_with_one_key_make_one_order(client, merchant, api_key):
    w = await world(merchant)
    _, key = await api_key(merchant, "admin")
    variables = {"input": create_input(w["web"]["id"], ext="W-RACE", idempotencyKey="race-1")}
    bodies = await asyncio.gather(*(gql(client, ORDER_CREATE, key, variables) for _ in range(10)))
    results = [b["data"]["orderCreate"] for b in bodies]
    assert all(r["errors"] == [] for r in results), results
    assert len({r["order"]["id"] for r in results}) == 1
    assert sum(r["created"] for r in results) == 1
    assert await db.fetchval("SELECT count(*) FROM sales_order") == 1
    assert await db.fetchval("SELECT count(*) FROM order_line") == 2


async def test_validation_errors_name_their_fields(client, merchant, api_key):
    w = await world(merchant)
    _, key = await api_key(merchant, "admin")
    bad = create_input(w["web"]["id"], externalId=" ", shippingFee="ten", receiver={"name": "", "phone": "1"},
                       lines=[{"sku": "NOPE", "quantity": 1}, {"sku": "TEA-LJ-250", "quantity": 0},
                              {"sku": "CUP-CER-01", "quantity": 1, "unitPrice": "12,50"}])
    result = (await gql(client, ORDER_CREATE, key, {"input": bad}))["data"]["orderCreate"]
    assert result["order"] is None and result["created"] is None
    got = {(e["field"], e["code"]) for e in result["errors"]}
    assert got == {("externalId", "required"), ("lines.0.sku", "unknown_sku"), ("lines.1.quantity", "invalid"),
                   ("lines.2.unitPrice", "invalid_amount"), ("shippingFee", "invalid_amount"),
                   ("receiver.name", "required")}
    assert all(e["message"] for e in result["errors"])
    empty = (await gql(client, ORDER_CREATE, key, {"input": create_input(w["web"]["id"], lines=[])}))
    assert [(e["field"], e["code"]) for e in empty["data"]["orderCreate"]["errors"]] == [("lines", "required")]
    no_receiver = {k: v for k, v in create_input(w["web"]["id"]).items() if k != "receiver"}
    result = (await gql(client, ORDER_CREATE, key, {"input": no_receiver}))["data"]["orderCreate"]
    assert [(e["field"], e["code"]) for e in result["errors"]] == [("receiver.name", "required")]
    unknown_channel = (await gql(client, ORDER_CREATE, key, {"input": create_input("987654")}))
    assert [(e["field"], e["code"]) for e in unknown_channel["data"]["orderCreate"]["errors"]] == [
        ("channel", "not_found")]
    assert await db.fetchval("SELECT count(*) FROM sales_order") == 0


async def _many_orders(w) -> list[dict]:
    """12 orders an hour apart: every third on the POS channel, every fourth unpaid."""
    made = []
    for i in range(12):
        channel = w["pos"] if i % 3 == 0 else w["web"]
        o, _ = await orders.create_order(w["actor"], OrderInput(
            channel=str(channel["id"]), external_id=f"EXT-{i:02d}", paid=i % 4 != 0,
            placed_at=T0 + timedelta(hours=i), lines=[LineInput(sku="TEA-LJ-250", quantity=1 + i % 2)],
            receiver=ReceiverInput(name=f"Buyer {i}", phone="13812345678", address="科技园路1号")))
        made.append(o)
    return made


async def _all_pages(client, key, filter_: dict | None, size: int = 5) -> tuple[list[dict], list[int | None]]:
    nodes, totals, after = [], [], None
    for _ in range(20):
        conn = (await gql(client, ORDERS, key, {"filter": filter_, "first": size, "after": after}))["data"]["orders"]
        assert len(conn["edges"]) <= size
        nodes += [e["node"] for e in conn["edges"]]
        totals.append(conn["totalCount"])
        if not conn["pageInfo"]["hasNextPage"]:
            return nodes, totals
        after = conn["pageInfo"]["endCursor"]
        assert after == conn["edges"][-1]["cursor"]
    raise AssertionError("pagination did not end")


async def test_orders_pages_without_gaps_or_duplicates(client, merchant, api_key):
    w = await world(merchant)
    made = await _many_orders(w)
    _, key = await api_key(merchant, "admin")
    nodes, totals = await _all_pages(client, key, None)
    assert [n["externalId"] for n in nodes] == [o["external_id"] for o in reversed(made)]  # newest first
    assert len({n["id"] for n in nodes}) == 12 and totals == [12, 12, 12]
    assert nodes[0]["lines"] == [{"sku": "TEA-LJ-250", "quantity": 2}]  # EXT-11: 1 + 11 % 2
    placed = [n["placedAt"] for n in nodes]
    assert placed == sorted(placed, reverse=True)


async def test_orders_filters(client, merchant, api_key):
    w = await world(merchant)
    made = await _many_orders(w)
    _, key = await api_key(merchant, "admin")

    def expect(pred) -> list[str]:
        return [o["external_id"] for o in reversed(made) if pred(o)]

    async def ext_ids(filter_: dict) -> list[str]:
        nodes, totals = await _all_pages(client, key, filter_)
        assert totals[0] == len(nodes)
        return [n["externalId"] for n in nodes]

    pos_id = w["pos"]["id"]
    assert await ext_ids({"status": ["pending_payment"]}) == expect(lambda o: o["status"] == "pending_payment") \
        == ["EXT-08", "EXT-04", "EXT-00"]
    assert await ext_ids({"channel": [str(pos_id)]}) == expect(lambda o: o["channel_id"] == pos_id)
    assert await ext_ids({"platform": ["pos"]}) == expect(lambda o: o["channel_id"] == pos_id)
    window = {"placedFrom": (T0 + timedelta(hours=3)).isoformat(), "placedTo": (T0 + timedelta(hours=9)).isoformat()}
    assert await ext_ids(window) == ["EXT-08", "EXT-07", "EXT-06", "EXT-05", "EXT-04", "EXT-03"]
    combined = {"status": ["awaiting_review"], "channel": [str(w["web"]["id"])], **window}
    assert await ext_ids(combined) == ["EXT-07", "EXT-05"]
    assert await ext_ids({"status": ["awaiting_review", "pending_payment"], "platform": ["pos"]}) == \
        ["EXT-09", "EXT-06", "EXT-03", "EXT-00"]
    assert await ext_ids({"search": "EXT-07"}) == ["EXT-07"]
    assert await ext_ids({"search": "buyer 1"}) == ["EXT-11", "EXT-10", "EXT-01"]
    assert await ext_ids({"search": "5678"}) == expect(lambda o: True)  # phone tail
    assert await ext_ids({"amountMin": "300", "sku": "TEA-LJ-250"}) == expect(lambda o: o["total"] >= 30000)
    assert await ext_ids({"ids": [str(made[2]["id"]), str(made[5]["id"])]}) == ["EXT-05", "EXT-02"]
    assert await ext_ids({"tag": "vip"}) == []
    assert await ext_ids({"returning": True}) == expect(lambda o: o["is_returning"])

    counts = (await gql(client, "query($f: OrderFilterInput) { orderStatusCounts(filter: $f) { status count } }",
                        key, {"f": {"platform": ["pos"]}}))["data"]["orderStatusCounts"]
    as_dict = {c["status"]: c["count"] for c in counts}
    assert as_dict["awaiting_review"] == 3 and as_dict["pending_payment"] == 1 and sum(as_dict.values()) == 4


async def test_bad_list_arguments_are_answered_with_codes(client, merchant, api_key):
    await world(merchant)
    _, key = await api_key(merchant, "admin")
    body = await gql(client, ORDERS, key, {"after": "not-a-cursor"})
    assert body["data"]["orders"] is None and body["errors"][0]["extensions"]["code"] == "invalid_cursor"
    body = await gql(client, ORDERS, key, {"first": 500})
    assert body["errors"][0]["extensions"]["code"] == "invalid_argument"
    body = await gql(client, ORDERS, key, {"filter": {"channel": ["web"]}})
    assert body["errors"][0]["extensions"] == {"code": "invalid_id", "field": "filter.channel"}
    body = await gql(client, ORDERS, key, {"filter": {"amountMin": "lots"}})
    assert body["errors"][0]["extensions"] == {"code": "invalid_amount", "field": "filter.amountMin"}
    body = await gql(client, ORDERS, key, {"filter": {"status": ["teleported"]}})
    assert body["errors"][0]["extensions"]["code"] == "invalid_query"  # not a value of the OrderStatus enum


async def test_money_is_formatted_per_currency(client, merchant, api_key):
    w = await world(merchant)
    _, key = await api_key(merchant, "admin")
    jpy = create_input(w["web"]["id"], ext="JP-1", currency="JPY", shippingFee="500",
                       lines=[{"sku": "TEA-LJ-250", "quantity": 3, "unitPrice": "1680"}])
    o = (await gql(client, ORDER_CREATE, key, {"input": jpy}))["data"]["orderCreate"]["order"]
    assert o["currency"] == "JPY"
    assert o["lines"][0]["unitPrice"] == {"amount": "1680", "currency": "JPY", "minorUnits": 1680}
    assert o["total"] == {"amount": "5540", "currency": "JPY", "minorUnits": 5540}
    kwd = create_input(w["web"]["id"], ext="KW-1", currency="KWD", shippingFee="0",
                       lines=[{"sku": "CUP-CER-01", "quantity": 1, "unitPrice": "1.25"}])
    o = (await gql(client, ORDER_CREATE, key, {"input": kwd}))["data"]["orderCreate"]["order"]
    assert o["total"] == {"amount": "1.250", "currency": "KWD", "minorUnits": 1250}
    # beyond 2^31 minor units (a 32-bit GraphQL Int): BigInt carries it exactly
    big = create_input(w["web"]["id"], ext="BIG-1", currency="CNY", shippingFee="0",
                       lines=[{"sku": "TEA-LJ-250", "quantity": 1000, "unitPrice": "123456.78"}])
    o = (await gql(client, ORDER_CREATE, key, {"input": big}))["data"]["orderCreate"]["order"]
    assert o["total"] == {"amount": "123456780.00", "currency": "CNY", "minorUnits": 12345678000}
    assert o["total"]["minorUnits"] > 2**31


async def test_partner_readonly_reads_masked_orders_and_cannot_write(client, merchant, api_key):
    w = await world(merchant)
    made = await _many_orders(w)
    _, partner = await api_key(merchant, "partner_readonly", name="ERP")
    _, admin = await api_key(merchant, "admin")
    seen = (await gql(client, ORDER, partner, {"id": str(made[0]["id"])}))["data"]["order"]
    assert seen["receiver"]["phone"] != "+8613812345678" and "*" in seen["receiver"]["phone"]
    assert seen["receiver"]["phone"].endswith("5678") and seen["receiver"]["address"] == "***"
    listed = (await gql(client, ORDERS, partner, {"first": 50}))["data"]["orders"]
    assert listed["totalCount"] == 12
    assert all("*" in e["node"]["receiver"]["phone"] and e["node"]["receiver"]["address"] == "***"
               for e in listed["edges"])
    full = (await gql(client, ORDER, admin, {"id": str(made[0]["id"])}))["data"]["order"]["receiver"]
    assert full["phone"] == "+8613812345678" and full["address"] == "科技园路1号"

    result = (await gql(client, ORDER_CREATE, partner, {"input": create_input(w["web"]["id"], ext="P-1")}))
    assert result["data"]["orderCreate"]["order"] is None
    assert [e["code"] for e in result["data"]["orderCreate"]["errors"]] == ["permission_denied"]
    cancel = await gql(client, "mutation($id: ID!) { orderCancel(id: $id) { order { id } errors { code } } }",
                       partner, {"id": str(made[1]["id"])})
    assert cancel["data"]["orderCancel"] == {"order": None, "errors": [{"code": "permission_denied"}]}
    assert await db.fetchval("SELECT count(*) FROM sales_order") == 12
    assert await db.fetchval("SELECT status FROM sales_order WHERE id = $1", made[1]["id"]) == "awaiting_review"


async def test_roles_that_only_read_orders_cannot_change_them(client, merchant, api_key):
    w = await world(merchant)
    made = await _many_orders(w)
    oid = str(made[0]["id"])
    for role in ("finance", "warehouse"):
        _, key = await api_key(merchant, role, name=role)
        assert (await gql(client, ORDER, key, {"id": oid}))["data"]["order"]["id"] == oid
        body = await gql(client, """mutation($id: ID!, $input: OrderCreateInput!) {
          note: orderAddNote(id: $id, body: "x") { note { body } errors { code field } }
          tag: orderBulkTag(ids: [$id], tags: ["x"]) { count errors { code } }
          create: orderCreate(input: $input) { order { id } created errors { code } } }""",
                         key, {"id": oid, "input": create_input(w["web"]["id"], ext=f"R-{role}")})
        assert body["data"]["note"] == {"note": None, "errors": [{"code": "permission_denied", "field": None}]}
        assert body["data"]["tag"] == {"count": 0, "errors": [{"code": "permission_denied"}]}
        assert body["data"]["create"] == {"order": None, "created": None, "errors": [{"code": "permission_denied"}]}
    assert await db.fetchval("SELECT count(*) FROM order_note") == 0
    assert await db.fetchval("SELECT count(*) FROM sales_order") == 12


async def test_cancel_change_address_note_and_tags(client, merchant, api_key):
    w = await world(merchant)
    _, key = await api_key(merchant, "admin", name="ops tool")
    o = (await gql(client, ORDER_CREATE, key, {"input": create_input(w["web"]["id"])}))["data"]["orderCreate"]["order"]
    moved = (await gql(client, """mutation($id: ID!, $r: ReceiverInput!) {
      orderUpdateAddress(id: $id, receiver: $r) { order { receiver { name phone city address } events { kind } }
                                                  errors { code field } } }""", key,
                       {"id": o["id"], "r": {"name": "王五", "phone": "13700002222", "province": "北京市",
                                             "city": "北京市", "district": "海淀区", "address": "中关村大街 1 号"}}))
    result = moved["data"]["orderUpdateAddress"]
    assert result["errors"] == [] and result["order"]["receiver"] == {
        "name": "王五", "phone": "+8613700002222", "city": "北京市", "address": "中关村大街 1 号"}
    assert [e["kind"] for e in result["order"]["events"]] == ["created", "address_changed"]
    blank = (await gql(client, """mutation($id: ID!) { orderUpdateAddress(id: $id, receiver: {name: " "}) {
      order { id } errors { code field } } }""", key, {"id": o["id"]}))["data"]["orderUpdateAddress"]
    assert blank == {"order": None, "errors": [{"code": "required", "field": "receiver.name"}]}

    note = (await gql(client, """mutation($id: ID!) { orderAddNote(id: $id, body: "call before delivery") {
      note { author body } order { notes { author body } } errors { code } } }""", key, {"id": o["id"]}))
    assert note["data"]["orderAddNote"]["note"] == {"author": "key:ops tool", "body": "call before delivery"}
    assert note["data"]["orderAddNote"]["order"]["notes"] == [{"author": "key:ops tool", "body": "call before delivery"}]
    empty_note = (await gql(client, """mutation($id: ID!) { orderAddNote(id: $id, body: "") { errors { code field } } }""",
                            key, {"id": o["id"]}))
    assert empty_note["data"]["orderAddNote"]["errors"] == [{"code": "required", "field": "body"}]

    tagged = await gql(client, """mutation($ids: [ID!]) { orderBulkTag(ids: $ids, tags: ["VIP", "gift"]) {
      count errors { code } } }""", key, {"ids": [o["id"]]})
    assert tagged["data"]["orderBulkTag"] == {"count": 1, "errors": []}
    by_tag = (await gql(client, ORDERS, key, {"filter": {"tag": "vip"}}))["data"]["orders"]
    assert [e["node"]["id"] for e in by_tag["edges"]] == [o["id"]]
    untagged = await gql(client, """mutation { orderBulkTag(filter: {tag: "gift"}, tags: ["gift"], remove: true) {
      count } }""", key)
    assert untagged["data"]["orderBulkTag"]["count"] == 1
    assert (await gql(client, ORDER, key, {"id": o["id"]}))["data"]["order"]["tags"] == ["vip"]
    no_target = await gql(client, "mutation { orderBulkTag(tags: [\"x\"]) { count errors { code field } } }", key)
    assert no_target["data"]["orderBulkTag"] == {"count": 0, "errors": [{"code": "required", "field": "ids"}]}

    cancelled = (await gql(client, """mutation($id: ID!) { orderCancel(id: $id, reason: "buyer asked") {
      order { status events { kind fromStatus toStatus message } } errors { code } } }""", key, {"id": o["id"]}))
    result = cancelled["data"]["orderCancel"]
    assert result["errors"] == [] and result["order"]["status"] == "cancelled"
    assert result["order"]["events"][-1] == {"kind": "cancelled", "fromStatus": "awaiting_review",
                                             "toStatus": "cancelled", "message": "buyer asked"}
    locked = (await gql(client, """mutation($id: ID!) { orderUpdateAddress(id: $id, receiver: {name: "x"}) {
      errors { code field } } }""", key, {"id": o["id"]}))["data"]["orderUpdateAddress"]
    assert locked["errors"] == [{"code": "address_locked", "field": "receiver"}]
    bad_id = await gql(client, "mutation { orderCancel(id: \"abc\") { errors { code field } } }", key)
    assert bad_id["data"]["orderCancel"]["errors"] == [{"code": "invalid_id", "field": "id"}]
    actions = [r["action"] for r in await db.fetch(
        "SELECT action FROM audit_entry WHERE object_type = 'order' ORDER BY id")]
    assert actions[:4] == ["order.create", "order.address_changed", "order.note_added", "order.bulk_tag"]
    assert actions[-1] == "order.cancelled"


async def test_merchant_a_cannot_reach_merchant_b_orders(client, merchant, other_merchant, api_key):
    a = await world(merchant)
    b = await world(other_merchant)
    b_orders = await _many_orders(b)
    b_order = b_orders[1]
    _, a_key = await api_key(merchant, "admin", name="A")
    await _many_orders(a)

    assert (await gql(client, ORDER, a_key, {"id": str(b_order["id"])}))["data"]["order"] is None
    listed = (await gql(client, ORDERS, a_key, {"first": 50}))["data"]["orders"]
    assert listed["totalCount"] == 12 and str(b_order["id"]) not in {e["node"]["id"] for e in listed["edges"]}
    filtered = (await gql(client, ORDERS, a_key, {"filter": {"channel": [str(b["web"]["id"])]}}))["data"]["orders"]
    assert filtered == {"totalCount": 0, "pageInfo": {"hasNextPage": False, "endCursor": None}, "edges": []}
    by_ids = (await gql(client, ORDERS, a_key, {"filter": {"ids": [str(b_order["id"])]}}))["data"]["orders"]
    assert by_ids["edges"] == []

    create = (await gql(client, ORDER_CREATE, a_key, {"input": create_input(b["web"]["id"], ext="STEAL-1")}))
    assert [(e["code"], e["field"]) for e in create["data"]["orderCreate"]["errors"]] == [("not_found", "channel")]
    for mutation in ('orderCancel(id: $id, reason: "x")', 'orderAddNote(id: $id, body: "x")',
                     'orderUpdateAddress(id: $id, receiver: {name: "x"})'):
        body = await gql(client, f"mutation($id: ID!) {{ r: {mutation} {{ order {{ id }} errors {{ code field }} }} }}",
                         a_key, {"id": str(b_order["id"])})
        assert body["data"]["r"] == {"order": None, "errors": [{"code": "not_found", "field": "id"}]}, mutation
    tag = await gql(client, "mutation($ids: [ID!]) { orderBulkTag(ids: $ids, tags: [\"x\"]) { count } }",
                    a_key, {"ids": [str(b_order["id"])]})
    assert tag["data"]["orderBulkTag"]["count"] == 0
    bulk = await gql(client, """mutation($ids: [ID!]) { orderBulkCancel(ids: $ids) {
      count failed { id orderNumber code } } }""", a_key, {"ids": [str(b_order["id"])]})
    assert bulk["data"]["orderBulkCancel"] == {"count": 0, "failed": [
        {"id": str(b_order["id"]), "orderNumber": None, "code": "not_found"}]}  # B's number does not leak
    row = await db.fetchrow("SELECT status, tags FROM sales_order WHERE id = $1", b_order["id"])
    assert row["status"] == "awaiting_review" and row["tags"] == []
    assert await db.fetchval("SELECT count(*) FROM order_note") == 0
    assert await db.fetchval("SELECT count(*) FROM sales_order WHERE channel_id = $1", b["web"]["id"]) == 8


async def test_a_page_loads_lines_events_and_notes_in_one_query_each(client, merchant, api_key, monkeypatch):
    from server.orders import queries

    w = await world(merchant)
    made = await _many_orders(w)
    await orders.add_note(w["actor"], made[3]["id"], "fragile")
    calls: list[tuple[str, int]] = []
    real = queries.order_parts

    async def counting(actor, order_ids, part):
        calls.append((part, len(order_ids)))
        return await real(actor, order_ids, part)

    monkeypatch.setattr(queries, "order_parts", counting)
    _, key = await api_key(merchant, "admin")
    body = await gql(client, """query { orders(first: 10) { ...Page } }
      fragment Page on OrderConnection { totalCount edges { node { externalId
        lines { sku quantity unitPrice { amount } } events { kind } notes { body } } } }""", key)
    conn = body["data"]["orders"]
    assert conn["totalCount"] == 12  # asked for inside a fragment: still counted
    assert sorted(calls) == [("events", 10), ("lines", 10), ("notes", 10)]
    by_ext = {e["node"]["externalId"]: e["node"] for e in conn["edges"]}
    assert by_ext["EXT-03"]["notes"] == [{"body": "fragile"}] and by_ext["EXT-04"]["notes"] == []
    assert by_ext["EXT-05"]["lines"] == [{"sku": "TEA-LJ-250", "quantity": 2, "unitPrice": {"amount": "168.00"}}]
    assert all(n["events"][0]["kind"] == "created" for n in by_ext.values())
    without_total = await gql(client, "{ orders(first: 2) { edges { node { id } } } }", key)
    assert len(without_total["data"]["orders"]["edges"]) == 2
