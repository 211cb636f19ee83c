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
                "x-wc-webhook-signature", "x-wc-webhook-id", "x-wc-delivery-id", "x-wc-webhook-delivery-id", "x-wc-webhook-source",
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
    digest = hashlib.sha256(body).hexdigest()
    # Shopify's webhook id is unique per event; WooCommerce's delivery id is a hash of webhook id and
    # second, so two deliveries in one second share it: pair it with the body's digest.
    wc_delivery = lower.get("x-wc-webhook-delivery-id") or lower.get("x-wc-delivery-id")
    event_id = lower.get("x-shopify-webhook-id") or (f"{wc_delivery}:{digest[:16]}" if wc_delivery else digest)
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


BATCH = 200


async def process(inbox_id: int) -> dict:
    """The job: parse stored bodies and feed the ingest pipeline. A job takes its own delivery plus
    the channel's other waiting ones (up to BATCH, skipping rows another worker holds), so a burst of
    webhooks becomes a few batch ingests instead of thousands of tiny transactions. A malformed
    payload is marked failed with the reason (and can be replayed after a fix); it is never dropped."""
    head = await db.fetchrow("SELECT channel_id, status FROM webhook_inbox WHERE id = $1", inbox_id)
    if head is None or head["status"] not in ("received", "failed"):
        return {"skipped": True}
    rows = await db.fetch(
        """SELECT * FROM webhook_inbox WHERE channel_id = $1 AND (id = $2 OR status = 'received')
           ORDER BY (id = $2) DESC, id LIMIT $3 FOR UPDATE SKIP LOCKED""", head["channel_id"], inbox_id, BATCH)
    rows = [r for r in rows if r["status"] in ("received", "failed")]
    if not rows:
        return {"skipped": True}
    channel = dict(await db.fetchrow("SELECT * FROM channel WHERE id = $1", head["channel_id"]))
    connector = channels.connector_for(channel)
    to_ingest, owner, failed, refetch = [], {}, {}, False
    for r in rows:
        try:
            event = connector.parse_webhook(db.loads(r["headers"]) or {}, bytes(r["body"]))
        except ConnectorError as exc:
            failed[r["id"]] = exc.message[:2000]
            continue
        for f in event.orders:
            if f.order is None and not f.error:
                refetch = True   # e.g. refunds/create carries a refund, not the order: pull to catch up
                continue
            to_ingest.append(f)
            owner.setdefault(f.external_id, []).append(r["id"])
    result = await ingest.ingest(channel, to_ingest, source="webhook") if to_ingest else ingest.IngestResult()
    for err in result.errors:
        ext, _, reason = err.partition(": ")
        for rid in owner.get(ext, []):
            failed[rid] = reason[:2000]
    if refetch:
        await outbox.emit("channels.sync", {"channel_id": channel["id"], "trigger": "webhook"},
                          job_id=f"sync:{channel['id']}", merchant_id=channel["merchant_id"])
    ok_ids = [r["id"] for r in rows if r["id"] not in failed]
    await db.execute("UPDATE webhook_inbox SET status = 'processed', error = '', attempts = attempts + 1, "
                     "processed_at = now() WHERE id = ANY($1::bigint[])", ok_ids)
    for rid, reason in failed.items():
        await db.execute("UPDATE webhook_inbox SET status = 'failed', error = $2, attempts = attempts + 1, "
                         "processed_at = now() WHERE id = $1", rid, reason)
    return {**result.counts(), "deliveries": len(rows), "failed_deliveries": len(failed)}


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
