"""Pinduoduo connector over the POP gateway (JSON POST to /api/router).

api_base_url is the full gateway URL (default https://gw-api.pinduoduo.com/api/router; the sandbox
is http://host:port/sandbox/pinduoduo/api/router).
"""
from __future__ import annotations

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
from server.channels.connectors.pinduoduo.mapping import map_order
from server.channels.connectors.pinduoduo.signing import signed_params
from server.core import clock
from server.core.clock import to_unix

GATEWAY = "https://gw-api.pinduoduo.com/api/router"

# 10016 client id wrong or offline, 10019 access_token expired, 20004 signature check failed;
# 70031/70032 call frequency limits; 50000-59999 platform system errors
_AUTH_CODES = {10016, 10019, 20004}
_AUTH_WORDS = ("access_token", "client_id", "clientid", "签名", "授权")
_TRANSIENT_CODES = {70031, 70032, 70033}
_TRANSIENT_WORDS = ("频繁", "限流", "繁忙", "超时", "系统异常", "busy", "timeout")


def classify(error: dict, method: str) -> Exception:
    """error_response{error_code, error_msg, sub_code, sub_msg} -> the ConnectorError kind."""
    try:
        code = int(error.get("error_code"))
    except (TypeError, ValueError):
        code = 0
    text = " ".join(str(error.get(k) or "") for k in ("error_msg", "sub_msg")).strip()
    message = f"pinduoduo {method}: error {code} {text}".strip()
    details = {"code": str(code), "sub_code": str(error.get("sub_code") or "")}
    lowered = text.lower()
    if code in _TRANSIENT_CODES or 50000 <= code < 60000 or any(w in lowered for w in _TRANSIENT_WORDS):
        return ConnectorTransientError(message, details=details)
    if code in _AUTH_CODES or any(w in lowered for w in _AUTH_WORDS):
        return ConnectorAuthError(message, code="pinduoduo_auth", details=details)
    return ConnectorError(message, code="pinduoduo_error", details=details)


class PinduoduoConnector(GatewayConnector):
    platform = "pinduoduo"
    display_name = "拼多多 (Pinduoduo)"
    capabilities = frozenset({Capability.PULL_ORDERS, Capability.PUSH_INVENTORY, Capability.PUSH_FULFILLMENT})
    config_fields = [
        ConfigField("client_id", help="POP client id"),
        ConfigField("client_secret", secret=True, help="POP client secret"),
        ConfigField("access_token", secret=True, help="the shop's access token"),
        ConfigField("api_base_url", required=False, default=GATEWAY, help="full gateway URL"),
    ]
    default_api_base_url = GATEWAY
    window = timedelta(minutes=30)      # the increment API refuses anything longer
    page_size = 100
    lag = timedelta(minutes=3)          # PDD: end the window at least 3 minutes behind its clock

    async def _call_once(self, method: str, params: dict[str, Any]) -> dict:
        creds = self.require("client_id", "client_secret", "access_token")
        body = await send(self.http, self.api_base_url, json_body=signed_params(
            method=method, client_id=creds["client_id"], secret=creds["client_secret"],
            access_token=creds["access_token"], at=clock.now(), business=params))
        if "error_response" in body:
            raise classify(body["error_response"] or {}, method)
        return body     # PDD's answer keys do not follow the method name; callers pick theirs

    async def _result(self, method: str, key: str, **params: Any) -> dict:
        result = (await self.call(method, **params)).get(key)
        if not isinstance(result, dict):
            raise ConnectorError(f"pinduoduo {method}: answer has no {key}", code="bad_response")
        return result

    # -- pulling -----------------------------------------------------------------------------------
    async def _list_page(self, start: datetime, end: datetime, page: int) -> tuple[int, list[dict]]:
        result = await self._result(
            "pdd.order.number.list.increment.get", "order_sn_increment_get_response",
            start_updated_at=to_unix(start), end_updated_at=to_unix(end), order_status=5, refund_status=5,
            is_lucky_flag=0, page=page, page_size=self.page_size, use_has_next=False,
        )
        return int(result.get("total_count") or 0), list(result.get("order_sn_list") or [])

    def _row_key(self, row: dict) -> tuple[str, str]:
        return str(row.get("order_sn") or ""), str(row.get("updated_at") or "")

    def _map(self, payload: dict) -> NormalizedOrder:
        return map_order(payload)

    # -- writing back ------------------------------------------------------------------------------
    async def _push_stock(self, update: InventoryUpdate) -> None:
        if not update.platform_product_id:
            raise ConnectorError("pinduoduo needs the goods id to set stock", code="missing_item_id")
        result = await self._result("pdd.goods.quantity.update", "goods_quantity_update_response",
                                    goods_id=update.platform_product_id, sku_id=update.platform_sku_id,
                                    quantity=max(update.quantity, 0), update_type=1)   # 1: full quantity
        if not result.get("is_success"):
            raise ConnectorError(f"pinduoduo refused the stock of sku {update.platform_sku_id}", code="pinduoduo_error")

    async def _ship(self, update: FulfillmentUpdate) -> None:
        if update.external_line_ids:
            raise ConnectorError("pinduoduo ships whole orders", code="unsupported")
        # logistics_id is PDD's numeric carrier id (pdd.logistics.companies.get): carrier_code must be it
        result = await self._result("pdd.logistics.online.send", "logistics_online_send_response",
                                    order_sn=update.external_order_id, logistics_id=update.carrier_code,
                                    tracking_number=update.tracking_number)
        if not result.get("is_success"):
            raise ConnectorError(f"pinduoduo refused the shipment of {update.external_order_id}",
                                 code="pinduoduo_error")

    async def _whoami(self) -> str:
        result = await self._result("pdd.mall.info.get", "mall_info_get_response")
        return str(result.get("mall_name") or "")
