"""JD JOS request signing (https://api.jd.com/routerjson).

sign = MD5(secret + concat(sorted k+v) + secret), upper-case hex, over method, app_key,
access_token, timestamp, v and 360buy_param_json (the business params as one JSON string, signed
exactly as sent). `format` and `sign_method` are not signed.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from server.channels.connectors._gateway import clean_params, md5_sign
from server.core.clock import BEIJING, utc

UNSIGNED = frozenset({"sign", "format", "sign_method"})


def sign(params: Mapping[str, str], secret: str) -> str:
    return md5_sign(secret, params, exclude=UNSIGNED)


def timestamp(at: datetime) -> str:
    """'2021-05-07 09:20:39.683+0800': Beijing wall time with milliseconds and the offset."""
    local = utc(at).astimezone(BEIJING)
    return f"{local:%Y-%m-%d %H:%M:%S}.{local.microsecond // 1000:03d}+0800"


def parse_timestamp(text: str | None) -> datetime | None:
    """Either the JOS form above or plain 'yyyy-MM-dd HH:mm:ss' (Beijing) -> aware UTC."""
    if not text:
        return None
    text = text.strip()
    for fmt in ("%Y-%m-%d %H:%M:%S.%f%z", "%Y-%m-%d %H:%M:%S%z"):
        try:
            return utc(datetime.strptime(text, fmt))
        except ValueError:
            continue
    try:
        return utc(datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING))
    except ValueError:
        return None


def param_json(business: Mapping[str, Any]) -> str:
    return json.dumps(dict(business), ensure_ascii=False, separators=(",", ":"))


def signed_params(*, method: str, app_key: str, secret: str, access_token: str, at: datetime,
                  business: Mapping[str, Any]) -> dict[str, str]:
    params = clean_params({"method": method, "app_key": app_key, "access_token": access_token,
                           "timestamp": timestamp(at), "v": "2.0", "360buy_param_json": param_json(business)})
    params["sign"] = sign(params, secret)
    return params


def response_key(method: str) -> str:
    """jingdong.pop.order.search -> jingdong_pop_order_search_responce (sic: JOS spells it so)."""
    return method.replace(".", "_") + "_responce"
