"""GraphQL inventory end to end over HTTP: warehouses (create, update, list, find by code), receipts and
adjustments with payload errors naming the SKU and warehouse, stock levels and the ledger as Relay
connections, transfers through their whole life with suggestions, roles, and tenant isolation."""
from __future__ import annotations

import asyncio

from server.catalog import service as catalog
from server.channels import service as channels
from server.core import db
from server.core.actor import system
from server.orders.service import LineInput, OrderInput, ReceiverInput, create_order

ERR = "errors { code field message }"
LEVEL = "stockLevel { id sku { id code name } warehouse { id code name } onHand reserved available incoming }"
WH_FIELDS = """id code name priority active servesAllChannels channels
  address { countryCode province city district address postcode regionCode latitude longitude }"""
WH_CREATE = f"""mutation($input: WarehouseCreateInput!) {{
  warehouseCreate(input: $input) {{ warehouse {{ {WH_FIELDS} }} {ERR} }} }}"""
WH_UPDATE = f"""mutation($id: ID!, $input: WarehouseUpdateInput!) {{
  warehouseUpdate(id: $id, input: $input) {{ warehouse {{ {WH_FIELDS} }} {ERR} }} }}"""
RECEIVE = f"""mutation($input: StockReceiveInput!) {{ stockReceive(input: $input) {{ {LEVEL} releasedOrders {ERR} }} }}"""
ADJUST = f"""mutation($input: StockAdjustInput!) {{ stockAdjust(input: $input) {{ {LEVEL} releasedOrders {ERR} }} }}"""
LEVELS = """query($filter: StockFilterInput, $first: Int, $after: String) {
  stockLevels(filter: $filter, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor }
    edges { node { sku { code name } warehouse { code } onHand reserved available incoming } } } }"""
MOVES = """query($filter: StockMovementFilterInput, $first: Int, $after: String) {
  stockMovements(filter: $filter, first: $first, after: $after) { pageInfo { hasNextPage endCursor }
    edges { node { sku { code } warehouse { code } kind onHandDelta reservedDelta reason reference actor } } } }"""
TRANSFER = """id number status fromWarehouse { code } toWarehouse { code } reference units inTransitUnits receivedUnits
  lines { sku { code } quantity shippedQuantity receivedQuantity returnedQuantity inTransit }
  events { kind fromStatus toStatus message }"""
T_CREATE = f"""mutation($input: TransferCreateInput!) {{ transferCreate(input: $input) {{ transfer {{ {TRANSFER} }} {ERR} }} }}"""
T_CREATE_KEYED = f"""mutation($input: TransferCreateInput!) {{
  transferCreate(input: $input) {{ transfer {{ {TRANSFER} }} created {ERR} }} }}"""
T_SHIP = f"""mutation($id: ID!) {{ transferShip(id: $id) {{ transfer {{ {TRANSFER} }} {ERR} }} }}"""
T_RECEIVE = f"""mutation($id: ID!, $lines: [TransferLineInput!]) {{
  transferReceive(id: $id, lines: $lines) {{ transfer {{ {TRANSFER} }} releasedOrders {ERR} }} }}"""
T_CANCEL = f"""mutation($id: ID!, $reason: String) {{
  transferCancel(id: $id, reason: $reason) {{ transfer {{ {TRANSFER} }} {ERR} }} }}"""


