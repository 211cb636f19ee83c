"""Channel stock sync jobs: push a channel's changed listings; sweep for pushes nobody scheduled.
Thin calls into server.inventory.channel_stock_push."""
from __future__ import annotations

from arq import cron

from jobs.registry import outbox_job
from server.inventory import channel_stock, channel_stock_push


@outbox_job(channel_stock.PUSH_JOB)   # transactional: marks, results and "done" commit together
async def push_channel_stock(payload: dict) -> dict:
    return await channel_stock_push.push_channel(int(payload["channel_id"]))


async def sweep_stock_pushes(ctx: dict) -> int:
    return await channel_stock_push.sweep()


CRON = [cron(sweep_stock_pushes, second=set(range(0, 60, 5)), run_at_startup=True)]
