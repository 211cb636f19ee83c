"""Channel jobs: scheduled and on-demand pulls, webhook processing. Thin calls into services.

Webhooks: a delivery is only an inbox row; the outbox relay step `inbox.queue_pending` (registered
here, run by every worker's relay pass) queues one `channels.webhook_batch` job per channel with
deliveries waiting, which works through them in batches (see server/channels/inbox.py).
"""
from __future__ import annotations

from arq import cron

from jobs.registry import outbox_job
from server.channels import inbox
from server.channels import service as channels
from server.core import outbox


@outbox_job("channels.sync", transactional=False)  # long HTTP work; run_sync is idempotent and leased
async def sync_channel(payload: dict) -> dict:
    return await channels.run_sync(payload["channel_id"], trigger=payload.get("trigger", "manual"))


@outbox_job(inbox.JOB_NAME, transactional=False)  # one transaction per batch; idempotent (SKIP LOCKED claims)
async def process_webhooks(payload: dict) -> dict:
    return await inbox.process_channel(payload["channel_id"])


@outbox_job("channels.webhook")   # one delivery: jobs queued before the batch job existed
async def process_webhook(payload: dict) -> dict:
    return await inbox.process(payload["inbox_id"])


outbox.add_relay_step(inbox.queue_pending)


@outbox_job("channels.register_webhooks", transactional=False)
async def register_webhooks(payload: dict) -> list[str]:
    from server.core.actor import system  # noqa: PLC0415

    return await channels.register_webhooks(system(payload["merchant_id"], "register-webhooks"), payload["channel_id"])


async def queue_due_syncs(ctx: dict) -> int:
    return await channels.queue_due_syncs()


CRON = [cron(queue_due_syncs, second={0}, run_at_startup=True)]

