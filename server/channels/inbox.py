"""The webhook inbox: verify against the raw body, store raw, answer fast, process in a job.

Every delivery is kept — valid ones unique on (channel, platform event id) so a retried delivery is
recognised; an invalid signature is stored as `rejected` (for forensics) and nothing else happens.

How a delivery stays cheap. Before: one channel SELECT + credential decryption + connector build,
then BEGIN / INSERT inbox / INSERT outbox / COMMIT per delivery (5 round trips), and one outbox job
per delivery. Measured with `bench/bench_ingest.py --orders 20000 --paths webhook --webhook-client raw`
(the httpx client needs as much CPU as the server: with it both versions stop at ~400/s), load 1-3:
before 762 deliveries/s received, 238 orders/s end to end; after 1,571/s received, 1,248/s end to end.

- The verifying connector is cached per channel (`_Verifier`), keyed by the channel row's version
  (`xmin`). The one INSERT that stores the delivery re-reads that version in the same statement and
  stores nothing if the channel changed since it was cached (secret rotated, channel deleted): the
  delivery is then verified again against the fresh row. So a rotated secret takes effect at once,
  in every web process, without a cache-invalidation channel and without a second round trip. A
  failed verification against a cached connector also reloads the channel once before answering 401.
- The delivery is ONE statement in autocommit: one round trip, one durable commit (which concurrent
  deliveries share: PostgreSQL flushes their commit records together), answered only after it.
- No outbox row per delivery. The inbox itself is the durable queue: a `received` row is the job.
  An outbox row per delivery doubled the writes, and a coalesced per-channel outbox row (unique job
  id) would make concurrent deliveries of a channel wait for each other's commit on the unique index
  (serialising the commits that group commit otherwise shares). Instead a relay step (`queue_pending`,
  run by every worker's outbox relay pass, every 200 ms) finds the channels with received rows via a
  partial index and emits one coalesced `channels.webhook_batch` outbox job per channel that has
  none in flight. Rule 5 holds: the web request never touches Redis, the step writes only to
  PostgreSQL, and the outbox relay hands the job to arq when Redis is back. The step is also the
  safety net: received rows are found again on every pass until processed (a job lost with Redis or
  a crashed worker is superseded after 2 minutes).
- The batch job (`process_channel`) takes the channel's oldest received rows BATCH at a time with
  FOR UPDATE SKIP LOCKED, parses them and feeds one batch ingest per transaction, until none are left
  (or its time budget is spent: the next pass queues it again). A batch that raises is retried one
  delivery at a time so a single poison delivery is marked failed instead of blocking its channel.
"""
from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

import asyncpg

from server.channels import service as channels
from server.channels.connectors.base import Capability, Connector, ConnectorError
from server.core import db
from server.core.errors import NotFound, TransientError
from server.orders import ingest

log = logging.getLogger("oms.inbox")

# headers worth keeping with the body for replay; signatures are kept, cookies and auth never
KEEP_HEADERS = ("content-type", "user-agent", "x-shopify-topic", "x-shopify-hmac-sha256", "x-shopify-shop-domain",
                "x-shopify-webhook-id", "x-shopify-triggered-at", "x-shopify-api-version", "x-wc-webhook-topic",
                "x-wc-webhook-signature", "x-wc-webhook-id", "x-wc-delivery-id", "x-wc-webhook-delivery-id", "x-wc-webhook-source",
                "x-wc-webhook-resource", "x-wc-webhook-event")

BATCH = 200                 # deliveries per ingest transaction
JOB_BUDGET_S = 20.0         # a batch job returns after this; the next relay pass queues the rest
CACHE_TTL_S = 300.0         # bounds memory for channels that stopped sending; freshness is by version
JOB_NAME = "channels.webhook_batch"   # spelled out in _QUEUE and the migration's index
# errors that say nothing about the deliveries (lost connection, deadlock): retried as they are,
# never taken for a poison delivery
_RETRYABLE = (TransientError, asyncpg.exceptions.TransactionRollbackError, asyncpg.exceptions.PostgresConnectionError,
              asyncpg.exceptions.InterfaceError, ConnectionError, OSError)


@dataclass
class _Verifier:
    merchant_id: int
    version: str            # the channel row's xmin when loaded
    connector: Connector
    webhooks: bool
    loaded_at: float


_VERIFIERS: dict[int, _Verifier] = {}


