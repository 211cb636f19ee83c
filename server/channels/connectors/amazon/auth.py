"""Login with Amazon (LWA) access tokens for the Selling Partner API.

`POST {lwa_url}` form-encoded `grant_type=refresh_token&refresh_token=…&client_id=…&client_secret=…`
answers `{"access_token": "Atza|…", "token_type": "bearer", "expires_in": 3600, …}`; the token goes in
the `x-amz-access-token` header (no SigV4 since 2023-10). Failures answer
`{"error": "invalid_grant" | "invalid_client" | …, "error_description": …}`.

Tokens are cached per (lwa_url, client_id, refresh token) for the process, because connectors are
built per call; a token is renewed a little before it expires, and on demand after a 401/403.
"""
from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass

import httpx

from server.channels.connectors.base import ConnectorAuthError, ConnectorError, ConnectorTransientError

DEFAULT_LWA_URL = "https://api.amazon.com/auth/o2/token"
AUTH_ERRORS = {"invalid_grant", "invalid_client", "unauthorized_client", "invalid_scope", "access_denied"}


@dataclass(slots=True)
class _Token:
    value: str
    expires_at: float      # time.monotonic()
    lifetime: float


_cache: dict[tuple[str, str, str], _Token] = {}
_locks: dict[tuple[str, str, str], tuple[asyncio.AbstractEventLoop, asyncio.Lock]] = {}


def _key(lwa_url: str, client_id: str, refresh_token: str) -> tuple[str, str, str]:
    return lwa_url, client_id, hashlib.sha256(refresh_token.encode()).hexdigest()


def _lock(key: tuple[str, str, str]) -> asyncio.Lock:
    """One lock per credentials and event loop, so concurrent calls share one token request."""
    loop = asyncio.get_running_loop()
    held = _locks.get(key)
    if held is None or held[0] is not loop:
        held = (loop, asyncio.Lock())
        _locks[key] = held
    return held[1]


def forget(lwa_url: str, client_id: str, refresh_token: str, stale: str | None = None) -> None:
    """Drop the cached token (only if it is still `stale`, when given: another call may have renewed it)."""
    key = _key(lwa_url, client_id, refresh_token)
    token = _cache.get(key)
    if token is not None and (stale is None or token.value == stale):
        del _cache[key]


async def access_token(http: httpx.AsyncClient, *, lwa_url: str, client_id: str, client_secret: str,
                       refresh_token: str) -> str:
    key = _key(lwa_url, client_id, refresh_token)
    async with _lock(key):
        token = _cache.get(key)
        # renew ahead of expiry: a minute, or half the lifetime for short-lived tokens
        if token is not None and time.monotonic() < token.expires_at - min(60.0, token.lifetime / 2):
            return token.value
        token = await _request(http, lwa_url, client_id, client_secret, refresh_token)
        _cache[key] = token
        return token.value


async def _request(http: httpx.AsyncClient, lwa_url: str, client_id: str, client_secret: str,
                   refresh_token: str) -> _Token:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token,
            "client_id": client_id, "client_secret": client_secret}
    try:
        resp = await http.post(lwa_url, data=form, headers={"Accept": "application/json"})
    except httpx.TransportError as exc:
        raise ConnectorTransientError(f"amazon LWA: {exc.__class__.__name__}") from exc
    if resp.status_code == 429 or resp.status_code >= 500:
        raise ConnectorTransientError(f"amazon LWA: HTTP {resp.status_code}")
    try:
        body = resp.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {}
    if resp.status_code != 200 or not body.get("access_token"):
        error = str(body.get("error") or f"HTTP {resp.status_code}")
        message = f"amazon LWA: {error}: {body.get('error_description') or 'no access token'}"
        if error in AUTH_ERRORS or resp.status_code in (400, 401, 403):
            raise ConnectorAuthError(message, code="amazon_auth", details={"error": error})
        raise ConnectorError(message)
    lifetime = float(body.get("expires_in") or 3600)
    return _Token(str(body["access_token"]), time.monotonic() + lifetime, lifetime)
