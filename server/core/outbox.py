"""The transactional outbox: side effects recorded with the change, delivered after commit.

`emit()` writes a row in the caller's transaction. The relay (run by every worker; rows are claimed
with SKIP LOCKED so several workers never double-enqueue) moves pending rows to arq once their
transaction has committed, polling a partial index every 200 ms. (Not LISTEN/NOTIFY: NOTIFY takes a
global lock across commit, which serialized every durable commit that emitted — measured at 64
webhook deliveries/s against thousands without it.) Each row becomes
one arq job with the deterministic id `{job_id}#{row id}`, so re-enqueueing after a Redis outage or a
crash is de-duplicated by arq, and `run()` marks the row done in the same transaction as the job's
own writes — at-least-once delivery, exactly once in effect.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from server.core import db
from server.core.errors import TransientError

log = logging.getLogger("oms.outbox")

REDELIVER_AFTER = timedelta(minutes=10)   # enqueued but not done by then: Redis probably lost it
MAX_ATTEMPTS = 12


async def emit(job_name: str, payload: dict | None = None, *, job_id: str | None = None,
               merchant_id: int | None = None, delay: float = 0.0) -> None:
    """Record a job to run after the current transaction commits.

    With `job_id` given, emits before the relay picks the row up coalesce into one (latest payload
    wins, the earliest due time is kept) — that is how pushes are debounced.
    """
    await db.execute(
        """INSERT INTO outbox (merchant_id, job_name, job_id, payload, available_at)
           VALUES ($1, $2, COALESCE($3, 'ob:' || gen_random_uuid()::text), $4::jsonb,
                   now() + make_interval(secs => $5))
           ON CONFLICT (job_id) WHERE enqueued_at IS NULL
           DO UPDATE SET payload = EXCLUDED.payload""",
        merchant_id, job_name, job_id, db.dumps(payload or {}), float(delay))


async def relay_once(redis: Any, *, limit: int = 500) -> int:
    """Enqueue due rows. Returns how many were handed to arq. Raises if Redis is unreachable
    (the rows stay pending and are retried)."""
    async with db.transaction():
        rows = await db.fetch(
            """SELECT id, job_name, job_id FROM outbox
               WHERE enqueued_at IS NULL AND done_at IS NULL AND available_at <= now()
               ORDER BY available_at, id LIMIT $1 FOR UPDATE SKIP LOCKED""", limit)
        if not rows:
            return 0
        for r in rows:
            await redis.enqueue_job(r["job_name"], r["id"], _job_id=f"{r['job_id']}#{r['id']}")
        await db.execute("UPDATE outbox SET enqueued_at = now() WHERE id = ANY($1::bigint[])",
                         [r["id"] for r in rows])
    return len(rows)


async def redeliver_stale() -> int:
    """Rows enqueued long ago and still not done: hand them to the relay again (Redis may have
    lost them). A newer pending row for the same job id supersedes the stale one."""
    async with db.transaction():
        superseded = await db.execute(
            """UPDATE outbox o SET done_at = now(), last_error = 'superseded by a newer emit'
               WHERE o.enqueued_at < now() - $1::interval AND o.done_at IS NULL
                 AND EXISTS (SELECT 1 FROM outbox p WHERE p.job_id = o.job_id AND p.enqueued_at IS NULL)""",
            REDELIVER_AFTER)
        status = await db.execute(
            """UPDATE outbox SET enqueued_at = NULL
               WHERE enqueued_at < now() - $1::interval AND done_at IS NULL""", REDELIVER_AFTER)
    del superseded
    return int(status.split()[-1])


Handler = Callable[[dict], Awaitable[Any]]

# Relay steps: run by every relay pass before pending rows are enqueued, e.g. to turn a domain's own
# durable queue (the webhook inbox) into outbox rows. A step must be idempotent and write only to
# PostgreSQL (it runs when Redis is down too); one step failing never stops the relay.
RELAY_STEPS: list[Callable[[], Awaitable[Any]]] = []


def add_relay_step(step: Callable[[], Awaitable[Any]]) -> None:
    if step not in RELAY_STEPS:
        RELAY_STEPS.append(step)


async def run_relay_steps() -> None:
    for step in RELAY_STEPS:
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("outbox relay step failed, will retry", extra={"step": getattr(step, "__qualname__", ""),
                                                                       "error": str(exc)})


async def run(outbox_id: int, handler: Handler, *, transactional: bool = True) -> Any:
    """Run one outbox row's job at most once in effect.

    Transactional jobs lock the row and do their writes in the same transaction that marks it done.
    Long jobs (channel pulls doing HTTP) pass transactional=False and must be idempotent.
    Transient errors are re-raised for arq to retry with backoff; other errors fail the row.
    """
    try:
        if transactional:
            async with db.transaction():
                # Blocking lock, not SKIP LOCKED: the relay may still hold the row (its transaction
                # commits after arq already started the job), and a second delivery must wait for the
                # first to finish and then see it done.
                row = await db.fetchrow("SELECT payload FROM outbox WHERE id = $1 AND done_at IS NULL FOR UPDATE",
                                        outbox_id)
                if row is None:
                    return None     # already done
                result = await handler(db.loads(row["payload"]))
                await db.execute("UPDATE outbox SET done_at = now(), attempts = attempts + 1 WHERE id = $1",
                                 outbox_id)
                return result
        row = await db.fetchrow("SELECT payload FROM outbox WHERE id = $1 AND done_at IS NULL", outbox_id)
        if row is None:
            return None
        result = await handler(db.loads(row["payload"]))
        await db.execute("UPDATE outbox SET done_at = now(), attempts = attempts + 1 WHERE id = $1", outbox_id)
        return result
    except TransientError as exc:
        attempts = await db.fetchval(
            "UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1 RETURNING attempts",
            outbox_id, exc.message[:1000])
        if attempts is not None and attempts >= MAX_ATTEMPTS:
            await db.execute("UPDATE outbox SET done_at = now() WHERE id = $1", outbox_id)
            log.error("outbox job gave up", extra={"outbox_id": outbox_id, "error": exc.message})
            return None
        raise
    except Exception as exc:
        await db.execute(
            "UPDATE outbox SET attempts = attempts + 1, done_at = now(), last_error = $2 WHERE id = $1",
            outbox_id, f"{type(exc).__name__}: {exc}"[:1000])
        log.exception("outbox job failed", extra={"outbox_id": outbox_id})
        return None


class Relay:
    """Long-running relay loop for a worker process."""

    def __init__(self, redis: Any, *, poll_seconds: float = 0.2):
        self.redis = redis
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="outbox-relay")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        backoff = self.poll_seconds
        while True:
            try:
                await run_relay_steps()
                while await relay_once(self.redis) > 0:
                    pass
                backoff = self.poll_seconds
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis or DB down: keep the rows, try again later
                log.warning("outbox relay failed, will retry", extra={"error": str(exc)})
                backoff = min(backoff * 2, 30.0)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), backoff)
