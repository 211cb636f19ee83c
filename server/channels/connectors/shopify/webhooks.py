"""Shopify webhook deliveries: signature check and parsing into a WebhookEvent. Pure.

Headers: X-Shopify-Hmac-Sha256 = base64(HMAC-SHA256(raw body, app client secret)), X-Shopify-Topic,
X-Shopify-Shop-Domain, X-Shopify-Webhook-Id (stable across Shopify's retries: the de-dup key).

`orders/*` topics carry the full order (same JSON as orders.json). `refunds/create` carries a refund,
not an order: it becomes FetchedOrder(external_id=<order_id>, order=None, error=None, raw=<refund>),
which tells the ingest to refetch that order. `orders/delete` carries only {"id"} and is represented
the same way.
"""
from __future__ import annotations

import json
from collections.abc import Mapping

from server.channels.connectors._hmac import body_digest, header, verify_base64
from server.channels.connectors.base import ConnectorError, FetchedOrder, WebhookEvent
from server.channels.connectors.shopify.mapping import to_fetched

ORDER_TOPICS = ("orders/create", "orders/updated", "orders/cancelled", "refunds/create")


def verify(headers: Mapping[str, str], body: bytes, client_secret: str | None) -> bool:
    return verify_base64(client_secret, body, header(headers, "X-Shopify-Hmac-Sha256"))


def parse(headers: Mapping[str, str], body: bytes) -> WebhookEvent:
    topic = (header(headers, "X-Shopify-Topic") or "").strip()
    if not topic:
        raise ConnectorError("Shopify webhook without X-Shopify-Topic header", code="webhook_malformed")
    event_id = header(headers, "X-Shopify-Webhook-Id") or body_digest(body)
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConnectorError(f"Shopify webhook body is not valid JSON: {exc}", code="webhook_malformed") from exc
    if not isinstance(payload, dict):
        raise ConnectorError("Shopify webhook body is not a JSON object", code="webhook_malformed")

    if topic.startswith("refunds/"):
        order_id = payload.get("order_id")
        if order_id in (None, ""):
            raise ConnectorError("Shopify refund webhook without order_id", code="webhook_malformed")
        return WebhookEvent(event_id, topic, [FetchedOrder(external_id=str(order_id), raw=payload)])
    if topic.startswith("orders/"):
        if payload.get("id") in (None, ""):
            raise ConnectorError("Shopify order webhook without id", code="webhook_malformed")
        if "line_items" not in payload:     # orders/delete: only the id survives
            return WebhookEvent(event_id, topic, [FetchedOrder(external_id=str(payload["id"]), raw=payload)])
        return WebhookEvent(event_id, topic, [to_fetched(payload)])
    return WebhookEvent(event_id, topic, [])
