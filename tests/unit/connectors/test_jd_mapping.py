"""JD order (jingdong.pop.order.search orderInfoList[] shape) -> NormalizedOrder."""
from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from server.channels.connectors._gateway import MappingError, mapped
from server.channels.connectors.base import NormalizedStatus, PaymentStatus
from server.channels.connectors.jd.mapping import STATUSES, map_order

ORDER = {
    "orderId": "286104552391", "venderId": "10012345", "orderType": "22", "payType": "4-在线支付",
    "orderTotalPrice": "213.50", "orderSellerPrice": "208.50", "orderPayment": "208.60",
    "freightPrice": "0.10", "sellerDiscount": "5.00", "balanceUsed": "0.00",
    "orderState": "WAIT_SELLER_STOCK_OUT", "orderStateRemark": "等待出库", "orderRemark": "送货前请电话联系",
    "venderRemark": "老客户", "orderStartTime": "2021-05-07 09:20:39", "orderEndTime": "",
    "modified": "2021-05-07 09:25:00", "paymentConfirmTime": "2021-05-07 09:21:02",
    "consigneeInfo": {
        "fullname": "李*", "mobile": "151****6317", "telephone": "151****6317", "desen_mobile": "151****6317",
        "fullAddress": "浙江杭州市西湖区西溪街道文三路******", "province": "浙江", "city": "杭州市",
        "county": "西湖区", "town": "西溪街道",
    },
    "itemInfoList": [
        {"skuId": "100012000000", "outerSkuId": "TEA-LJ-250", "wareId": "10020000000", "skuName": "西湖龙井 250g",
         "jdPrice": "168.00", "itemTotal": "1"},
        {"skuId": "100012209458", "outerSkuId": "CUP-CER-01", "wareId": "10020015838", "skuName": "景德镇陶瓷茶杯",
         "jdPrice": "45.50", "itemTotal": "1"},
        {"skuId": "100012000000", "outerSkuId": "TEA-LJ-250", "wareId": "10020000000",
         "skuName": "【赠品】西湖龙井 250g 试饮装", "jdPrice": "0.00", "itemTotal": "1"},
    ],
    "couponDetailList": [
        {"orderId": "286104552391", "skuId": "100012000000", "couponType": "30-单品促销优惠", "couponPrice": "5.00"},
    ],
    "pin": "jd_****", "open_id_buyer": "o3b1c2d9e8f7a6b5c4d3e2f1a0b9c8d7",
    "waybill": "", "logisticsId": "",
}


def order(**changes):
    o = copy.deepcopy(ORDER)
    o.update(changes)
    return o


def test_paid_order_maps_money_times_lines_and_coupons():
    o = map_order(order())
    assert o.external_id == o.order_number == "286104552391"
    assert (o.status, o.payment_status, o.platform_status) == (NormalizedStatus.PAID, PaymentStatus.PAID,
                                                               "WAIT_SELLER_STOCK_OUT")
    assert (o.items_total, o.shipping_fee, o.paid_total, o.discount_total) == (21350, 10, 20860, 500)
    assert o.placed_at == datetime(2021, 5, 7, 1, 20, 39, tzinfo=UTC)
    assert o.updated_at == datetime(2021, 5, 7, 1, 25, tzinfo=UTC)
    assert o.paid_at == datetime(2021, 5, 7, 1, 21, 2, tzinfo=UTC)
    tea, cup, gift = o.lines
    assert (tea.external_line_id, tea.platform_product_id, tea.sku_code, tea.unit_price, tea.discount) == (
        "100012000000", "10020000000", "TEA-LJ-250", 16800, 500)
    assert (cup.discount, cup.total) == (0, 4550)
    assert (gift.external_line_id, gift.unit_price, gift.discount, gift.total) == ("100012000000-2", 0, 0, 0)
    assert (o.buyer.platform_buyer_id, o.buyer_note, o.seller_note) == (
        "o3b1c2d9e8f7a6b5c4d3e2f1a0b9c8d7", "送货前请电话联系", "老客户")


