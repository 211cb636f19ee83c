"""Pinduoduo POP sandbox: POST /sandbox/pinduoduo/api/router (JSON or form), same params,
signatures and answers.

Point a Pinduoduo channel at it with api_base_url = http://host:port/sandbox/pinduoduo/api/router
and the `credentials` below. As on PDD, the receiver is plain text while an order awaits shipment
and masked afterwards (masked=True masks from the start). An "unpaid" order here is a paid order
whose group has not formed yet (confirm_status 0): PDD has no visible unpaid orders. Error codes for
bad business parameters (10002) are illustrative; the credential and signature codes are PDD's.
"""
from __future__ import annotations

import copy
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
from server.channels.connectors.pinduoduo.mapping import raw_status
from server.channels.connectors.pinduoduo.signing import sign
from server.channels.sandbox.base import SandboxOrder
from server.core import clock
from server.core.clock import format_beijing, from_unix

CARRIERS = ((115, "顺丰快递"), (85, "圆通快递"), (44, "中通快递"))


def _money(value: Decimal) -> float:
    """PDD sends yuan as JSON numbers."""
    return float(value)


def error(code: int, msg: str, sub_msg: str = "") -> dict:
    return {"error_response": {"error_code": code, "error_msg": msg, "sub_code": str(code),
                               "sub_msg": sub_msg or msg, "request_id": f"sandbox{clock.now().microsecond}"}}


def bad_param(message: str) -> GatewayReject:
    return GatewayReject(error(10002, "业务参数错误", message))


def _int(params: dict[str, str], name: str, default: int | None = None) -> int:
    value = params.get(name)
    if value in (None, ""):
        if default is None:
            raise bad_param(f"{name}不能为空")
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise bad_param(f"{name}必须为整数") from exc


