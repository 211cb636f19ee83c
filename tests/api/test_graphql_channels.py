"""GraphQL channels end to end over HTTP: create with config validation, credentials that never come
back, update, sync (queued and inline against the Shopify sandbox), test connection, roles, tenancy."""
from __future__ import annotations

from datetime import timedelta

from litestar import Litestar

from server.channels import service as channels
from server.channels.sandbox.shopify import ShopifySandbox
from server.core import clock, db
from server.core.actor import system
from tests.support.live_server import live_server

CHANNEL_FIELDS = """id platform displayPlatform name status pollIntervalS lastSyncAt lastSyncOk lastError
  consecutiveFailures nextSyncAt webhookUrl capabilities config credentialsSet createdAt updatedAt
  lastSyncCounts { fetched created updated failed }"""
CHANNEL_CREATE = f"""mutation($input: ChannelCreateInput!) {{
  channelCreate(input: $input) {{ channel {{ {CHANNEL_FIELDS} }} errors {{ code field message }} }} }}"""
CHANNEL_UPDATE = f"""mutation($id: ID!, $input: ChannelUpdateInput!) {{
  channelUpdate(id: $id, input: $input) {{ channel {{ {CHANNEL_FIELDS} }} errors {{ code field message }} }} }}"""
CHANNEL_SYNC = """mutation($id: ID!, $wait: Boolean) {
  channelSync(id: $id, wait: $wait) { channel { id lastSyncAt lastSyncOk lastSyncCounts { fetched created } }
    queued result { fetched created updated failed } skipped syncError errors { code field message } } }"""
SECRETS = dict(ShopifySandbox.credentials)


