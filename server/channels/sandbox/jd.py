"""JD JOS sandbox: POST/GET /sandbox/jd/routerjson, same params, signatures and answers.

Point a JD channel at it with api_base_url = http://host:port/sandbox/jd/routerjson and the
`credentials` below. Like JD, order search only shows orders that reached production: online
orders once paid, cash-on-delivery ones at once. Receivers are desensitised unless masked=False.
Business error codes inside answers (stock, shipment) are illustrative; gateway codes are JOS's.
"""
from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

from server.channels.connectors._gateway import GatewayReject, GatewaySandbox, Picked, Receiver, same_sign
from server.channels.connectors.jd.signing import parse_timestamp, response_key, sign
from server.channels.sandbox.base import SandboxOrder
from server.core.clock import format_beijing, parse_beijing

HIDDEN = "WAIT_PAY"          # our own marker: an unpaid online order JD does not list yet
OUTBOUND = ("WAIT_SELLER_STOCK_OUT", "WAIT_SELLER_DELIVERY")
CARRIERS = (("467", "顺丰快递"), ("463", "圆通快递"), ("1499", "中通速递"))


def _yuan(value: Decimal) -> str:
    return f"{value:.2f}"


def error(code: str, zh: str, en: str) -> dict:
    return {"error_response": {"code": code, "zh_desc": zh, "en_desc": en}}


