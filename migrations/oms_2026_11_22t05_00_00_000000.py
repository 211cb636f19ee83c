"""Foundation: merchants, users, sessions, API keys, login throttling, audit trail, outbox."""
from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from server.core.db import run_ddl

ID = "2026-11-22T05:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "foundation"

SQL = """
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE merchant (
    id          bigserial PRIMARY KEY,
    slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    name        text NOT NULL,
    timezone    text NOT NULL DEFAULT 'Asia/Shanghai',
    currency    char(3) NOT NULL DEFAULT 'CNY',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE app_user (
    id                  bigserial PRIMARY KEY,
    merchant_id         bigint NOT NULL REFERENCES merchant(id) ON DELETE RESTRICT,
    email               text NOT NULL,
    name                text NOT NULL DEFAULT '',
    password_hash       text NOT NULL,
    role                text NOT NULL,
    language            text NOT NULL DEFAULT 'en',
    timezone            text NOT NULL DEFAULT 'Asia/Shanghai',
    is_active           boolean NOT NULL DEFAULT true,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    last_login_at       timestamptz,
    password_changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX app_user_email_key ON app_user (lower(email));
CREATE INDEX app_user_merchant_idx ON app_user (merchant_id, id);

CREATE TABLE user_session (
    id            bigserial PRIMARY KEY,
    token_hash    text NOT NULL UNIQUE,
    user_id       bigint NOT NULL REFERENCES app_user(id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    ip            text NOT NULL DEFAULT '',
    user_agent    text NOT NULL DEFAULT ''
);
CREATE INDEX user_session_user_idx ON user_session (user_id);
CREATE INDEX user_session_expiry_idx ON user_session (expires_at);

CREATE TABLE api_key (
    id            bigserial PRIMARY KEY,
    merchant_id   bigint NOT NULL REFERENCES merchant(id) ON DELETE RESTRICT,
    name          text NOT NULL,
    prefix        text NOT NULL UNIQUE,
    key_hash      text NOT NULL,
    role          text NOT NULL,
    created_by_id bigint REFERENCES app_user(id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX api_key_merchant_idx ON api_key (merchant_id, id);

CREATE TABLE login_attempt (
    id         bigserial PRIMARY KEY,
    email      text NOT NULL,
    ip         text NOT NULL DEFAULT '',
    success    boolean NOT NULL,
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_attempt_email_idx ON login_attempt (email, at DESC);
CREATE INDEX login_attempt_ip_idx ON login_attempt (ip, at DESC);

CREATE TABLE audit_entry (
    id           bigserial PRIMARY KEY,
    merchant_id  bigint REFERENCES merchant(id) ON DELETE RESTRICT,
    actor_type   text NOT NULL,
    actor_id     bigint,
    actor_label  text NOT NULL DEFAULT '',
    action       text NOT NULL,
    object_type  text NOT NULL,
    object_id    text NOT NULL DEFAULT '',
    before       jsonb,
    after        jsonb,
    request_id   text NOT NULL DEFAULT '',
    job_id       text NOT NULL DEFAULT '',
    ip           text NOT NULL DEFAULT '',
    at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_entry_merchant_at_idx ON audit_entry (merchant_id, at DESC, id DESC);
CREATE INDEX audit_entry_action_idx ON audit_entry (merchant_id, action, at DESC);
CREATE INDEX audit_entry_object_idx ON audit_entry (merchant_id, object_type, object_id);
CREATE INDEX audit_entry_actor_idx ON audit_entry (merchant_id, actor_type, actor_id, at DESC);

-- Append-only: the trail cannot be edited or deleted through the application's connection.
CREATE FUNCTION audit_entry_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_entry is append-only';
END $$;
CREATE TRIGGER audit_entry_no_update BEFORE UPDATE OR DELETE ON audit_entry
    FOR EACH ROW EXECUTE FUNCTION audit_entry_immutable();

CREATE TABLE outbox (
    id            bigserial PRIMARY KEY,
    merchant_id   bigint REFERENCES merchant(id) ON DELETE CASCADE,
    job_name      text NOT NULL,
    job_id        text NOT NULL,
    payload       jsonb NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    available_at  timestamptz NOT NULL DEFAULT now(),
    enqueued_at   timestamptz,
    done_at       timestamptz,
    attempts      integer NOT NULL DEFAULT 0,
    last_error    text NOT NULL DEFAULT ''
);
-- one pending row per deterministic job id: emitting the same job again before the relay picked it
-- up coalesces into one job (latest payload wins); once enqueued, a new emit makes a new row.
CREATE UNIQUE INDEX outbox_job_pending_key ON outbox (job_id) WHERE enqueued_at IS NULL;
CREATE INDEX outbox_pending_idx ON outbox (available_at, id) WHERE done_at IS NULL;
"""


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="oms", description=DESCRIPTION)

    async def run():
        await run_ddl(SQL)

    manager.add_raw(run)
    return manager
