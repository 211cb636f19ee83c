"""Douyin shop (抖店) open-platform request signing.

The documented rule (op.jinritemai.com, "签名算法"; same in the official Go/Java/Python SDKs):

    pattern = app_secret + "app_key" + app_key + "method" + method + "param_json" + param_json
              + "timestamp" + timestamp + "v" + v + app_secret
    sign    = md5(pattern)                          when sign_method is "md5" (the default)
            = hmac_sha256(key=app_secret, pattern)  when sign_method is "hmac-sha256"

lower-case hex either way. `access_token` and `sign_method` are not signed.

`param_json` is the business parameters serialized the way the official Go SDK's `Marshal` does it
(the gateway re-serializes the body the same way before checking the sign): object keys sorted at every
depth, no whitespace, non-ASCII characters written as-is (UTF-8, not \\uXXXX), no HTML escaping of
< > &, integers written as integers. Go's encoder still escapes U+2028/U+2029, so we do too.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

API_VERSION = "2"
SIGN_METHODS = ("md5", "hmac-sha256")


def _canonical(value: Any) -> Any:
    """Normalize values whose JSON text would otherwise differ from Go's encoder."""
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, Decimal):
        value = float(value) if value != value.to_integral_value() else int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)  # Go writes 100.0 as 100
    return value


def param_json(params: Mapping[str, Any] | None) -> str:
    """Business parameters -> the exact `param_json` string that is signed and sent."""
    text = json.dumps(_canonical(params or {}), ensure_ascii=False, sort_keys=True,
                      separators=(",", ":"), allow_nan=False)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def sign_pattern(app_key: str, app_secret: str, method: str, pj: str, timestamp: str,
                 v: str = API_VERSION) -> str:
    return f"{app_secret}app_key{app_key}method{method}param_json{pj}timestamp{timestamp}v{v}{app_secret}"


def sign(app_key: str, app_secret: str, method: str, pj: str, timestamp: str, *,
         v: str = API_VERSION, sign_method: str = "md5") -> str:
    pattern = sign_pattern(app_key, app_secret, method, pj, timestamp, v).encode("utf-8")
    if sign_method == "md5":
        return hashlib.md5(pattern, usedforsecurity=False).hexdigest()
    if sign_method == "hmac-sha256":
        return hmac.new(app_secret.encode("utf-8"), pattern, hashlib.sha256).hexdigest()
    raise ValueError(f"unknown sign_method {sign_method!r}; expected one of {SIGN_METHODS}")


def method_path(method: str) -> str:
    """'order.searchList' -> '/order/searchList' (the gateway routes on the path)."""
    return "/" + method.strip(".").replace(".", "/")


def signed_query(*, app_key: str, app_secret: str, access_token: str, method: str, pj: str,
                 timestamp: str, sign_method: str = "hmac-sha256") -> dict[str, str]:
    """The system parameters that go in the query string of every call."""
    return {
        "app_key": app_key,
        "method": method,
        "v": API_VERSION,
        "timestamp": timestamp,
        "sign_method": sign_method,
        "sign": sign(app_key, app_secret, method, pj, timestamp, sign_method=sign_method),
        "access_token": access_token,
    }
