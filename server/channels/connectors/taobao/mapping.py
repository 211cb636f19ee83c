"""Taobao/Tmall trade (taobao.trade.fullinfo.get) -> NormalizedOrder. Pure.

Amounts are yuan strings; times Beijing strings. The trade's `payment` is what the buyer paid (or
owes); refunds live on the sub-orders (`orders.order[].refund_status == "SUCCESS"`).
"""
from __future__ import annotations

from server.channels.connectors._gateway import MappingError, beijing, cn_address, cny, looks_masked
from server.channels.connectors.base import (
    NormalizedBuyer,
    NormalizedLine,
    NormalizedOrder,
    NormalizedStatus,
    PaymentStatus,
)

S, P = NormalizedStatus, PaymentStatus

# raw trade status -> (our status, payment status before refunds are looked at)
STATUSES: dict[str, tuple[NormalizedStatus, PaymentStatus]] = {
    "TRADE_NO_CREATE_PAY": (S.PENDING_PAYMENT, P.UNPAID),
    "WAIT_BUYER_PAY": (S.PENDING_PAYMENT, P.UNPAID),
    "PAY_PENDING": (S.PENDING_PAYMENT, P.UNPAID),           # card payment being confirmed
    "WAIT_PRE_AUTH_CONFIRM": (S.PENDING_PAYMENT, P.UNPAID),  # 0-yuan pre-authorisation contract
    # paid, but Taobao forbids shipping yet: held as pending so nobody ships it
    "PAID_FORBID_CONSIGN": (S.PENDING_PAYMENT, P.PAID),
    "WAIT_SELLER_SEND_GOODS": (S.PAID, P.PAID),
    "SELLER_CONSIGNED_PART": (S.PARTIALLY_SHIPPED, P.PAID),
    "WAIT_BUYER_CONFIRM_GOODS": (S.SHIPPED, P.PAID),
    "TRADE_BUYER_SIGNED": (S.DELIVERED, P.PAID),            # cash on delivery: paid at signing
    "TRADE_FINISHED": (S.COMPLETED, P.PAID),
    "TRADE_CLOSED": (S.CANCELLED, P.REFUNDED),              # closed after payment: fully refunded
    "TRADE_CLOSED_BY_TAOBAO": (S.CANCELLED, P.UNPAID),      # closed before payment
}
REFUND_DONE = "SUCCESS"
_COD_OPEN = {S.PAID, S.PARTIALLY_SHIPPED, S.SHIPPED}


def trade_id(trade: dict) -> str:
    return str(trade.get("tid_str") or trade.get("tid") or "")


def sub_orders(trade: dict) -> list[dict]:
    orders = trade.get("orders") or {}
    return list(orders.get("order") or []) if isinstance(orders, dict) else list(orders)


def map_line(order: dict) -> NormalizedLine:
    quantity = int(order.get("num") or 0)
    if quantity <= 0:
        raise MappingError(f"sub-order {order.get('oid')} has no quantity")
    unit_price = cny(order.get("price"))
    # total_fee = price*num + adjust_fee - discount_fee: whatever lowered it is the line discount
    if order.get("total_fee") not in (None, ""):
        discount = unit_price * quantity - cny(order.get("total_fee"))
    else:
        discount = cny(order.get("discount_fee")) - cny(order.get("adjust_fee"))
    refund_status = str(order.get("refund_status") or "")
    return NormalizedLine(
        external_line_id=str(order.get("oid_str") or order.get("oid") or ""),
        title=str(order.get("title") or ""),
        quantity=quantity,
        unit_price=unit_price,
        discount=discount,
        platform_product_id=str(order.get("num_iid") or ""),
        platform_sku_id=str(order.get("sku_id") or ""),
        sku_code=str(order.get("outer_sku_id") or order.get("outer_iid") or ""),
        spec=str(order.get("sku_properties_name") or ""),
        refunded_quantity=quantity if refund_status == REFUND_DONE else 0,
        refund_status=refund_status,
    )


def _line_refund(order: dict) -> int:
    """What a refunded sub-order gave back: its share of the payment after trade discounts."""
    for key in ("divide_order_fee", "payment", "total_fee"):
        if order.get(key) not in (None, ""):
            return cny(order[key])
    return 0


def map_trade(trade: dict) -> NormalizedOrder:
    tid = trade_id(trade)
    if not tid:
        raise MappingError("trade has no tid")
    raw_status = str(trade.get("status") or "")
    if raw_status not in STATUSES:
        raise MappingError(f"unknown trade status {raw_status!r}")
    status, payment = STATUSES[raw_status]
    orders = sub_orders(trade)
    if not orders:
        raise MappingError("trade has no sub-orders (was `orders` in the requested fields?)")
    lines = [map_line(o) for o in orders]
    paid_at = beijing(trade.get("pay_time"), "pay_time")
    paid_total = cny(trade.get("payment"))
    shipping_fee = cny(trade.get("post_fee"))
    items_total = sum(line.unit_price * line.quantity for line in lines)
    refunded = [o for o in orders if str(o.get("refund_status") or "") == REFUND_DONE]
    refunded_total = sum(_line_refund(o) for o in refunded)

    if trade.get("type") == "cod" and status in _COD_OPEN:
        payment = P.COD
    if status is S.CANCELLED:
        payment, refunded_total = (P.REFUNDED, paid_total) if paid_at else (P.UNPAID, 0)
    elif refunded and payment in (P.PAID, P.COD):
        payment = P.REFUNDED if len(refunded) == len(orders) else P.PARTIALLY_REFUNDED

    receiver_values = [trade.get(k) for k in ("receiver_name", "receiver_mobile", "receiver_phone",
                                               "receiver_address")]
    receiver = cn_address(
        name=str(trade.get("receiver_name") or ""),
        phone=str(trade.get("receiver_mobile") or trade.get("receiver_phone") or ""),
        province=str(trade.get("receiver_state") or ""), city=str(trade.get("receiver_city") or ""),
        district=str(trade.get("receiver_district") or ""), town=str(trade.get("receiver_town") or ""),
        address=str(trade.get("receiver_address") or ""), postcode=str(trade.get("receiver_zip") or ""),
        masked=bool(trade.get("oaid")) or looks_masked(*receiver_values),
    )
    tracking = list(dict.fromkeys(str(o["invoice_no"]) for o in orders if o.get("invoice_no")))
    return NormalizedOrder(
        external_id=tid,
        order_number=tid,
        platform_status=raw_status,
        status=status,
        payment_status=payment,
        currency="CNY",
        items_total=items_total,
        shipping_fee=shipping_fee,
        # everything between list price + postage and what was paid: coupons, seller discounts,
        # manual price changes (negative when the seller raised the price)
        discount_total=items_total + shipping_fee - paid_total,
        tax_total=0,
        paid_total=paid_total,
        placed_at=beijing(trade.get("created"), "created", required=True),
        updated_at=beijing(trade.get("modified"), "modified", required=True),
        paid_at=paid_at,
        cancelled_at=beijing(trade.get("end_time"), "end_time") if status is S.CANCELLED else None,
        refunded_total=refunded_total,
        buyer=NormalizedBuyer(platform_buyer_id=str(trade.get("buyer_open_uid") or trade.get("buyer_nick") or ""),
                              name=str(trade.get("buyer_nick") or "")),
        receiver=receiver,
        buyer_note=str(trade.get("buyer_message") or ""),
        seller_note=str(trade.get("seller_memo") or ""),
        lines=lines,
        tracking_numbers=tracking,
    )
