"""Stock alerts (库存预警) and outgoing mail.

- stock_alert_rule: per SKU or per category, in one warehouse or over all of them (total available),
  a threshold (available <= N) or days of cover (available / average daily demand <= D days);
- stock_alert: one row per crossing. The unique partial index allows one unresolved alert per
  rule x SKU x warehouse (NULL warehouse = all warehouses), so two evaluations running at once can
  never open two alerts for the same crossing;
- mail_message: every mail sent (or captured in dev), unique on an idempotency key so a retried job
  never mails a recipient twice;
- reservation_demand_idx: recent demand (reservations made in the last N days) per SKU.
"""
from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from server.core.db import run_ddl

ID = "2026-12-02T03:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "stock alert rules, alerts, mail log"

SQL = """
CREATE TABLE stock_alert_rule (
    id            bigserial PRIMARY KEY,
    merchant_id   bigint NOT NULL REFERENCES merchant(id) ON DELETE RESTRICT,
    name          text NOT NULL DEFAULT '',
    sku_id        bigint REFERENCES sku(id) ON DELETE CASCADE,
    category      text,
    warehouse_id  bigint REFERENCES warehouse(id) ON DELETE CASCADE,   -- NULL: all warehouses (total)
    kind          text NOT NULL CHECK (kind IN ('threshold', 'days_of_cover')),
    threshold     integer CHECK (threshold >= 0),
    cover_days    double precision CHECK (cover_days > 0),
    demand_days   integer NOT NULL DEFAULT 14 CHECK (demand_days BETWEEN 1 AND 365),
    recipients    text[] NOT NULL DEFAULT '{}',                        -- empty: the inventory team
    active        boolean NOT NULL DEFAULT true,
    created_by_id bigint REFERENCES app_user(id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT stock_alert_rule_target CHECK ((sku_id IS NULL) <> (category IS NULL)),
    CONSTRAINT stock_alert_rule_limit CHECK ((kind = 'threshold' AND threshold IS NOT NULL)
                                             OR (kind = 'days_of_cover' AND cover_days IS NOT NULL))
);
CREATE INDEX stock_alert_rule_merchant_idx ON stock_alert_rule (merchant_id, id);
CREATE INDEX stock_alert_rule_active_idx ON stock_alert_rule (merchant_id) WHERE active;

CREATE TABLE stock_alert (
    id              bigserial PRIMARY KEY,
    merchant_id     bigint NOT NULL REFERENCES merchant(id) ON DELETE RESTRICT,
    rule_id         bigint REFERENCES stock_alert_rule(id) ON DELETE SET NULL,
    rule_name       text NOT NULL DEFAULT '',
    kind            text NOT NULL CHECK (kind IN ('threshold', 'days_of_cover')),
    sku_id          bigint NOT NULL REFERENCES sku(id) ON DELETE CASCADE,
    warehouse_id    bigint REFERENCES warehouse(id) ON DELETE CASCADE,
    threshold       integer,
    cover_days      double precision,
    available       integer NOT NULL,
    daily_demand    double precision NOT NULL DEFAULT 0,
    days_of_cover   double precision,
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'resolved')),
    opened_at       timestamptz NOT NULL DEFAULT now(),
    acknowledged_at timestamptz,
    acknowledged_by text NOT NULL DEFAULT '',
    resolved_at     timestamptz,
    resolved_available integer,
    notified_at     timestamptz
);
CREATE UNIQUE INDEX stock_alert_unresolved_key ON stock_alert (rule_id, sku_id, (coalesce(warehouse_id, 0)))
    WHERE status <> 'resolved';
CREATE INDEX stock_alert_list_idx ON stock_alert (merchant_id, id DESC);
CREATE INDEX stock_alert_status_idx ON stock_alert (merchant_id, status, id DESC);

CREATE TABLE mail_message (
    id           bigserial PRIMARY KEY,
    merchant_id  bigint REFERENCES merchant(id) ON DELETE CASCADE,
    key          text NOT NULL UNIQUE,
    to_address   text NOT NULL,
    from_address text NOT NULL,
    subject      text NOT NULL,
    body_text    text NOT NULL,
    body_html    text NOT NULL DEFAULT '',
    language     text NOT NULL DEFAULT 'en',
    transport    text NOT NULL CHECK (transport IN ('capture', 'smtp', 'none')),
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'captured',
                                                                   'failed')),
    error        text NOT NULL DEFAULT '',
    attempts     integer NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    sent_at      timestamptz
);
CREATE INDEX mail_message_merchant_idx ON mail_message (merchant_id, id DESC);

CREATE INDEX reservation_demand_idx ON reservation (merchant_id, sku_id, created_at);
"""


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="oms", description=DESCRIPTION)

    async def run():
        await run_ddl(SQL)

    manager.add_raw(run)
    return manager
