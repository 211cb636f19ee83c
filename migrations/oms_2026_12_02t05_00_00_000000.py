"""Webhook inbox as the queue of waiting deliveries (issue 3, webhook path).

A delivery no longer writes an outbox row: the inbox row itself is the durable queue, and the relay
step (server/channels/inbox.py `queue_pending`) turns "channel C has received rows" into one batch
job per channel. Two questions are asked on every relay pass, each answered by a small partial index:
- which channels have deliveries waiting, and a channel's oldest ones first (replaces the global
  `webhook_inbox_pending_idx (id)`, which could not answer per channel);
- is a batch job of this channel already in flight?
"""
from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from server.core.db import run_ddl

ID = "2026-12-02T05:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "webhook inbox: per-channel received index, in-flight webhook batch jobs"

SQL = """
DROP INDEX IF EXISTS webhook_inbox_pending_idx;
CREATE INDEX webhook_inbox_received_idx ON webhook_inbox (channel_id, id) WHERE status = 'received';
CREATE INDEX outbox_webhook_batch_idx ON outbox (job_id)
    WHERE job_name = 'channels.webhook_batch' AND done_at IS NULL;
"""


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="oms", description=DESCRIPTION)

    async def run():
        await run_ddl(SQL)

    manager.add_raw(run)
    return manager