async def gql(client, query: str, key: str, variables: dict | None = None) -> dict:
    r = await client.post("/graphql", json={"query": query, "variables": variables or {}},
                          headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    return r.json()


async def skus(merchant, *codes):
    actor = system(merchant["id"], "test")
    for code in codes:
        await catalog.create_sku(actor, {"code": code, "name": f"{code} name", "list_price": "9.90"})
    return actor


async def test_warehouses_stock_and_the_ledger(client, merchant, api_key):
    await skus(merchant, "TEA-LJ-250", "CUP-01")
    _, key = await api_key(merchant, "admin")
    made = (await gql(client, WH_CREATE, key, {"input": {
        "code": "SZ", "name": "Shenzhen", "priority": 10,
        "address": {"countryCode": "CN", "province": "广东省", "city": "深圳市", "district": "南山区",
                    "address": "科技园路1号", "postcode": "518000"}}}))["data"]["warehouseCreate"]
    assert made["errors"] == []
    sz = made["warehouse"]
    assert sz["code"] == "SZ" and sz["priority"] == 10 and sz["active"] and sz["servesAllChannels"]
    assert sz["address"]["regionCode"] == "440305" and sz["address"]["latitude"] is not None
    hz = (await gql(client, WH_CREATE, key, {"input": {"code": "HZ", "name": "Hangzhou"}}))["data"]["warehouseCreate"]
    dup = (await gql(client, WH_CREATE, key, {"input": {"code": "SZ", "name": "again"}}))["data"]["warehouseCreate"]
    assert dup["warehouse"] is None and dup["errors"][0]["code"] == "duplicate_code"
    upd = (await gql(client, WH_UPDATE, key, {"id": "HZ", "input": {"priority": 3, "name": "Hangzhou West"}}))
    assert upd["data"]["warehouseUpdate"]["warehouse"]["name"] == "Hangzhou West"
    listed = (await gql(client, "{ warehouses { totalCount edges { node { code priority } } } "
                                "byCode: warehouse(id: \"HZ\") { id } none: warehouse(id: \"XX\") { id } }", key))["data"]
    assert [e["node"]["code"] for e in listed["warehouses"]["edges"]] == ["SZ", "HZ"]
    assert listed["byCode"]["id"] == hz["warehouse"]["id"] and listed["none"] is None

    got = (await gql(client, RECEIVE, key, {"input": {"warehouse": "SZ", "sku": "TEA-LJ-250", "quantity": 12,
                                                      "reference": "PO-1"}}))["data"]["stockReceive"]
    assert got["errors"] == [] and got["releasedOrders"] == []
    lv = got["stockLevel"]
    assert (lv["sku"]["code"], lv["sku"]["name"], lv["warehouse"]["code"], lv["onHand"], lv["available"],
            lv["incoming"]) == ("TEA-LJ-250", "TEA-LJ-250 name", "SZ", 12, 12, 0)
    sku_id = lv["sku"]["id"]
    by_id = (await gql(client, RECEIVE, key, {"input": {"warehouse": sz["id"], "sku": sku_id, "quantity": 3}}))
    assert by_id["data"]["stockReceive"]["stockLevel"]["onHand"] == 15
    await gql(client, RECEIVE, key, {"input": {"warehouse": "HZ", "sku": "CUP-01", "quantity": 2}})

    adj = (await gql(client, ADJUST, key, {"input": {"warehouse": "SZ", "sku": "TEA-LJ-250", "delta": -5,
                                                     "reason": "damaged"}}))["data"]["stockAdjust"]
    assert adj["errors"] == [] and adj["stockLevel"]["onHand"] == 10
    count = (await gql(client, ADJUST, key, {"input": {"warehouse": "SZ", "sku": "TEA-LJ-250", "countedQuantity": 8,
                                                       "reason": "stocktake"}}))["data"]["stockAdjust"]
    assert count["stockLevel"]["onHand"] == 8
    both = (await gql(client, ADJUST, key, {"input": {"warehouse": "SZ", "sku": "TEA-LJ-250", "delta": 1,
                                                      "countedQuantity": 2, "reason": "x"}}))["data"]["stockAdjust"]
    assert both["stockLevel"] is None and both["errors"][0]["code"] == "required"
    neither = (await gql(client, ADJUST, key, {"input": {"warehouse": "SZ", "sku": "TEA-LJ-250",
                                                         "reason": "x"}}))["data"]["stockAdjust"]
    assert neither["errors"][0]["field"] == "delta"
    neg = (await gql(client, ADJUST, key, {"input": {"warehouse": "SZ", "sku": "TEA-LJ-250", "delta": -50,
                                                     "reason": "lost"}}))["data"]["stockAdjust"]
    assert neg["errors"][0]["code"] == "negative_stock" and "TEA-LJ-250" in neg["errors"][0]["message"]
    unknown = (await gql(client, RECEIVE, key, {"input": {"warehouse": "BJ", "sku": "TEA-LJ-250", "quantity": 1}}))
    assert unknown["data"]["stockReceive"]["errors"] == [
        {"code": "unknown_warehouse", "field": "warehouse", "message": "no warehouse 'BJ'"}]

    page = (await gql(client, LEVELS, key, {"first": 1}))["data"]["stockLevels"]
    assert page["totalCount"] == 2 and page["pageInfo"]["hasNextPage"]
    assert page["edges"][0]["node"]["sku"]["code"] == "CUP-01"
    rest = (await gql(client, LEVELS, key, {"first": 1, "after": page["pageInfo"]["endCursor"]}))["data"]["stockLevels"]
    assert [e["node"]["sku"]["code"] for e in rest["edges"]] == ["TEA-LJ-250"]
    only = (await gql(client, LEVELS, key, {"filter": {"warehouse": "SZ", "sku": "TEA-LJ-250"}}))["data"]["stockLevels"]
    assert [(e["node"]["onHand"], e["node"]["reserved"]) for e in only["edges"]] == [(8, 0)]

    moves = (await gql(client, MOVES, key, {"filter": {"sku": "TEA-LJ-250"}}))["data"]["stockMovements"]
    assert [(e["node"]["kind"], e["node"]["onHandDelta"]) for e in moves["edges"]] == [
        ("adjustment", -2), ("adjustment", -5), ("receipt", 3), ("receipt", 12)]
    assert moves["edges"][-1]["node"]["reference"] == "PO-1" and "partner" in moves["edges"][-1]["node"]["actor"]
    at_hz = (await gql(client, MOVES, key, {"filter": {"warehouse": "HZ"}, "first": 5}))["data"]["stockMovements"]
    assert [e["node"]["sku"]["code"] for e in at_hz["edges"]] == ["CUP-01"]


async def test_transfers_and_suggestions(client, merchant, api_key):
    actor = await skus(merchant, "TEA", "CUP")
    _, key = await api_key(merchant, "admin")
    for code, prio in (("SZ", 10), ("HZ", 20)):
        await gql(client, WH_CREATE, key, {"input": {"code": code, "name": code, "priority": prio}})
    await gql(client, RECEIVE, key, {"input": {"warehouse": "SZ", "sku": "TEA", "quantity": 30}})
    await gql(client, RECEIVE, key, {"input": {"warehouse": "HZ", "sku": "TEA", "quantity": 2}})
    await channels.create_channel(actor, platform="website", name="Web")
    for i in range(4):     # 2 reserve at HZ (priority), 2 at SZ
        await create_order(actor, OrderInput(channel="Web", external_id=f"W{i}", lines=[LineInput(sku="TEA", quantity=1)],
                                             receiver=ReceiverInput(name="买家")))

    sugg = (await gql(client, """{ transferSuggestions { fromWarehouse { code } toWarehouse { code } units
        lines { sku { code } quantity demand available incoming sourceAvailable sourceDemand } } }""", key))
    assert sugg["data"]["transferSuggestions"] == [{
        "fromWarehouse": {"code": "SZ"}, "toWarehouse": {"code": "HZ"}, "units": 2,
        "lines": [{"sku": {"code": "TEA"}, "quantity": 2, "demand": 2, "available": 0, "incoming": 0,
                   "sourceAvailable": 28, "sourceDemand": 2}]}]
    accepted = (await gql(client, f"""mutation {{ transferSuggestionAccept(fromWarehouse: "SZ", toWarehouse: "HZ") {{
        transfer {{ {TRANSFER} }} {ERR} }} }}""", key))["data"]["transferSuggestionAccept"]
    assert accepted["errors"] == [] and accepted["transfer"]["status"] == "draft"
    assert (await gql(client, "{ transferSuggestions { units } }", key))["data"]["transferSuggestions"] == []

    bad = (await gql(client, T_CREATE, key, {"input": {"fromWarehouse": "SZ", "toWarehouse": "SZ",
                                                       "lines": [{"sku": "NOPE", "quantity": 0}]}}))
    codes = {(e["code"], e["field"]) for e in bad["data"]["transferCreate"]["errors"]}
    assert codes == {("same_warehouse", "toWarehouse"), ("unknown_sku", "lines.0.sku")}

    made = (await gql(client, T_CREATE, key, {"input": {"fromWarehouse": "SZ", "toWarehouse": "HZ", "reference": "R1",
                                                        "lines": [{"sku": "TEA", "quantity": 30}]}}))
    t = made["data"]["transferCreate"]["transfer"]
    assert t["status"] == "draft" and t["number"].startswith("TR-") and t["units"] == 30
    refused = (await gql(client, T_SHIP, key, {"id": t["id"]}))["data"]["transferShip"]
    assert refused["transfer"] is None
    (err,) = refused["errors"]
    assert err["code"] == "insufficient_stock" and err["field"] == "lines.0.quantity"
    assert "TEA" in err["message"] and "SZ" in err["message"]
    await gql(client, T_CANCEL, key, {"id": t["id"], "reason": "too many"})

    t = (await gql(client, T_SHIP, key, {"id": accepted["transfer"]["number"]}))["data"]["transferShip"]["transfer"]
    assert t["status"] == "shipped" and t["inTransitUnits"] == 2
    levels = (await gql(client, LEVELS, key, {"filter": {"warehouse": "HZ"}}))["data"]["stockLevels"]["edges"]
    assert [(e["node"]["onHand"], e["node"]["incoming"]) for e in levels] == [(2, 2)]
    part = (await gql(client, T_RECEIVE, key, {"id": t["id"], "lines": [{"sku": "TEA", "quantity": 1}]}))
    assert part["data"]["transferReceive"]["transfer"]["status"] == "partially_received"
    over = (await gql(client, T_RECEIVE, key, {"id": t["id"], "lines": [{"sku": "TEA", "quantity": 5}]}))
    assert over["data"]["transferReceive"]["errors"][0]["code"] == "too_many"
    done = (await gql(client, T_RECEIVE, key, {"id": t["id"]}))["data"]["transferReceive"]["transfer"]
    assert done["status"] == "received" and done["receivedUnits"] == 2 and done["lines"][0]["inTransit"] == 0
    assert [e["kind"] for e in done["events"]] == ["created", "shipped", "received_part", "received"]
    again = (await gql(client, T_CANCEL, key, {"id": t["id"]}))["data"]["transferCancel"]["errors"]
    assert again[0]["code"] == "invalid_transition"

    listed = (await gql(client, """query($f: TransferFilterInput) { transfers(filter: $f, first: 1) { totalCount
        pageInfo { hasNextPage } edges { node { number status lines { sku { code } } } } } }""", key,
                        {"f": {"warehouse": "HZ"}}))["data"]["transfers"]
    assert listed["totalCount"] == 2 and listed["pageInfo"]["hasNextPage"]
    cancelled = (await gql(client, """{ transfers(filter: {status: cancelled}) { edges { node { reference } } } }""",
                           key))["data"]["transfers"]["edges"]
    assert [e["node"]["reference"] for e in cancelled] == ["R1"]
    one = (await gql(client, f'{{ transfer(id: "{done["number"]}") {{ id }} none: transfer(id: "999999") {{ id }} }}',
                     key))["data"]
    assert one == {"transfer": {"id": done["id"]}, "none": None}


async def test_roles_and_tenant_isolation(client, merchant, other_merchant, api_key):
    await skus(merchant, "TEA")
    _, admin = await api_key(merchant, "admin")
    _, readonly = await api_key(merchant, "partner_readonly", name="ro")
    _, theirs = await api_key(other_merchant, "admin", name="them")
    await gql(client, WH_CREATE, admin, {"input": {"code": "SZ", "name": "SZ"}})
    await gql(client, WH_CREATE, admin, {"input": {"code": "HZ", "name": "HZ"}})
    await gql(client, RECEIVE, admin, {"input": {"warehouse": "SZ", "sku": "TEA", "quantity": 5}})
    t = (await gql(client, T_CREATE, admin, {"input": {"fromWarehouse": "SZ", "toWarehouse": "HZ",
                                                       "lines": [{"sku": "TEA", "quantity": 1}]}}))
    tid = t["data"]["transferCreate"]["transfer"]["id"]

    ro = await gql(client, RECEIVE, readonly, {"input": {"warehouse": "SZ", "sku": "TEA", "quantity": 1}})
    assert ro["data"]["stockReceive"]["errors"][0]["code"] == "permission_denied"
    ro_ship = await gql(client, T_SHIP, readonly, {"id": tid})
    assert ro_ship["data"]["transferShip"]["errors"][0]["code"] == "permission_denied"
    seen = await gql(client, "{ stockLevels { totalCount } transfers { totalCount } }", readonly)
    assert seen["data"] == {"stockLevels": {"totalCount": 1}, "transfers": {"totalCount": 1}}

    # another merchant's key sees nothing and can touch nothing
    other = await gql(client, f"""{{ warehouses {{ totalCount }} stockLevels {{ totalCount }}
        stockMovements {{ edges {{ node {{ id }} }} }} transfers {{ totalCount }} transfer(id: "{tid}") {{ id }}
        warehouse(id: "SZ") {{ id }} transferSuggestions {{ units }} }}""", theirs)
    assert other["data"] == {"warehouses": {"totalCount": 0}, "stockLevels": {"totalCount": 0},
                             "stockMovements": {"edges": []}, "transfers": {"totalCount": 0}, "transfer": None,
                             "warehouse": None, "transferSuggestions": []}
    for query, variables, field in (
            (T_SHIP, {"id": tid}, "transferShip"), (T_CANCEL, {"id": tid}, "transferCancel"),
            (T_RECEIVE, {"id": tid}, "transferReceive"),
            (RECEIVE, {"input": {"warehouse": "SZ", "sku": "TEA", "quantity": 1}}, "stockReceive"),
            (ADJUST, {"input": {"warehouse": "SZ", "sku": "TEA", "delta": -1, "reason": "x"}}, "stockAdjust"),
            (WH_UPDATE, {"id": "SZ", "input": {"name": "mine now"}}, "warehouseUpdate")):
        body = await gql(client, query, theirs, variables)
        assert body["data"][field]["errors"][0]["code"] in ("unknown_transfer", "unknown_warehouse", "unknown_sku"), body
    row = await db.fetchrow("SELECT on_hand FROM stock_level")
    assert row["on_hand"] == 5
    assert await db.fetchval("SELECT status FROM transfer_order") == "draft"
    assert await db.fetchval("SELECT name FROM warehouse WHERE code = 'SZ'") == "SZ"


async def test_transfer_create_with_an_idempotency_key(client, merchant, other_merchant, api_key):
    """A partner retrying `transferCreate` with one `idempotencyKey` gets the first transfer back
    (`created: false`) and nothing new; 20 such calls racing over HTTP make one transfer; the same key with
    other lines is a payload error `idempotency_conflict` on `idempotencyKey`; keys are per merchant."""
    await skus(merchant, "TEA", "CUP")
    await skus(other_merchant, "TEA")
    _, key = await api_key(merchant, "admin")
    _, theirs = await api_key(other_merchant, "admin", name="them")
    for k in (key, theirs):
        for code in ("SZ", "HZ"):
            await gql(client, WH_CREATE, k, {"input": {"code": code, "name": code}})
    first_in = {"fromWarehouse": "SZ", "toWarehouse": "HZ", "reference": "ERP-7", "idempotencyKey": "erp-7",
                "lines": [{"sku": "TEA", "quantity": 4}]}
    first = (await gql(client, T_CREATE_KEYED, key, {"input": first_in}))["data"]["transferCreate"]
    assert first["errors"] == [] and first["created"] is True
    again = (await gql(client, T_CREATE_KEYED, key, {"input": first_in}))["data"]["transferCreate"]
    assert again["errors"] == [] and again["created"] is False and again["transfer"] == first["transfer"]
    assert await db.fetchval("SELECT count(*) FROM transfer_order") == 1

    changed = {**first_in, "lines": [{"sku": "TEA", "quantity": 4}, {"sku": "CUP", "quantity": 1}]}
    refused = (await gql(client, T_CREATE_KEYED, key, {"input": changed}))["data"]["transferCreate"]
    assert refused["transfer"] is None and refused["created"] is None
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("idempotency_conflict", "idempotencyKey")]
    assert first["transfer"]["number"] in refused["errors"][0]["message"]
    assert await db.fetchval("SELECT count(*) FROM transfer_order") == 1

    race_in = {**first_in, "idempotencyKey": "race-1", "lines": [{"sku": "CUP", "quantity": 2}]}
    bodies = await asyncio.gather(*(gql(client, T_CREATE_KEYED, key, {"input": race_in}) for _ in range(20)))
    results = [b["data"]["transferCreate"] for b in bodies]
    assert all(r["errors"] == [] for r in results), results
    assert len({r["transfer"]["id"] for r in results}) == 1 and sum(r["created"] for r in results) == 1
    assert await db.fetchval("SELECT count(*) FROM transfer_order WHERE idempotency_key = 'race-1'") == 1

    other = (await gql(client, T_CREATE_KEYED, theirs, {"input": first_in}))["data"]["transferCreate"]
    assert other["errors"] == [] and other["created"] is True and other["transfer"]["id"] != first["transfer"]["id"]
