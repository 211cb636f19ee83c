"""Pinduoduo order (pdd.order.number.list.increment.get order_sn_list[] shape) -> NormalizedOrder."""
from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest

from server.channels.connectors._gateway import MappingError, mapped
from server.channels.connectors.base import NormalizedStatus, PaymentStatus
from server.channels.connectors.pinduoduo.mapping import map_order

# Parsed from JSON text on purpose: PDD amounts arrive as JSON doubles.
ORDER = json.loads("""{
  "order_sn": "240507-618422394661527", "order_status": 1, "refund_status": 1, "confirm_status": 1,
  "group_status": 1, "after_sales_status": 0, "trade_type": 0, "is_lucky_flag": 1,
  "created_time": "2024-05-07 09:20:39", "updated_at": "2024-05-07 09:21:40", "confirm_time": "2024-05-07 09:21:40",
  "pay_time": "2024-05-07 09:20:55", "shipping_time": "", "receive_time": "", "last_ship_time": "2024-05-09 09:20:55",
  "goods_amount": 0.3, "discount_amount": 0.1, "seller_discount": 0.1, "platform_discount": 0.0,
  "capital_free_discount": 0.0, "postage": 0.1, "pay_amount": 0.3,
  "receiver_name": "王芳", "receiver_phone": "13912345678", "country": "中国", "province": "浙江省",
  "city": "杭州市", "town": "西湖区", "receiver_address": "西溪街道文三路398号",
  "address": "浙江省杭州市西湖区西溪街道文三路398号", "buyer_memo": "不要放快递柜", "remark": "老客户",
  "tracking_number": "", "logistics_id": 0,
  "item_list": [
    {"goods_id": 300000000, "sku_id": 12000000000, "outer_id": "FLT-SS-02", "outer_goods_id": "FLT",
     "goods_name": "不锈钢茶滤 试用装", "goods_price": 0.1, "goods_spec": "标准装", "goods_count": 3},
    {"goods_id": 300007919, "sku_id": 12000104729, "outer_id": "", "outer_goods_id": "CUP-CER-01",
     "goods_name": "【赠品】景德镇陶瓷茶杯", "goods_price": 0.0, "goods_spec": "白色", "goods_count": 1}
  ]
}""")


def order(**changes):
    o = copy.deepcopy(ORDER)
    o.update(changes)
    return o


def test_awaiting_shipment_maps_doubles_exactly():
    o = map_order(order())
    assert o.external_id == o.order_number == "240507-618422394661527"
    assert o.platform_status == "order_status=1,refund_status=1,confirm_status=1"
    assert (o.status, o.payment_status) == (NormalizedStatus.PAID, PaymentStatus.PAID)
    assert (o.items_total, o.shipping_fee, o.paid_total, o.discount_total) == (30, 10, 30, 10)
    assert o.placed_at == datetime(2024, 5, 7, 1, 20, 39, tzinfo=UTC)
    assert o.updated_at == datetime(2024, 5, 7, 1, 21, 40, tzinfo=UTC)
    assert o.paid_at == datetime(2024, 5, 7, 1, 20, 55, tzinfo=UTC)
    assert o.ship_by == datetime(2024, 5, 9, 1, 20, 55, tzinfo=UTC)
    strainer, gift = o.lines
    assert (strainer.external_line_id, strainer.platform_product_id, strainer.sku_code, strainer.unit_price,
            strainer.quantity, strainer.spec) == ("12000000000", "300000000", "FLT-SS-02", 10, 3, "标准装")
    assert (gift.unit_price, gift.total, gift.sku_code) == (0, 0, "CUP-CER-01")   # gift kept; goods-level code
    assert (o.buyer_note, o.seller_note) == ("不要放快递柜", "老客户")


def test_plain_receiver_before_shipment_masked_after():
    r = map_order(order()).receiver
    assert (r.name, r.phone, r.masked) == ("王芳", "13912345678", False)
    assert (r.country_code, r.province, r.city, r.district, r.address) == (
        "CN", "浙江省", "杭州市", "西湖区", "西溪街道文三路398号")
    shipped = map_order(order(order_status=2, receiver_name="王**", receiver_phone="139****5678",
                              receiver_address="西溪街道******", tracking_number="YT1234567890123"))
    assert shipped.status is NormalizedStatus.SHIPPED and shipped.tracking_numbers == ["YT1234567890123"]
    assert (shipped.receiver.phone, shipped.receiver.masked) == ("139****5678", True)


def test_province_level_county_fills_city():
    r = map_order(order(province="河南省", city="", town="济源市", receiver_address="沁园街道济源大道1号")).receiver
    assert (r.province, r.city, r.district) == ("河南省", "济源市", "济源市")


def test_full_address_is_used_without_its_region_prefix_when_detail_is_missing():
    r = map_order(order(receiver_address="")).receiver
    assert r.address == "西溪街道文三路398号"


def test_group_not_formed_is_held():
    o = map_order(order(confirm_status=0, group_status=0, confirm_time=""))
    assert (o.status, o.payment_status) == (NormalizedStatus.PENDING_PAYMENT, PaymentStatus.PAID)


def test_cancellation_after_payment_is_refunded():
    before_shipping = map_order(order(refund_status=4, after_sales_status=10))
    assert (before_shipping.status, before_shipping.payment_status, before_shipping.refunded_total) == (
        NormalizedStatus.CANCELLED, PaymentStatus.REFUNDED, 30)
    assert all(line.refund_status == "4" and line.refunded_quantity == line.quantity
               for line in before_shipping.lines)
    group_failed = map_order(order(confirm_status=2, group_status=2, refund_status=4))
    assert (group_failed.status, group_failed.payment_status) == (NormalizedStatus.CANCELLED, PaymentStatus.REFUNDED)


def test_refund_after_shipment_keeps_the_shipping_status():
    o = map_order(order(order_status=2, refund_status=4))
    assert (o.status, o.payment_status, o.refunded_total) == (NormalizedStatus.SHIPPED, PaymentStatus.REFUNDED, 30)


def test_after_sale_in_progress_stays_paid_and_marks_lines():
    o = map_order(order(order_status=2, refund_status=2, after_sales_status=2))
    assert o.payment_status is PaymentStatus.PAID and o.refunded_total == 0
    assert {line.refund_status for line in o.lines} == {"2"}


def test_received_is_delivered_until_the_buyer_confirms():
    assert map_order(order(order_status=3)).status is NormalizedStatus.DELIVERED
    assert map_order(order(order_status=3, receive_time="2024-05-10 10:00:00")).status is NormalizedStatus.COMPLETED


def test_amounts_as_strings_are_accepted_too():
    o = map_order(order(pay_amount="283.80", postage="0.00", discount_amount="3.00",
                        item_list=[dict(ORDER["item_list"][0], goods_price="286.80", goods_count=1)]))
    assert (o.paid_total, o.items_total, o.discount_total) == (28380, 28680, 300)


def test_bad_payloads_become_error_rows():
    with pytest.raises(MappingError):
        map_order(order(order_status=9))
    assert "item_list" in mapped("x", order(item_list=[]), map_order).error
    assert "updated_at" in mapped("x", order(updated_at=""), map_order).error
