"""Run Piccolo migrations (one app, one history) and tell whether any are pending."""
from __future__ import annotations

import contextlib
import io

from piccolo.apps.migrations.commands.base import BaseMigrationManager
from piccolo.apps.migrations.commands.forwards import run_forwards

from server.core import db

_LOCK_KEY = 7_100_100  # advisory lock: several processes starting at once migrate one at a time


def known_ids() -> list[str]:
    app = BaseMigrationManager().get_app_config("oms")
    modules = BaseMigrationManager().get_migration_modules(app.migrations_folder_path)
    return sorted(modules)


async def applied_ids() -> list[str]:
    exists = await db.fetchval("SELECT to_regclass('public.migration') IS NOT NULL")
    if not exists:
        return []
    rows = await db.fetch("SELECT name FROM migration WHERE app_name = 'oms'")
    return sorted(r["name"] for r in rows)


async def pending() -> list[str]:
    done = set(await applied_ids())
    return [m for m in known_ids() if m not in done]


async def migrate(*, quiet: bool = True) -> list[str]:
    """Apply pending migrations; returns the ids applied."""
    async with db.connection() as conn:
        await conn.execute(f"SELECT pg_advisory_lock({_LOCK_KEY})")
        try:
            todo = await pending()
            if todo:
                out = io.StringIO()
                with contextlib.redirect_stdout(out) if quiet else contextlib.nullcontext():
                    result = await run_forwards("oms", "all")
                if not result.success:
                    raise RuntimeError(f"migration failed: {result.message}\n{out.getvalue()}")
            return todo
        finally:
            await conn.execute(f"SELECT pg_advisory_unlock({_LOCK_KEY})")
