"""The one shared outbound HTTP client (connectors, carriers, sandbox webhook deliveries)."""
from __future__ import annotations

import httpx

_client: httpx.AsyncClient | None = None

TIMEOUT = httpx.Timeout(20.0, connect=5.0)


def client() -> httpx.AsyncClient:
    global _client
    if _client is None or _client.is_closed:
        _client = httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False,
                                    limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
                                    headers={"User-Agent": "OMS/0.1 (+self-hosted order management)"})
    return _client


async def close() -> None:
    global _client
    if _client is not None:
        await _client.aclose()
        _client = None
