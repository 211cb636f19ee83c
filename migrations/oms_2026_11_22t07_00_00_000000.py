"""Inventory core: warehouses (and the channels they serve), stock levels, the append-only stock
ledger, and reservations of order lines.

Invariants the database itself keeps:
- I1 no oversell: stock_level CHECK (reserved >= 0 AND on_hand >= 0 AND reserved <= on_hand);
- the ledger is append-only (trigger), so I2 (level == sum of its movements) can be audited at any time;
- one live reservation per (order line, SKU) — a kit line reserves each component once.
"""
from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from server.core.db import run_ddl

ID = "2026-11-22T07:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "inventory: warehouses, stock levels, ledger, reservations"

SQL = """
CREATE TABLE warehouse (
    id                  bigserial PRIMARY KEY,
    merchant_id         bigint NOT NULL REFERENCES merchant(id) ON DELETE RESTRICT,
    code                text NOT NULL CHECK (code <> ''),
    name                text NOT NULL,
    country_code        text NOT NULL DEFAULT '',
    province            text NOT NULL DEFAULT '',
    city                text NOT NULL DEFAULT '',
    district            text NOT NULL DEFAULT '',
    address             text NOT NULL DEFAULT '',
    postcode            text NOT NULL DEFAULT '',
    region_code         text NOT NULL DEFAULT '',
    latitude            double precision,
    longitude           double precision,
    priority            integer NOT NULL DEFAULT 0,
    active              boolean NOT NULL DEFAULT true,
    serves_all_channels boolean NOT NULL DEFAULT true,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX warehouse_code_key ON warehouse (merchant_id, code);

-- which channels a warehouse may serve when serves_all_channels is false
CREATE TABLE warehouse_channel (
    warehouse_id bigint NOT NULL REFERENCES warehouse(id) ON DELETE CASCADE,
    channel_id   bigint NOT NULL REFERENCES channel(id) ON DELETE CASCADE,
    merchant_id  bigint NOT NULL REFERENCES merchant(id) ON DELETE RESTRICT,
    PRIMARY KEY (warehouse_id, channel_id)
);
CREATE INDEX warehouse_channel_channel_idx ON warehouse_channel (channel_id);

CREATE TABLE stock_level (
    id           bigserial PRIMARY KEY,
    merchant_id  bigint NOT NULL REFERENCES merchant(id) ON DELETE RESTRICT,
    warehouse_id bigint NOT NULL REFERENCES warehouse(id) ON DELETE RESTRICT,
    sku_id       bigint NOT NULL REFERENCES sku(id) ON DELETE RESTRICT,
    on_hand      integer NOT NULL DEFAULT 0,
    reserved     integer NOT NULL DEFAULT 0,
    incoming     integer NOT NULL DEFAULT 0 CHECK (incoming >= 0),   -- transfers in flight (later)
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT stock_level_no_oversell CHECK (reserved >= 0 AND on_hand >= 0 AND reserved <= on_hand)
);
CREATE UNIQUE INDEX stock_level_key ON stock_level (warehouse_id, sku_id);
CREATE INDEX stock_level_sku_idx ON stock_level (merchant_id, sku_id);

CREATE TABLE stock_movement (
    id             bigserial PRIMARY KEY,
    merchant_id    bigint NOT NULL REFERENCES merchant(id) ON DELETE RESTRICT,
    stock_level_id bigint NOT NULL REFERENCES stock_level(id) ON DELETE RESTRICT,
    warehouse_id   bigint NOT NULL REFERENCES warehouse(id) ON DELETE RESTRICT,
    sku_id         bigint NOT NULL REFERENCES sku(id) ON DELETE RESTRICT,
    kind           text NOT NULL CHECK (kind IN ('receipt', 'adjustment', 'reservation', 'release', 'shipment',
                                                 'transfer_out', 'transfer_in', 'return')),
    on_hand_delta  integer NOT NULL DEFAULT 0,
    reserved_delta integer NOT NULL DEFAULT 0,
    reason         text NOT NULL DEFAULT '',
    reference      text NOT NULL DEFAULT '',
    order_id       bigint REFERENCES sales_order(id) ON DELETE RESTRICT,
    order_line_id  bigint REFERENCES order_line(id) ON DELETE RESTRICT,
    actor_label    text NOT NULL DEFAULT '',
    at             timestamptz NOT NULL DEFAULT now(),
    CHECK (on_hand_delta <> 0 OR reserved_delta <> 0)
);
CREATE INDEX stock_movement_level_idx ON stock_movement (stock_level_id, id);
CREATE INDEX stock_movement_sku_idx ON stock_movement (merchant_id, sku_id, id DESC);
CREATE INDEX stock_movement_order_idx ON stock_movement (order_id) WHERE order_id IS NOT NULL;

CREATE FUNCTION stock_movement_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'stock_movement is append-only: correct stock with a new movement';
END $$;
CREATE TRIGGER stock_movement_no_update BEFORE UPDATE OR DELETE ON stock_movement
    FOR EACH ROW EXECUTE FUNCTION stock_movement_immutable();

CREATE TABLE reservation (
    id             bigserial PRIMARY KEY,
    merchant_id    bigint NOT NULL REFERENCES merchant(id) ON DELETE RESTRICT,
    order_id       bigint NOT NULL REFERENCES sales_order(id) ON DELETE RESTRICT,
    order_line_id  bigint NOT NULL REFERENCES order_line(id) ON DELETE RESTRICT,
    sku_id         bigint NOT NULL REFERENCES sku(id) ON DELETE RESTRICT,   -- the component for a kit line
    warehouse_id   bigint NOT NULL REFERENCES warehouse(id) ON DELETE RESTRICT,
    stock_level_id bigint NOT NULL REFERENCES stock_level(id) ON DELETE RESTRICT,
    quantity       integer NOT NULL CHECK (quantity > 0),
    status         text NOT NULL DEFAULT 'reserved' CHECK (status IN ('reserved', 'released', 'shipped')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX reservation_live_key ON reservation (order_line_id, sku_id) WHERE status = 'reserved';
CREATE INDEX reservation_order_idx ON reservation (order_id, status);
CREATE INDEX reservation_level_live_idx ON reservation (stock_level_id) WHERE status = 'reserved';
CREATE INDEX reservation_sku_live_idx ON reservation (merchant_id, sku_id) WHERE status = 'reserved';
"""


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="oms", description=DESCRIPTION)

    async def run():
        await run_ddl(SQL)

    manager.add_raw(run)
    return manager
