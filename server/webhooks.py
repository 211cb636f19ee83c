"""Inbound webhooks: POST /webhooks/channels/{channel_id} (carriers come later).

Authenticated by the platform's signature over the raw body, never by cookies or keys; answered
within milliseconds (store + queue), processed by a job.
"""
from __future__ import annotations

from litestar import Request, post
from litestar.response import Response

from server.channels import inbox

MAX_BODY = 5 * 1024 * 1024


@post("/webhooks/channels/{channel_id:int}", include_in_schema=False)
async def channel_webhook(request: Request, channel_id: int) -> Response:
    body = await request.body()
    if len(body) > MAX_BODY:
        return Response({"error": "payload too large"}, status_code=413)
    status, payload = await inbox.receive(channel_id, dict(request.headers), body)
    return Response(payload, status_code=status)


def webhook_routes() -> list:
    return [channel_webhook]
