"""Channels (a shop on a platform): configuration with encrypted credentials, pulls with backoff,
and the webhook inbox. The only writer of channel, channel_sync_run and webhook_inbox."""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from server.audit import service as audit
from server.auth import policy
from server.channels.connectors import registry
from server.channels.connectors.base import Capability, Connector, ConnectorError
from server.core import clock, crypto, db, http, outbox
from server.core.actor import Actor, system
from server.core.errors import Conflict, ErrorList, NotFound, TransientError, ValidationError
from server.orders import ingest
from server.settings import get_settings

log = logging.getLogger("oms.channels")

INITIAL_LOOKBACK = timedelta(days=1)     # a new channel's first pull
MAX_BACKOFF = timedelta(hours=1)
ALERT_AFTER_FAILURES = 3
SYNC_LEASE = timedelta(minutes=15)        # a sync that died mid-way frees the channel after this


def webhook_url(channel_id: int) -> str:
    return f"{get_settings().base_url}/webhooks/channels/{channel_id}"


def public(row: dict) -> dict:
    """A channel as surfaces show it: credentials never leave, only which ones are set (masked)."""
    out = {k: v for k, v in row.items() if k != "credentials"}
    out["config"] = db.loads(row["config"]) if isinstance(row["config"], str) else row["config"]
    out["last_sync_counts"] = (db.loads(row["last_sync_counts"]) if isinstance(row.get("last_sync_counts"), str)
                               else row.get("last_sync_counts"))
    creds = crypto.decrypt_json(row["credentials"]) if row.get("credentials") else {}
    out["credentials_masked"] = {k: crypto.mask_secret(str(v)) for k, v in creds.items() if v}
    out["webhook_url"] = webhook_url(row["id"])
    connector = registry.get(row["platform"])
    out["capabilities"] = sorted(c.value for c in connector.capabilities)
    out["display_platform"] = connector.display_name
    return out


def _split_config(platform: str, config: dict[str, Any], existing_creds: dict | None = None,
                  existing_config: dict | None = None) -> tuple[dict, dict]:
    """Validate against the connector's declared fields; secrets go to credentials. An empty secret
    on update keeps the stored one (forms never echo secrets back)."""
    cls = registry.get(platform)
    fields = {f.name: f for f in cls.config_fields}
    errors: list[ValidationError] = []
    unknown = sorted(set(config) - set(fields) - {"api_base_url"})
    if unknown:
        errors.append(ValidationError(f"unknown config keys for {platform}: {', '.join(unknown)}; expected "
                                      f"{', '.join(sorted(fields)) or 'none'}", code="unknown_config", field="config"))
    public_cfg = dict(existing_config or {})
    creds = dict(existing_creds or {})
    if "api_base_url" in config:
        url = str(config["api_base_url"] or "").strip()
        if url and not url.startswith(("http://", "https://")):
            errors.append(ValidationError("api_base_url must start with http:// or https://", code="invalid",
                                          field="config.api_base_url"))
        public_cfg["api_base_url"] = url
    for name, f in fields.items():
        value = config.get(name)
        if isinstance(value, str):
            value = value.strip()
        target = creds if f.secret else public_cfg
        if value in (None, ""):
            if name not in target and f.default is not None:
                target[name] = f.default
        else:
            target[name] = value
        if f.required and target.get(name) in (None, ""):
            errors.append(ValidationError(f"{name} is required for {platform}", code="required",
                                          field=f"config.{name}"))
    if errors:
        raise ErrorList(errors)
    return public_cfg, creds


async def create_channel(actor: Actor, *, platform: str, name: str, config: dict | None = None,
                         poll_interval_s: int = 300) -> dict:
    policy.authorize(actor, "channels.manage")
    name = (name or "").strip()
    if not name:
        raise ValidationError("name the channel (e.g. the shop's name)", code="required", field="name")
    if not 60 <= int(poll_interval_s) <= 86400:
        raise ValidationError("poll interval must be between 60 seconds and 1 day", code="invalid",
                              field="pollIntervalS")
    cfg, creds = _split_config(platform, config or {})
    async with db.transaction():
        row = await db.fetchrow(
            """INSERT INTO channel (merchant_id, platform, name, config, credentials, poll_interval_s, sync_cursor)
               VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING *""",
            policy.tenant(actor), platform, name, db.dumps(cfg), crypto.encrypt_json(creds) if creds else "",
            int(poll_interval_s), clock.now() - INITIAL_LOOKBACK)
        if row is None:
            raise Conflict(f"a channel named {name!r} exists", code="duplicate", field="name")
        await audit.record(actor, "channel.create", "channel", row["id"],
                           after={"platform": platform, "name": name, "config": cfg,
                                  "credentials": sorted(creds)})
    return public(dict(row))


