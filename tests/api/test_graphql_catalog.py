"""GraphQL catalogue end to end over HTTP: products, SKUs (create, update, find by id or code, filter,
page), listings and matching them (releasing held orders), roles and tenant isolation."""
from __future__ import annotations

from server.catalog import service as catalog
from server.channels import service as channels
from server.core import db
from server.core.actor import system
from server.orders import ingest
from tests.support.graphql import gql
from tests.support.orders import fetched, line, order

SKU_FIELDS = """id productId code name barcode spec category weightG currency isKit active createdAt updatedAt
  cost { amount currency minorUnits } listPrice { amount currency minorUnits }"""
SKU_CREATE = f"""mutation($input: SkuCreateInput!) {{
  skuCreate(input: $input) {{ sku {{ {SKU_FIELDS} }} errors {{ code field message }} }} }}"""
SKU_UPDATE = f"""mutation($id: ID!, $input: SkuUpdateInput!) {{
  skuUpdate(id: $id, input: $input) {{ sku {{ {SKU_FIELDS} }} errors {{ code field message }} }} }}"""
SKUS = """query($filter: SkuFilterInput, $first: Int, $after: String) {
  skus(filter: $filter, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { id code active category } } } }"""
LISTINGS = """query($filter: ListingFilterInput) {
  listings(filter: $filter) { edges { node { id channel { id platform name } platformProductId platformSkuId
    platformSkuCode title skuId sku matchMethod waitingOrders } } } }"""
LISTING_MATCH = """mutation($id: ID!, $sku: String!) {
  listingMatch(id: $id, sku: $sku) { listing { id sku skuId matchMethod waitingOrders } errors { code field } } }"""



async def test_sku_create_update_and_find(client, merchant, api_key):
    _, key = await api_key(merchant, "admin")
    body = await gql(client, SKU_CREATE, key, {"input": {
        "code": "TEA-LJ-250", "name": "Longjing 250g", "barcode": "6901234567892", "spec": "250g / tin",
        "category": "tea", "weightG": 300, "cost": "52.5", "listPrice": "168", "currency": "CNY"}})
    result = body["data"]["skuCreate"]
    assert result["errors"] == []
    sku = result["sku"]
    assert sku["code"] == "TEA-LJ-250" and sku["name"] == "Longjing 250g" and sku["barcode"] == "6901234567892"
    assert sku["spec"] == "250g / tin" and sku["category"] == "tea" and sku["weightG"] == 300
    assert sku["cost"] == {"amount": "52.50", "currency": "CNY", "minorUnits": 5250}
    assert sku["listPrice"] == {"amount": "168.00", "currency": "CNY", "minorUnits": 16800}
    assert sku["active"] is True and sku["isKit"] is False and sku["productId"].isdigit()

    variant = (await gql(client, SKU_CREATE, key, {"input": {"code": "TEA-LJ-500", "name": "Longjing 500g",
                                                              "productId": sku["productId"]}}))["data"]["skuCreate"]
    assert variant["errors"] == [] and variant["sku"]["productId"] == sku["productId"]
    assert variant["sku"]["listPrice"] == {"amount": "0.00", "currency": "CNY", "minorUnits": 0}
    products = (await gql(client, "{ products { totalCount edges { node { id name category active } } } }",
                          key))["data"]["products"]
    assert [e["node"] for e in products["edges"]] == [{"id": sku["productId"], "name": "Longjing 250g",
                                                       "category": "tea", "active": True}]

    found = await gql(client, f"""query($id: ID, $code: String) {{ byId: sku(id: $id) {{ {SKU_FIELDS} }}
      byCode: sku(code: $code) {{ id }} byIdAsCode: sku(id: "TEA-LJ-500") {{ id }} none: sku(code: "NOPE") {{ id }} }}""",
                      key, {"id": sku["id"], "code": "TEA-LJ-250"})
    assert found["data"] == {"byId": sku, "byCode": {"id": sku["id"]}, "byIdAsCode": {"id": variant["sku"]["id"]},
                             "none": None}

    updated = (await gql(client, SKU_UPDATE, key, {"id": sku["id"], "input": {
        "name": "Longjing (new harvest)", "listPrice": "188.8", "active": False}}))["data"]["skuUpdate"]
    assert updated["errors"] == []
    assert updated["sku"]["name"] == "Longjing (new harvest)" and updated["sku"]["active"] is False
    assert updated["sku"]["listPrice"] == {"amount": "188.80", "currency": "CNY", "minorUnits": 18880}
    assert updated["sku"]["cost"]["amount"] == "52.50" and updated["sku"]["barcode"] == "6901234567892"
    actions = [r["action"] for r in await db.fetch("SELECT action FROM audit_entry WHERE object_type = 'sku' ORDER BY id")]
    assert actions == ["sku.create", "sku.create", "sku.update"]


