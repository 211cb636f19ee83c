"""Webhook signatures shared by Shopify and WooCommerce: base64(HMAC-SHA256(raw body, secret))."""
from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping


def sign_base64(secret: str | bytes, body: bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode("ascii")


def verify_base64(secret: str | bytes | None, body: bytes, signature: str | None) -> bool:
    """Constant-time check. No secret or no signature is never a match."""
    if not secret or not signature:
        return False
    expected = sign_base64(secret, body).encode("ascii")
    try:
        given = signature.strip().encode("ascii")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(expected, given)


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup that works for plain dicts as well as httpx/Litestar headers."""
    value = headers.get(name)
    if value is not None:
        return value
    wanted = name.lower()
    for key, val in headers.items():
        if key.lower() == wanted:
            return val
    return None


def body_digest(body: bytes) -> str:
    """A stable id for a delivery that carries no id of its own."""
    return hashlib.sha256(body).hexdigest()
