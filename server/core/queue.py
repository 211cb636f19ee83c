"""The arq (Redis) connection used to enqueue jobs and by the worker."""
from __future__ import annotations

from arq import ArqRedis, create_pool
from arq.connections import RedisSettings

from server.settings import get_settings

_pool: ArqRedis | None = None


def redis_url() -> str:
    s = get_settings()
    if s.redis_url:
        return s.redis_url
    from server.devservices import redis_url as embedded  # noqa: PLC0415 - embedded default only

    return embedded(s.data_dir)


def redis_settings() -> RedisSettings:
    return RedisSettings.from_dsn(redis_url())


async def pool() -> ArqRedis:
    global _pool
    if _pool is None:
        rs = redis_settings()
        rs.conn_retries = 0
        rs.conn_timeout = 2
        _pool = await create_pool(rs)
    return _pool


async def close() -> None:
    global _pool
    if _pool is not None:
        await _pool.aclose()
        _pool = None