async def update_channel(actor: Actor, channel_id: int, *, name: str | None = None, config: dict | None = None,
                         poll_interval_s: int | None = None, status: str | None = None) -> dict:
    policy.authorize(actor, "channels.manage")
    async with db.transaction():
        row = await _get(actor, channel_id, lock=True)
        changes: dict[str, Any] = {}
        if name is not None and not name.strip():
            raise ValidationError("name the channel (e.g. the shop's name)", code="required", field="name")
        if name is not None and name.strip() != row["name"]:
            changes["name"] = name.strip()
        if config is not None:
            cfg, creds = _split_config(row["platform"], config, crypto.decrypt_json(row["credentials"]),
                                       db.loads(row["config"]))
            changes["config"] = db.dumps(cfg)
            changes["credentials"] = crypto.encrypt_json(creds) if creds else ""
        if poll_interval_s is not None:
            if not 60 <= int(poll_interval_s) <= 86400:
                raise ValidationError("poll interval must be between 60 seconds and 1 day", code="invalid",
                                      field="pollIntervalS")
            changes["poll_interval_s"] = int(poll_interval_s)
        if status is not None:
            if status not in ("active", "paused"):
                raise ValidationError("status must be active or paused", code="invalid", field="status")
            changes["status"] = status
            if status == "active":
                changes["consecutive_failures"] = 0
                changes["next_sync_at"] = clock.now()
        if not changes:
            return public(row)
        sets = ", ".join(f"{k} = ${i + 2}{'::jsonb' if k == 'config' else ''}" for i, k in enumerate(changes))
        new = await db.fetchrow(
            f"UPDATE channel SET {sets}, updated_at = now() WHERE id = $1 RETURNING *",  # noqa: S608 - fixed keys
            channel_id, *changes.values())
        shown = {k: ("(changed)" if k == "credentials" else v) for k, v in changes.items()}
        await audit.record(actor, "channel.update", "channel", channel_id, after=shown)
    return public(dict(new))


async def _get(actor: Actor, channel_id: int, *, lock: bool = False) -> dict:
    sql = "SELECT * FROM channel WHERE id = $1 AND merchant_id = $2" + (" FOR UPDATE" if lock else "")  # noqa: S608
    row = await db.fetchrow(sql,
                            int(channel_id), policy.tenant(actor))
    if row is None:
        raise NotFound("channel not found", field="channel")
    return dict(row)


async def get_channel(actor: Actor, channel_id: int) -> dict:
    policy.authorize(actor, "channels.view")
    return public(await _get(actor, channel_id))


async def resolve_channel(actor: Actor, ref: str | int) -> dict:
    """A channel by id or by name (API inputs accept both)."""
    policy.authorize(actor, "channels.view")
    ref_s = str(ref).strip()
    row = await db.fetchrow(
        "SELECT * FROM channel WHERE merchant_id = $1 AND (($2::bigint IS NOT NULL AND id = $2) OR lower(name) = lower($3))",
        policy.tenant(actor), int(ref_s) if ref_s.isdigit() else None, ref_s)
    if row is None:
        raise NotFound(f"no channel {ref_s!r}", field="channel")
    return dict(row)


async def list_channels(actor: Actor, *, search: str = "", platform: str = "", status: str = "",
                        ids: list[int] | None = None) -> list[dict]:
    """The merchant's channels (a handful per merchant: no paging), optionally filtered."""
    policy.authorize(actor, "channels.view")
    where, args = ["merchant_id = $1"], [policy.tenant(actor)]
    if search.strip():
        args.append(f"%{search.strip()}%")
        where.append(f"name ILIKE ${len(args)}")
    if platform:
        args.append(platform)
        where.append(f"platform = ${len(args)}")
    if status:
        args.append(status)
        where.append(f"status = ${len(args)}")
    if ids:
        args.append([int(i) for i in ids])
        where.append(f"id = ANY(${len(args)}::bigint[])")
    rows = await db.fetch(f"SELECT * FROM channel WHERE {' AND '.join(where)} ORDER BY id", *args)  # noqa: S608
    return [public(dict(r)) for r in rows]


