"""JD POP order (jingdong.pop.order.search `orderInfoList[]`) -> NormalizedOrder. Pure.

Amounts are yuan strings, times Beijing strings. JD's order payload carries no per-line refunds
(after-sales live in a separate API), so a JD order is either paid, or cancelled and refunded whole.
"""
from __future__ import annotations

from collections import Counter

from server.channels.connectors._gateway import (
    MappingError,
    beijing,
    cn_address,
    cny,
    looks_masked,
    strip_region_prefix,
)
from server.channels.connectors.base import (
    NormalizedBuyer,
    NormalizedLine,
    NormalizedOrder,
    NormalizedStatus,
    PaymentStatus,
)

S, P = NormalizedStatus, PaymentStatus

STATUSES: dict[str, tuple[NormalizedStatus, PaymentStatus]] = {
    "WAIT_SELLER_STOCK_OUT": (S.PAID, P.PAID),            # awaiting outbound (paid, or COD accepted)
    "WAIT_SELLER_DELIVERY": (S.PAID, P.PAID),             # cross-border: awaiting domestic shipment
    "WAIT_GOODS_RECEIVE_CONFIRM": (S.SHIPPED, P.PAID),
    "FINISHED_L": (S.COMPLETED, P.PAID),
    "TRADE_CANCELED": (S.CANCELLED, P.REFUNDED),          # UNPAID when it was never paid
    # locked by a buyer's cancellation request or paused by JD: paid but must not ship, held pending
    "LOCKED": (S.PENDING_PAYMENT, P.PAID),
    "PAUSE": (S.PENDING_PAYMENT, P.PAID),
    "POP_ORDER_PAUSE": (S.PENDING_PAYMENT, P.PAID),
}
_COD_OPEN = {S.PAID, S.SHIPPED, S.PENDING_PAYMENT}


def is_cod(order: dict) -> bool:
    """payType is '1-货到付款' (cash on delivery) or '4-在线支付' (online) and so on."""
    return str(order.get("payType") or "").strip().startswith("1")


def map_lines(order: dict) -> list[NormalizedLine]:
    items = list(order.get("itemInfoList") or [])
    if not items:
        raise MappingError("order has no itemInfoList (was it in optional_fields?)")
    coupons: Counter[str] = Counter()
    for coupon in order.get("couponDetailList") or []:
        if coupon.get("skuId") not in (None, "", "0", 0):       # line-level promotions only
            coupons[str(coupon["skuId"])] += cny(coupon.get("couponPrice"))
    lines, used = [], Counter()
    for item in items:
        sku_id = str(item.get("skuId") or "")
        quantity = int(item.get("itemTotal") or 0)
        if quantity <= 0:
            raise MappingError(f"sku {sku_id} has no quantity")
        used[sku_id] += 1
        # JD gives no line ids; a sku is unique in an order except for a gift of the same sku
        line_id = sku_id if used[sku_id] == 1 else f"{sku_id}-{used[sku_id]}"
        unit_price = cny(item.get("jdPrice"))
        lines.append(NormalizedLine(
            external_line_id=line_id, title=str(item.get("skuName") or ""), quantity=quantity,
            unit_price=unit_price, discount=coupons.pop(sku_id, 0) if unit_price else 0,
            platform_product_id=str(item.get("wareId") or ""), platform_sku_id=sku_id,
            sku_code=str(item.get("outerSkuId") or ""),
        ))
    return lines


def map_order(order: dict) -> NormalizedOrder:
    order_id = str(order.get("orderId") or "")
    if not order_id:
        raise MappingError("order has no orderId")
    raw_status = str(order.get("orderState") or "")
    if raw_status not in STATUSES:
        raise MappingError(f"unknown orderState {raw_status!r}")
    status, payment = STATUSES[raw_status]
    cod = is_cod(order)
    paid_at = beijing(order.get("paymentConfirmTime"), "paymentConfirmTime")
    lines = map_lines(order)
    items_total = sum(line.unit_price * line.quantity for line in lines)
    shipping_fee = cny(order.get("freightPrice"))
    paid_total = cny(order.get("orderPayment"))
    refunded_total = 0
    if status is S.CANCELLED:
        if paid_at and not cod:
            refunded_total = paid_total
        else:
            payment = P.UNPAID
    elif cod and status in _COD_OPEN:
        payment = P.COD

    consignee = order.get("consigneeInfo") or {}
    mobile = str(consignee.get("mobile") or consignee.get("telephone") or "")
    if mobile.startswith("~") and consignee.get("desen_mobile"):
        mobile = str(consignee["desen_mobile"])   # ciphertext: the desensitised form is the readable one
    province, city = str(consignee.get("province") or ""), str(consignee.get("city") or "")
    county, town = str(consignee.get("county") or ""), str(consignee.get("town") or "")
    receiver = cn_address(
        name=str(consignee.get("fullname") or ""), phone=mobile, province=province, city=city, district=county,
        town=town, address=strip_region_prefix(str(consignee.get("fullAddress") or ""), province, city, county, town),
        masked=looks_masked(consignee.get("fullname"), consignee.get("mobile"), consignee.get("telephone"),
                            consignee.get("fullAddress")),
    )
    waybill = str(order.get("waybill") or "").replace(";", ",")
    return NormalizedOrder(
        external_id=order_id,
        order_number=order_id,
        platform_status=raw_status,
        status=status,
        payment_status=payment,
        currency="CNY",
        items_total=items_total,
        shipping_fee=shipping_fee,
        discount_total=items_total + shipping_fee - paid_total,   # coupons, seller discount, JD subsidies
        tax_total=0,
        paid_total=paid_total,
        placed_at=beijing(order.get("orderStartTime"), "orderStartTime", required=True),
        updated_at=beijing(order.get("modified"), "modified", required=True),
        paid_at=paid_at,
        cancelled_at=beijing(order.get("orderEndTime"), "orderEndTime") if status is S.CANCELLED else None,
        refunded_total=refunded_total,
        buyer=NormalizedBuyer(platform_buyer_id=str(order.get("open_id_buyer") or order.get("pin") or ""),
                              name=str(order.get("pin") or "")),
        receiver=receiver,
        buyer_note=str(order.get("orderRemark") or ""),
        seller_note=str(order.get("venderRemark") or ""),
        lines=lines,
        tracking_numbers=[w.strip() for w in waybill.split(",") if w.strip()],
    )
