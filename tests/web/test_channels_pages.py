"""Channel pages: list, create per platform, edit with secrets kept, test connection and sync now
against a real sandbox over HTTP, tenant isolation and permissions."""
from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from litestar import Litestar

from server.channels import service as channels
from server.channels.sandbox.shopify import Sandbox as ShopifySandbox
from server.core import clock, crypto, db
from server.core.actor import system
from tests.support.live_server import live_server
from tests.web.conftest import form, hx, sign_in, text_of

SHOPIFY_TOKEN = ShopifySandbox.credentials["access_token"]
SHOPIFY_SECRET = ShopifySandbox.credentials["client_secret"]


def shopify_form(client, base: str = "http://127.0.0.1:9/sandbox/shopify", **over) -> dict:
    fields = {"platform": "shopify", "name": "My Shopify", "poll_interval_s": "300",
              "cfg_shop_domain": ShopifySandbox.credentials["shop_domain"], "cfg_access_token": SHOPIFY_TOKEN,
              "cfg_api_version": "", "cfg_client_secret": SHOPIFY_SECRET, "cfg_api_base_url": base}
    return form(client, **{**fields, **over})


async def test_list_full_page_and_fragment(client, users):
    admin = await users.make("admin")
    await channels.create_channel(admin["actor"], platform="website", name="Own web shop")
    await sign_in(client, admin)
    page = await client.get("/channels")
    assert page.status_code == 200
    assert "<html" in page.text and "Own web shop" in page.text and "Own website" in page.text
    assert 'href="/channels/new"' in page.text
    fragment = await client.get("/channels", headers=hx(client))
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and 'id="channel-list"' in fragment.text and "Own web shop" in fragment.text


async def test_new_channel_form_per_platform(client, users):
    admin = await users.make("admin")
    await sign_in(client, admin)
    picker = await client.get("/channels/new")
    assert picker.status_code == 200
    for platform in ("shopify", "woocommerce", "taobao", "jd", "pinduoduo", "douyin", "amazon", "website", "pos"):
        assert f'data-platform="{platform}"' in picker.text
    expected = {
        "shopify": ["shop_domain", "access_token", "api_version", "client_secret"],
        "woocommerce": ["site_url", "consumer_key", "consumer_secret", "webhook_secret"],
        "taobao": ["app_key", "app_secret", "session", "sign_method"],
        "jd": ["app_key", "app_secret", "access_token"],
        "pinduoduo": ["client_id", "client_secret", "access_token"],
        "douyin": ["app_key", "app_secret", "access_token", "shop_id"],
        "amazon": ["client_id", "client_secret", "refresh_token", "marketplace_ids", "lwa_url"],
    }
    secrets = {"access_token", "client_secret", "consumer_key", "consumer_secret", "webhook_secret", "app_secret",
               "session", "refresh_token"}
    for platform, keys in expected.items():
        r = await client.get(f"/channels/new?platform={platform}", headers=hx(client))
        assert r.status_code == 200 and "<html" not in r.text
        names = re.findall(r'name="cfg_([a-z_]+)"', r.text)
        assert names == [*keys, "api_base_url"], (platform, names)
        for key in keys:
            kind = re.search(rf'name="cfg_{key}" type="(\w+)"', r.text).group(1)
            assert (kind == "password") == (key in secrets), (platform, key, kind)
    for platform in ("website", "pos"):
        r = await client.get(f"/channels/new?platform={platform}", headers=hx(client))
        assert 'name="cfg_' not in r.text and "Nothing to configure" in r.text
    full = await client.get("/channels/new?platform=amazon")
    assert "<html" in full.text and 'name="cfg_refresh_token"' in full.text


