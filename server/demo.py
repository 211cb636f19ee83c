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
