"""Piccolo view of the channel tables: accounts and sync state, sync runs, the webhook inbox and the
raw (immutable) channel orders. Schema of record: the SQL migration."""
from piccolo.columns import JSONB, BigInt, BigSerial, Boolean, Bytea, Integer, Text, Timestamptz
from piccolo.table import Table


class Channel(Table, tablename="channel"):
    id = BigSerial(primary_key=True)
    merchant_id = BigInt()
    platform = Text()
    name = Text()
    config = JSONB(default="{}")
    credentials = Text(default="")          # Fernet token (server.core.crypto); never shown
    status = Text(default="active")         # active | paused | failing
    poll_interval_s = Integer(default=300)
    sync_cursor = Timestamptz(null=True, default=None)
    next_sync_at = Timestamptz()
    sync_started_at = Timestamptz(null=True, default=None)
    last_sync_at = Timestamptz(null=True, default=None)
    last_sync_ok = Boolean(null=True, default=None)
    last_sync_counts = JSONB(default="{}")
    last_error = Text(default="")
    consecutive_failures = Integer(default=0)
    alert_raised_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class ChannelSyncRun(Table, tablename="channel_sync_run"):
    id = BigSerial(primary_key=True)
    merchant_id = BigInt()
    channel_id = BigInt()
    trigger = Text()
    since = Timestamptz(null=True, default=None)
    until = Timestamptz(null=True, default=None)
    started_at = Timestamptz()
    finished_at = Timestamptz(null=True, default=None)
    fetched = Integer(default=0)
    created = Integer(default=0)
    updated = Integer(default=0)
    failed = Integer(default=0)
    ok = Boolean(null=True, default=None)
    error = Text(default="")


class WebhookInbox(Table, tablename="webhook_inbox"):
    id = BigSerial(primary_key=True)
    merchant_id = BigInt(null=True, default=None)
    channel_id = BigInt(null=True, default=None)
    event_id = Text(default="")
    topic = Text(default="")
    headers = JSONB(default="{}")
    body = Bytea()
    signature_valid = Boolean()
    status = Text()                         # received | processed | failed | rejected
    error = Text(default="")
    attempts = Integer(default=0)
    received_at = Timestamptz()
    processed_at = Timestamptz(null=True, default=None)


class RawChannelOrder(Table, tablename="raw_channel_order"):
    """One version of a platform order as received; the payload is immutable (enforced by trigger)."""

    id = BigSerial(primary_key=True)
    merchant_id = BigInt()
    channel_id = BigInt()
    external_id = Text()
    platform_updated_at = Timestamptz(null=True, default=None)
    source = Text()
    payload = JSONB()
    payload_hash = Text()
    mapping_error = Text(default="")
    received_at = Timestamptz()