class PinduoduoSandbox(GatewaySandbox):
    platform = "pinduoduo"
    credentials: ClassVar[dict[str, str]] = {
        "client_id": "sandbox-pdd-client", "client_secret": "sandbox-pdd-secret", "access_token": "sandbox-pdd-token",
    }
    gateway_path = "/api/router"
    product_base = 300_000_000                       # goods_id
    sku_base = 12_000_000_000                        # sku_id
    mall_name = "茶语小铺"
    status_chains = {k: v for k, v in STATUS_CHAINS.items() if k != "partially_refunded"}

    # -- the gateway -------------------------------------------------------------------------------
    def authenticate(self, params: dict[str, str]) -> dict | None:
        if not params.get("type"):
            return error(10001, "公共参数错误", "type不能为空")
        if params.get("client_id") != self.credentials["client_id"]:
            return error(10016, "client下线或者clientId不正确")
        try:
            stamp = from_unix(params.get("timestamp"))
        except (TypeError, ValueError, OverflowError):
            stamp = None
        if not self.fresh(stamp):
            return error(10001, "公共参数错误", "timestamp已过期或格式错误")
        if not same_sign(sign(params, self.credentials["client_secret"]), params.get("sign", "")):
            return error(20004, "签名验证失败")
        if params.get("access_token") != self.credentials["access_token"]:
            return error(10019, "access_token已过期")
        return None

    def dispatch(self, params: dict[str, str]) -> dict:
        handlers = {
            "pdd.order.number.list.increment.get": ("order_sn_increment_get_response", self._increment),
            "pdd.order.information.get": ("order_info_get_response", self._information),
            "pdd.goods.quantity.update": ("goods_quantity_update_response", self._quantity),
            "pdd.logistics.online.send": ("logistics_online_send_response", self._online_send),
            "pdd.mall.info.get": ("mall_info_get_response", lambda p: {
                "mall_id": 512345678, "mall_name": self.mall_name, "merchant_type": 6, "logo": "", "mall_desc": ""}),
        }
        if params["type"] not in handlers:
            raise GatewayReject(error(10001, "公共参数错误", f"type {params['type']} 不存在"))
        key, handler = handlers[params["type"]]
        return {key: {**handler(params), "request_id": "sandbox"}}

    def _increment(self, params: dict[str, str]) -> dict:
        start, end = _int(params, "start_updated_at"), _int(params, "end_updated_at")
        if end < start or end - start > 30 * 60:
            raise bad_param("开始时间结束时间间距不超过30分钟")
        page, page_size = _int(params, "page", 1), _int(params, "page_size", 100)
        if page < 1 or not 1 <= page_size <= 100:
            raise bad_param("page_size最大为100")
        shipping, refund = _int(params, "order_status"), _int(params, "refund_status")
        rows = self.listing(from_unix(start), from_unix(end), keep=lambda o: (
            shipping == 5 or o.payload["order_status"] == shipping) and (
            refund == 5 or o.payload["refund_status"] == refund))
        chunk = rows[(page - 1) * page_size: page * page_size]
        result: dict[str, Any] = {"has_next": page * page_size < len(rows),
                                  "order_sn_list": [copy.deepcopy(o.payload) for o in chunk]}
        if params.get("use_has_next") != "true":
            result["total_count"] = len(rows)
        return result

    def _order(self, order_sn: str) -> SandboxOrder:
        order = self.orders.get(order_sn)
        if order is None:
            raise bad_param(f"订单{order_sn}不存在")
        return order

    def _information(self, params: dict[str, str]) -> dict:
        return {"order_info": copy.deepcopy(self._order(params.get("order_sn", "")).payload)}

    def _quantity(self, params: dict[str, str]) -> dict:
        goods_id, sku_id = params.get("goods_id", ""), params.get("sku_id", "")
        sku = self.sku_by_id(sku_id)
        if sku is None or self.catalog_ids(sku)[0] != goods_id:
            raise bad_param(f"商品{goods_id}下不存在sku {sku_id}")
        quantity = _int(params, "quantity")
        incremental = params.get("update_type", "1") == "2"
        new = self.inventory.get(sku_id, 0) + quantity if incremental else quantity
        if new < 0:
            raise bad_param("库存不能小于0")
        self.log_stock(goods_id, sku_id, new, "incremental" if incremental else "full")
        return {"is_success": True}

    def _online_send(self, params: dict[str, str]) -> dict:
        order = self._order(params.get("order_sn", ""))
        p = order.payload
        if p["order_status"] != 1 or p["confirm_status"] != 1 or p["refund_status"] == 4:
            raise bad_param("订单状态不允许发货")
        logistics_id, tracking = _int(params, "logistics_id"), params.get("tracking_number", "")
        if not tracking:
            raise bad_param("tracking_number不能为空")
        at = self.next_stamp(order)
        self._ship(order, logistics_id, tracking, at)
        order.updated_at = at
        self.log_shipment(order.external_id, str(logistics_id), tracking)
        return {"is_success": True}

    # -- orders ------------------------------------------------------------------------------------
    def status_of(self, order: SandboxOrder) -> str:
        return raw_status(order.payload)

    def build(self, at: datetime, created: datetime, lines: list[Picked], receiver: Receiver,
              masked: bool | None) -> SandboxOrder:
        order_sn = f"{clock.local(created, 'Asia/Shanghai'):%y%m%d}-{self.rng.randint(10**14, 10**15 - 1)}"
        items, goods = [], Decimal(0)
        for picked in lines:
            goods_id, sku_id = self.catalog_ids(picked.sku)
            price = Decimal(picked.unit_price)
            goods += price * picked.quantity
            items.append({"goods_id": int(goods_id), "sku_id": int(sku_id), "outer_id": picked.sku.code,
                          "outer_goods_id": picked.sku.code, "goods_spec": "标准装",
                          "goods_name": ("【赠品】" if picked.gift else "") + picked.sku.title_zh,
                          "goods_price": _money(price), "goods_count": picked.quantity, "goods_img": ""})
        seller_discount = Decimal("3.00") if goods > 20 and self.rng.random() < 0.3 else Decimal(0)
        platform_discount = Decimal("1.50") if goods > 20 and self.rng.random() < 0.2 else Decimal(0)
        discount = seller_discount + platform_discount
        city = receiver.city or receiver.district        # province-level counties: city = county
        payload = {
            "order_sn": order_sn, "order_status": 1, "refund_status": 1, "confirm_status": 0, "group_status": 0,
            "after_sales_status": 0, "trade_type": 0, "is_lucky_flag": 1,
            "created_time": format_beijing(created), "updated_at": format_beijing(at), "confirm_time": "",
            "pay_time": format_beijing(created), "shipping_time": "", "receive_time": "",
            "last_ship_time": format_beijing(created + timedelta(hours=48)), "pay_type": "WEIXIN",
            "pay_no": str(self.rng.randint(10**27, 10**28 - 1)),
            "goods_amount": _money(goods), "discount_amount": _money(discount),
            "seller_discount": _money(seller_discount), "platform_discount": _money(platform_discount),
            "capital_free_discount": 0.0, "postage": 0.0, "pay_amount": _money(goods - discount),
            "receiver_name": receiver.name, "receiver_phone": receiver.mobile, "country": "中国",
            "province": receiver.province, "city": city, "town": receiver.district,
            "receiver_address": f"{receiver.town}{receiver.detail}",
            "address": f"{receiver.province}{city}{receiver.district}{receiver.town}{receiver.detail}",
            "buyer_memo": self.rng.choice(["", "", "不要放快递柜"]), "remark": "",
            "tracking_number": "", "logistics_id": 0, "item_list": items,
        }
        order = SandboxOrder(external_id=order_sn, payload=payload, updated_at=at, created_at=created)
        if masked:
            self._mask(order)
        return order

    def transition(self, order: SandboxOrder, event: str, at: datetime) -> None:
        p, stamp = order.payload, format_beijing(at)
        shipping, refund, confirm = p["order_status"], p["refund_status"], p["confirm_status"]
        if event == "pay" and confirm == 0:                     # the group formed: the deal is confirmed
            p.update(confirm_status=1, group_status=1, confirm_time=stamp)
        elif event == "ship" and confirm == 1 and shipping == 1 and refund != 4:
            carrier, _name = self.rng.choice(CARRIERS)
            self._ship(order, carrier, "YT" + str(self.rng.randint(10**12, 10**13 - 1)), at)
        elif event == "deliver" and confirm == 1 and shipping == 2:
            p["order_status"] = 3
        elif event == "complete" and shipping == 3 and not p["receive_time"]:
            p["receive_time"] = stamp
        elif event == "cancel" and confirm == 0:                # the group failed: refunded automatically
            p.update(confirm_status=2, group_status=2, refund_status=4)
        elif event in ("cancel", "refund") and confirm == 1 and refund != 4 and (shipping == 1 or event == "refund"):
            p.update(refund_status=4, after_sales_status=10)
        elif event == "partial_refund":
            raise ValueError("Pinduoduo refunds whole orders; there is no per-line refund to simulate")
        else:
            raise ValueError(f"pinduoduo order {order.external_id} is {raw_status(p)}: cannot {event}")
        p["updated_at"] = stamp

    def _ship(self, order: SandboxOrder, logistics_id: int, tracking: str, at: datetime) -> None:
        order.payload.update(order_status=2, shipping_time=format_beijing(at), tracking_number=tracking,
                             logistics_id=logistics_id, updated_at=format_beijing(at))
        self._mask(order)      # PDD stops showing plain receiver details once the order has shipped

    def _mask(self, order: SandboxOrder) -> None:
        p = order.payload
        if "*" in p["receiver_phone"]:
            return
        p["receiver_name"] = p["receiver_name"][:1] + "**"
        p["receiver_phone"] = p["receiver_phone"][:3] + "****" + p["receiver_phone"][-4:]
        p["receiver_address"] = p["receiver_address"][:4] + "******"
        p["address"] = f"{p['province']}{p['city']}{p['town']}{p['receiver_address']}"


Sandbox = PinduoduoSandbox
