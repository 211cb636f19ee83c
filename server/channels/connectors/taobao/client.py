"""Taobao/Tmall connector over the TOP gateway (form POST to /router/rest).

api_base_url is the full gateway URL (default https://gw.api.taobao.com/router/rest; the sandbox is
http://host:port/sandbox/taobao/router/rest).
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from server.channels.connectors._gateway import GatewayConnector, send
from server.channels.connectors.base import (
    Capability,
    ConfigField,
    ConnectorAuthError,
    ConnectorError,
    ConnectorTransientError,
    FulfillmentUpdate,
    InventoryUpdate,
    NormalizedOrder,
)
from server.channels.connectors.taobao.mapping import map_trade, trade_id
from server.channels.connectors.taobao.signing import SIGN_METHODS, response_key, signed_params
from server.core import clock
from server.core.clock import format_beijing

GATEWAY = "https://gw.api.taobao.com/router/rest"

# The increment listing only needs to tell which trades changed; the rest comes from fullinfo.
LIST_FIELDS = "tid,status,modified"
TRADE_FIELDS = ",".join((
    "tid", "tid_str", "status", "type", "created", "modified", "pay_time", "consign_time", "end_time",
    "payment", "total_fee", "post_fee", "discount_fee", "adjust_fee", "received_payment",
    "buyer_nick", "buyer_open_uid", "buyer_message", "seller_memo", "oaid",
    "receiver_name", "receiver_state", "receiver_city", "receiver_district", "receiver_town",
    "receiver_address", "receiver_zip", "receiver_mobile", "receiver_phone", "orders",
))

# platform-level codes (< 100): https://open.taobao.com error code table
_AUTH_CODES = {"11", "12", "13", "24", "25", "26", "27", "28", "29"}   # permissions, signature, session, app key
_TRANSIENT_CODES = {"4", "5", "6", "7", "8", "10"}                      # call limits, service unavailable
_BAN = re.compile(r"(\d+)\s*more\s*seconds", re.IGNORECASE)


def classify(error: dict, method: str) -> Exception:
    """error_response{code,msg,sub_code,sub_msg} -> the ConnectorError kind the caller acts on."""
    code = str(error.get("code", ""))
    sub_code = str(error.get("sub_code") or "")
    text = " ".join(str(error.get(k) or "") for k in ("msg", "sub_code", "sub_msg")).strip()
    message = f"taobao {method}: error {code} {text}".strip()
    details = {"code": code, "sub_code": sub_code}
    if code in _AUTH_CODES or "sessionkey" in sub_code or sub_code.startswith("isv.appkey"):
        return ConnectorAuthError(message, code="taobao_auth", details=details)
    if code in _TRANSIENT_CODES or sub_code.startswith(("isp.", "accesscontrol.")):
        ban = _BAN.search(text)
        return ConnectorTransientError(message, retry_after=float(ban.group(1)) if ban else None, details=details)
    return ConnectorError(message, code="taobao_error", details=details)


class TaobaoConnector(GatewayConnector):
    platform = "taobao"
    display_name = "淘宝 / 天猫 (Taobao / Tmall)"
    capabilities = frozenset({Capability.PULL_ORDERS, Capability.PUSH_INVENTORY, Capability.PUSH_FULFILLMENT})
    config_fields = [
        ConfigField("app_key", help="TOP app key"),
        ConfigField("app_secret", secret=True, help="TOP app secret"),
        ConfigField("session", secret=True, help="the shop's session key (授权 access token)"),
        ConfigField("sign_method", required=False, default="md5", help="md5 or hmac"),
        ConfigField("api_base_url", required=False, default=GATEWAY, help="full gateway URL"),
    ]
    default_api_base_url = GATEWAY
    window = timedelta(minutes=30)      # increment API allows 1 day; 30 minutes is the documented advice
    page_size = 100

    async def _call_once(self, method: str, params: dict[str, Any]) -> dict:
        creds = self.require("app_key", "app_secret", "session")
        sign_method = str(self.setting("sign_method", "md5")).lower()
        if sign_method not in SIGN_METHODS:
            raise ConnectorError(f"taobao: sign_method must be md5 or hmac, not {sign_method!r}",
                                 code="bad_config", field="sign_method")
        form = signed_params(method=method, app_key=creds["app_key"], secret=creds["app_secret"],
                             session=creds["session"], sign_method=sign_method, timestamp=clock.now(),
                             business=params)
        body = await send(self.http, self.api_base_url, form=form)
        if "error_response" in body:
            raise classify(body["error_response"] or {}, method)
        result = body.get(response_key(method))
        if not isinstance(result, dict):
            raise ConnectorError(f"taobao {method}: answer has no {response_key(method)}", code="bad_response")
        return result

    # -- pulling -----------------------------------------------------------------------------------
    async def _list_page(self, start: datetime, end: datetime, page: int) -> tuple[int, list[dict]]:
        result = await self.call(
            "taobao.trades.sold.increment.get", fields=LIST_FIELDS, start_modified=format_beijing(start),
            end_modified=format_beijing(end), page_no=page, page_size=self.page_size, use_has_next=False,
        )
        trades = result.get("trades") or {}
        return int(result.get("total_results") or 0), list(trades.get("trade") or [])

    def _row_key(self, row: dict) -> tuple[str, str]:
        return trade_id(row), str(row.get("modified") or "")

    async def _expand(self, row: dict) -> dict:
        result = await self.call("taobao.trade.fullinfo.get", fields=TRADE_FIELDS, tid=trade_id(row))
        trade = result.get("trade")
        if not isinstance(trade, dict):
            raise ConnectorError(f"taobao trade {trade_id(row)}: fullinfo answer has no trade", code="bad_response")
        return trade

    def _map(self, payload: dict) -> NormalizedOrder:
        return map_trade(payload)

    # -- writing back ------------------------------------------------------------------------------
    async def _push_stock(self, update: InventoryUpdate) -> None:
        if not update.platform_product_id:
            raise ConnectorError("taobao needs the item id (num_iid) to set stock", code="missing_item_id")
        sku_id = update.platform_sku_id if update.platform_sku_id != update.platform_product_id else ""
        await self.call("taobao.item.quantity.update", num_iid=update.platform_product_id, sku_id=sku_id,
                        quantity=max(update.quantity, 0), type=1)   # type 1: set the full quantity

    async def _ship(self, update: FulfillmentUpdate) -> None:
        params: dict[str, Any] = {"tid": update.external_order_id, "out_sid": update.tracking_number,
                                  "company_code": update.carrier_code}
        if update.external_line_ids:       # split shipment: only these sub-orders
            params.update(is_split=1, sub_tid=",".join(update.external_line_ids))
        result = await self.call("taobao.logistics.offline.send", **params)
        if not (result.get("shipping") or {}).get("is_success"):
            raise ConnectorError(f"taobao refused the shipment of {update.external_order_id}", code="taobao_error")

    async def _whoami(self) -> str:
        result = await self.call("taobao.user.seller.get", fields="nick,user_id")
        return str((result.get("user") or {}).get("nick") or "")
