"""Transfers (调拨) between a merchant's warehouses: transfer orders, their lines and their timeline.

A transfer moves stock out of its source when shipped (transfer_out movements; the units show as
`stock_level.incoming` at the destination) and into its destination as it is received (transfer_in
movements, partial receipts allowed). Cancelling a shipped transfer returns the units not yet received
to the source (transfer_in movements at the source). The stock effects are written by
server/inventory/transfers.py through the ledger; the database keeps each line's arithmetic sane:
received + returned <= shipped <= quantity.
"""
from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from server.core.db import run_ddl

ID = "2026-12-02T01:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "inventory: transfer orders, lines and timeline"

SQL = """
CREATE TABLE transfer_order (
    id                bigserial PRIMARY KEY,
    merchant_id       bigint NOT NULL REFERENCES merchant(id) ON DELETE RESTRICT,
    from_warehouse_id bigint NOT NULL REFERENCES warehouse(id) ON DELETE RESTRICT,
    to_warehouse_id   bigint NOT NULL REFERENCES warehouse(id) ON DELETE RESTRICT,
    status            text NOT NULL DEFAULT 'draft'
                      CHECK (status IN ('draft', 'shipped', 'partially_received', 'received', 'cancelled')),
    reference         text NOT NULL DEFAULT '',
    note              text NOT NULL DEFAULT '',
    suggested         boolean NOT NULL DEFAULT false,
    created_by        text NOT NULL DEFAULT '',
    shipped_at        timestamptz,
    received_at       timestamptz,
    cancelled_at      timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT transfer_order_two_warehouses CHECK (from_warehouse_id <> to_warehouse_id)
);
CREATE INDEX transfer_order_list_idx ON transfer_order (merchant_id, id DESC);
CREATE INDEX transfer_order_status_idx ON transfer_order (merchant_id, status, id DESC);
CREATE INDEX transfer_order_from_idx ON transfer_order (from_warehouse_id, id DESC);
CREATE INDEX transfer_order_to_idx ON transfer_order (to_warehouse_id, id DESC);

CREATE TABLE transfer_line (
    id                 bigserial PRIMARY KEY,
    merchant_id        bigint NOT NULL REFERENCES merchant(id) ON DELETE RESTRICT,
    transfer_id        bigint NOT NULL REFERENCES transfer_order(id) ON DELETE CASCADE,
    line_no            integer NOT NULL,
    sku_id             bigint NOT NULL REFERENCES sku(id) ON DELETE RESTRICT,
    quantity           integer NOT NULL CHECK (quantity > 0),
    shipped_quantity   integer NOT NULL DEFAULT 0,
    received_quantity  integer NOT NULL DEFAULT 0,
    returned_quantity  integer NOT NULL DEFAULT 0,
    CONSTRAINT transfer_line_arithmetic CHECK (
        shipped_quantity >= 0 AND received_quantity >= 0 AND returned_quantity >= 0
        AND shipped_quantity <= quantity AND received_quantity + returned_quantity <= shipped_quantity)
);
CREATE UNIQUE INDEX transfer_line_sku_key ON transfer_line (transfer_id, sku_id);
CREATE INDEX transfer_line_sku_idx ON transfer_line (merchant_id, sku_id);

CREATE TABLE transfer_event (
    id          bigserial PRIMARY KEY,
    merchant_id bigint NOT NULL REFERENCES merchant(id) ON DELETE RESTRICT,
    transfer_id bigint NOT NULL REFERENCES transfer_order(id) ON DELETE CASCADE,
    kind        text NOT NULL,
    from_status text NOT NULL DEFAULT '',
    to_status   text NOT NULL DEFAULT '',
    actor_label text NOT NULL DEFAULT '',
    message     text NOT NULL DEFAULT '',
    data        jsonb NOT NULL DEFAULT '{}'::jsonb,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX transfer_event_transfer_idx ON transfer_event (transfer_id, id);
"""


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="oms", description=DESCRIPTION)

    async def run():
        await run_ddl(SQL)

    manager.add_raw(run)
    return manager
