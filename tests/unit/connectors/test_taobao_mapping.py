"""Taobao trade (taobao.trade.fullinfo.get shape) -> NormalizedOrder."""
from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from server.channels.connectors._gateway import MappingError, mapped
from server.channels.connectors.base import NormalizedStatus, PaymentStatus
from server.channels.connectors.taobao.mapping import STATUSES, map_trade

# A Tmall trade as fullinfo returns it in the OAID era: receiver masked, two paid sub-orders
# and a zero-priced gift, yuan strings, Beijing times.
TRADE = {
    "tid": 3812745566123456789, "tid_str": "3812745566123456789", "status": "WAIT_SELLER_SEND_GOODS",
    "type": "fixed", "created": "2024-05-07 09:20:39", "modified": "2024-05-07 09:31:02",
    "pay_time": "2024-05-07 09:21:10", "consign_time": "", "end_time": "",
    "total_fee": "213.60", "post_fee": "0.10", "discount_fee": "0.00", "adjust_fee": "0.00",
    "payment": "208.70", "received_payment": "0.00",
    "buyer_nick": "t**8", "buyer_open_uid": "AAHm5d-EAAeGwJedwSHpg8bT", "buyer_message": "请尽快发货",
    "seller_memo": "VIP", "oaid": "1Uu3yDJAiaVZibpEjiaW2kqjvUVzQXAnhoV4ibCmPXgqYUqG06Ic",
    "receiver_name": "张**", "receiver_state": "浙江省", "receiver_city": "杭州市", "receiver_district": "西湖区",
    "receiver_town": "西溪街道", "receiver_address": "文三路*******", "receiver_zip": "310013",
    "receiver_mobile": "*******5678", "receiver_phone": "",
    "orders": {"order": [
        {"oid": 3812745566123456790, "oid_str": "3812745566123456790", "num_iid": 680000000000,
         "sku_id": "5000000000000", "outer_iid": "TEA-LJ", "outer_sku_id": "TEA-LJ-250",
         "title": "西湖龙井 250g", "price": "168.00", "num": 1, "total_fee": "163.00", "discount_fee": "5.00",
         "adjust_fee": "0.00", "payment": "163.00", "divide_order_fee": "160.00",
         "status": "WAIT_SELLER_SEND_GOODS", "refund_status": "NO_REFUND", "sku_properties_name": "规格:250g"},
        {"oid": 3812745566123456791, "oid_str": "3812745566123456791", "num_iid": 680000007919,
         "sku_id": "5000000104729", "outer_iid": "CUP-CER-01", "outer_sku_id": "",
         "title": "景德镇陶瓷茶杯", "price": "45.50", "num": 1, "total_fee": "45.50", "discount_fee": "0.00",
         "adjust_fee": "0.00", "payment": "45.50", "divide_order_fee": "48.60",
         "status": "WAIT_SELLER_SEND_GOODS", "refund_status": "NO_REFUND"},
        {"oid": 3812745566123456792, "oid_str": "3812745566123456792", "num_iid": 680000023757,
         "sku_id": "5000000314187", "outer_iid": "FLT-SS-02", "outer_sku_id": "FLT-SS-02",
         "title": "【赠品】不锈钢茶滤", "price": "0.00", "num": 1, "total_fee": "0.00", "payment": "0.00",
         "status": "WAIT_SELLER_SEND_GOODS", "refund_status": "NO_REFUND"},
    ]},
}


def trade(**changes):
    t = copy.deepcopy(TRADE)
    t.update(changes)
    return t


def test_paid_trade_maps_money_times_and_lines():
    order = map_trade(trade())
    assert order.external_id == order.order_number == "3812745566123456789"
    assert (order.status, order.payment_status) == (NormalizedStatus.PAID, PaymentStatus.PAID)
    assert order.platform_status == "WAIT_SELLER_SEND_GOODS" and order.currency == "CNY"
    assert order.items_total == 16800 + 4550 and order.shipping_fee == 10 and order.paid_total == 20870
    assert order.discount_total == 21350 + 10 - 20870
    assert order.placed_at == datetime(2024, 5, 7, 1, 20, 39, tzinfo=UTC)
    assert order.updated_at == datetime(2024, 5, 7, 1, 31, 2, tzinfo=UTC)
    assert order.paid_at == datetime(2024, 5, 7, 1, 21, 10, tzinfo=UTC)
    first, cup, gift = order.lines
    assert (first.external_line_id, first.platform_product_id, first.platform_sku_id, first.sku_code) == (
        "3812745566123456790", "680000000000", "5000000000000", "TEA-LJ-250")
    assert (first.unit_price, first.discount, first.total, first.spec) == (16800, 500, 16300, "规格:250g")
    assert cup.sku_code == "CUP-CER-01"     # no outer_sku_id: falls back to the item's outer_iid
    assert (gift.unit_price, gift.total, gift.title) == (0, 0, "【赠品】不锈钢茶滤")   # zero-priced gift kept
    assert order.buyer.name == "t**8" and order.buyer.platform_buyer_id == "AAHm5d-EAAeGwJedwSHpg8bT"
    assert (order.buyer_note, order.seller_note) == ("请尽快发货", "VIP")


