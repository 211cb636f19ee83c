"""The demo merchant seeded on first `make run`: slug `demo`, an admin with a generated password,
the sandbox shops' catalogue, and one channel per platform wired to its local sandbox."""
from __future__ import annotations

from server.auth import passwords
from server.auth import service as auth_service
from server.core import db, outbox
from server.core.actor import system
from server.settings import get_settings

DEMO_SLUG = "demo"
ADMIN_EMAIL = "admin@demo.oms"

# api_base_url of each platform's sandbox, relative to this server (see each connector's docstring)
SANDBOX_PATHS = {
    "taobao": "/sandbox/taobao/router/rest",
    "jd": "/sandbox/jd/routerjson",
    "pinduoduo": "/sandbox/pinduoduo/api/router",
    "douyin": "/sandbox/douyin",
    "amazon": "/sandbox/amazon",
    "shopify": "/sandbox/shopify",
    "woocommerce": "/sandbox/woocommerce",
}
CHANNEL_NAMES = {
    "taobao": "天猫旗舰店", "jd": "京东自营店", "pinduoduo": "拼多多专营店", "douyin": "抖音小店",
    "amazon": "Amazon", "shopify": "Shopify Store", "woocommerce": "WooCommerce Site",
}
WEBHOOK_PLATFORMS = ("shopify", "woocommerce")


def sandbox_config(platform: str, base_url: str) -> dict:
    from server.channels.sandbox.app import sandboxes  # noqa: PLC0415

    config = dict(sandboxes()[platform].credentials)
    config["api_base_url"] = base_url + SANDBOX_PATHS[platform]
    if platform == "amazon":
        config["lwa_url"] = base_url + "/sandbox/amazon/auth/o2/token"
    return config


async def seed() -> dict:
    """Idempotent: creates what is missing; the admin password is returned only when generated now."""
    from server.catalog import service as catalog  # noqa: PLC0415
    from server.channels import service as channels  # noqa: PLC0415
    from server.channels.sandbox.base import DEMO_SKUS  # noqa: PLC0415

    merchant = await db.fetchrow("SELECT * FROM merchant WHERE slug = $1", DEMO_SLUG)
    if merchant is None:
        merchant = await auth_service.create_merchant(DEMO_SLUG, "Demo Tea House 演示茶庄")
    password = None
    if not await db.fetchval("SELECT 1 FROM app_user WHERE lower(email) = $1", ADMIN_EMAIL):
        password = passwords.generate()
        await auth_service.bootstrap_admin(merchant["id"], ADMIN_EMAIL, password, "Demo Admin")
    actor = system(merchant["id"], "demo-seed")
    for sku in DEMO_SKUS:
        if not await db.fetchval("SELECT 1 FROM sku WHERE merchant_id = $1 AND code = $2", merchant["id"], sku.code):
            await catalog.create_sku(actor, {"code": sku.code, "name": sku.title_zh, "list_price": sku.price_cny,
                                             "weight_g": sku.weight_g, "category": "茶" if sku.code.startswith("TEA")
                                             else "茶具", "cost": str(round(float(sku.price_cny) * 0.45, 2))})
    await _seed_stock(actor, merchant["id"], DEMO_SKUS)
    if get_settings().sandbox:
        base = get_settings().base_url
        for platform in SANDBOX_PATHS:
            name = CHANNEL_NAMES[platform]
            if not await db.fetchval("SELECT 1 FROM channel WHERE merchant_id = $1 AND name = $2", merchant["id"], name):
                await channels.create_channel(actor, platform=platform, name=name,
                                              config=sandbox_config(platform, base), poll_interval_s=60)
        for name in ("官网 Website", "线下门店 Store"):
            if not await db.fetchval("SELECT 1 FROM channel WHERE merchant_id = $1 AND name = $2", merchant["id"], name):
                await channels.create_channel(actor, platform="website" if "Website" in name else "pos", name=name)
    return {"merchant": DEMO_SLUG, "merchant_id": merchant["id"], "admin_email": ADMIN_EMAIL,
            "admin_password": password}


DEMO_WAREHOUSES = [
    {"code": "SH-01", "name": "上海嘉定仓 Shanghai", "priority": 10,
     "address": {"country_code": "CN", "province": "上海市", "city": "上海市", "district": "嘉定区",
                 "address": "马陆镇宝安公路 2888 号", "postcode": "201801"}},
    {"code": "GZ-01", "name": "广州白云仓 Guangzhou", "priority": 5,
     "address": {"country_code": "CN", "province": "广东省", "city": "广州市", "district": "白云区",
                 "address": "太和镇永兴村物流园 8 栋", "postcode": "510540"}},
]


async def _seed_stock(actor, merchant_id: int, skus) -> None:
    """Two warehouses with opening stock and a low-stock rule, so orders reserve, pushes reach the
    sandboxes and alerts fire from the first minute. Only on a merchant with no warehouse yet."""
    from server.inventory import alerts, stock, warehouses  # noqa: PLC0415

    if await db.fetchval("SELECT 1 FROM warehouse WHERE merchant_id = $1", merchant_id):
        return
    for wh in DEMO_WAREHOUSES:
        await warehouses.create_warehouse(actor, wh)
    for i, sku in enumerate(skus):
        for wh, qty in (("SH-01", 40 + 15 * (i % 4)), ("GZ-01", 8 + 6 * (i % 3))):
            await stock.receive(actor, wh, sku.code, qty, reference="opening stock")
    await alerts.create_rule(actor, {"name": "茶叶低库存 Tea running low", "kind": "threshold", "category": "茶",
                                     "threshold": 10})


async def after_start(merchant_id: int) -> None:
    """Each `make run`: the sandboxes live in the web process's memory, so subscribe the pushing
    platforms' webhooks again (a worker job, retried until the web server answers)."""
    if not get_settings().sandbox:
        return
    rows = await db.fetch("SELECT id FROM channel WHERE merchant_id = $1 AND platform = ANY($2::text[])",
                          merchant_id, list(WEBHOOK_PLATFORMS))
    for r in rows:
        await outbox.emit("channels.register_webhooks", {"merchant_id": merchant_id, "channel_id": r["id"]},
                          job_id=f"register_webhooks:{r['id']}", merchant_id=merchant_id, delay=2)
