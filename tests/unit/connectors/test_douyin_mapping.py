"""Douyin order payload -> NormalizedOrder, on payloads shaped like order.searchList's."""
from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from server.channels.connectors.base import NormalizedStatus, PaymentStatus
from server.channels.connectors.douyin.client import to_fetched
from server.channels.connectors.douyin.mapping import MappingError, map_order

CREATE, PAY, UPDATE, SHIP_BY = 1717200000, 1717200090, 1717203600, 1717372800   # 2024-06-01 00:00 UTC …


def sku(order_id: str, code: str, name: str, price: int, qty: int, *, promotion: int = 0, post: int = 0,
        gift: bool = False, refund_status: int = 0) -> dict:
    return {
        "order_id": order_id, "parent_order_id": "6920000000000000001", "order_level": 3,
        "product_id": 3658000000000000000, "product_id_str": "3658000000000000000",
        "sku_id": 1737398770240001, "code": code, "out_sku_id": "", "product_name": name,
        "spec": [{"name": "规格", "value": "250g"}], "item_num": qty, "goods_price": price,
        "origin_amount": price, "sum_amount": price * qty, "promotion_amount": promotion,
        "pay_amount": price * qty - promotion + post, "post_amount": post,
        "given_product_type": "FREE" if gift else "", "order_status": 2, "main_status": 2,
        "create_time": CREATE, "pay_time": PAY, "update_time": UPDATE,
        "after_sale_info": {"after_sale_status": 12 if refund_status else 0, "after_sale_type": 2 if refund_status else 0,
                            "refund_status": refund_status},
    }


def payload(**changes) -> dict:
    skus = [
        sku("6920000000000000011", "TEA-LJ-250", "西湖龙井 250g", 16800, 2, promotion=1680, post=800),
        sku("6920000000000000012", "CUP-CER-01", "景德镇陶瓷茶杯", 4550, 1),
        sku("6920000000000000013", "FLT-SS-02", "不锈钢茶滤", 0, 1, gift=True),
    ]
    order = {
        "order_id": "6920000000000000001", "order_level": 2, "shop_id": 100001, "shop_name": "演示茶具旗舰店",
        "order_status": 2, "order_status_desc": "备货中", "main_status": 2, "main_status_desc": "备货中",
        "pay_type": 1, "create_time": CREATE, "pay_time": PAY, "update_time": UPDATE, "finish_time": 0,
        "exp_ship_time": SHIP_BY, "order_amount": 38150 + 800, "pay_amount": 38150 + 800 - 1680,
        "post_amount": 800, "promotion_amount": 1680, "modify_amount": 0, "tax_amount": 0,
        "buyer_words": "请尽快发货", "seller_words": "VIP", "doudian_open_id": "#abcDEF123",
        "mask_post_receiver": "王**", "mask_post_tel": "1********35",
        "mask_post_addr": {"province": {"name": "浙江省", "id": "33"}, "city": {"name": "杭州市", "id": "3301"},
                           "town": {"name": "西湖区", "id": "330106"}, "street": {"name": "文新街道", "id": "330106005"},
                           "detail": "文三路***"},
        "logistics_info": [], "sku_order_list": skus,
    }
    order.update(changes)
    return order


def test_paid_order_amounts_are_fen_and_times_are_utc():
    order = map_order(payload())
    assert order.external_id == order.order_number == "6920000000000000001"
    assert order.platform_status == "2" and order.status is NormalizedStatus.PAID
    assert order.payment_status is PaymentStatus.PAID
    assert order.currency == "CNY"
    assert order.items_total == 16800 * 2 + 4550
    assert order.shipping_fee == 800 and order.discount_total == 1680
    assert order.paid_total == 38150 + 800 - 1680
    assert order.placed_at == datetime(2024, 6, 1, tzinfo=UTC)
    assert order.paid_at == datetime(2024, 6, 1, 0, 1, 30, tzinfo=UTC)
    assert order.updated_at == datetime(2024, 6, 1, 1, tzinfo=UTC)
    assert order.ship_by == datetime(2024, 6, 3, tzinfo=UTC)
    assert order.cancelled_at is None
    assert order.buyer.platform_buyer_id == "#abcDEF123"
    assert (order.buyer_note, order.seller_note) == ("请尽快发货", "VIP")


def test_lines_carry_unit_price_sku_code_and_platform_ids():
    first = map_order(payload()).lines[0]
    assert first.external_line_id == "6920000000000000011"
    assert (first.quantity, first.unit_price, first.discount, first.total) == (2, 16800, 1680, 31920)
    assert first.sku_code == "TEA-LJ-250"
    assert first.platform_product_id == "3658000000000000000" and first.platform_sku_id == "1737398770240001"
    assert first.title == "西湖龙井 250g" and first.spec == "规格:250g"


