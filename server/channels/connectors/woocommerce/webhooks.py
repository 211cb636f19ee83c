"""WooCommerce webhook deliveries: signature check and parsing into a WebhookEvent. Pure.

Headers (WC_Webhook::deliver): X-WC-Webhook-Signature = base64(HMAC-SHA256(raw body, secret)),
X-WC-Webhook-Topic, X-WC-Webhook-Resource, X-WC-Webhook-Event, X-WC-Webhook-ID,
X-WC-Webhook-Delivery-ID, X-WC-Webhook-Source. (Some write-ups call the last id X-WC-Delivery-ID;
both spellings are read.)

On creation Woo sends an unsigned ping: form body `webhook_id=N`, none of the headers above, and it
wants a 200. `verify` accepts exactly that body unsigned — it carries no data — and `parse` turns it
into a topic "ping" event with no orders.

`order.deleted` carries only {"id": N}: it becomes FetchedOrder(external_id=N, order=None,
error=None, raw=payload), which tells the ingest to refetch the order.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping

from server.channels.connectors._hmac import body_digest, header, verify_base64
from server.channels.connectors.base import ConnectorError, FetchedOrder, WebhookEvent
from server.channels.connectors.woocommerce.mapping import to_fetched

ORDER_TOPICS = ("order.created", "order.updated", "order.deleted", "order.restored")
_PING = re.compile(rb"webhook_id=(\d+)")


def ping_id(body: bytes) -> str | None:
    match = _PING.fullmatch(body.strip())
    return match.group(1).decode() if match else None


def verify(headers: Mapping[str, str], body: bytes, secret: str | None) -> bool:
    signature = header(headers, "X-WC-Webhook-Signature")
    if signature is None and ping_id(body) is not None:
        return True
    return verify_base64(secret, body, signature)


def event_id(headers: Mapping[str, str], body: bytes) -> str:
    """Woo's delivery id is wp_hash(webhook id . unix seconds): two deliveries of one webhook in the
    same second share it, so the body digest is appended to keep distinct events distinct."""
    delivery = header(headers, "X-WC-Webhook-Delivery-ID") or header(headers, "X-WC-Delivery-ID")
    digest = body_digest(body)
    return f"{delivery}:{digest[:16]}" if delivery else digest


def parse(headers: Mapping[str, str], body: bytes) -> WebhookEvent:
    topic = (header(headers, "X-WC-Webhook-Topic") or "").strip()
    ping = ping_id(body)
    if ping is not None and not topic.startswith("order."):
        return WebhookEvent(event_id=f"ping:{ping}:{body_digest(body)[:16]}", topic="ping")
    if not topic:
        raise ConnectorError("WooCommerce webhook without X-WC-Webhook-Topic header", code="webhook_malformed")
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConnectorError(f"WooCommerce webhook body is not valid JSON: {exc}",
                             code="webhook_malformed") from exc
    if not isinstance(payload, dict):
        raise ConnectorError("WooCommerce webhook body is not a JSON object", code="webhook_malformed")
    eid = event_id(headers, body)
    if not topic.startswith("order."):
        return WebhookEvent(eid, topic, [])
    if payload.get("id") in (None, "", 0):
        raise ConnectorError("WooCommerce order webhook without id", code="webhook_malformed")
    if topic == "order.deleted" or "line_items" not in payload:
        return WebhookEvent(eid, topic, [FetchedOrder(external_id=str(payload["id"]), raw=payload)])
    return WebhookEvent(eid, topic, [to_fetched(payload)])
