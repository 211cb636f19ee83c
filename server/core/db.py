"""The database engine, transactions, and raw SQL helpers that share Piccolo's transaction.

Piccolo keeps the current transaction in a context variable, so raw asyncpg calls made through
`fetch`/`execute` here join it automatically; tasks spawned inside a transaction share it too.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from piccolo.engine.postgres import PostgresEngine

from server.settings import get_settings

log = logging.getLogger("oms.db")


def database_url() -> str:
    s = get_settings()
    if s.database_url:
        return s.database_url
    from server.devservices import pg_url  # noqa: PLC0415 - embedded default only

    return pg_url(s.data_dir)


class Engine(PostgresEngine):
    async def check_version(self) -> None:
        """Piccolo connects at construction to warn about old servers; we require PG >= 13 in the
        docs instead of opening a connection at import time."""


DB = Engine(config={"dsn": database_url()}, extensions=(), log_queries=False)


async def start_pool() -> None:
    if DB.pool is None:
        s = get_settings()
        await DB.start_connection_pool(min_size=s.db_pool_min, max_size=s.db_pool_max,
                                       command_timeout=60)


async def close_pool(timeout: float = 15.0) -> bool:
    """Close the pool, waiting up to `timeout` s for borrowed connections to come back; then
    terminate (a shutdown must never hang on a task that forgot to release its connection).
    Returns False when connections had to be terminated."""
    pool = DB.pool
    if pool is None:
        return True
    try:
        await asyncio.wait_for(pool.close(), timeout)
        graceful = True
    except TimeoutError:
        busy = pool.get_size() - pool.get_idle_size()
        log.warning("closing the database pool: %d connection(s) still borrowed after %.0f s; terminated",
                    busy, timeout)
        pool.terminate()
        graceful = False
    DB.pool = None
    return graceful


def transaction():
    """`async with transaction():` — nested calls join the outer transaction."""
    return DB.transaction()


def in_transaction() -> bool:
    return DB.current_transaction.get() is not None


@contextlib.asynccontextmanager
async def connection() -> AsyncIterator[asyncpg.Connection]:
    """The current transaction's connection, or one from the pool."""
    tx = DB.current_transaction.get()
    if tx is not None:
        yield tx.connection
        return
    if DB.pool is None:
        conn = await asyncpg.connect(database_url())
        try:
            yield conn
        finally:
            await conn.close()
        return
    async with DB.pool.acquire() as conn:
        yield conn


async def fetch(sql: str, *args: Any) -> list[asyncpg.Record]:
    async with connection() as conn:
        return await conn.fetch(sql, *args)


async def fetchrow(sql: str, *args: Any) -> asyncpg.Record | None:
    async with connection() as conn:
        return await conn.fetchrow(sql, *args)


async def fetchval(sql: str, *args: Any) -> Any:
    async with connection() as conn:
        return await conn.fetchval(sql, *args)


async def execute(sql: str, *args: Any) -> str:
    async with connection() as conn:
        return await conn.execute(sql, *args)


def dumps(value: Any) -> str:
    """JSON for jsonb parameters (cast with ::jsonb in SQL)."""
    return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))


def loads(value: str | None) -> Any:
    return None if value is None else json.loads(value)


async def run_ddl(sql: str) -> None:
    """Run a multi-statement SQL script (simple query protocol) in the current transaction."""
    async with connection() as conn:
        await conn.execute(sql)
