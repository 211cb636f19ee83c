"""Catalog, channels (sync state, webhook inbox, raw orders), customers, orders (lines, timeline,
notes, counts), saved views."""
from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from server.core.db import run_ddl

ID = "2026-11-22T06:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "catalog, channels, customers, orders"

SQL = """
CREATE TABLE merchant_counter (
    merchant_id bigint NOT NULL REFERENCES merchant(id) ON DELETE CASCADE,
    name        text NOT NULL,
    value       bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (merchant_id, name)
);

-- catalog -------------------------------------------------------------------------------------
CREATE TABLE product (
    id           bigserial PRIMARY KEY,
    merchant_id  bigint NOT NULL REFERENCES merchant(id) ON DELETE RESTRICT,
    name         text NOT NULL,
    category     text NOT NULL DEFAULT '',
    brand        text NOT NULL DEFAULT '',
    description  text NOT NULL DEFAULT '',
    active       boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX product_merchant_idx ON product (merchant_id, id);

CREATE TABLE sku (
    id               bigserial PRIMARY KEY,
    merchant_id      bigint NOT NULL REFERENCES merchant(id) ON DELETE RESTRICT,
    product_id       bigint NOT NULL REFERENCES product(id) ON DELETE RESTRICT,
    code             text NOT NULL CHECK (code <> ''),
    barcode          text NOT NULL DEFAULT '',
    name             text NOT NULL,
    spec             text NOT NULL DEFAULT '',
    category         text NOT NULL DEFAULT '',
    weight_g         integer NOT NULL DEFAULT 0 CHECK (weight_g >= 0),
    cost_minor       bigint NOT NULL DEFAULT 0 CHECK (cost_minor >= 0),
    list_price_minor bigint NOT NULL DEFAULT 0 CHECK (list_price_minor >= 0),
    currency         char(3) NOT NULL DEFAULT 'CNY',
    is_kit           boolean NOT NULL DEFAULT false,
    active           boolean NOT NULL DEFAULT true,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX sku_code_key ON sku (merchant_id, code);
CREATE INDEX sku_barcode_idx ON sku (merchant_id, barcode) WHERE barcode <> '';
CREATE INDEX sku_product_idx ON sku (product_id);
CREATE INDEX sku_search_idx ON sku USING gin ((code || ' ' || name || ' ' || barcode) gin_trgm_ops);

CREATE TABLE sku_component (
    kit_sku_id       bigint NOT NULL REFERENCES sku(id) ON DELETE CASCADE,
    component_sku_id bigint NOT NULL REFERENCES sku(id) ON DELETE RESTRICT,
    quantity         integer NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (kit_sku_id, component_sku_id),
    CHECK (kit_sku_id <> component_sku_id)
);

-- channels ------------------------------------------------------------------------------------
CREATE TABLE channel (
    id                   bigserial PRIMARY KEY,
    merchant_id          bigint NOT NULL REFERENCES merchant(id) ON DELETE RESTRICT,
    platform             text NOT NULL,
    name                 text NOT NULL,
    config               jsonb NOT NULL DEFAULT '{}',
    credentials          text NOT NULL DEFAULT '',
    status               text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'failing')),
    poll_interval_s      integer NOT NULL DEFAULT 300 CHECK (poll_interval_s >= 60),
    sync_cursor          timestamptz,
    next_sync_at         timestamptz NOT NULL DEFAULT now(),
    sync_started_at      timestamptz,
    last_sync_at         timestamptz,
    last_sync_ok         boolean,
    last_sync_counts     jsonb NOT NULL DEFAULT '{}',
    last_error           text NOT NULL DEFAULT '',
    consecutive_failures integer NOT NULL DEFAULT 0,
    alert_raised_at      timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX channel_name_key ON channel (merchant_id, lower(name));
CREATE INDEX channel_due_idx ON channel (next_sync_at) WHERE status <> 'paused';

CREATE TABLE channel_sync_run (
    id          bigserial PRIMARY KEY,
    merchant_id bigint NOT NULL REFERENCES merchant(id) ON DELETE CASCADE,
    channel_id  bigint NOT NULL REFERENCES channel(id) ON DELETE CASCADE,
    trigger     text NOT NULL,
    since       timestamptz,
    until       timestamptz,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    fetched     integer NOT NULL DEFAULT 0,
    created     integer NOT NULL DEFAULT 0,
    updated     integer NOT NULL DEFAULT 0,
    failed      integer NOT NULL DEFAULT 0,
    ok          boolean,
    error       text NOT NULL DEFAULT ''
);
CREATE INDEX channel_sync_run_idx ON channel_sync_run (channel_id, id DESC);

CREATE TABLE channel_listing (
    id                  bigserial PRIMARY KEY,
    merchant_id         bigint NOT NULL REFERENCES merchant(id) ON DELETE RESTRICT,
    channel_id          bigint NOT NULL REFERENCES channel(id) ON DELETE CASCADE,
    platform_product_id text NOT NULL DEFAULT '',
    platform_sku_id     text NOT NULL DEFAULT '',
    platform_sku_code   text NOT NULL DEFAULT '',
    title               text NOT NULL DEFAULT '',
    sku_id              bigint REFERENCES sku(id) ON DELETE SET NULL,
    match_method        text NOT NULL DEFAULT '' CHECK (match_method IN ('', 'code', 'manual')),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX channel_listing_key ON channel_listing (channel_id, platform_product_id, platform_sku_id);
CREATE INDEX channel_listing_sku_idx ON channel_listing (sku_id);
CREATE INDEX channel_listing_unmatched_idx ON channel_listing (merchant_id) WHERE sku_id IS NULL;

CREATE TABLE webhook_inbox (
    id              bigserial PRIMARY KEY,
    merchant_id     bigint REFERENCES merchant(id) ON DELETE CASCADE,
    channel_id      bigint REFERENCES channel(id) ON DELETE CASCADE,
    event_id        text NOT NULL DEFAULT '',
    topic           text NOT NULL DEFAULT '',
    headers         jsonb NOT NULL DEFAULT '{}',
    body            bytea NOT NULL,
    signature_valid boolean NOT NULL,
    status          text NOT NULL CHECK (status IN ('received', 'processed', 'failed', 'rejected')),
    error           text NOT NULL DEFAULT '',
    attempts        integer NOT NULL DEFAULT 0,
    received_at     timestamptz NOT NULL DEFAULT now(),
    processed_at    timestamptz
);
CREATE UNIQUE INDEX webhook_inbox_event_key ON webhook_inbox (channel_id, event_id)
    WHERE event_id <> '' AND signature_valid;
CREATE INDEX webhook_inbox_channel_idx ON webhook_inbox (channel_id, id DESC);
CREATE INDEX webhook_inbox_pending_idx ON webhook_inbox (id) WHERE status = 'received';

CREATE TABLE raw_channel_order (
    id                  bigserial PRIMARY KEY,
    merchant_id         bigint NOT NULL REFERENCES merchant(id) ON DELETE CASCADE,
    channel_id          bigint NOT NULL REFERENCES channel(id) ON DELETE CASCADE,
    external_id         text NOT NULL,
    platform_updated_at timestamptz,
    source              text NOT NULL,
    payload             jsonb NOT NULL,
    payload_hash        text NOT NULL,
    mapping_error       text NOT NULL DEFAULT '',
    received_at         timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX raw_channel_order_version_key ON raw_channel_order (channel_id, external_id, payload_hash);
CREATE INDEX raw_channel_order_failed_idx ON raw_channel_order (merchant_id, id DESC) WHERE mapping_error <> '';

CREATE FUNCTION raw_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.payload IS DISTINCT FROM OLD.payload THEN
        RAISE EXCEPTION '% payloads are immutable', TG_TABLE_NAME;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER raw_channel_order_immutable BEFORE UPDATE ON raw_channel_order
    FOR EACH ROW EXECUTE FUNCTION raw_immutable();

-- customers -----------------------------------------------------------------------------------
CREATE TABLE customer (
    id             bigserial PRIMARY KEY,
    merchant_id    bigint NOT NULL REFERENCES merchant(id) ON DELETE RESTRICT,
    name           text NOT NULL DEFAULT '',
    phone          text NOT NULL DEFAULT '',
    email          text NOT NULL DEFAULT '',
    orders_count   integer NOT NULL DEFAULT 0,
    total_spent    bigint NOT NULL DEFAULT 0,
    currency       char(3) NOT NULL DEFAULT 'CNY',
    first_order_at timestamptz,
    last_order_at  timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customer_merchant_idx ON customer (merchant_id, id);

CREATE TABLE customer_identity (
    merchant_id bigint NOT NULL REFERENCES merchant(id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('phone', 'email', 'platform')),
    value       text NOT NULL,
    customer_id bigint NOT NULL REFERENCES customer(id) ON DELETE CASCADE,
    PRIMARY KEY (merchant_id, kind, value)
);
CREATE INDEX customer_identity_customer_idx ON customer_identity (customer_id);

-- orders --------------------------------------------------------------------------------------
CREATE TABLE sales_order (
    id                    bigserial PRIMARY KEY,
    merchant_id           bigint NOT NULL REFERENCES merchant(id) ON DELETE RESTRICT,
    channel_id            bigint NOT NULL REFERENCES channel(id) ON DELETE RESTRICT,
    external_id           text NOT NULL,
    order_number          text NOT NULL,
    platform_order_number text NOT NULL DEFAULT '',
    status                text NOT NULL,
    payment_status        text NOT NULL,
    platform_status       text NOT NULL DEFAULT '',
    hold_reasons          text[] NOT NULL DEFAULT '{}',
    tags                  text[] NOT NULL DEFAULT '{}',
    customer_id           bigint REFERENCES customer(id) ON DELETE SET NULL,
    is_returning          boolean NOT NULL DEFAULT false,
    buyer_name            text NOT NULL DEFAULT '',
    buyer_platform_id     text NOT NULL DEFAULT '',
    buyer_email           text NOT NULL DEFAULT '',
    receiver_name         text NOT NULL DEFAULT '',
    receiver_phone        text NOT NULL DEFAULT '',
    phone_tail            text NOT NULL DEFAULT '',
    country_code          text NOT NULL DEFAULT '',
    province              text NOT NULL DEFAULT '',
    city                  text NOT NULL DEFAULT '',
    district              text NOT NULL DEFAULT '',
    town                  text NOT NULL DEFAULT '',
    address               text NOT NULL DEFAULT '',
    postcode              text NOT NULL DEFAULT '',
    region_code           text NOT NULL DEFAULT '',
    latitude              double precision,
    longitude             double precision,
    receiver_masked       boolean NOT NULL DEFAULT false,
    receiver_edited       boolean NOT NULL DEFAULT false,   -- staff changed it: platform updates keep hands off
    buyer_note            text NOT NULL DEFAULT '',
    seller_note           text NOT NULL DEFAULT '',
    currency              char(3) NOT NULL,
    items_total           bigint NOT NULL DEFAULT 0,
    shipping_fee          bigint NOT NULL DEFAULT 0,
    discount_total        bigint NOT NULL DEFAULT 0,
    tax_total             bigint NOT NULL DEFAULT 0,
    total                 bigint NOT NULL DEFAULT 0,
    refunded_total        bigint NOT NULL DEFAULT 0,
    placed_at             timestamptz NOT NULL,
    paid_at               timestamptz,
    cancelled_at          timestamptz,
    ship_by               timestamptz,
    platform_updated_at   timestamptz,
    fulfilled_by_platform boolean NOT NULL DEFAULT false,
    priority              integer NOT NULL DEFAULT 0,
    sku_codes             text[] NOT NULL DEFAULT '{}',
    line_count            integer NOT NULL DEFAULT 0,
    idempotency_key       text,
    source                text NOT NULL DEFAULT 'pull',
    version               integer NOT NULL DEFAULT 1,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX sales_order_external_key ON sales_order (channel_id, external_id);
CREATE UNIQUE INDEX sales_order_number_key ON sales_order (merchant_id, order_number);
CREATE UNIQUE INDEX sales_order_idempotency_key ON sales_order (merchant_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX sales_order_placed_idx ON sales_order (merchant_id, placed_at DESC, id DESC);
CREATE INDEX sales_order_status_idx ON sales_order (merchant_id, status, placed_at DESC, id DESC);
CREATE INDEX sales_order_channel_idx ON sales_order (merchant_id, channel_id, placed_at DESC, id DESC);
CREATE INDEX sales_order_customer_idx ON sales_order (customer_id, placed_at DESC);
CREATE INDEX sales_order_phone_tail_idx ON sales_order (merchant_id, phone_tail);
CREATE INDEX sales_order_province_idx ON sales_order (merchant_id, province, city);
CREATE INDEX sales_order_tags_idx ON sales_order USING gin (tags);
CREATE INDEX sales_order_holds_idx ON sales_order USING gin (hold_reasons) WHERE hold_reasons <> '{}';
CREATE INDEX sales_order_skus_idx ON sales_order USING gin (sku_codes);
CREATE INDEX sales_order_ext_idx ON sales_order (merchant_id, external_id);
CREATE INDEX sales_order_platform_number_idx ON sales_order (merchant_id, platform_order_number)
    WHERE platform_order_number <> '';
CREATE INDEX sales_order_names_idx ON sales_order USING gin ((buyer_name || ' ' || receiver_name) gin_trgm_ops);

CREATE TABLE order_line (
    id                  bigserial PRIMARY KEY,
    order_id            bigint NOT NULL REFERENCES sales_order(id) ON DELETE RESTRICT,
    merchant_id         bigint NOT NULL,
    line_no             integer NOT NULL,
    external_line_id    text NOT NULL DEFAULT '',
    sku_id              bigint REFERENCES sku(id) ON DELETE RESTRICT,
    sku_code            text NOT NULL DEFAULT '',
    platform_product_id text NOT NULL DEFAULT '',
    platform_sku_id     text NOT NULL DEFAULT '',
    title               text NOT NULL DEFAULT '',
    spec                text NOT NULL DEFAULT '',
    quantity            integer NOT NULL CHECK (quantity > 0),
    unit_price          bigint NOT NULL DEFAULT 0,
    discount            bigint NOT NULL DEFAULT 0,
    tax                 bigint NOT NULL DEFAULT 0,
    refunded_quantity   integer NOT NULL DEFAULT 0,
    refund_status       text NOT NULL DEFAULT '',
    UNIQUE (order_id, line_no)
);
CREATE INDEX order_line_sku_idx ON order_line (sku_id);
CREATE INDEX order_line_unmatched_idx ON order_line (merchant_id, platform_product_id, platform_sku_id)
    WHERE sku_id IS NULL;

CREATE TABLE order_event (
    id          bigserial PRIMARY KEY,
    order_id    bigint NOT NULL REFERENCES sales_order(id) ON DELETE CASCADE,
    merchant_id bigint NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    kind        text NOT NULL,
    from_status text NOT NULL DEFAULT '',
    to_status   text NOT NULL DEFAULT '',
    actor_label text NOT NULL DEFAULT '',
    message     text NOT NULL DEFAULT '',
    data        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX order_event_order_idx ON order_event (order_id, id);

CREATE TABLE order_note (
    id           bigserial PRIMARY KEY,
    order_id     bigint NOT NULL REFERENCES sales_order(id) ON DELETE CASCADE,
    merchant_id  bigint NOT NULL,
    author_label text NOT NULL,
    body         text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX order_note_order_idx ON order_note (order_id, id);

-- Live counts per status for the workspace tabs. Triggers append per-statement deltas (never update a
-- shared row, so concurrent status changes never wait on each other or deadlock); reads sum them; a
-- periodic job folds the deltas into one row per (merchant, status).
CREATE TABLE order_status_count (
    id          bigserial PRIMARY KEY,
    merchant_id bigint NOT NULL,
    status      text NOT NULL,
    count       bigint NOT NULL
);
CREATE INDEX order_status_count_merchant_idx ON order_status_count (merchant_id, status);

CREATE FUNCTION order_counts_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO order_status_count (merchant_id, status, count)
    SELECT merchant_id, status, count(*) FROM new_rows GROUP BY 1, 2;
    RETURN NULL;
END $$;
CREATE FUNCTION order_counts_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO order_status_count (merchant_id, status, count)
    SELECT merchant_id, status, sum(d) FROM (
        SELECT merchant_id, status, 1 AS d FROM new_rows
        UNION ALL SELECT merchant_id, status, -1 FROM old_rows) x
    GROUP BY 1, 2 HAVING sum(d) <> 0;
    RETURN NULL;
END $$;
CREATE TRIGGER sales_order_counts_ins AFTER INSERT ON sales_order
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION order_counts_ins();
CREATE TRIGGER sales_order_counts_upd AFTER UPDATE ON sales_order
    REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION order_counts_upd();

CREATE TABLE saved_view (
    id          bigserial PRIMARY KEY,
    merchant_id bigint NOT NULL REFERENCES merchant(id) ON DELETE CASCADE,
    user_id     bigint NOT NULL REFERENCES app_user(id) ON DELETE CASCADE,
    area        text NOT NULL,
    name        text NOT NULL,
    query       jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, area, name)
);
"""


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="oms", description=DESCRIPTION)

    async def run():
        await run_ddl(SQL)

    manager.add_raw(run)
    return manager
