"""The outbox: written with the change, relayed after commit, exactly once in effect, survives Redis."""
import asyncio
import os
from pathlib import Path

import pytest
from arq import create_pool
from arq.worker import Worker

from jobs.registry import JobSpec
from jobs.worker import _arq_function
from server import devservices
from server.auth import service as auth_service
from server.core import db, outbox, queue
from server.core.actor import system

EFFECTS: list[dict] = []


async def bump(payload: dict) -> None:
    await db.execute("INSERT INTO test_effect (key) VALUES ($1)", payload["key"])
    EFFECTS.append(payload)


SPEC = JobSpec("test.bump", bump)


@pytest.fixture
async def effects(db):
    await db_execute("CREATE TABLE IF NOT EXISTS test_effect (id bigserial PRIMARY KEY, key text NOT NULL)")
    EFFECTS.clear()
    yield
    await db_execute("DROP TABLE IF EXISTS test_effect")


async def db_execute(sql: str) -> None:
    await db.execute(sql)


async def run_worker_burst() -> None:
    redis = await create_pool(queue.redis_settings())  # a worker closes its pool when done
    worker = Worker(functions=[_arq_function(SPEC)], redis_pool=redis, burst=True, poll_delay=0.05,
                    handle_signals=False, max_jobs=10)
    try:
        await worker.main()
    finally:
        await worker.close()


async def effect_count(key: str) -> int:
    return await db.fetchval("SELECT count(*) FROM test_effect WHERE key = $1", key)


async def test_rolled_back_transaction_leaves_no_job(effects):
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await outbox.emit("test.bump", {"key": "ghost"})
            raise RuntimeError("the change failed")
    assert await db.fetchval("SELECT count(*) FROM outbox") == 0


async def test_job_runs_once_even_when_delivered_twice(effects):
    async with db.transaction():
        await outbox.emit("test.bump", {"key": "a"}, job_id="bump:a")
    assert await outbox.relay_once(await queue.pool()) == 1
    await run_worker_burst()
    assert await effect_count("a") == 1
    # arq gets the same row a second time (as after a crash between enqueue and bookkeeping)
    row_id = await db.fetchval("SELECT id FROM outbox")
    await (await queue.pool()).enqueue_job("test.bump", row_id, _job_id="duplicate-delivery")
    await run_worker_burst()
    assert await effect_count("a") == 1


async def test_emits_before_relay_coalesce(effects):
    for i in range(5):
        await outbox.emit("test.bump", {"key": f"v{i}"}, job_id="push:listing:1")
    rows = await db.fetch("SELECT payload FROM outbox")
    assert len(rows) == 1 and db.loads(rows[0]["payload"]) == {"key": "v4"}  # latest value wins


async def test_redis_outage_loses_nothing(effects, merchant):
    data_dir = Path(os.environ["OMS_DATA_DIR"])
    await queue.close()
    devservices.redis_down(data_dir)
    try:
        # the action succeeds with Redis down: the job is only a row in the same transaction
        actor = system(merchant["id"], "test")
        async with db.transaction():
            user, _ = await auth_service.create_user(actor, email="outage@example.com", role="warehouse")
            await outbox.emit("test.bump", {"key": "outage"}, job_id=f"welcome:{user['id']}")
        with pytest.raises(Exception):  # noqa: B017 - any connection error: Redis is down
            await outbox.relay_once(await queue.pool())
        await queue.close()
        row = await db.fetchrow("SELECT enqueued_at, done_at FROM outbox")
        assert row["enqueued_at"] is None and row["done_at"] is None
    finally:
        devservices.redis_up(data_dir)
    assert await outbox.relay_once(await queue.pool()) == 1
    await asyncio.gather(run_worker_burst(), run_worker_burst())  # two workers racing
    assert await effect_count("outage") == 1
    assert await db.fetchval("SELECT done_at IS NOT NULL FROM outbox")


async def test_stale_enqueued_rows_are_redelivered(effects):
    await outbox.emit("test.bump", {"key": "lost"}, job_id="lost:1")
    await outbox.relay_once(await queue.pool())
    await (await queue.pool()).flushdb()  # Redis lost the queue (restart without persistence)
    await db.execute("UPDATE outbox SET enqueued_at = now() - interval '11 minutes'")
    assert await outbox.redeliver_stale() == 1
    await outbox.relay_once(await queue.pool())
    await run_worker_burst()
    assert await effect_count("lost") == 1


async def test_relay_picks_up_committed_rows_quickly(effects):
    relay = outbox.Relay(await queue.pool())
    await relay.start()
    try:
        await asyncio.sleep(0.2)
        async with db.transaction():
            await outbox.emit("test.bump", {"key": "fast"})

        async def enqueued():
            return await db.fetchval("SELECT enqueued_at IS NOT NULL FROM outbox")

        from tests.support.fixtures import wait_for
        await wait_for(enqueued, timeout=1)
    finally:
        await relay.stop()
