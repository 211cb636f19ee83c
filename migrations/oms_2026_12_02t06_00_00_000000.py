"""Transfers: an idempotency key on transfer_order, so a partner retrying `transferCreate` gets the
first transfer back instead of a second one.

- transfer_order.idempotency_key: '' when the caller sent none (the existing rows, the pages, the
  suggestions); otherwise the caller's key, unique per merchant (partial index), which is also what
  keeps two concurrent calls with one key from both inserting.
"""
from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from server.core.db import run_ddl

ID = "2026-12-02T06:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "transfers: idempotency key on transfer_order"

SQL = """
ALTER TABLE transfer_order ADD COLUMN idempotency_key text NOT NULL DEFAULT '';
CREATE UNIQUE INDEX transfer_order_idempotency_key ON transfer_order (merchant_id, idempotency_key)
    WHERE idempotency_key <> '';
"""


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="oms", description=DESCRIPTION)

    async def run():
        await run_ddl(SQL)

    manager.add_raw(run)
    return manager