def test_masked_receiver_is_kept_as_given():
    r = map_trade(trade()).receiver
    assert (r.name, r.phone, r.address) == ("张**", "*******5678", "文三路*******")
    assert (r.country_code, r.province, r.city, r.district, r.town, r.postcode) == (
        "CN", "浙江省", "杭州市", "西湖区", "西溪街道", "310013")
    assert r.masked
    plain = map_trade(trade(oaid="", receiver_name="张三", receiver_mobile="13812345678",
                            receiver_address="文三路 398 号")).receiver
    assert not plain.masked and plain.phone == "13812345678"


def test_province_level_county_fills_city_from_district():
    r = map_trade(trade(receiver_state="湖北省", receiver_city="", receiver_district="仙桃市",
                        receiver_town="干河街道")).receiver
    assert (r.province, r.city, r.district, r.town) == ("湖北省", "仙桃市", "仙桃市", "干河街道")


def test_small_amounts_are_exact():
    t = trade(payment="0.10", post_fee="0.00")
    t["orders"]["order"] = [dict(t["orders"]["order"][0], price="0.10", total_fee="0.10", num=1)]
    order = map_trade(t)
    assert (order.paid_total, order.items_total, order.lines[0].unit_price, order.discount_total) == (10, 10, 10, 0)


def test_partial_refund_of_one_line():
    t = trade(status="WAIT_BUYER_CONFIRM_GOODS")
    t["orders"]["order"][1].update(refund_status="SUCCESS", status="TRADE_CLOSED")
    order = map_trade(t)
    assert order.status is NormalizedStatus.SHIPPED
    assert order.payment_status is PaymentStatus.PARTIALLY_REFUNDED
    assert order.refunded_total == 4860          # the line's share after trade discounts (divide_order_fee)
    cup = order.lines[1]
    assert (cup.refund_status, cup.refunded_quantity) == ("SUCCESS", 1)
    assert order.lines[0].refunded_quantity == 0


def test_every_line_refunded_is_a_full_refund():
    t = trade(status="WAIT_BUYER_CONFIRM_GOODS")
    for sub in t["orders"]["order"]:
        sub["refund_status"] = "SUCCESS"
    assert map_trade(t).payment_status is PaymentStatus.REFUNDED


def test_cancellation_after_payment_is_refunded():
    order = map_trade(trade(status="TRADE_CLOSED", end_time="2024-05-07 12:00:00"))
    assert (order.status, order.payment_status) == (NormalizedStatus.CANCELLED, PaymentStatus.REFUNDED)
    assert order.refunded_total == order.paid_total == 20870
    assert order.cancelled_at == datetime(2024, 5, 7, 4, 0, tzinfo=UTC)


def test_closed_before_payment_is_unpaid():
    order = map_trade(trade(status="TRADE_CLOSED_BY_TAOBAO", pay_time="", end_time="2024-05-08 09:20:39"))
    assert (order.status, order.payment_status, order.refunded_total) == (
        NormalizedStatus.CANCELLED, PaymentStatus.UNPAID, 0)


def test_unpaid_and_cash_on_delivery():
    unpaid = map_trade(trade(status="WAIT_BUYER_PAY", pay_time=""))
    assert (unpaid.status, unpaid.payment_status, unpaid.paid_at) == (
        NormalizedStatus.PENDING_PAYMENT, PaymentStatus.UNPAID, None)
    cod = map_trade(trade(type="cod", pay_time=""))
    assert (cod.status, cod.payment_status) == (NormalizedStatus.PAID, PaymentStatus.COD)
    signed = map_trade(trade(type="cod", status="TRADE_BUYER_SIGNED"))
    assert (signed.status, signed.payment_status) == (NormalizedStatus.DELIVERED, PaymentStatus.PAID)


def test_shipped_trade_collects_tracking_numbers():
    t = trade(status="SELLER_CONSIGNED_PART")
    t["orders"]["order"][0]["invoice_no"] = "SF1234567890"
    order = map_trade(t)
    assert order.status is NormalizedStatus.PARTIALLY_SHIPPED and order.tracking_numbers == ["SF1234567890"]


@pytest.mark.parametrize("raw", sorted(STATUSES))
def test_every_documented_status_maps(raw):
    assert map_trade(trade(status=raw)).platform_status == raw


def test_unknown_status_or_broken_payload_is_an_error_not_a_drop():
    with pytest.raises(MappingError):
        map_trade(trade(status="SOMETHING_NEW"))
    broken = trade(modified="")
    fetched = mapped("3812745566123456789", broken, map_trade)
    assert fetched.order is None and "modified" in fetched.error and fetched.raw is broken
    assert mapped("1", trade(orders={"order": []}), map_trade).error
