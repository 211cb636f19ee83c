"""Periodic upkeep: outbox redelivery, expired sessions."""
from __future__ import annotations

from server.auth import service as auth_service
from server.core import outbox


async def redeliver_outbox(ctx: dict) -> int:
    return await outbox.redeliver_stale()


async def purge_sessions(ctx: dict) -> int:
    return await auth_service.purge_expired()