def test_desensitised_receiver_is_kept_and_region_prefix_stripped():
    r = map_order(order()).receiver
    assert (r.name, r.phone, r.address, r.masked) == ("李*", "151****6317", "文三路******", True)
    assert (r.country_code, r.province, r.city, r.district, r.town) == ("CN", "浙江", "杭州市", "西湖区", "西溪街道")


def test_ciphertext_phone_falls_back_to_the_desensitised_form():
    consignee = dict(ORDER["consigneeInfo"], fullname="~AgAAAAEAAAAB3dHJhbnNhY3Rpb24=~1~",
                     mobile="~AgAAAAEAAAACbW9iaWxlX2NpcGhlcg==~1~")
    r = map_order(order(consigneeInfo=consignee)).receiver
    assert r.phone == "151****6317" and r.masked and r.name.startswith("~")


def test_plain_receiver_is_not_masked():
    consignee = dict(ORDER["consigneeInfo"], fullname="李雷", mobile="15112346317", telephone="",
                     fullAddress="浙江杭州市西湖区西溪街道文三路 398 号")
    r = map_order(order(consigneeInfo=consignee)).receiver
    assert (r.masked, r.phone, r.address) == (False, "15112346317", "文三路 398 号")


def test_province_level_county_fills_city():
    consignee = dict(ORDER["consigneeInfo"], province="湖北", city="", county="仙桃市", town="干河街道",
                     fullAddress="湖北仙桃市干河街道钱沟路******")
    r = map_order(order(consigneeInfo=consignee)).receiver
    assert (r.province, r.city, r.district, r.town, r.address) == ("湖北", "仙桃市", "仙桃市", "干河街道", "钱沟路******")


def test_small_amounts_are_exact():
    o = order(orderPayment="0.10", freightPrice="0.00", couponDetailList=[],
              itemInfoList=[dict(ORDER["itemInfoList"][1], jdPrice="0.10")])
    m = map_order(o)
    assert (m.paid_total, m.items_total, m.lines[0].unit_price, m.discount_total) == (10, 10, 10, 0)


def test_cancellation_after_payment_is_a_full_refund():
    o = map_order(order(orderState="TRADE_CANCELED", orderEndTime="2021-05-07 10:00:00"))
    assert (o.status, o.payment_status, o.refunded_total) == (NormalizedStatus.CANCELLED, PaymentStatus.REFUNDED,
                                                              20860)
    assert o.cancelled_at == datetime(2021, 5, 7, 2, 0, tzinfo=UTC)


def test_cash_on_delivery():
    open_cod = map_order(order(payType="1-货到付款", paymentConfirmTime=""))
    assert (open_cod.status, open_cod.payment_status) == (NormalizedStatus.PAID, PaymentStatus.COD)
    cancelled = map_order(order(payType="1-货到付款", paymentConfirmTime="", orderState="TRADE_CANCELED"))
    assert (cancelled.payment_status, cancelled.refunded_total) == (PaymentStatus.UNPAID, 0)
    done = map_order(order(payType="1-货到付款", orderState="FINISHED_L"))
    assert (done.status, done.payment_status) == (NormalizedStatus.COMPLETED, PaymentStatus.PAID)


def test_locked_order_is_held_and_shipped_order_has_tracking():
    locked = map_order(order(orderState="LOCKED"))
    assert (locked.status, locked.payment_status) == (NormalizedStatus.PENDING_PAYMENT, PaymentStatus.PAID)
    shipped = map_order(order(orderState="WAIT_GOODS_RECEIVE_CONFIRM", waybill="JD0012345678,JD0012345679"))
    assert shipped.status is NormalizedStatus.SHIPPED
    assert shipped.tracking_numbers == ["JD0012345678", "JD0012345679"]


@pytest.mark.parametrize("raw", sorted(STATUSES))
def test_every_documented_state_maps(raw):
    assert map_order(order(orderState=raw)).platform_status == raw


def test_unknown_state_or_missing_items_is_an_error_row():
    with pytest.raises(MappingError):
        map_order(order(orderState="NEW_STATE"))
    fetched = mapped("286104552391", order(itemInfoList=[]), map_order)
    assert fetched.order is None and "itemInfoList" in fetched.error
