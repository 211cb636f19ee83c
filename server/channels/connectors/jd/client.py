"""JD POP connector over the JOS gateway (form POST to /routerjson, business params in
`360buy_param_json`).

api_base_url is the full gateway URL (default https://api.jd.com/routerjson; the sandbox is
http://host:port/sandbox/jd/routerjson).
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
from server.channels.connectors.jd.mapping import map_order
from server.channels.connectors.jd.signing import response_key, signed_params
from server.core import clock
from server.core.clock import format_beijing

GATEWAY = "https://api.jd.com/routerjson"
ALL_STATES = ",".join(("WAIT_SELLER_STOCK_OUT", "WAIT_GOODS_RECEIVE_CONFIRM", "WAIT_SELLER_DELIVERY", "PAUSE",
                       "FINISHED_L", "TRADE_CANCELED", "LOCKED", "POP_ORDER_PAUSE"))
OPTIONAL_FIELDS = ",".join((
    "orderId", "venderId", "orderType", "payType", "orderTotalPrice", "orderSellerPrice", "orderPayment",
    "freightPrice", "sellerDiscount", "balanceUsed", "orderState", "orderStateRemark", "orderRemark",
    "venderRemark", "orderStartTime", "orderEndTime", "modified", "paymentConfirmTime", "consigneeInfo",
    "itemInfoList", "couponDetailList", "pin", "open_id_buyer", "waybill", "logisticsId",
))

# gateway codes: 12 invalid signature, 19 invalid access_token, 21 invalid app_key; 2 call limit
_AUTH_CODES = {"12", "19", "21"}
_TRANSIENT_CODES = {"2", "66", "67"}
_AUTH_WORDS = ("access_token", "app_key", "appkey", "signature", "token")
_TRANSIENT_WORDS = ("limit", "busy", "timeout", "unavailable", "超时", "繁忙", "限流", "频繁", "不可用")


def classify(error: dict, method: str) -> Exception:
    """error_response{code, zh_desc, en_desc} -> the ConnectorError kind the caller acts on."""
    code = str(error.get("code", ""))
    text = " ".join(str(error.get(k) or "") for k in ("en_desc", "zh_desc", "msg")).strip()
    message = f"jd {method}: error {code} {text}".strip()
    details = {"code": code}
    lowered = text.lower()
    if code in _AUTH_CODES or (code not in _TRANSIENT_CODES and any(w in lowered for w in _AUTH_WORDS)):
        return ConnectorAuthError(message, code="jd_auth", details=details)
    if code in _TRANSIENT_CODES or any(w in lowered for w in _TRANSIENT_WORDS):
        return ConnectorTransientError(message, details=details)
    return ConnectorError(message, code="jd_error", details=details)


class JdConnector(GatewayConnector):
    platform = "jd"
    display_name = "京东 (JD)"
    capabilities = frozenset({Capability.PULL_ORDERS, Capability.PUSH_INVENTORY, Capability.PUSH_FULFILLMENT})
    config_fields = [
        ConfigField("app_key", help="JOS app key"),
        ConfigField("app_secret", secret=True, help="JOS app secret"),
        ConfigField("access_token", secret=True, help="the shop's access token"),
        ConfigField("api_base_url", required=False, default=GATEWAY, help="full gateway URL"),
    ]
    default_api_base_url = GATEWAY
    # order.search accepts up to a month; 6 hours keeps page counts small on busy shops
    window = timedelta(hours=6)
    page_size = 50

    async def _call_once(self, method: str, params: dict[str, Any]) -> dict:
        creds = self.require("app_key", "app_secret", "access_token")
        form = signed_params(method=method, app_key=creds["app_key"], secret=creds["app_secret"],
                             access_token=creds["access_token"], at=clock.now(), business=params)
        body = await send(self.http, self.api_base_url, form=form)
        if "error_response" in body:
            raise classify(body["error_response"] or {}, method)
        result = body.get(response_key(method))
        if not isinstance(result, dict):
            raise ConnectorError(f"jd {method}: answer has no {response_key(method)}", code="bad_response")
        if str(result.get("code", "0")) != "0":
            raise ConnectorError(f"jd {method}: code {result.get('code')}", code="jd_error")
        return result

    # -- pulling -----------------------------------------------------------------------------------
    async def _list_page(self, start: datetime, end: datetime, page: int) -> tuple[int, list[dict]]:
        result = await self.call(
            "jingdong.pop.order.search", start_date=format_beijing(start), end_date=format_beijing(end),
            order_state=ALL_STATES, optional_fields=OPTIONAL_FIELDS, page=str(page), page_size=str(self.page_size),
            dateType="0",     # by modified time
            sortType="1",     # newest first, so we page from the last page back (see backward_pages)
        )
        info = result.get("searchorderinfo_result") or {}
        outcome = info.get("apiResult") or {}
        if str(outcome.get("success", True)).lower() == "false":
            raise ConnectorError(f"jd order search: {outcome.get('chineseErrCode') or outcome.get('englishErrCode')}",
                                 code="jd_error", details={"code": str(outcome.get("numberCode", ""))})
        return int(info.get("orderTotal") or 0), list(info.get("orderInfoList") or [])

    def _row_key(self, row: dict) -> tuple[str, str]:
        return str(row.get("orderId") or ""), str(row.get("modified") or "")

    def _map(self, payload: dict) -> NormalizedOrder:
        return map_order(payload)

    # -- writing back ------------------------------------------------------------------------------
    async def _push_stock(self, update: InventoryUpdate) -> None:
        sku = update.platform_sku_id
        result = await self.call("jingdong.stock.write.updateSkuStock",
                                 skuId=int(sku) if sku.isdigit() else sku, stockNum=max(update.quantity, 0))
        if str(result.get("success", "")).lower() != "true":
            raise ConnectorError(f"jd refused the stock of sku {sku}", code="jd_error")

    async def _ship(self, update: FulfillmentUpdate) -> None:
        if update.external_line_ids:
            raise ConnectorError("jd ships whole orders: split the order on JD first", code="unsupported")
        # logiCoprId is JD's numeric carrier id (e.g. 467 顺丰): carrier_code must already be JD's id
        result = await self.call("jingdong.pop.order.shipment", orderId=update.external_order_id,
                                 logiCoprId=update.carrier_code, logiNo=update.tracking_number)
        outcome = result.get("sopjosshipment_result") or {}
        if str(outcome.get("success", "")).lower() != "true":
            reason = outcome.get("chineseErrCode") or outcome.get("englishErrCode") or "refused"
            raise ConnectorError(f"jd shipment of {update.external_order_id}: {reason}", code="jd_error")

    async def _whoami(self) -> str:
        result = await self.call("jingdong.seller.vender.info.get")
        return str((result.get("vender_info_result") or {}).get("shop_name") or "")