async def test_prices_are_in_the_skus_own_currency(client, merchant, api_key):
    _, key = await api_key(merchant, "admin")
    jpy = (await gql(client, SKU_CREATE, key, {"input": {"code": "MATCHA-JP", "name": "Matcha", "currency": "JPY",
                                                          "listPrice": "1680"}}))["data"]["skuCreate"]["sku"]
    assert jpy["listPrice"] == {"amount": "1680", "currency": "JPY", "minorUnits": 1680}
    # an update that sends a price but no currency keeps the SKU's currency (yen have no decimals)
    updated = (await gql(client, SKU_UPDATE, key, {"id": jpy["id"], "input": {"listPrice": "1980", "cost": "700"}}))
    sku = updated["data"]["skuUpdate"]["sku"]
    assert sku["currency"] == "JPY" and sku["listPrice"] == {"amount": "1980", "currency": "JPY", "minorUnits": 1980}
    assert sku["cost"]["minorUnits"] == 700


async def test_sku_validation_errors_name_their_fields(client, merchant, api_key):
    _, key = await api_key(merchant, "admin")
    body = await gql(client, SKU_CREATE, key, {"input": {"code": "HAS SPACE", "name": " ", "listPrice": "abc",
                                                          "cost": "-1", "weightG": -5, "currency": "EURO"}})
    result = body["data"]["skuCreate"]
    assert result["sku"] is None
    assert {(e["field"], e["code"]) for e in result["errors"]} == {
        ("code", "invalid"), ("name", "required"), ("listPrice", "invalid_amount"), ("cost", "invalid"),
        ("weightG", "invalid"), ("currency", "invalid")}
    await gql(client, SKU_CREATE, key, {"input": {"code": "A-1", "name": "A"}})
    dup = (await gql(client, SKU_CREATE, key, {"input": {"code": "A-1", "name": "Again"}}))["data"]["skuCreate"]
    assert [(e["field"], e["code"]) for e in dup["errors"]] == [("code", "duplicate_code")]
    b = (await gql(client, SKU_CREATE, key, {"input": {"code": "B-1", "name": "B"}}))["data"]["skuCreate"]["sku"]
    clash = (await gql(client, SKU_UPDATE, key, {"id": b["id"], "input": {"code": "A-1"}}))["data"]["skuUpdate"]
    assert [(e["field"], e["code"]) for e in clash["errors"]] == [("code", "duplicate_code")]
    no_product = (await gql(client, SKU_CREATE, key, {"input": {"code": "C-1", "name": "C", "productId": "99999"}}))
    assert [e["code"] for e in no_product["data"]["skuCreate"]["errors"]] == ["not_found"]
    missing = (await gql(client, SKU_UPDATE, key, {"id": "99999", "input": {"name": "x"}}))["data"]["skuUpdate"]
    assert missing == {"sku": None, "errors": [{"code": "not_found", "field": "id", "message": "SKU not found"}]}
    assert await db.fetchval("SELECT count(*) FROM sku") == 2