class JdSandbox(GatewaySandbox):
    platform = "jd"
    credentials: ClassVar[dict[str, str]] = {
        "app_key": "sandbox-jd-key", "app_secret": "sandbox-jd-secret", "access_token": "sandbox-jd-token",
    }
    gateway_path = "/routerjson"
    timestamp_tolerance = timedelta(minutes=6)       # JOS allows six minutes of clock difference
    product_base = 10_020_000_000                    # wareId: 11 digits
    sku_base = 100_012_000_000                       # skuId: 12 digits
    shop_name = "茶语京东旗舰店"
    # JD has no delivered state; "unpaid" is a cash-on-delivery order (unpaid online ones are not listed)
    status_chains: ClassVar[dict[str, tuple[str, ...]]] = {
        "unpaid": ("cod",), "paid": ("pay",), "shipped": ("pay", "ship"), "completed": ("pay", "ship", "complete"),
        "cancelled": ("pay", "cancel"), "refunded": ("pay", "refund"),
    }

    # -- the gateway -------------------------------------------------------------------------------
    def authenticate(self, params: dict[str, str]) -> dict | None:
        if not params.get("method"):
            return error("14", "缺少方法名参数", "Missing Method")
        if params.get("app_key") != self.credentials["app_key"]:
            return error("21", f"key={params.get('app_key', '')} 信息无效", "Invalid app_key")
        if not params.get("timestamp"):
            return error("7", "缺少时间戳参数", "Missing Timestamp")
        if not self.fresh(parse_timestamp(params["timestamp"])):
            return error("8", "非法的时间戳参数", "Invalid Timestamp")
        if not params.get("sign"):
            return error("11", "缺少签名参数", "Missing Signature")
        if not same_sign(sign(params, self.credentials["app_secret"]), params["sign"]):
            return error("12", "无效签名", "Invalid Signature")
        if params.get("access_token") != self.credentials["access_token"]:
            return error("19", "无效access_token", "Invalid access_token")
        return None

    def dispatch(self, params: dict[str, str]) -> dict:
        handlers = {
            "jingdong.pop.order.search": self._search,
            "jingdong.stock.write.updateSkuStock": self._stock,
            "jingdong.pop.order.shipment": self._shipment,
            "jingdong.seller.vender.info.get": lambda b: {"vender_info_result": {
                "vender_id": 10012345, "shop_id": 10098765, "shop_name": self.shop_name, "col_type": 0}},
        }
        handler = handlers.get(params["method"])
        if handler is None:
            raise GatewayReject(error("15", "不存在的方法名", "Invalid Method"))
        try:
            business = json.loads(params.get("360buy_param_json") or "{}")
        except ValueError as exc:
            raise GatewayReject(error("41", "360buy_param_json格式错误", "Invalid 360buy_param_json")) from exc
        return {response_key(params["method"]): {"code": "0", **handler(business)}}

    def _search(self, b: dict[str, Any]) -> dict:
        def failed(zh: str, en: str) -> dict:
            return {"searchorderinfo_result": {"apiResult": {"success": False, "chineseErrCode": zh,
                                                             "englishErrCode": en, "numberCode": 10100001},
                                               "orderTotal": 0, "orderInfoList": []}}
        try:
            start, end = parse_beijing(b.get("start_date")), parse_beijing(b.get("end_date"))
        except ValueError:
            return failed("时间格式错误", "invalid date format")
        states = {s.strip() for s in str(b.get("order_state") or "").split(",") if s.strip()}
        fields = {f.strip() for f in str(b.get("optional_fields") or "").split(",") if f.strip()}
        if not start or not end or not states or not fields:
            return failed("start_date、end_date、order_state、optional_fields不能为空", "missing parameters")
        if end < start or end - start > timedelta(days=30):
            return failed("查询时间跨度不能超过一个月", "the time span must not exceed one month")
        page, page_size = int(b.get("page") or 1), int(b.get("page_size") or 20)
        if page < 1 or not 1 <= page_size <= 100:
            return failed("page_size取值范围为1~100", "page_size must be 1..100")
        rows = self.listing(start, end, by_created=str(b.get("dateType")) == "1",
                            descending=str(b.get("sortType")) == "1",
                            keep=lambda o: o.payload["orderState"] in states)
        chunk = rows[(page - 1) * page_size: page * page_size]
        listed = [{k: copy.deepcopy(v) for k, v in o.payload.items() if k in fields or k == "orderId"} for o in chunk]
        return {"searchorderinfo_result": {"apiResult": {"success": True, "chineseErrCode": "", "englishErrCode": "",
                                                         "numberCode": 0},
                                           "orderTotal": len(rows), "orderInfoList": listed}}

    def _stock(self, b: dict[str, Any]) -> dict:
        sku_id, quantity = str(b.get("skuId", "")), b.get("stockNum")
        sku = self.sku_by_id(sku_id)
        if sku is None:
            raise GatewayReject(error("90010", f"SKU {sku_id} 不存在或不属于当前商家", "sku not found"))
        if not isinstance(quantity, int) or quantity < 0:
            raise GatewayReject(error("90011", "stockNum必须为非负整数", "stockNum must be >= 0"))
        self.log_stock(self.catalog_ids(sku)[0], sku_id, quantity, "full")
        return {"success": True}

    def _shipment(self, b: dict[str, Any]) -> dict:
        order = self.orders.get(str(b.get("orderId", "")))
        problem = None
        if order is None:
            problem = ("订单不存在", "order not found")
        elif order.payload["orderState"] not in OUTBOUND:
            problem = ("订单状态不正确,不能出库", "order state does not allow shipment")
        elif not b.get("logiCoprId") or not b.get("logiNo"):
            problem = ("物流公司和运单号不能为空", "logiCoprId and logiNo are required")
        if problem:
            return {"sopjosshipment_result": {"success": False, "chineseErrCode": problem[0],
                                              "englishErrCode": problem[1], "errorCode": "10400001"}}
        at = self.next_stamp(order)
        self._ship(order, str(b["logiCoprId"]), str(b["logiNo"]), at)
        order.updated_at = at
        self.log_shipment(order.external_id, str(b["logiCoprId"]), str(b["logiNo"]))
        return {"sopjosshipment_result": {"success": True, "chineseErrCode": "", "englishErrCode": "",
                                          "errorCode": ""}}

    # -- orders ------------------------------------------------------------------------------------
    def status_of(self, order: SandboxOrder) -> str:
        return order.payload["orderState"]

    def build(self, at: datetime, created: datetime, lines: list[Picked], receiver: Receiver,
              masked: bool | None) -> SandboxOrder:
        order_id = str(self.rng.randint(200_000_000_000, 299_999_999_999))
        shown = receiver.masked() if masked is not False else receiver
        items, coupons, goods = [], [], Decimal(0)
        for picked in lines:
            ware_id, sku_id = self.catalog_ids(picked.sku)
            price = Decimal(picked.unit_price)
            goods += price * picked.quantity
            items.append({"skuId": sku_id, "outerSkuId": picked.sku.code, "wareId": ware_id,
                          "skuName": ("【赠品】" if picked.gift else "") + picked.sku.title_zh,
                          "jdPrice": _yuan(price), "itemTotal": str(picked.quantity), "productNo": "",
                          "giftPoint": "0", "newStoreId": "0"})
            if not picked.gift and price * picked.quantity > 50 and self.rng.random() < 0.3:
                coupons.append({"orderId": order_id, "skuId": sku_id, "couponType": "30-单品促销优惠",
                                "couponPrice": "5.00"})
        discount = sum((Decimal(c["couponPrice"]) for c in coupons), Decimal(0))
        freight = Decimal("0.00") if goods >= 99 else Decimal("6.00")
        province = receiver.province.removesuffix("省").removesuffix("市")    # JD writes 浙江, 北京
        city = receiver.city or receiver.district          # province-level counties: city = county
        full = f"{province}{city}{receiver.district}{receiver.town}{shown.detail}"
        payload = {
            "orderId": order_id, "venderId": "10012345", "orderType": "22", "payType": "4-在线支付",
            "orderTotalPrice": _yuan(goods), "orderSellerPrice": _yuan(goods - discount),
            "orderPayment": _yuan(goods - discount + freight), "freightPrice": _yuan(freight),
            "sellerDiscount": _yuan(discount), "balanceUsed": "0.00", "orderState": HIDDEN,
            "orderStateRemark": "等待付款", "orderRemark": self.rng.choice(["", "", "送货前请电话联系"]),
            "venderRemark": "", "orderStartTime": format_beijing(created), "orderEndTime": "",
            "modified": format_beijing(at), "paymentConfirmTime": "",
            "consigneeInfo": {"fullname": shown.name, "mobile": shown.mobile, "telephone": shown.mobile,
                              "desen_mobile": receiver.masked().mobile, "fullAddress": full,
                              "province": province, "city": city, "county": receiver.district,
                              "town": receiver.town},
            "itemInfoList": items, "couponDetailList": coupons,
            "pin": "jd_" + ("****" if masked is not False else self.faker.user_name()),
            "open_id_buyer": "o" + "".join(self.rng.choices("0123456789abcdef", k=31)),
            "waybill": "", "logisticsId": "",
        }
        return SandboxOrder(external_id=order_id, payload=payload, updated_at=at, created_at=created)

    def transition(self, order: SandboxOrder, event: str, at: datetime) -> None:
        p, stamp = order.payload, format_beijing(at)
        state, cod = p["orderState"], p["payType"].startswith("1")
        if event == "pay" and state == HIDDEN:
            p.update(orderState="WAIT_SELLER_STOCK_OUT", orderStateRemark="等待出库", paymentConfirmTime=stamp)
        elif event == "cod" and state == HIDDEN:
            p.update(payType="1-货到付款", orderState="WAIT_SELLER_STOCK_OUT", orderStateRemark="等待出库")
        elif event == "ship" and state in OUTBOUND:
            code, _name = self.rng.choice(CARRIERS)
            self._ship(order, code, "JD" + str(self.rng.randint(10**11, 10**12 - 1)), at)
        elif event == "complete" and state == "WAIT_GOODS_RECEIVE_CONFIRM":
            p.update(orderState="FINISHED_L", orderStateRemark="完成", orderEndTime=stamp)
            if cod:
                p["paymentConfirmTime"] = stamp
        elif event == "cancel" and state in (HIDDEN, *OUTBOUND):
            p.update(orderState="TRADE_CANCELED", orderStateRemark="取消", orderEndTime=stamp)
        elif event == "refund" and state in OUTBOUND and p["paymentConfirmTime"]:
            p.update(orderState="TRADE_CANCELED", orderStateRemark="取消(已退款)", orderEndTime=stamp)
        elif event == "partial_refund":
            raise ValueError("JD orders carry no per-line refunds; after-sales refunds live outside the order")
        else:
            raise ValueError(f"jd order {order.external_id} is {state}: cannot {event}")
        p["modified"] = stamp

    def _ship(self, order: SandboxOrder, carrier_id: str, waybill: str, at: datetime) -> None:
        order.payload.update(orderState="WAIT_GOODS_RECEIVE_CONFIRM", orderStateRemark="等待确认收货",
                             waybill=waybill, logisticsId=carrier_id, modified=format_beijing(at))


Sandbox = JdSandbox
