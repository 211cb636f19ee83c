"""Taobao TOP sandbox: POST/GET /sandbox/taobao/router/rest, same params, signatures and answers.

Point a Taobao channel at it with api_base_url = http://host:port/sandbox/taobao/router/rest and the
`credentials` below. Trades are masked (OAID) unless generated with masked=False.
"""
from __future__ import annotations

import copy
import string
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

from server.channels.connectors._gateway import (
    STATUS_CHAINS,
    GatewayReject,
    GatewaySandbox,
    Picked,
    Receiver,
    same_sign,
)
from server.channels.connectors.taobao.signing import SIGN_METHODS, response_key, sign
from server.channels.sandbox.base import DEMO_SKUS, UNLISTED_SKU, SandboxOrder
from server.core import clock
from server.core.clock import format_beijing, parse_beijing

UNPAID = ("WAIT_BUYER_PAY", "TRADE_NO_CREATE_PAY")
SHIPPABLE = ("WAIT_SELLER_SEND_GOODS", "SELLER_CONSIGNED_PART")
OPEN_PAID = (*SHIPPABLE, "WAIT_BUYER_CONFIRM_GOODS")
CARRIERS = (("SF", "顺丰速运"), ("YTO", "圆通速递"), ("ZTO", "中通快递"))


def _yuan(value: Decimal) -> str:
    return f"{value:.2f}"


def error(code: int, msg: str, sub_code: str = "", sub_msg: str = "") -> dict:
    body: dict[str, Any] = {"code": code, "msg": msg}
    if sub_code:
        body.update(sub_code=sub_code, sub_msg=sub_msg or sub_code)
    body["request_id"] = "sandbox" + format(clock.now().microsecond, "x")
    return {"error_response": body}


def business_error(sub_code: str, sub_msg: str) -> GatewayReject:
    return GatewayReject(error(15, "Remote service error", sub_code, sub_msg))


def _time(params: dict[str, str], name: str) -> datetime:
    try:
        value = parse_beijing(params.get(name))
    except ValueError as exc:
        raise GatewayReject(error(41, f"Invalid arguments:{name}", "isv.invalid-parameter", f"{name} 格式错误")) from exc
    if value is None:
        raise GatewayReject(error(40, f"Missing required arguments:{name}", "isv.missing-parameter", name))
    return value