async def test_create_channel_encrypts_credentials_and_never_shows_them(client, users):
    admin = await users.make("admin")
    await sign_in(client, admin)
    r = await client.post("/channels", data=shopify_form(client))
    assert r.status_code == 303, r.text
    channel_id = int(r.headers["location"].rsplit("/", 1)[1])
    row = await db.fetchrow("SELECT * FROM channel WHERE id = $1", channel_id)
    assert row["merchant_id"] == admin["merchant"]["id"] and row["platform"] == "shopify"
    assert SHOPIFY_TOKEN not in row["credentials"] and SHOPIFY_TOKEN not in str(row["config"])
    assert crypto.decrypt_json(row["credentials"])["access_token"] == SHOPIFY_TOKEN
    page = await client.get(f"/channels/{channel_id}")
    assert page.status_code == 200
    assert SHOPIFY_TOKEN not in page.text and SHOPIFY_SECRET not in page.text
    assert "••••" + SHOPIFY_TOKEN[-4:] in page.text  # masked, so people can tell which key is stored
    assert f"/webhooks/channels/{channel_id}" in page.text and "data-copy" in page.text
    listing = await client.get("/channels")
    assert SHOPIFY_TOKEN not in listing.text and "My Shopify" in listing.text


async def test_create_reports_field_errors(client, users):
    admin = await users.make("admin")
    await sign_in(client, admin)
    r = await client.post("/channels", data=shopify_form(client, name=""), headers=hx(client))
    assert r.status_code == 422 and "<html" not in r.text and 'id="f-name-error"' in r.text
    r = await client.post("/channels", data=shopify_form(client, cfg_access_token="", cfg_shop_domain=""),
                          headers=hx(client))
    assert r.status_code == 422
    assert 'id="f-cfg_access_token-error"' in r.text and 'id="f-cfg_shop_domain-error"' in r.text
    r = await client.post("/channels", data=shopify_form(client, cfg_access_token=""), headers=hx(client))
    # the secret typed in is not sent back; the other values are kept
    assert ShopifySandbox.credentials["shop_domain"] in r.text and SHOPIFY_SECRET not in r.text
    assert await db.fetchval("SELECT count(*) FROM channel") == 0
    bad_url = await client.post("/channels", data=shopify_form(client, cfg_api_base_url="ftp://x"))
    assert bad_url.status_code == 422 and 'id="f-cfg_api_base_url-error"' in bad_url.text


async def test_edit_keeps_secrets_left_blank(client, users):
    admin = await users.make("admin")
    await sign_in(client, admin)
    r = await client.post("/channels", data=shopify_form(client))
    channel_id = int(r.headers["location"].rsplit("/", 1)[1])
    r = await client.post(f"/channels/{channel_id}", data=form(
        client, name="Renamed shop", poll_interval_s="60", cfg_shop_domain="other.myshopify.com",
        cfg_access_token="", cfg_api_version="2024-07", cfg_client_secret="", cfg_api_base_url="http://127.0.0.1:9/x"))
    assert r.status_code == 303, r.text
    row = await db.fetchrow("SELECT * FROM channel WHERE id = $1", channel_id)
    creds = crypto.decrypt_json(row["credentials"])
    assert creds == {"access_token": SHOPIFY_TOKEN, "client_secret": SHOPIFY_SECRET}
    assert row["name"] == "Renamed shop" and row["poll_interval_s"] == 60
    assert db.loads(row["config"])["shop_domain"] == "other.myshopify.com"
    # a new value replaces the stored one
    await client.post(f"/channels/{channel_id}", data=form(
        client, name="Renamed shop", poll_interval_s="60", cfg_shop_domain="other.myshopify.com",
        cfg_access_token="shpat_new_token_9876", cfg_api_version="2024-07", cfg_client_secret="",
        cfg_api_base_url="http://127.0.0.1:9/x"))
    row = await db.fetchrow("SELECT * FROM channel WHERE id = $1", channel_id)
    assert crypto.decrypt_json(row["credentials"])["access_token"] == "shpat_new_token_9876"
    page = await client.get(f"/channels/{channel_id}")
    assert "shpat_new_token_9876" not in page.text and "••••9876" in page.text
    # a bad edit answers the settings fragment with the error
    bad = await client.post(f"/channels/{channel_id}", data=form(client, name="", poll_interval_s="60"),
                            headers=hx(client))
    assert bad.status_code == 422 and 'id="channel-settings"' in bad.text and 'id="f-name-error"' in bad.text


