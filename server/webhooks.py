"""Inbound webhooks: POST /webhooks/channels/{channel_id} (and carriers, later)."""
from __future__ import annotations


def webhook_routes() -> list:
    return []