async def _load(channel_id: int) -> _Verifier:
    row = await db.fetchrow("SELECT *, xmin::text AS row_version FROM channel WHERE id = $1", channel_id)
    if row is None:
        _VERIFIERS.pop(channel_id, None)
        raise NotFound("no such channel")
    row = dict(row)
    connector = channels.connector_for(row)
    v = _Verifier(row["merchant_id"], row["row_version"], connector,
                  Capability.WEBHOOKS in connector.capabilities, time.monotonic())
    _VERIFIERS[channel_id] = v
    return v


async def _verifier(channel_id: int) -> tuple[_Verifier, bool]:
    """(verifier, fresh): fresh when just loaded from the database."""
    v = _VERIFIERS.get(channel_id)
    if v is not None and time.monotonic() - v.loaded_at < CACHE_TTL_S:
        return v, False
    return await _load(channel_id), True


def _verify(v: _Verifier, headers: Mapping[str, str], body: bytes) -> bool:
    if not v.webhooks:
        return False
    try:
        return bool(v.connector.verify_webhook(headers, body))
    except Exception:  # a connector must never turn a bad request into a 500
        return False


def forget(channel_id: int | None = None) -> None:
    """Drop cached verifiers (all, or one channel's). Not needed for correctness (every store checks
    the channel's version); for tests and tools."""
    if channel_id is None:
        _VERIFIERS.clear()
    else:
        _VERIFIERS.pop(channel_id, None)


# one statement: store the delivery only if the channel is still the version it was verified against;
# `fresh` is NULL when the channel is gone, false when it changed (then nothing was stored)
_STORE_VALID = """
WITH ch AS (SELECT xmin::text = $7 AS fresh FROM channel WHERE id = $2),
ins AS (
    INSERT INTO webhook_inbox (merchant_id, channel_id, event_id, topic, headers, body, signature_valid, status)
    SELECT $1, $2, $3, $4, $5::jsonb, $6, true, 'received' FROM ch WHERE ch.fresh
    ON CONFLICT (channel_id, event_id) WHERE event_id <> '' AND signature_valid DO NOTHING
    RETURNING id)
SELECT (SELECT fresh FROM ch) AS fresh, (SELECT id FROM ins) AS id"""

_STORE_REJECTED = """
INSERT INTO webhook_inbox (merchant_id, channel_id, headers, body, signature_valid, status, error)
VALUES ($1, $2, $3::jsonb, $4, false, 'rejected', 'invalid signature')"""


def _event_id(lower: Mapping[str, str], body: bytes) -> str:
    digest = hashlib.sha256(body).hexdigest()
    # Shopify's webhook id is unique per event; WooCommerce's delivery id is a hash of webhook id and
    # second, so two deliveries in one second share it: pair it with the body's digest.
    wc_delivery = lower.get("x-wc-webhook-delivery-id") or lower.get("x-wc-delivery-id")
    return lower.get("x-shopify-webhook-id") or (f"{wc_delivery}:{digest[:16]}" if wc_delivery else digest)


async def receive(channel_id: int, headers: Mapping[str, str], body: bytes) -> tuple[int, dict]:
    """Returns (HTTP status, JSON body) for the platform."""
    lower = {k.lower(): v for k, v in headers.items()}
    kept = {k: v for k, v in lower.items() if k in KEEP_HEADERS}
    v, fresh = await _verifier(channel_id)
    for _ in range(3):   # a cached verifier may be stale: at most a reload or two, then answer
        if not _verify(v, lower, body):
            if not fresh:       # the secret may have been rotated since we cached it
                v, fresh = await _load(channel_id), True
                continue
            await db.execute(_STORE_REJECTED, v.merchant_id, channel_id, db.dumps(kept), body)
            log.warning("webhook rejected: invalid signature", extra={"channel_id": channel_id})
            return 401, {"error": "invalid signature"}
        topic = lower.get("x-shopify-topic") or lower.get("x-wc-webhook-topic") or ""
        row = await db.fetchrow(_STORE_VALID, v.merchant_id, channel_id, _event_id(lower, body)[:200], topic[:100],
                                db.dumps(kept), body, v.version)
        if row["fresh"] is None:
            _VERIFIERS.pop(channel_id, None)
            raise NotFound("no such channel")
        if not row["fresh"]:    # the channel changed after we cached it: verify against the new row
            v, fresh = await _load(channel_id), True
            continue
        if row["id"] is None:
            return 200, {"status": "duplicate"}
        return 202, {"status": "accepted", "id": row["id"]}
    raise TransientError("channel changing too fast to verify against; retry")