async def test_test_connection_and_sync_now_against_the_sandbox(client, users):
    admin = await users.make("admin")
    await sign_in(client, admin)
    sandbox = ShopifySandbox(seed=11)
    async with live_server(Litestar(route_handlers=[sandbox.router()])) as base:
        r = await client.post("/channels", data=shopify_form(client, base=base + "/sandbox/shopify"))
        channel_id = int(r.headers["location"].rsplit("/", 1)[1])
        ok = await client.post(f"/channels/{channel_id}/test", headers=hx(client))
        assert ok.status_code == 200 and "<html" not in ok.text
        assert "Connection works." in ok.text and "alert-success" in ok.text
        # orders placed a few minutes ago, then "sync now" pulls them in while the page waits
        sandbox.set_now(clock.now() - timedelta(minutes=6))
        made = sandbox.generate(5)
        sandbox.set_now(None)
        synced = await client.post(f"/channels/{channel_id}/sync", headers=hx(client))
        assert synced.status_code == 200, synced.text
        assert f"Sync finished: {len(made)} fetched, {len(made)} created, 0 updated, 0 failed." in text_of(synced.text)
        assert await db.fetchval("SELECT count(*) FROM sales_order WHERE channel_id = $1", channel_id) == len(made)
        detail = await client.get(f"/channels/{channel_id}")
        assert "Recent sync runs" in detail.text and "sync-runs" in detail.text
        runs = text_of(detail.text.split('id="sync-runs"')[1])
        assert f"OK {len(made)} {len(made)} 0 0" in runs
        # from the list, "sync now" answers the refreshed row
        row = await client.post(f"/channels/{channel_id}/sync", data={"from": "list"}, headers=hx(client))
        assert row.status_code == 200 and row.text.lstrip().startswith("<tr") and "Synced" in row.text
        # register the order webhooks on the platform, pointing at this channel's webhook URL
        hooks = await client.post(f"/channels/{channel_id}/webhooks", headers=hx(client))
        assert hooks.status_code == 200 and "alert-success" in hooks.text, hooks.text
        registered = int(re.search(r"Registered (\d+) webhook topic", hooks.text).group(1))
        assert registered >= 1
        # a wrong token: the test answers the platform's refusal
        await client.post(f"/channels/{channel_id}", data=form(
            client, name="My Shopify", poll_interval_s="300", cfg_shop_domain=sandbox.credentials["shop_domain"],
            cfg_access_token="shpat_wrong_000000", cfg_api_base_url=base + "/sandbox/shopify"))
        bad = await client.post(f"/channels/{channel_id}/test", headers=hx(client))
        assert bad.status_code == 200 and "Connection failed." in bad.text and "alert-error" in bad.text
        failed = await client.post(f"/channels/{channel_id}/sync", headers=hx(client))
        assert "Sync failed." in failed.text
    listing = await client.get("/channels")
    assert "row-failing" in listing.text and "Backing off after 1 failure in a row" in text_of(listing.text)


async def test_sync_now_without_htmx_flashes_and_redirects(client, users):
    admin = await users.make("admin")
    await sign_in(client, admin)
    web = await channels.create_channel(admin["actor"], platform="website", name="Web")
    r = await client.post(f"/channels/{web['id']}/sync", data=form(client))
    assert r.status_code == 303 and r.headers["location"] == f"/channels/{web['id']}"
    page = await client.get(r.headers["location"])
    assert "do not pull orders" in page.text  # the service's reason, flashed


