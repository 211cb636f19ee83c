"""The webhook inbox: verify against the raw body, store raw, answer fast, process in a job.

Every delivery is kept — valid ones unique on (channel, platform event id) so a retried delivery is
recognised; an invalid signature is stored as `rejected` (for forensics) and nothing else happens.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping

from server.channels import service as channels
from server.channels.connectors.base import Capability, ConnectorError
from server.core import db, outbox
from server.core.errors import NotFound
from server.orders import ingest

log = logging.getLogger("oms.inbox")

# headers worth keeping with the body for replay; signatures are kept, cookies and auth never
KEEP_HEADERS = ("content-type", "user-agent", "x-shopify-topic", "x-shopify-hmac-sha256", "x-shopify-shop-domain",
                "x-shopify-webhook-id", "x-shopify-triggered-at", "x-shopify-api-version", "x-wc-webhook-topic",
                "x-wc-webhook-signature", "x-wc-webhook-id", "x-wc-delivery-id", "x-wc-webhook-source",
                "x-wc-webhook-resource", "x-wc-webhook-event")


async def receive(channel_id: int, headers: Mapping[str, str], body: bytes) -> tuple[int, dict]:
    """Returns (HTTP status, JSON body) for the platform."""
    row = await db.fetchrow("SELECT * FROM channel WHERE id = $1", channel_id)
    if row is None:
        raise NotFound("no such channel")
    row = dict(row)
    connector = channels.connector_for(row)
    lower = {k.lower(): v for k, v in headers.items()}
    kept = {k: v for k, v in lower.items() if k in KEEP_HEADERS}
    if Capability.WEBHOOKS not in connector.capabilities:
        valid = False
    else:
        try:
            valid = connector.verify_webhook(lower, body)
        except Exception:  # a connector must never turn a bad request into a 500
            valid = False
    if not valid:
        await db.execute(
            """INSERT INTO webhook_inbox (merchant_id, channel_id, headers, body, signature_valid, status, error)
               VALUES ($1, $2, $3::jsonb, $4, false, 'rejected', 'invalid signature')""",
            row["merchant_id"], channel_id, db.dumps(kept), body)
        log.warning("webhook rejected: invalid signature", extra={"channel_id": channel_id})
        return 401, {"error": "invalid signature"}
    event_id = (lower.get("x-shopify-webhook-id") or lower.get("x-wc-delivery-id")
                or hashlib.sha256(body).hexdigest())
    topic = lower.get("x-shopify-topic") or lower.get("x-wc-webhook-topic") or ""
    async with db.transaction():
        inbox_id = await db.fetchval(
            """INSERT INTO webhook_inbox (merchant_id, channel_id, event_id, topic, headers, body, signature_valid, status)
               VALUES ($1, $2, $3, $4, $5::jsonb, $6, true, 'received')
               ON CONFLICT (channel_id, event_id) WHERE event_id <> '' AND signature_valid DO NOTHING RETURNING id""",
            row["merchant_id"], channel_id, event_id[:200], topic[:100], db.dumps(kept), body)
        if inbox_id is None:
            return 200, {"status": "duplicate"}
        await outbox.emit("channels.webhook", {"inbox_id": inbox_id}, job_id=f"webhook:{inbox_id}",
                          merchant_id=row["merchant_id"])
    return 202, {"status": "accepted", "id": inbox_id}


async def process(inbox_id: int) -> dict:
    """The job: parse the stored body and feed the ingest pipeline. A malformed payload is marked
    failed with the reason (and can be replayed after a fix); it is never dropped."""
    row = await db.fetchrow(
        """SELECT i.*, c.platform, c.config, c.credentials, c.name, c.merchant_id AS c_merchant
           FROM webhook_inbox i JOIN channel c ON c.id = i.channel_id WHERE i.id = $1 FOR UPDATE OF i""", inbox_id)
    if row is None or row["status"] not in ("received", "failed"):
        return {"skipped": True}
    channel = await db.fetchrow("SELECT * FROM channel WHERE id = $1", row["channel_id"])
    connector = channels.connector_for(dict(channel))
    headers = db.loads(row["headers"]) or {}
    try:
        event = connector.parse_webhook(headers, bytes(row["body"]))
    except ConnectorError as exc:
        await db.execute("UPDATE webhook_inbox SET status = 'failed', error = $2, attempts = attempts + 1, "
                         "processed_at = now() WHERE id = $1", inbox_id, exc.message[:2000])
        return {"failed": exc.message}
    to_ingest = [f for f in event.orders if f.order is not None or f.error]
    refetch = [f.external_id for f in event.orders if f.order is None and not f.error]
    result = await ingest.ingest(dict(channel), to_ingest, source="webhook") if to_ingest else ingest.IngestResult()
    if refetch:  # e.g. refunds/create carries a refund, not the order: pull the channel to catch up
        await outbox.emit("channels.sync", {"channel_id": row["channel_id"], "trigger": "webhook"},
                          job_id=f"sync:{row['channel_id']}", merchant_id=row["merchant_id"])
    status, error = ("failed", "; ".join(result.errors)[:2000]) if result.failed else ("processed", "")
    await db.execute("UPDATE webhook_inbox SET status = $2, error = $3, attempts = attempts + 1, processed_at = now() "
                     "WHERE id = $1", inbox_id, status, error)
    return result.counts()


async def replay(actor, inbox_id: int) -> None:
    """Queue a stored delivery again (after a fix)."""
    from server.auth import policy  # noqa: PLC0415

    policy.authorize(actor, "channels.manage")
    row = await db.fetchrow("SELECT * FROM webhook_inbox WHERE id = $1 AND merchant_id = $2", inbox_id,
                            policy.tenant(actor))
    if row is None or not row["signature_valid"]:
        raise NotFound("webhook delivery not found", field="id")
    async with db.transaction():
        await db.execute("UPDATE webhook_inbox SET status = 'received' WHERE id = $1", inbox_id)
        await outbox.emit("channels.webhook", {"inbox_id": inbox_id}, job_id=f"webhook:{inbox_id}",
                          merchant_id=row["merchant_id"])