async def sync_runs(actor: Actor, channel_id: int, limit: int = 20) -> list[dict]:
    policy.authorize(actor, "channels.view")
    await _get(actor, channel_id)
    return [dict(r) for r in await db.fetch(
        "SELECT * FROM channel_sync_run WHERE channel_id = $1 ORDER BY id DESC LIMIT $2", channel_id, limit)]


def connector_for(row: dict) -> Connector:
    cls = registry.get(row["platform"])
    cfg = db.loads(row["config"]) if isinstance(row["config"], str) else row["config"]
    return cls(cfg, crypto.decrypt_json(row["credentials"]), http.client())


async def test_connection(actor: Actor, channel_id: int) -> dict:
    policy.authorize(actor, "channels.manage")
    row = await _get(actor, channel_id)
    try:
        check = await connector_for(row).test_connection()
        result = {"ok": check.ok, "message": check.message, "shop_name": check.shop_name}
    except (ConnectorError, TransientError) as exc:
        result = {"ok": False, "message": exc.message, "shop_name": ""}
    await audit.record(actor, "channel.test_connection", "channel", channel_id, after={"ok": result["ok"]})
    return result


# -- pulling ------------------------------------------------------------------------------------

async def request_sync(actor: Actor, channel_id: int) -> None:
    """'Sync now': queue a pull (coalesced: asking twice before it starts runs it once)."""
    policy.authorize(actor, "channels.manage")
    row = await _get(actor, channel_id)
    if Capability.PULL_ORDERS not in registry.get(row["platform"]).capabilities:
        raise ValidationError(f"{row['platform']} channels do not pull orders", code="unsupported", field="channel")
    async with db.transaction():
        await outbox.emit("channels.sync", {"channel_id": channel_id, "trigger": "manual"},
                          job_id=f"sync:{channel_id}", merchant_id=row["merchant_id"])
        await audit.record(actor, "channel.sync_requested", "channel", channel_id)


async def sync_now(actor: Actor, channel_id: int) -> dict:
    """'Sync now' and wait for it: one pull run inline, answering its counts (GraphQL
    `channelSync(wait: true)`; the CLI's `oms channel sync` calls run_sync as the system)."""
    policy.authorize(actor, "channels.manage")
    row = await _get(actor, channel_id)
    if Capability.PULL_ORDERS not in registry.get(row["platform"]).capabilities:
        raise ValidationError(f"{row['platform']} channels do not pull orders", code="unsupported", field="channel")
    await audit.record(actor, "channel.sync_run", "channel", channel_id)
    return await run_sync(row["id"], trigger="manual")


async def queue_due_syncs() -> int:
    """Cron (every minute, one worker wins): queue a pull for every channel whose time has come."""
    pullers = [p for p in registry.PLATFORMS if Capability.PULL_ORDERS in registry.get(p).capabilities]
    async with db.transaction():
        rows = await db.fetch(
            """SELECT id, merchant_id FROM channel WHERE status <> 'paused' AND next_sync_at <= now()
                 AND platform = ANY($1::text[]) ORDER BY next_sync_at LIMIT 500""", pullers)
        for r in rows:
            await outbox.emit("channels.sync", {"channel_id": r["id"], "trigger": "schedule"},
                              job_id=f"sync:{r['id']}", merchant_id=r["merchant_id"])
        if rows:  # don't queue again next minute while this pull runs
            await db.execute("UPDATE channel SET next_sync_at = now() + make_interval(secs => poll_interval_s) "
                             "WHERE id = ANY($1::bigint[])", [r["id"] for r in rows])
    return len(rows)


