"""Periodic upkeep: outbox redelivery, expired sessions."""
from __future__ import annotations

from server.auth import service as auth_service
from server.core import outbox
from server.orders import queries as order_queries


async def redeliver_outbox(ctx: dict) -> int:
    return await outbox.redeliver_stale()


async def purge_sessions(ctx: dict) -> int:
    return await auth_service.purge_expired()


async def compact_order_counts(ctx: dict) -> int:
    return await order_queries.compact_status_counts()