async def test_skus_filter_and_pages(client, merchant, api_key):
    actor = system(merchant["id"], "test")
    for i in range(7):
        await catalog.create_sku(actor, {"code": f"TEA-{i}", "name": f"Tea {i}", "category": "tea",
                                         "active": i != 3})
    for i in range(3):
        await catalog.create_sku(actor, {"code": f"CUP-{i}", "name": f"Cup {i}", "category": "ware"})
    _, key = await api_key(merchant, "partner_readonly")
    codes, after = [], None
    for _ in range(5):
        conn = (await gql(client, SKUS, key, {"filter": {"category": "tea"}, "first": 3, "after": after}))["data"]["skus"]
        assert conn["totalCount"] == 7
        codes += [e["node"]["code"] for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert codes == [f"TEA-{i}" for i in range(7)]
    active = (await gql(client, SKUS, key, {"filter": {"category": "tea", "active": False}}))["data"]["skus"]
    assert [e["node"]["code"] for e in active["edges"]] == ["TEA-3"]
    search = (await gql(client, SKUS, key, {"filter": {"search": "cup 2"}}))["data"]["skus"]
    assert [e["node"]["code"] for e in search["edges"]] == ["CUP-2"] and search["totalCount"] == 1
    products = (await gql(client, '{ products(search: "Cup", first: 2) { pageInfo { hasNextPage } '
                                  'edges { node { name } } } }', key))["data"]["products"]
    assert [e["node"]["name"] for e in products["edges"]] == ["Cup 0", "Cup 1"] and products["pageInfo"]["hasNextPage"]
    bad = await gql(client, SKUS, key, {"after": "garbage"})
    assert bad["errors"][0]["extensions"]["code"] == "invalid_cursor"


async def _unmatched_world(merchant):
    """A Taobao-style channel whose order carries a platform SKU the catalogue does not know."""
    actor = system(merchant["id"], "test")
    await catalog.create_sku(actor, {"code": "TEA-LJ-250", "name": "Longjing", "list_price": "168.00"})
    ch = await channels.create_channel(actor, platform="website", name="Marketplace")
    row = dict(await db.fetchrow("SELECT * FROM channel WHERE id = $1", ch["id"]))
    o = order(lines=[line("TEA-LJ-250"), line("MYSTERY-1", pid="P-9", sid="S-9")])
    await ingest.ingest(row, [fetched(o)], source="pull")
    return actor, ch, o


async def test_listings_and_matching_release_held_orders(client, merchant, api_key):
    _, ch, o = await _unmatched_world(merchant)
    _, key = await api_key(merchant, "operations")
    held = await db.fetchrow("SELECT id, status, hold_reasons FROM sales_order WHERE external_id = $1", o.external_id)
    assert held["status"] == "on_hold" and held["hold_reasons"] == ["unmatched_sku"]

    unmatched = (await gql(client, LISTINGS, key, {"filter": {"unmatched": True}}))["data"]["listings"]["edges"]
    assert len(unmatched) == 1
    listing = unmatched[0]["node"]
    assert listing["channel"] == {"id": str(ch["id"]), "platform": "website", "name": "Marketplace"}
    assert listing["platformProductId"] == "P-9" and listing["platformSkuId"] == "S-9"
    assert listing["platformSkuCode"] == "MYSTERY-1" and listing["sku"] is None and listing["skuId"] is None
    assert listing["waitingOrders"] == 1
    matched = (await gql(client, LISTINGS, key, {"filter": {"unmatched": False, "channel": str(ch["id"])}}))
    assert [e["node"]["sku"] for e in matched["data"]["listings"]["edges"]] == ["TEA-LJ-250"]

    unknown = (await gql(client, LISTING_MATCH, key, {"id": listing["id"], "sku": "NOPE"}))["data"]["listingMatch"]
    assert unknown == {"listing": None, "errors": [{"code": "unknown_sku", "field": "sku"}]}
    result = (await gql(client, LISTING_MATCH, key, {"id": listing["id"], "sku": "TEA-LJ-250"}))["data"]["listingMatch"]
    assert result["errors"] == []
    assert result["listing"]["sku"] == "TEA-LJ-250" and result["listing"]["matchMethod"] == "manual"
    assert result["listing"]["waitingOrders"] == 0 and result["listing"]["skuId"].isdigit()
    released = await db.fetchrow("SELECT status, hold_reasons FROM sales_order WHERE id = $1", held["id"])
    assert released["hold_reasons"] == [] and released["status"] != "on_hold"
    assert (await gql(client, LISTINGS, key, {"filter": {"unmatched": True}}))["data"]["listings"]["edges"] == []


async def test_a_new_sku_with_the_waiting_code_matches_the_listing(client, merchant, api_key):
    _, _, o = await _unmatched_world(merchant)
    _, key = await api_key(merchant, "admin")
    created = await gql(client, SKU_CREATE, key, {"input": {"code": "MYSTERY-1", "name": "Mystery tea"}})
    assert created["data"]["skuCreate"]["errors"] == []
    listings = (await gql(client, LISTINGS, key, {"filter": {"unmatched": False}}))["data"]["listings"]["edges"]
    assert {(e["node"]["sku"], e["node"]["matchMethod"]) for e in listings} >= {("MYSTERY-1", "code")}
    assert await db.fetchval("SELECT hold_reasons FROM sales_order WHERE external_id = $1", o.external_id) == []


async def test_partner_readonly_reads_but_cannot_change_the_catalogue(client, merchant, api_key):
    _, _, _ = await _unmatched_world(merchant)
    _, key = await api_key(merchant, "partner_readonly")
    skus = (await gql(client, SKUS, key))["data"]["skus"]
    assert [e["node"]["code"] for e in skus["edges"]] == ["TEA-LJ-250"]
    sku_id = skus["edges"][0]["node"]["id"]
    listing_id = str(await db.fetchval("SELECT id FROM channel_listing WHERE sku_id IS NULL"))
    body = await gql(client, f"""mutation {{
      a: skuCreate(input: {{code: "X-1", name: "X"}}) {{ sku {{ id }} errors {{ code }} }}
      b: skuUpdate(id: "{sku_id}", input: {{name: "Renamed"}}) {{ sku {{ id }} errors {{ code }} }}
      c: listingMatch(id: "{listing_id}", sku: "TEA-LJ-250") {{ listing {{ id }} errors {{ code }} }} }}""", key)
    assert body["data"] == {
        "a": {"sku": None, "errors": [{"code": "permission_denied"}]},
        "b": {"sku": None, "errors": [{"code": "permission_denied"}]},
        "c": {"listing": None, "errors": [{"code": "permission_denied"}]},
    }
    assert await db.fetchval("SELECT name FROM sku WHERE id = $1", int(sku_id)) == "Longjing"
    assert await db.fetchval("SELECT count(*) FROM channel_listing WHERE sku_id IS NULL") == 1


async def test_merchant_a_cannot_see_or_touch_merchant_b_catalogue(client, merchant, other_merchant, api_key):
    b_actor, b_channel, _ = await _unmatched_world(other_merchant)
    b_sku = await catalog.resolve_sku(b_actor, "TEA-LJ-250")
    b_listing = await db.fetchval("SELECT id FROM channel_listing WHERE sku_id IS NULL AND merchant_id = $1",
                                  other_merchant["id"])
    a_actor = system(merchant["id"], "test")
    await catalog.create_sku(a_actor, {"code": "A-ONLY", "name": "A's tea"})
    _, a_key = await api_key(merchant, "admin")

    body = await gql(client, """query($id: ID, $ch: ID) {
      skus { totalCount edges { node { code } } }
      products { edges { node { name } } }
      byId: sku(id: $id) { id } byCode: sku(code: "TEA-LJ-250") { id }
      listings { edges { node { id } } }
      b: listings(filter: {channel: $ch}) { edges { node { id } } } }""",
                     a_key, {"id": str(b_sku["id"]), "ch": str(b_channel["id"])})
    data = body["data"]
    assert data["skus"] == {"totalCount": 1, "edges": [{"node": {"code": "A-ONLY"}}]}
    assert data["products"] == {"edges": [{"node": {"name": "A's tea"}}]}
    assert data["byId"] is None and data["byCode"] is None
    assert data["listings"]["edges"] == [] and data["b"]["edges"] == []

    upd = (await gql(client, SKU_UPDATE, a_key, {"id": str(b_sku["id"]), "input": {"name": "Hijacked"}}))
    assert [(e["code"], e["field"]) for e in upd["data"]["skuUpdate"]["errors"]] == [("not_found", "id")]
    match = (await gql(client, LISTING_MATCH, a_key, {"id": str(b_listing), "sku": "A-ONLY"}))["data"]["listingMatch"]
    assert match == {"listing": None, "errors": [{"code": "not_found", "field": "listing"}]}
    on_b_product = await gql(client, SKU_CREATE, a_key, {"input": {"code": "A-2", "name": "x",
                                                                        "productId": str(b_sku["product_id"])}})
    assert [e["code"] for e in on_b_product["data"]["skuCreate"]["errors"]] == ["not_found"]
    assert await db.fetchval("SELECT name FROM sku WHERE id = $1", b_sku["id"]) == "Longjing"
    assert await db.fetchval("SELECT sku_id FROM channel_listing WHERE id = $1", b_listing) is None
    assert await db.fetchval("SELECT count(*) FROM sku WHERE merchant_id = $1", merchant["id"]) == 1
