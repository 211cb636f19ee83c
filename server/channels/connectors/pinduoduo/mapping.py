"""Pinduoduo order (pdd.order.number.list.increment.get `order_sn_list[]`, same as
pdd.order.information.get `order_info`) -> NormalizedOrder. Pure.

Amounts are yuan JSON numbers (doubles): Decimal(str(x)) keeps 0.1 exact. Times are Beijing strings.
PDD describes an order with three codes, kept together as the raw status:
  order_status  1 awaiting shipment, 2 shipped, 3 received
  refund_status 1 none (or after-sale closed), 2 after-sale in progress, 3 refunding, 4 refunded
  confirm_status 0 group not formed yet, 1 deal confirmed, 2 cancelled
Refunds are per order (no per-line amounts), so a refunded PDD order is refunded whole.
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
REFUNDED = 4
_SHIPPING = {1: S.PAID, 2: S.SHIPPED, 3: S.DELIVERED}


def _code(order: dict, name: str, default: int | None = None) -> int:
    value = order.get(name)
    if value in (None, ""):
        if default is None:
            raise MappingError(f"missing {name}")
        return default
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise MappingError(f"bad {name}: {value!r}") from exc


def raw_status(order: dict) -> str:
    return (f"order_status={order.get('order_status')},refund_status={order.get('refund_status')},"
            f"confirm_status={order.get('confirm_status')}")


def map_status(order: dict) -> tuple[NormalizedStatus, PaymentStatus]:
    shipping, refund = _code(order, "order_status"), _code(order, "refund_status", 1)
    confirm = _code(order, "confirm_status", 1)
    if shipping not in _SHIPPING:
        raise MappingError(f"unknown order_status {shipping}")
    paid = bool(order.get("pay_time"))
    if confirm == 2:                                    # cancelled (e.g. the group failed): money returned
        return S.CANCELLED, P.REFUNDED if paid else P.UNPAID
    if refund == REFUNDED and shipping == 1:            # refunded before shipping: the order is closed
        return S.CANCELLED, P.REFUNDED
    if confirm == 0:                                    # paid, group still forming: must not ship yet
        return S.PENDING_PAYMENT, P.PAID if paid else P.UNPAID
    status = _SHIPPING[shipping]
    if status is S.DELIVERED and order.get("receive_time"):
        status = S.COMPLETED                            # the buyer confirmed receipt
    return status, P.REFUNDED if refund == REFUNDED else P.PAID


def map_lines(order: dict) -> list[NormalizedLine]:
    items = list(order.get("item_list") or [])
    if not items:
        raise MappingError("order has no item_list")
    refund = _code(order, "refund_status", 1)
    lines, used = [], Counter()
    for item in items:
        sku_id = str(item.get("sku_id") or "")
        quantity = int(item.get("goods_count") or 0)
        if quantity <= 0:
            raise MappingError(f"sku {sku_id} has no quantity")
        used[sku_id] += 1
        lines.append(NormalizedLine(
            external_line_id=sku_id if used[sku_id] == 1 else f"{sku_id}-{used[sku_id]}",  # PDD has no line ids
            title=str(item.get("goods_name") or ""), quantity=quantity, unit_price=cny(item.get("goods_price")),
            platform_product_id=str(item.get("goods_id") or ""), platform_sku_id=sku_id,
            sku_code=str(item.get("outer_id") or item.get("outer_goods_id") or ""),
            spec=str(item.get("goods_spec") or ""),
            refunded_quantity=quantity if refund == REFUNDED else 0,
            refund_status=str(refund) if refund != 1 else "",    # the order's refund code, on every line
        ))
    return lines


def map_order(order: dict) -> NormalizedOrder:
    order_sn = str(order.get("order_sn") or "")
    if not order_sn:
        raise MappingError("order has no order_sn")
    status, payment = map_status(order)
    lines = map_lines(order)
    items_total = sum(line.unit_price * line.quantity for line in lines)
    shipping_fee, paid_total = cny(order.get("postage")), cny(order.get("pay_amount"))
    province, city, district = (str(order.get(k) or "") for k in ("province", "city", "town"))
    detail = str(order.get("receiver_address") or "") or strip_region_prefix(
        str(order.get("address") or ""), province, city, district)
    receiver = cn_address(
        name=str(order.get("receiver_name") or ""), phone=str(order.get("receiver_phone") or ""),
        province=province, city=city, district=district, address=detail,
        masked=looks_masked(order.get("receiver_name"), order.get("receiver_phone"), order.get("address"),
                            order.get("receiver_address")),
    )
    return NormalizedOrder(
        external_id=order_sn,
        order_number=order_sn,
        platform_status=raw_status(order),
        status=status,
        payment_status=payment,
        currency="CNY",
        items_total=items_total,
        shipping_fee=shipping_fee,
        discount_total=items_total + shipping_fee - paid_total,   # platform + seller discounts, price changes
        tax_total=0,
        paid_total=paid_total,
        placed_at=beijing(order.get("created_time"), "created_time", required=True),
        updated_at=beijing(order.get("updated_at"), "updated_at", required=True),
        paid_at=beijing(order.get("pay_time"), "pay_time"),
        ship_by=beijing(order.get("last_ship_time"), "last_ship_time"),
        refunded_total=paid_total if payment is P.REFUNDED else 0,
        buyer=NormalizedBuyer(),          # PDD discloses nothing about the buyer beyond the receiver
        receiver=receiver,
        buyer_note=str(order.get("buyer_memo") or ""),
        seller_note=str(order.get("remark") or ""),
        lines=lines,
        tracking_numbers=[str(order["tracking_number"])] if order.get("tracking_number") else [],
    )