# -- queueing: the relay step ---------------------------------------------------------------------

# the channels with received deliveries (a skip scan of the partial index: one probe per channel),
# minus those with a batch job in flight, get one coalesced batch job each
_QUEUE = """
WITH RECURSIVE waiting(channel_id) AS (
    (SELECT channel_id FROM webhook_inbox WHERE status = 'received' AND channel_id IS NOT NULL
     ORDER BY channel_id LIMIT 1)
  UNION ALL
    SELECT (SELECT w.channel_id FROM webhook_inbox w
            WHERE w.status = 'received' AND w.channel_id > p.channel_id ORDER BY w.channel_id LIMIT 1)
    FROM waiting p WHERE p.channel_id IS NOT NULL)
INSERT INTO outbox (merchant_id, job_name, job_id, payload)
SELECT c.merchant_id, 'channels.webhook_batch', 'webhook:channel:' || c.id, jsonb_build_object('channel_id', c.id)
FROM waiting p JOIN channel c ON c.id = p.channel_id
WHERE NOT EXISTS (
    SELECT 1 FROM outbox o
    WHERE o.job_name = 'channels.webhook_batch' AND o.done_at IS NULL AND o.job_id = 'webhook:channel:' || c.id
      AND (o.enqueued_at IS NULL OR o.enqueued_at > now() - interval '2 minutes'))
ON CONFLICT (job_id) WHERE enqueued_at IS NULL DO NOTHING"""


async def queue_pending() -> int:
    """Relay step: one batch job per channel with received deliveries and no batch job in flight.
    Writes only to PostgreSQL (works with Redis down). Returns how many jobs were queued."""
    status = await db.execute(_QUEUE)
    return int(status.split()[-1])


# -- processing -----------------------------------------------------------------------------------

@dataclass
class _Totals:
    deliveries: int = 0
    failed_deliveries: int = 0
    batches: int = 0

    def add(self, res: dict) -> None:
        self.batches += 1
        for k in ("deliveries", "failed_deliveries"):
            setattr(self, k, getattr(self, k) + res.get(k, 0))


async def process_channel(channel_id: int, *, budget_s: float = JOB_BUDGET_S) -> dict:
    """The batch job: the channel's received deliveries, BATCH per transaction, until none are left
    or the budget is spent. Idempotent (rows are claimed with SKIP LOCKED and marked in the same
    transaction as their ingest), so it runs outside the outbox row's transaction."""
    deadline = time.monotonic() + budget_s
    totals, counts = _Totals(), ingest.IngestResult()
    while time.monotonic() < deadline:
        try:
            async with db.transaction():
                res = await _process_batch(channel_id, counts)
        except _RETRYABLE:
            raise
        except Exception:
            log.exception("webhook batch failed; retrying its deliveries one by one", extra={"channel_id": channel_id})
            res = await _process_one_by_one(channel_id, counts)
        if not res["deliveries"]:
            break
        totals.add(res)
    return {**counts.counts(), "deliveries": totals.deliveries, "failed_deliveries": totals.failed_deliveries,
            "batches": totals.batches}


async def _process_one_by_one(channel_id: int, counts: ingest.IngestResult) -> dict:
    done = {"deliveries": 0, "failed_deliveries": 0}
    for _ in range(BATCH):
        head = await db.fetchval("SELECT id FROM webhook_inbox WHERE channel_id = $1 AND status = 'received' "
                                 "ORDER BY id LIMIT 1", channel_id)
        if head is None:
            break
        try:
            async with db.transaction():
                res = await _process_batch(channel_id, counts, include=head, limit=1)
        except _RETRYABLE:
            raise
        except Exception as exc:
            await db.execute("UPDATE webhook_inbox SET status = 'failed'', error = $2, attempts = attempts + 1, "
                             "processed_at = now() WHERE id = $1 AND status = 'received'",
                             head, f"{type(exc).__name__}: {exc}"[:2000])
            res = {"deliveries": 1, "failed_deliveries": 1}
        if not res["deliveries"]:
            break               # another worker holds what is left
        for k in done:
            done[k] += res.get(k, 0)
    return done