def test_masked_receiver_is_kept_as_given():
    receiver = map_order(payload()).receiver
    assert receiver.masked is True
    assert (receiver.name, receiver.phone) == ("王**", "1********35")
    assert (receiver.country_code, receiver.province, receiver.city) == ("CN", "浙江省", "杭州市")
    assert (receiver.district, receiver.town, receiver.address) == ("西湖区", "文新街道", "文三路***")


def test_zero_priced_gift_line_is_kept():
    gift = map_order(payload()).lines[2]
    assert gift.sku_code == "FLT-SS-02" and gift.quantity == 1
    assert gift.unit_price == 0 and gift.total == 0


def test_markdown_from_list_price_counts_as_line_discount():
    data = payload()
    data["sku_order_list"][1].update(origin_amount=3990, sum_amount=3990)
    line = map_order(data).lines[1]
    assert (line.unit_price, line.discount, line.total) == (4550, 560, 3990)


def test_partial_refund_marks_the_line_and_the_order():
    data = payload(order_status=3)
    data["sku_order_list"][1]["after_sale_info"] = {"after_sale_status": 12, "after_sale_type": 1, "refund_status": 3}
    order = map_order(data)
    assert order.status is NormalizedStatus.SHIPPED
    assert order.payment_status is PaymentStatus.PARTIALLY_REFUNDED
    assert order.refunded_total == 4550
    assert order.lines[1].refunded_quantity == 1 and order.lines[1].refund_status == "3"
    assert order.lines[0].refunded_quantity == 0 and order.lines[0].refund_status == ""


def test_refund_in_progress_is_not_a_refund():
    data = payload()
    data["sku_order_list"][0]["after_sale_info"] = {"after_sale_status": 6, "after_sale_type": 2, "refund_status": 1}
    order = map_order(data)
    assert order.payment_status is PaymentStatus.PAID and order.refunded_total == 0
    assert order.lines[0].refund_status == "1" and order.lines[0].refunded_quantity == 0


def test_every_line_refunded_is_a_full_refund():
    data = payload(order_status=5)
    for line in data["sku_order_list"]:
        line["after_sale_info"] = {"after_sale_status": 12, "after_sale_type": 0, "refund_status": 3}
    order = map_order(data)
    assert order.payment_status is PaymentStatus.REFUNDED and order.refunded_total == order.paid_total


def test_cancellation_after_payment_is_a_refunded_cancel():
    order = map_order(payload(order_status=4, main_status=21, cancel_reason="不想要了"))
    assert order.status is NormalizedStatus.CANCELLED
    assert order.payment_status is PaymentStatus.REFUNDED
    assert order.refunded_total == order.paid_total == 38150 + 800 - 1680
    assert order.cancelled_at == order.updated_at


def test_cancellation_before_payment_is_unpaid():
    order = map_order(payload(order_status=4, pay_time=0))
    assert order.status is NormalizedStatus.CANCELLED
    assert order.payment_status is PaymentStatus.UNPAID and order.refunded_total == 0 and order.paid_at is None


def test_awaiting_payment():
    order = map_order(payload(order_status=1, pay_time=0))
    assert order.status is NormalizedStatus.PENDING_PAYMENT and order.payment_status is PaymentStatus.UNPAID


def test_cash_on_delivery():
    order = map_order(payload(pay_type=0, pay_time=0))
    assert order.status is NormalizedStatus.PAID and order.payment_status is PaymentStatus.COD


def test_shipped_order_has_tracking_numbers():
    order = map_order(payload(order_status=3, logistics_info=[
        {"tracking_no": "SF1234567890", "company": "shunfeng", "company_name": "顺丰速运"}]))
    assert order.status is NormalizedStatus.SHIPPED and order.tracking_numbers == ["SF1234567890"]


@pytest.mark.parametrize(("raw", "status"), [
    (1, NormalizedStatus.PENDING_PAYMENT), (105, NormalizedStatus.PAID), (2, NormalizedStatus.PAID),
    (101, NormalizedStatus.PARTIALLY_SHIPPED), (3, NormalizedStatus.SHIPPED), (4, NormalizedStatus.CANCELLED),
    (5, NormalizedStatus.COMPLETED), ("3", NormalizedStatus.SHIPPED)])
def test_status_table(raw, status):
    order = map_order(payload(order_status=raw))
    assert order.status is status and order.platform_status == str(raw)


def test_unknown_status_is_an_error_that_keeps_the_raw_payload():
    data = payload(order_status=999)
    with pytest.raises(MappingError, match="999"):
        map_order(data)
    fetched = to_fetched(data)
    assert fetched.order is None and "999" in (fetched.error or "")
    assert fetched.external_id == "6920000000000000001" and fetched.raw == data


def test_broken_amount_is_an_error_not_a_crash():
    data = copy.deepcopy(payload())
    data["sku_order_list"][0]["goods_price"] = "abc"
    fetched = to_fetched(data)
    assert fetched.order is None and "goods_price" in (fetched.error or "")


def test_missing_times_are_an_error():
    with pytest.raises(MappingError):
        map_order(payload(update_time=None))