async def test_another_merchants_channel_is_not_found(client, users, other_merchant):
    admin = await users.make("admin")
    theirs = await channels.create_channel(system(other_merchant["id"], "t"), platform="website", name="Theirs")
    await sign_in(client, admin)
    assert (await client.get(f"/channels/{theirs['id']}")).status_code == 404
    for path in ("", "/test", "/sync", "/status"):
        r = await client.post(f"/channels/{theirs['id']}{path}", data=form(client, name="x", status="paused"))
        assert r.status_code == 404, path
    assert "Theirs" not in (await client.get("/channels")).text
    assert await db.fetchval("SELECT name FROM channel WHERE id = $1", theirs["id"]) == "Theirs"


async def test_roles_without_channel_management_cannot_create(client, users):
    viewer = await users.make("finance")  # channels.view, not channels.manage
    ch = await channels.create_channel(system(viewer["merchant"]["id"], "t"), platform="website", name="Web")
    await sign_in(client, viewer)
    page = await client.get("/channels")
    assert page.status_code == 200 and 'href="/channels/new"' not in page.text and "Sync now" not in page.text
    assert (await client.get("/channels/new")).status_code == 403
    r = await client.post("/channels", data=form(client, platform="website", name="Sneaky"))
    assert r.status_code == 403
    detail = await client.get(f"/channels/{ch['id']}")
    assert detail.status_code == 200 and "Test connection" not in detail.text and "disabled" in detail.text
    assert (await client.post(f"/channels/{ch['id']}", data=form(client, name="x"))).status_code == 403
    assert await db.fetchval("SELECT count(*) FROM channel") == 1
    warehouse = await users.make("warehouse", merchant=viewer["merchant"])  # no channels.view at all
    other = await sign_in(client, warehouse)
    assert (await other.get("/channels")).status_code == 403


async def test_list_filters_export_and_bulk_sync(client, users):
    admin = await users.make("admin")
    actor = admin["actor"]
    web = await channels.create_channel(actor, platform="website", name="Web shop")
    tb = await channels.create_channel(actor, platform="taobao", name="天猫旗舰店", config={
        "app_key": "k", "app_secret": "taobao-secret-0001", "session": "taobao-session-0002"})
    jd = await channels.create_channel(actor, platform="jd", name="京东自营", config={
        "app_key": "k", "app_secret": "jd-secret-0003", "access_token": "jd-token-0004"})
    await sign_in(client, admin)
    only_taobao = await client.get("/channels?platform=taobao", headers=hx(client))
    assert "天猫旗舰店" in only_taobao.text and "京东自营" not in only_taobao.text and "Web shop" not in only_taobao.text
    by_name = await client.get("/channels?q=%E4%BA%AC%E4%B8%9C")  # 京东
    assert "京东自营" in by_name.text and "天猫旗舰店" not in by_name.text and 'value="京东"' in by_name.text
    export = await client.get("/channels/export.csv")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text.lstrip("\ufeff"))))
    assert [r["name"] for r in rows] == ["Web shop", "天猫旗舰店", "京东自营"]
    for secret in ("taobao-secret-0001", "taobao-session-0002", "jd-secret-0003", "jd-token-0004"):
        assert secret not in export.text
    picked = await client.get(f"/channels/export.csv?ids={jd['id']}&ids={web['id']}")
    assert [r["name"] for r in csv.DictReader(io.StringIO(picked.text.lstrip("\ufeff")))] == ["Web shop", "京东自营"]
    # bulk "sync now" queues one pull per selected channel that pulls orders
    r = await client.post("/channels/sync", data={"ids": [str(tb["id"]), str(web["id"])]}, headers=hx(client))
    assert r.status_code == 200 and "Sync queued for 天猫旗舰店." in text_of(r.text)
    assert "do not pull orders: Web shop" in text_of(r.text)
    queued = await db.fetch("SELECT job_id FROM outbox WHERE job_name = 'channels.sync' ORDER BY id")
    assert [q["job_id"] for q in queued] == [f"sync:{tb['id']}"]
    viewer = await users.make("finance", merchant=admin["merchant"])
    other = await sign_in(client, viewer)
    assert (await other.post("/channels/sync", data=form(other, ids=str(jd["id"])))).status_code == 403
