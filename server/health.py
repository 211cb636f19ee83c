"""/healthz (process up) and /readyz (DB, Redis, migrations) with JSON detail."""
from __future__ import annotations

import asyncio

from litestar import get
from litestar.response import Response

from server.core import db, migrate, queue


@get("/healthz", sync_to_thread=False, include_in_schema=False)
def healthz() -> dict:
    return {"status": "ok"}


@get("/readyz", include_in_schema=False)
async def readyz() -> Response:
    checks: dict[str, dict] = {}
    try:
        await asyncio.wait_for(db.fetchval("SELECT 1"), 3)
        pending = await migrate.pending()
        checks["database"] = {"ok": True}
        checks["migrations"] = {"ok": not pending, "pending": pending}
    except Exception as exc:
        checks["database"] = {"ok": False, "error": type(exc).__name__}
        checks["migrations"] = {"ok": False, "error": "database unreachable"}
    try:
        redis = await queue.pool()
        await asyncio.wait_for(redis.ping(), 3)
        checks["redis"] = {"ok": True}
    except Exception as exc:
        checks["redis"] = {"ok": False, "error": type(exc).__name__}
    ok = all(c["ok"] for c in checks.values())
    return Response({"status": "ready" if ok else "not_ready", "checks": checks}, status_code=200 if ok else 503)