class TaobaoSandbox(GatewaySandbox):
    platform = "taobao"
    credentials: ClassVar[dict[str, str]] = {
        "app_key": "sandbox-taobao-key", "app_secret": "sandbox-taobao-secret", "session": "sandbox-taobao-session",
    }
    gateway_path = "/router/rest"
    product_base = 680_000_000_000         # num_iid: 12 digits
    sku_base = 5_000_000_000_000           # sku_id: 13 digits
    shop_nick = "茶语旗舰店"
    # a trade has no "delivered" status unless it is cash on delivery
    status_chains = {k: v for k, v in STATUS_CHAINS.items() if k != "delivered"} | {
        "completed": ("pay", "ship", "complete")}
    public_methods = ("taobao.time.get",)

    # -- the gateway -------------------------------------------------------------------------------
    def authenticate(self, params: dict[str, str]) -> dict | None:
        if not params.get("method"):
            return error(21, "Missing method")
        if not params.get("app_key"):
            return error(28, "Missing app key")
        if params["app_key"] != self.credentials["app_key"]:
            return error(29, "Invalid app Key", "isv.appkey-not-exists")
        if not params.get("timestamp"):
            return error(30, "Missing timestamp")
        try:
            stamp = parse_beijing(params["timestamp"])
        except ValueError:
            stamp = None
        if not self.fresh(stamp):
            return error(31, "Invalid timestamp")
        if not params.get("sign"):
            return error(24, "Missing signature")
        sign_method = params.get("sign_method", "md5")
        if sign_method not in SIGN_METHODS or not same_sign(
                sign(params, self.credentials["app_secret"], sign_method), params["sign"]):
            return error(25, "Invalid signature")
        if params["method"] not in self.public_methods:
            if not params.get("session"):
                return error(26, "Missing session")
            if params["session"] != self.credentials["session"]:
                return error(27, "Invalid session", "invalid-sessionkey", "SessionKey非法")
        return None

    def dispatch(self, params: dict[str, str]) -> dict:
        handlers = {
            "taobao.trades.sold.increment.get": self._increment,
            "taobao.trade.fullinfo.get": self._fullinfo,
            "taobao.item.quantity.update": self._quantity,
            "taobao.logistics.offline.send": self._offline_send,
            "taobao.user.seller.get": lambda p: {"user": {"nick": self.shop_nick, "user_id": 2201234567890,
                                                          "type": "B"}},
            "taobao.time.get": lambda p: {"time": format_beijing(clock.now())},
        }
        handler = handlers.get(params["method"])
        if handler is None:
            raise GatewayReject(error(22, "Invalid method"))
        return {response_key(params["method"]): {**handler(params), "request_id": "sandbox"}}

    def _increment(self, params: dict[str, str]) -> dict:
        start, end = _time(params, "start_modified"), _time(params, "end_modified")
        if end < start or end - start > timedelta(days=1):
            raise business_error("isv.invalid-parameter", "start_modified与end_modified的间隔不能超过一天")
        if start < clock.now() - timedelta(days=90):
            raise business_error("isv.invalid-parameter", "只能查询三个月内修改的订单")
        page_no, page_size = int(params.get("page_no") or 1), int(params.get("page_size") or 40)
        if not 1 <= page_size <= 100 or page_no < 1:
            raise business_error("isv.invalid-parameter", "page_size的取值范围为1~100")
        status = params.get("status")
        rows = self.listing(start, end, keep=lambda o: not status or o.payload["status"] == status)
        chunk = rows[(page_no - 1) * page_size: page_no * page_size]
        fields = {f.strip() for f in params.get("fields", "tid").split(",")} | {"tid"}
        result: dict[str, Any] = {"has_next": page_no * page_size < len(rows)}
        if params.get("use_has_next") != "true":
            result["total_results"] = len(rows)
        if chunk:   # partial trades: only top-level fields, never the sub-orders
            result["trades"] = {"trade": [{k: o.payload[k] for k in fields if k in o.payload and k != "orders"}
                                          for o in chunk]}
        return result

    def _order(self, params: dict[str, str]) -> SandboxOrder:
        order = self.orders.get(params.get("tid", ""))
        if order is None:
            raise business_error("isv.trade-not-exist", "交易不存在")
        return order

    def _fullinfo(self, params: dict[str, str]) -> dict:
        trade = copy.deepcopy(self._order(params).payload)
        fields = {f.strip() for f in params.get("fields", "").split(",") if f.strip()}
        if fields:
            trade = {k: v for k, v in trade.items() if k in fields or k == "tid"}
        return {"trade": trade}

    def _quantity(self, params: dict[str, str]) -> dict:
        num_iid, sku_id = params.get("num_iid", ""), params.get("sku_id", "")
        sku = next((s for s in (*DEMO_SKUS, UNLISTED_SKU) if self.catalog_ids(s)[0] == num_iid), None)
        if sku is None:
            raise business_error("isv.item-not-exist", f"商品{num_iid}不存在")
        listed_sku = self.catalog_ids(sku)[1]
        if sku_id and sku_id != listed_sku:
            raise business_error("isv.item-sku-not-exist", f"商品{num_iid}下不存在sku {sku_id}")
        try:
            quantity = int(params.get("quantity", ""))
        except ValueError as exc:
            raise business_error("isv.invalid-parameter", "quantity必须是整数") from exc
        incremental = params.get("type", "1") == "2"
        new = self.inventory.get(listed_sku, 0) + quantity if incremental else quantity
        if new < 0:
            raise business_error("isv.invalid-parameter", "库存不能小于0")
        self.log_stock(num_iid, listed_sku, new, "incremental" if incremental else "full")
        modified = format_beijing(clock.now())
        return {"item": {"num_iid": int(num_iid), "num": new, "modified": modified,
                         "skus": {"sku": [{"sku_id": int(listed_sku), "quantity": new, "modified": modified}]}}}

    def _offline_send(self, params: dict[str, str]) -> dict:
        for name in ("tid", "out_sid", "company_code"):
            if not params.get(name):
                raise GatewayReject(error(40, f"Missing required arguments:{name}", "isv.missing-parameter", name))
        order = self._order(params)
        if order.payload["status"] not in SHIPPABLE:
            raise business_error("isv.logistics-offline-service-error", "订单状态不允许发货")
        oids = [x for x in params.get("sub_tid", "").split(",") if x] if params.get("is_split") == "1" else None
        at = self.next_stamp(order)
        self._consign(order, params["company_code"], params["out_sid"], at, oids)
        order.updated_at = at
        self.log_shipment(order.external_id, params["company_code"], params["out_sid"], oids)
        return {"shipping": {"is_success": True}}

    # -- orders ------------------------------------------------------------------------------------
    def status_of(self, order: SandboxOrder) -> str:
        return order.payload["status"]

    def build(self, at: datetime, created: datetime, lines: list[Picked], receiver: Receiver,
              masked: bool | None) -> SandboxOrder:
        tid = str(self.rng.randint(1_000_000_000_000_000_000, 4_999_999_999_999_999_999))
        shown = receiver.masked() if masked is not False else receiver   # OAID era: masked by default
        nick = self.faker.user_name()
        subs, goods = [], Decimal(0)
        for i, picked in enumerate(lines, start=1):
            num_iid, sku_id = self.catalog_ids(picked.sku)
            price, qty = Decimal(picked.unit_price), picked.quantity
            discount = Decimal("5.00") if not picked.gift and price * qty > 50 and self.rng.random() < 0.3 else Decimal(0)
            goods += price * qty
            subs.append({
                "oid": int(tid) + i, "oid_str": str(int(tid) + i), "num_iid": int(num_iid), "sku_id": sku_id,
                "outer_iid": picked.sku.code,
                "outer_sku_id": "" if picked.gift else picked.sku.code,   # gifts: item-level code only
                "title": ("【赠品】" if picked.gift else "") + picked.sku.title_zh, "price": _yuan(price),
                "num": qty, "total_fee": _yuan(price * qty - discount), "discount_fee": _yuan(discount),
                "adjust_fee": "0.00", "payment": _yuan(price * qty - discount),
                "divide_order_fee": _yuan(price * qty - discount), "status": "WAIT_BUYER_PAY",
                "refund_status": "NO_REFUND", "sku_properties_name": "规格:标准装",
                "invoice_no": "", "logistics_company": "",
            })
        post_fee = Decimal("0.00") if goods >= 99 else Decimal("8.00")
        payment = sum((Decimal(s["total_fee"]) for s in subs), Decimal(0)) + post_fee
        if len(subs) == 1:   # a single sub-order's payment includes the postage (TOP quirk)
            subs[0]["payment"] = _yuan(Decimal(subs[0]["payment"]) + post_fee)
        trade = {
            "tid": int(tid), "tid_str": tid, "status": "WAIT_BUYER_PAY", "type": "fixed",
            "created": format_beijing(created), "modified": format_beijing(at), "pay_time": "",
            "consign_time": "", "end_time": "", "total_fee": _yuan(goods), "post_fee": _yuan(post_fee),
            "discount_fee": "0.00", "adjust_fee": "0.00", "payment": _yuan(payment), "received_payment": "0.00",
            "buyer_nick": nick[0] + "**" + nick[-1] if masked is not False else nick,
            "buyer_open_uid": "AAH" + "".join(self.rng.choices(string.ascii_letters + string.digits, k=21)),
            "buyer_message": self.rng.choice(["", "", "请尽快发货", "周末送货，谢谢"]), "seller_memo": "",
            "receiver_name": shown.name, "receiver_state": receiver.province, "receiver_city": receiver.city,
            "receiver_district": receiver.district, "receiver_town": receiver.town,
            "receiver_address": shown.detail, "receiver_zip": receiver.postcode,
            "receiver_mobile": shown.mobile, "receiver_phone": "",
            "orders": {"order": subs},
        }
        if masked is not False:
            trade["oaid"] = "".join(self.rng.choices("0123456789abcdef", k=40))
        return SandboxOrder(external_id=tid, payload=trade, updated_at=at, created_at=created)

    def transition(self, order: SandboxOrder, event: str, at: datetime) -> None:
        trade, stamp = order.payload, format_beijing(at)
        status, subs = trade["status"], trade["orders"]["order"]
        if event == "pay" and status in UNPAID:
            trade["pay_time"] = stamp
            self._set_status(trade, "WAIT_SELLER_SEND_GOODS")
        elif event == "ship" and status in SHIPPABLE:
            code, _name = self.rng.choice(CARRIERS)
            self._consign(order, code, code + str(self.rng.randint(10**11, 10**12 - 1)), at, None)
        elif event == "deliver" and status == "WAIT_BUYER_CONFIRM_GOODS" and trade.get("type") == "cod":
            self._set_status(trade, "TRADE_BUYER_SIGNED")
        elif event == "complete" and status in ("WAIT_BUYER_CONFIRM_GOODS", "TRADE_BUYER_SIGNED"):
            self._set_status(trade, "TRADE_FINISHED")
            trade["end_time"] = stamp
            kept = [Decimal(s["payment"]) for s in subs if s["refund_status"] != "SUCCESS"]
            trade["received_payment"] = _yuan(min(sum(kept, Decimal(0)), Decimal(trade["payment"])))
        elif event == "cancel" and status in UNPAID:
            self._set_status(trade, "TRADE_CLOSED_BY_TAOBAO")
            trade["end_time"] = stamp
        elif event in ("cancel", "refund") and status in (SHIPPABLE if event == "cancel" else OPEN_PAID):
            for sub in subs:
                sub["refund_status"] = "SUCCESS"
            self._set_status(trade, "TRADE_CLOSED")
            trade["end_time"] = stamp
        elif event == "partial_refund" and status in OPEN_PAID:
            open_subs = [s for s in subs if s["refund_status"] != "SUCCESS" and Decimal(s["price"]) > 0]
            if len(open_subs) < 2:
                raise ValueError("partial refund needs at least two paid sub-orders still open")
            open_subs[0]["refund_status"], open_subs[0]["status"] = "SUCCESS", "TRADE_CLOSED"
        else:
            raise ValueError(f"taobao trade {order.external_id} is {status}: cannot {event}")
        trade["modified"] = stamp

    def _set_status(self, trade: dict, status: str) -> None:
        trade["status"] = status
        for sub in trade["orders"]["order"]:
            if sub["refund_status"] != "SUCCESS" or status == "TRADE_CLOSED":
                sub["status"] = status

    def _consign(self, order: SandboxOrder, company: str, out_sid: str, at: datetime,
                 oids: list[str] | None) -> None:
        trade = order.payload
        for sub in trade["orders"]["order"]:
            if (oids is None or sub["oid_str"] in oids) and sub["refund_status"] != "SUCCESS":
                sub.update(invoice_no=out_sid, logistics_company=company, consign_time=format_beijing(at),
                           status="WAIT_BUYER_CONFIRM_GOODS")
        waiting = [s for s in trade["orders"]["order"] if s["status"] in SHIPPABLE]
        trade["status"] = "SELLER_CONSIGNED_PART" if waiting else "WAIT_BUYER_CONFIRM_GOODS"
        trade["consign_time"] = trade["modified"] = format_beijing(at)


Sandbox = TaobaoSandbox
