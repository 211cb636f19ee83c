"""Taobao TOP request signing (https://gw.api.taobao.com/router/rest).

md5:  MD5(secret + concat(sorted k+v of every system and business param except sign) + secret)
hmac: HMAC-MD5(secret, concat(sorted k+v)); both upper-case hex.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from server.channels.connectors._gateway import clean_params, hmac_md5_sign, md5_sign
from server.core.clock import format_beijing

SIGN_METHODS = ("md5", "hmac")


def sign(params: Mapping[str, str], secret: str, sign_method: str = "md5") -> str:
    if sign_method == "md5":
        return md5_sign(secret, params)
    if sign_method == "hmac":
        return hmac_md5_sign(secret, params)
    raise ValueError(f"unsupported sign_method {sign_method!r}; expected md5 or hmac")


def signed_params(*, method: str, app_key: str, secret: str, session: str, sign_method: str,
                  timestamp: datetime, business: Mapping[str, Any]) -> dict[str, str]:
    """System + business params with `sign`, ready to POST as a form."""
    params = clean_params({
        **business, "method": method, "app_key": app_key, "session": session, "v": "2.0",
        "format": "json", "sign_method": sign_method, "timestamp": format_beijing(timestamp),
    })
    params["sign"] = sign(params, secret, sign_method)
    return params


def response_key(method: str) -> str:
    """taobao.trade.fullinfo.get -> trade_fullinfo_get_response."""
    return method.removeprefix("taobao.").replace(".", "_") + "_response"
