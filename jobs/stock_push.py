"""Channel stock sync jobs: push a channel's changed listings; sweep for pushes nobody scheduled.
Thin calls into server.inventory.channel_stock_push."""
from __future__ import annotations

import time

from jobs.registry import outbox_job
from server.core import outbox
from server.inventory import channel_stock, channel_stock_push

SWEEP_EVERY_S = 5.0
_last_sweep = 0.0


@outbox_job(channel_stock.PUSH_JOB)   # transactional: marks, results and "done" commit together
async def push_channel_stock(payload: dict) -> dict:
    return await channel_stock_push.push_channel(int(payload["channel_id"]))


async def sweep_stock_pushes() -> None:
    """The safety-net sweep as a step of the outbox relay loop, at most every SWEEP_EVERY_S: a
    5-second arq cron logged two lines every 5 s in every worker's output. The sweep is idempotent,
    so several workers running it is harmless."""
    global _last_sweep  # noqa: PLW0603 - one timestamp per worker process
    now = time.monotonic()
    if now - _last_sweep >= SWEEP_EVERY_S:
        _last_sweep = now
        await channel_stock_push.sweep()


outbox.add_relay_step(sweep_stock_pushes)