async def run_sync(channel_id: int, *, trigger: str = "manual") -> dict:
    """One pull: [cursor − overlap, safe now] through the connector into the ingest pipeline.
    Prints/returns {fetched, created, updated, failed}. A lease on the channel row keeps two workers
    from pulling the same channel at once."""
    row = await db.fetchrow(
        """UPDATE channel SET sync_started_at = now() WHERE id = $1
             AND (sync_started_at IS NULL OR sync_started_at < now() - $2::interval) RETURNING *""",
        channel_id, SYNC_LEASE)
    if row is None:
        exists = await db.fetchval("SELECT 1 FROM channel WHERE id = $1", channel_id)
        if not exists:
            raise NotFound("channel not found", field="channel")
        return {"fetched": 0, "created": 0, "updated": 0, "failed": 0, "skipped": "a sync is already running"}
    row = dict(row)
    connector = connector_for(row)
    now = clock.now()
    since = (row["sync_cursor"] or now - INITIAL_LOOKBACK) - connector.overlap
    until = connector.safe_until(now)
    run_id = await db.fetchval(
        "INSERT INTO channel_sync_run (merchant_id, channel_id, trigger, since, until) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        row["merchant_id"], channel_id, trigger, since, until)
    total = ingest.IngestResult()
    error = ""
    try:
        await ingest.ingest_stream(row, connector.fetch_orders(since, until), source="pull", into=total)
    except (ConnectorError, TransientError) as exc:
        error = exc.message
    except Exception as exc:  # a bug or an unexpected payload: record it on the channel, don't crash the worker
        log.exception("channel sync crashed", extra={"channel_id": channel_id})
        error = f"{type(exc).__name__}: {exc}"
    await _finish_sync(row, run_id, until, total, error)
    return {**total.counts(), **({"error": error} if error else {})}


async def _finish_sync(row: dict, run_id: int, until, total: ingest.IngestResult, error: str) -> None:
    counts = total.counts()
    async with db.transaction():
        await db.execute(
            """UPDATE channel_sync_run SET finished_at = now(), fetched = $2, created = $3, updated = $4, failed = $5,
                      ok = $6, error = $7 WHERE id = $1""",
            run_id, counts["fetched"], counts["created"], counts["updated"], counts["failed"], not error, error[:2000])
        if not error:
            await db.execute(
                """UPDATE channel SET sync_cursor = $2, sync_started_at = NULL, last_sync_at = now(), last_sync_ok = true,
                          last_sync_counts = $3::jsonb, last_error = '', consecutive_failures = 0, alert_raised_at = NULL,
                          status = CASE WHEN status = 'failing' THEN 'active' ELSE status END,
                          next_sync_at = now() + make_interval(secs => poll_interval_s)
                   WHERE id = $1""", row["id"], until, db.dumps(counts))
            return
        failures = row["consecutive_failures"] + 1
        backoff = min(timedelta(seconds=row["poll_interval_s"]) * (2 ** min(failures, 10)), MAX_BACKOFF)
        raise_alert = failures >= ALERT_AFTER_FAILURES and row["alert_raised_at"] is None
        await db.execute(
            """UPDATE channel SET sync_started_at = NULL, last_sync_at = now(), last_sync_ok = false,
                      last_sync_counts = $2::jsonb, last_error = $3::text, consecutive_failures = $4::int,
                      next_sync_at = now() + $5::interval,
                      status = CASE WHEN $4::int >= $6::int AND status = 'active' THEN 'failing' ELSE status END,
                      alert_raised_at = CASE WHEN $7::bool THEN now() ELSE alert_raised_at END
               WHERE id = $1""",
            row["id"], db.dumps(counts), error[:2000], failures, backoff, ALERT_AFTER_FAILURES, raise_alert)
        if raise_alert:
            actor = system(row["merchant_id"], "channel-sync")
            await audit.record(actor, "channel.alert", "channel", row["id"],
                               after={"failures": failures, "error": error[:500]})
    log.warning("channel sync failed", extra={"channel_id": row["id"], "failures": failures, "error": error[:300]})


async def register_webhooks(actor: Actor, channel_id: int) -> list[str]:
    """Subscribe the platform's order topics to this channel's webhook URL (platforms that push)."""
    policy.authorize(actor, "channels.manage")
    row = await _get(actor, channel_id)
    connector = connector_for(row)
    if Capability.WEBHOOKS not in connector.capabilities:
        raise ValidationError(f"{row['platform']} does not push webhooks", code="unsupported", field="channel")
    ids = await connector.register_webhooks(webhook_url(channel_id))
    await audit.record(actor, "channel.webhooks_registered", "channel", channel_id, after={"subscriptions": ids})
    return ids
