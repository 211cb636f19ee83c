"""Channel stock sync: per-channel (and per-listing) stock policies, stock push marks written by the
ledger, and each listing's push state (what was last pushed, when, the result, the error).

- channel_stock_policy: one row per channel (listing_id NULL) plus optional per-listing overrides;
  warehouse_ids NULL means "every warehouse eligible for the channel".
- stock_push_mark: INSERT-only, written in the same statement as a stock change that moves
  `available` (no row is updated, so stock writers never wait on each other here); the push job of
  the channel consumes them.
- listing_stock_push: written only by the push job: dirty/version, the desired quantity, the last
  pushed quantity and time, result, error, attempts and the next retry time.
"""
from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from server.core.db import run_ddl

ID = "2026-12-02T02:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "inventory: channel stock policies and stock pushes"

SQL = """
CREATE TABLE channel_stock_policy (
    id            bigserial PRIMARY KEY,
    merchant_id   bigint NOT NULL REFERENCES merchant(id) ON DELETE CASCADE,
    channel_id    bigint NOT NULL REFERENCES channel(id) ON DELETE CASCADE,
    listing_id    bigint REFERENCES channel_listing(id) ON DELETE CASCADE,
    mode          text NOT NULL DEFAULT 'pool' CHECK (mode IN ('pool', 'percent', 'quota')),
    percent       integer NOT NULL DEFAULT 100 CHECK (percent BETWEEN 0 AND 100),
    quota         integer NOT NULL DEFAULT 0 CHECK (quota >= 0),
    buffer        integer NOT NULL DEFAULT 0 CHECK (buffer >= 0),
    max_listed    integer CHECK (max_listed >= 0),
    zero_at       integer NOT NULL DEFAULT 0 CHECK (zero_at >= 0),
    warehouse_ids bigint[],
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX channel_stock_policy_channel_key ON channel_stock_policy (channel_id) WHERE listing_id IS NULL;
CREATE UNIQUE INDEX channel_stock_policy_listing_key ON channel_stock_policy (listing_id) WHERE listing_id IS NOT NULL;
CREATE INDEX channel_stock_policy_merchant_idx ON channel_stock_policy (merchant_id);

CREATE TABLE stock_push_mark (
    id          bigserial PRIMARY KEY,
    merchant_id bigint NOT NULL,
    channel_id  bigint NOT NULL,
    listing_id  bigint NOT NULL,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stock_push_mark_channel_idx ON stock_push_mark (channel_id, id);

CREATE TABLE listing_stock_push (
    listing_id      bigint PRIMARY KEY REFERENCES channel_listing(id) ON DELETE CASCADE,
    merchant_id     bigint NOT NULL REFERENCES merchant(id) ON DELETE CASCADE,
    channel_id      bigint NOT NULL REFERENCES channel(id) ON DELETE CASCADE,
    dirty           boolean NOT NULL DEFAULT false,
    version         bigint NOT NULL DEFAULT 0,
    desired_qty     integer,
    last_pushed_qty integer,
    last_pushed_at  timestamptz,
    last_attempt_at timestamptz,
    last_result     text NOT NULL DEFAULT '' CHECK (last_result IN ('', 'ok', 'retrying', 'failed', 'skipped')),
    last_error      text NOT NULL DEFAULT '',
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX listing_stock_push_channel_idx ON listing_stock_push (channel_id, listing_id);
CREATE INDEX listing_stock_push_dirty_idx ON listing_stock_push (next_attempt_at) WHERE dirty;

CREATE INDEX IF NOT EXISTS sku_component_component_idx ON sku_component (component_sku_id);
-- "is a push job of this channel already waiting?" — asked by every stock write that marks listings
CREATE INDEX outbox_stock_push_waiting_idx ON outbox ((payload->>'channel_id'))
    WHERE job_name = 'inventory.stock_push' AND enqueued_at IS NULL AND done_at IS NULL;
"""


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="oms", description=DESCRIPTION)

    async def run():
        await run_ddl(SQL)

    manager.add_raw(run)
    return manager
