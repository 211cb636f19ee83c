"""The demo merchant seeded on first `make run`: slug `demo`, an admin with a generated password."""
from __future__ import annotations

from server.auth import passwords
from server.auth import service as auth_service
from server.core import db

DEMO_SLUG = "demo"
ADMIN_EMAIL = "admin@demo.oms"


async def seed() -> dict:
    """Idempotent: creates what is missing; the admin password is returned only when generated now."""
    merchant = await db.fetchrow("SELECT * FROM merchant WHERE slug = $1", DEMO_SLUG)
    if merchant is None:
        merchant = await auth_service.create_merchant(DEMO_SLUG, "Demo Tea House 演示茶庄")
    password = None
    if not await db.fetchval("SELECT 1 FROM app_user WHERE lower(email) = $1", ADMIN_EMAIL):
        password = passwords.generate()
        await auth_service.bootstrap_admin(merchant["id"], ADMIN_EMAIL, password, "Demo Admin")
    return {"merchant": DEMO_SLUG, "merchant_id": merchant["id"], "admin_email": ADMIN_EMAIL,
            "admin_password": password}