async def process(inbox_id: int) -> dict:
    """Process one delivery now, with its channel's other waiting ones (up to BATCH, skipping rows
    another worker holds). For replays, tests and jobs queued before the batch job existed. A
    malformed payload is marked failed with the reason (and can be replayed after a fix); it is never
    dropped."""
    head = await db.fetchrow("SELECT channel_id, status FROM webhook_inbox WHERE id = $1", inbox_id)
    if head is None or head["status"] not in ("received", "failed"):
        return {"skipped": True}
    counts = ingest.IngestResult()
    async with db.transaction():
        res = await _process_batch(head["channel_id"], counts, include=inbox_id)
    if not res["deliveries"]:
        return {"skipped": True}
    return {**counts.counts(), **res}


async def _process_batch(channel_id: int, counts: ingest.IngestResult, *, include: int | None = None,
                         limit: int = BATCH) -> dict:
    """In the caller's transaction: claim, parse, ingest, mark. Returns delivery counts."""
    from server.core import outbox  # noqa: PLC0415 - only for the catch-up pull

    if include is None:
        rows = await db.fetch(
            """SELECT id, headers, body, status FROM webhook_inbox WHERE channel_id = $1 AND status = 'received'
               ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED""", channel_id, limit)
    else:
        rows = await db.fetch(
            """SELECT id, headers, body, status FROM webhook_inbox
               WHERE channel_id = $1 AND (id = $2 OR status = 'received')
               ORDER BY (id = $2) DESC, id LIMIT $3 FOR UPDATE SKIP LOCKED""", channel_id, include, limit)
    rows = [r for r in rows if r["status"] in ("received", "failed")]
    if not rows:
        return {"deliveries": 0, "failed_deliveries": 0}
    channel = dict(await db.fetchrow("SELECT * FROM channel WHERE id = $1", channel_id))
    connector = channels.connector_for(channel)
    to_ingest, owner, failed, refetch = [], {}, {}, False
    for r in rows:
        try:
            event = connector.parse_webhook(db.loads(r["headers"]) or {}, bytes(r["body"]))
        except ConnectorError as exc:
            failed[r["id"]] = exc.message[:2000]
            continue
        except Exception as exc:  # a connector bug on an odd payload: keep it, say why
            failed[r["id"]] = f"{type(exc).__name__}: {exc}"[:2000]
            continue
        for f in event.orders:
            if f.order is None and not f.error:
                refetch = True   # e.g. refunds/create carries a refund, not the order: pull to catch up
                continue
            to_ingest.append(f)
            owner.setdefault(f.external_id, []).append(r["id"])
    result = await ingest.ingest(channel, to_ingest, source="webhook") if to_ingest else ingest.IngestResult()
    counts.add(result)
    for err in result.errors:
        ext, _, reason = err.partition(": ")
        for rid in owner.get(ext, []):
            failed[rid] = reason[:2000]
    if refetch:
        await outbox.emit("channels.sync", {"channel_id": channel["id"], "trigger": "webhook"},
                          job_id=f"sync:{channel['id']}", merchant_id=channel["merchant_id"])
    ok_ids = [r["id"] for r in rows if r["id"] not in failed]
    if ok_ids:
        await db.execute("UPDATE webhook_inbox SET status = 'processed', error = '', attempts = attempts + 1, "
                         "processed_at = now() WHERE id = ANY($1::bigint[])", ok_ids)
    if failed:
        await db.execute(
            """UPDATE webhook_inbox w SET status = 'failed', error = f.reason, attempts = attempts + 1,
                      processed_at = now()
               FROM unnest($1::bigint[], $2::text[]) AS f(id, reason) WHERE w.id = f.id""",
            list(failed), list(failed.values()))
    return {"deliveries": len(rows), "failed_deliveries": len(failed)}


async def replay(actor, inbox_id: int) -> None:
    """Queue a stored delivery again (after a fix): it becomes `received`, and the next relay pass
    queues its channel's batch job."""
    from server.auth import policy  # noqa: PLC0415

    policy.authorize(actor, "channels.manage")
    row = await db.fetchrow("SELECT * FROM webhook_inbox WHERE id = $1 AND merchant_id = $2", inbox_id,
                            policy.tenant(actor))
    if row is None or not row["signature_valid"]:
        raise NotFound("webhook delivery not found", field="id")
    await db.execute("UPDATE webhook_inbox SET status = 'received' WHERE id = $1", inbox_id)