async def gql(client, query: str, key: str, variables: dict | None = None) -> tuple[dict, str]:
    r = await client.post("/graphql", json={"query": query, "variables": variables or {}},
                          headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    return r.json(), r.text


def shopify_config(base: str = "http://127.0.0.1:9/sandbox/shopify") -> dict:
    return {**SECRETS, "api_base_url": base}


async def test_channel_create_returns_config_without_secrets(client, merchant, api_key):
    _, key = await api_key(merchant, "admin")
    body, text = await gql(client, CHANNEL_CREATE, key, {"input": {
        "platform": "shopify", "name": "US Store", "config": shopify_config(), "pollIntervalS": 120}})
    result = body["data"]["channelCreate"]
    assert result["errors"] == []
    ch = result["channel"]
    assert ch["id"].isdigit() and ch["platform"] == "shopify" and ch["displayPlatform"] == "Shopify"
    assert ch["name"] == "US Store" and ch["status"] == "active" and ch["pollIntervalS"] == 120
    assert ch["credentialsSet"] == ["access_token", "client_secret"]
    assert ch["config"]["shop_domain"] == "oms-demo.myshopify.com" and ch["config"]["api_version"] == "2025-01"
    assert ch["config"]["api_base_url"] == "http://127.0.0.1:9/sandbox/shopify"
    assert "access_token" not in ch["config"] and "client_secret" not in ch["config"]
    assert ch["webhookUrl"].endswith(f"/webhooks/channels/{ch['id']}")
    assert "pull_orders" in ch["capabilities"] and "webhooks" in ch["capabilities"]
    assert ch["lastSyncAt"] is None and ch["lastSyncOk"] is None and ch["lastSyncCounts"] is None
    assert ch["consecutiveFailures"] == 0 and ch["lastError"] == ""
    for secret in (SECRETS["access_token"], SECRETS["client_secret"]):
        assert secret not in text
    stored = await db.fetchval("SELECT credentials FROM channel WHERE id = $1", int(ch["id"]))
    assert stored and SECRETS["access_token"] not in stored  # encrypted at rest

    listed, text = await gql(client, f"query($id: ID!) {{ channels {{ {CHANNEL_FIELDS} }} channel(id: $id) "
                                     f"{{ {CHANNEL_FIELDS} }} }}", key, {"id": ch["id"]})
    assert listed["data"]["channels"] == [ch] and listed["data"]["channel"] == ch
    audit, audit_text = await gql(client, "{ auditEntries { edges { node { action after } } } }", key)
    for secret in (SECRETS["access_token"], SECRETS["client_secret"]):
        assert secret not in text and secret not in audit_text
    assert audit["data"]["auditEntries"]["edges"][0]["node"]["after"]["credentials"] == ["access_token",
                                                                                         "client_secret"]


async def test_channel_create_reports_config_errors_by_key(client, merchant, api_key):
    _, key = await api_key(merchant, "admin")
    body, _ = await gql(client, CHANNEL_CREATE, key, {"input": {
        "platform": "shopify", "name": "Half set up", "config": {"api_version": "2025-01"}}})
    result = body["data"]["channelCreate"]
    assert result["channel"] is None
    assert {(e["code"], e["field"]) for e in result["errors"]} == {
        ("required", "config.shop_domain"), ("required", "config.access_token"), ("required", "config.client_secret")}
    body, _ = await gql(client, CHANNEL_CREATE, key, {"input": {
        "platform": "woocommerce", "name": "Woo", "config": {"site_url": "https://shop.example.com",
                                                             "consumer_key": "ck_1", "api_base_url": "ftp://x"}}})
    fields = {e["field"] for e in body["data"]["channelCreate"]["errors"]}
    assert {"config.consumer_secret", "config.api_base_url"} <= fields
    cases = [
        ({"platform": "ebay", "name": "E"}, "unknown_platform", "platform"),
        ({"platform": "website", "name": "  "}, "required", "name"),
        ({"platform": "website", "name": "W", "pollIntervalS": 5}, "invalid", "pollIntervalS"),
        ({"platform": "website", "name": "W", "config": "not an object"}, "invalid", "config"),
        ({"platform": "website", "name": "W", "config": {"color": "red"}}, "unknown_config", "config"),
    ]
    for given, code, field in cases:
        body, _ = await gql(client, CHANNEL_CREATE, key, {"input": given})
        errors = body["data"]["channelCreate"]["errors"]
        assert [(e["code"], e["field"]) for e in errors] == [(code, field)], given
    ok, _ = await gql(client, CHANNEL_CREATE, key, {"input": {"platform": "website", "name": "Web"}})
    assert ok["data"]["channelCreate"]["channel"]["credentialsSet"] == []
    dup, _ = await gql(client, CHANNEL_CREATE, key, {"input": {"platform": "pos", "name": "Web"}})
    assert [(e["code"], e["field"]) for e in dup["data"]["channelCreate"]["errors"]] == [("duplicate", "name")]
    assert await db.fetchval("SELECT count(*) FROM channel") == 1


async def test_channel_update_keeps_secrets_it_is_not_given(client, merchant, api_key):
    _, key = await api_key(merchant, "admin")
    created, _ = await gql(client, CHANNEL_CREATE, key, {"input": {"platform": "shopify", "name": "S",
                                                                   "config": shopify_config()}})
    cid = created["data"]["channelCreate"]["channel"]["id"]
    body, text = await gql(client, CHANNEL_UPDATE, key, {"id": cid, "input": {
        "name": "Shopify US", "pollIntervalS": 600, "status": "paused",
        "config": {"shop_domain": "other.myshopify.com", "access_token": "", "client_secret": "shpss_new"}}})
    result = body["data"]["channelUpdate"]
    assert result["errors"] == []
    ch = result["channel"]
    assert ch["name"] == "Shopify US" and ch["pollIntervalS"] == 600 and ch["status"] == "paused"
    assert ch["config"]["shop_domain"] == "other.myshopify.com" and ch["credentialsSet"] == ["access_token",
                                                                                            "client_secret"]
    assert "shpss_new" not in text
    connector = channels.connector_for(dict(await db.fetchrow("SELECT * FROM channel WHERE id = $1", int(cid))))
    assert connector.credentials == {"access_token": SECRETS["access_token"], "client_secret": "shpss_new"}
    bad, _ = await gql(client, CHANNEL_UPDATE, key, {"id": cid, "input": {"status": "failing"}})
    assert [(e["code"], e["field"]) for e in bad["data"]["channelUpdate"]["errors"]] == [("invalid", "status")]
    bad, _ = await gql(client, CHANNEL_UPDATE, key, {"id": cid, "input": {"config": {"api_base_url": "ftp://x"}}})
    assert [(e["code"], e["field"]) for e in bad["data"]["channelUpdate"]["errors"]] == [
        ("invalid", "config.api_base_url")]
    resumed, _ = await gql(client, CHANNEL_UPDATE, key, {"id": cid, "input": {"status": "active"}})
    assert resumed["data"]["channelUpdate"]["channel"]["status"] == "active"


async def test_channel_sync_queues_a_pull(client, merchant, api_key):
    actor = system(merchant["id"], "test")
    shop = await channels.create_channel(actor, platform="shopify", name="S", config=shopify_config())
    web = await channels.create_channel(actor, platform="website", name="Web")
    _, key = await api_key(merchant, "operations")
    body, _ = await gql(client, CHANNEL_SYNC, key, {"id": str(shop["id"])})
    result = body["data"]["channelSync"]
    assert result["errors"] == [] and result["queued"] is True and result["result"] is None
    assert result["channel"]["id"] == str(shop["id"])
    rows = await db.fetch("SELECT job_name, job_id, payload FROM outbox WHERE merchant_id = $1", merchant["id"])
    assert [(r["job_name"], r["job_id"]) for r in rows] == [("channels.sync", f"sync:{shop['id']}")]
    assert db.loads(rows[0]["payload"]) == {"channel_id": shop["id"], "trigger": "manual"}
    again, _ = await gql(client, CHANNEL_SYNC, key, {"id": str(shop["id"])})  # coalesced into one pull
    assert again["data"]["channelSync"]["queued"] is True
    assert await db.fetchval("SELECT count(*) FROM outbox") == 1
    unsupported, _ = await gql(client, CHANNEL_SYNC, key, {"id": str(web["id"])})
    assert [(e["code"], e["field"]) for e in unsupported["data"]["channelSync"]["errors"]] == [("unsupported", "channel")]
    waited, _ = await gql(client, CHANNEL_SYNC, key, {"id": str(web["id"]), "wait": True})
    assert [e["code"] for e in waited["data"]["channelSync"]["errors"]] == ["unsupported"]


async def test_channel_sync_wait_and_test_connection_against_the_sandbox(client, merchant, api_key):
    actor = system(merchant["id"], "test")
    sandbox = ShopifySandbox(seed=11)
    _, key = await api_key(merchant, "admin")
    async with live_server(Litestar(route_handlers=[sandbox.router()])) as base:
        shop = await channels.create_channel(actor, platform="shopify", name="S",
                                             config=shopify_config(base + "/sandbox/shopify"))
        wrong = await channels.create_channel(actor, platform="shopify", name="Wrong token",
                                              config={**shopify_config(base + "/sandbox/shopify"),
                                                      "access_token": "shpat_wrong"})
        sandbox.set_now(clock.now() - timedelta(minutes=6))
        made = sandbox.generate(4)
        sandbox.set_now(None)

        body, _ = await gql(client, CHANNEL_SYNC, key, {"id": str(shop["id"]), "wait": True})
        result = body["data"]["channelSync"]
        assert result["errors"] == [] and result["queued"] is False and result["syncError"] is None
        assert result["result"]["created"] == len(made) and result["result"]["failed"] == 0
        assert result["result"]["fetched"] >= len(made)
        assert result["channel"]["lastSyncOk"] is True and result["channel"]["lastSyncCounts"]["created"] == len(made)
        assert await db.fetchval("SELECT count(*) FROM sales_order WHERE channel_id = $1", shop["id"]) == len(made)
        runs, _ = await gql(client, "query($id: ID!) { channel(id: $id) { syncRuns { trigger ok counts { created } } } }",
                            key, {"id": str(shop["id"])})
        assert runs["data"]["channel"]["syncRuns"] == [{"trigger": "manual", "ok": True,
                                                        "counts": {"created": len(made)}}]

        test_q = """mutation($id: ID!) { channelTestConnection(id: $id) { ok message shopName errors { code } } }"""
        ok, _ = await gql(client, test_q, key, {"id": str(shop["id"])})
        assert ok["data"]["channelTestConnection"]["ok"] is True
        assert ok["data"]["channelTestConnection"]["shopName"] == ShopifySandbox.shop_name
        bad, _ = await gql(client, test_q, key, {"id": str(wrong["id"])})
        assert bad["data"]["channelTestConnection"]["ok"] is False and bad["data"]["channelTestConnection"]["message"]

        failed, _ = await gql(client, CHANNEL_SYNC, key, {"id": str(wrong["id"]), "wait": True})
        result = failed["data"]["channelSync"]
        assert result["errors"] == [] and result["syncError"] and result["channel"]["lastSyncOk"] is False


async def test_roles_read_or_manage_channels(client, merchant, api_key):
    actor = system(merchant["id"], "test")
    shop = await channels.create_channel(actor, platform="shopify", name="S", config=shopify_config())
    _, partner = await api_key(merchant, "partner_readonly")
    _, warehouse = await api_key(merchant, "warehouse")
    body, text = await gql(client, f"{{ channels {{ {CHANNEL_FIELDS} }} }}", partner)
    assert [c["id"] for c in body["data"]["channels"]] == [str(shop["id"])]
    assert SECRETS["access_token"] not in text
    for mutation, variables in (
        (CHANNEL_CREATE, {"input": {"platform": "website", "name": "P"}}),
        (CHANNEL_UPDATE, {"id": str(shop["id"]), "input": {"name": "P"}}),
        (CHANNEL_SYNC, {"id": str(shop["id"]), "wait": True}),
        (CHANNEL_SYNC, {"id": str(shop["id"])}),
        ("mutation($id: ID!) { r: channelTestConnection(id: $id) { ok errors { code field message } } }",
         {"id": str(shop["id"])}),
    ):
        body, _ = await gql(client, mutation, partner, variables)
        (result,) = body["data"].values()
        assert [e["code"] for e in result["errors"]] == ["permission_denied"], mutation
    assert await db.fetchval("SELECT count(*) FROM channel") == 1
    assert await db.fetchval("SELECT count(*) FROM outbox") == 0
    denied, _ = await gql(client, "{ channels { id } }", warehouse)  # warehouse has no channels.view
    assert denied["data"] is None or denied["data"]["channels"] is None
    assert denied["errors"][0]["extensions"]["code"] == "permission_denied"


async def test_merchant_a_cannot_see_or_touch_merchant_b_channels(client, merchant, other_merchant, api_key):
    b_shop = await channels.create_channel(system(other_merchant["id"], "test"), platform="shopify", name="B",
                                           config=shopify_config())
    a_web = await channels.create_channel(system(merchant["id"], "test"), platform="website", name="A web")
    _, a_key = await api_key(merchant, "admin")
    body, _ = await gql(client, "query($id: ID!) { channels { id name } channel(id: $id) { id } }", a_key,
                           {"id": str(b_shop["id"])})
    assert body["data"] == {"channels": [{"id": str(a_web["id"]), "name": "A web"}], "channel": None}
    for mutation, variables in (
        (CHANNEL_UPDATE, {"id": str(b_shop["id"]), "input": {"name": "Hijacked", "status": "paused"}}),
        (CHANNEL_SYNC, {"id": str(b_shop["id"])}),
        (CHANNEL_SYNC, {"id": str(b_shop["id"]), "wait": True}),
        ("mutation($id: ID!) { r: channelTestConnection(id: $id) { ok errors { code field message } } }",
         {"id": str(b_shop["id"])}),
        ("mutation($id: ID!) { r: channelRegisterWebhooks(id: $id) { subscriptions errors { code field message } } }",
         {"id": str(b_shop["id"])}),
    ):
        body, _ = await gql(client, mutation, a_key, variables)
        (result,) = body["data"].values()
        assert [e["code"] for e in result["errors"]] == ["not_found"], mutation
    row = await db.fetchrow("SELECT name, status FROM channel WHERE id = $1", b_shop["id"])
    assert dict(row) == {"name": "B", "status": "active"}
    assert await db.fetchval("SELECT count(*) FROM outbox") == 0
    assert await db.fetchval("SELECT count(*) FROM channel_sync_run") == 0
