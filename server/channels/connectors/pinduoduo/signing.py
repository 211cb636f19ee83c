"""Pinduoduo POP request signing (https://gw-api.pinduoduo.com/api/router).

sign = MD5(client_secret + concat(sorted k+v of every param but sign) + client_secret), upper-case.
Business params sit beside the system ones (type, client_id, access_token, timestamp, data_type).
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from server.channels.connectors._gateway import clean_params, md5_sign
from server.core.clock import to_unix


def sign(params: Mapping[str, str], secret: str) -> str:
    return md5_sign(secret, params)


def signed_params(*, method: str, client_id: str, secret: str, access_token: str, at: datetime,
                  business: Mapping[str, Any]) -> dict[str, str]:
    params = clean_params({**business, "type": method, "client_id": client_id, "access_token": access_token,
                           "timestamp": to_unix(at), "data_type": "JSON"})
    params["sign"] = sign(params, secret)
    return params
