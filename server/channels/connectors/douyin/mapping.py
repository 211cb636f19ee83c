"""Douyin shop order payload (order.searchList `shop_order_list[]` / order.orderDetail
`shop_order_detail`) -> NormalizedOrder. Pure: no I/O, no clock.

Facts used (official SDK field docs):
- amounts are integer fen, so they are CNY minor units already;
- times are unix seconds;
- `order_status`: 1 awaiting payment, 105 paid, 2 preparing (awaiting shipment), 101 partially
  shipped, 3 shipped (all), 4 cancelled, 5 completed (received);
- `main_status` adds 21/22/39 = refund finished before shipment / after shipment / after receipt;
- `sku_order_list[]`: `goods_price` is the unit list price, `sum_amount` the current price × quantity,
  `promotion_amount` the line's share of promotions, `code` the merchant SKU code,
  `given_product_type` "FREE" marks a free gift;
- `after_sale_info.refund_status` 3 = refund succeeded (1 pending, 4 failed);
- `pay_type` 0 = cash on delivery;
- receiver PII comes masked (`mask_post_receiver`, `mask_post_tel`, `mask_post_addr`).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from server.channels.connectors.base import (
    NormalizedAddress,
    NormalizedBuyer,
    NormalizedLine,
    NormalizedOrder,
    NormalizedStatus,
    PaymentStatus,
)
from server.core.clock import from_unix

CURRENCY = "CNY"

STATUS: dict[int, NormalizedStatus] = {
    1: NormalizedStatus.PENDING_PAYMENT,
    105: NormalizedStatus.PAID,
    2: NormalizedStatus.PAID,
    101: NormalizedStatus.PARTIALLY_SHIPPED,
    3: NormalizedStatus.SHIPPED,
    4: NormalizedStatus.CANCELLED,
    5: NormalizedStatus.COMPLETED,
}
REFUND_FINISHED_MAIN_STATUS = {21, 22, 39}
REFUND_SUCCEEDED = 3
PAY_TYPE_COD = 0


class MappingError(ValueError):
    """The payload cannot be read as an order; the caller keeps the raw payload with this reason."""


def _int(value: Any, name: str, default: int | None = 0) -> int:
    if value in (None, ""):
        if default is None:
            raise MappingError(f"missing {name}")
        return default
    try:
        return int(str(value))
    except ValueError as exc:
        raise MappingError(f"{name} is not an integer: {value!r}") from exc


def _name(node: Any) -> str:
    return str(node.get("name") or "") if isinstance(node, Mapping) else ""


def map_address(order: Mapping[str, Any]) -> NormalizedAddress:
    addr = order.get("mask_post_addr") or {}
    if not isinstance(addr, Mapping):
        addr = {}
    return NormalizedAddress(
        name=str(order.get("mask_post_receiver") or ""),
        phone=str(order.get("mask_post_tel") or ""),
        country_code="CN",
        province=_name(addr.get("province")),
        city=_name(addr.get("city")),
        district=_name(addr.get("town")),      # Douyin's "town" is the county/district level
        town=_name(addr.get("street")),        # and "street" the township/street level
        address=str(addr.get("detail") or ""),
        masked=True,
    )


def _spec(sku: Mapping[str, Any]) -> str:
    spec = sku.get("spec") or []
    if isinstance(spec, list):
        return " ".join(f"{s.get('name', '')}:{s.get('value', '')}" for s in spec if isinstance(s, Mapping))
    return str(spec)


def map_line(sku: Mapping[str, Any]) -> tuple[NormalizedLine, int, int]:
    """One sku order -> (line, its promotion_amount, what the buyer paid for it)."""
    line_id = str(sku.get("order_id") or "")
    if not line_id:
        raise MappingError("sku order without order_id")
    qty = _int(sku.get("item_num"), "item_num", default=None)
    unit = _int(sku.get("goods_price"), "goods_price", default=None)
    promotion = _int(sku.get("promotion_amount"), "promotion_amount")
    discount = promotion
    if sku.get("sum_amount") not in (None, ""):
        # a markdown from the list price (goods_price) to the current price (origin_amount)
        discount += max(0, unit * qty - _int(sku.get("sum_amount"), "sum_amount"))
    after_sale = sku.get("after_sale_info") or {}
    refund_status = after_sale.get("refund_status") if isinstance(after_sale, Mapping) else None
    refunded = _int(refund_status, "refund_status") == REFUND_SUCCEEDED
    line = NormalizedLine(
        external_line_id=line_id,
        title=str(sku.get("product_name") or ""),
        quantity=qty,
        unit_price=unit,
        discount=min(discount, unit * qty),
        platform_product_id=str(sku.get("product_id_str") or sku.get("product_id") or ""),
        platform_sku_id=str(sku.get("sku_id") or ""),
        sku_code=str(sku.get("code") or sku.get("out_sku_id") or ""),
        spec=_spec(sku),
        refunded_quantity=qty if refunded else 0,
        refund_status="" if refund_status in (None, "", 0, "0") else str(refund_status),
        tax=_int(sku.get("tax_amount"), "tax_amount"),
    )
    return line, promotion, _int(sku.get("pay_amount"), "pay_amount")


def _payment(status: int, main_status: int, order: Mapping[str, Any], lines: list[NormalizedLine],
             paid_total: int, line_paid: list[int]) -> tuple[PaymentStatus, int]:
    """-> (payment status, refunded total in fen)."""
    paid = _int(order.get("pay_time"), "pay_time") > 0
    if status == 4:
        # cancelling a paid Douyin order refunds it (after-sale "未发货仅退款" or a system cancel)
        return (PaymentStatus.REFUNDED, paid_total) if paid else (PaymentStatus.UNPAID, 0)
    if main_status in REFUND_FINISHED_MAIN_STATUS:
        return PaymentStatus.REFUNDED, paid_total
    refunded = [i for i, ln in enumerate(lines) if ln.refunded_quantity]
    if refunded:
        total = sum(line_paid[i] for i in refunded)
        if len(refunded) == len(lines):
            return PaymentStatus.REFUNDED, paid_total
        return PaymentStatus.PARTIALLY_REFUNDED, total
    if status == 1:
        return PaymentStatus.UNPAID, 0
    if _int(order.get("pay_type"), "pay_type", default=-1) == PAY_TYPE_COD and status != 5:
        return PaymentStatus.COD, 0
    return PaymentStatus.PAID, 0


def map_order(order: Mapping[str, Any]) -> NormalizedOrder:
    if not isinstance(order, Mapping):
        raise MappingError("order payload is not an object")
    order_id = str(order.get("order_id") or "")
    if not order_id:
        raise MappingError("missing order_id")
    raw_status = order.get("order_status")
    status_code = _int(raw_status, "order_status", default=None)
    if status_code not in STATUS:
        raise MappingError(f"unknown order_status {raw_status!r}")
    status = STATUS[status_code]
    placed_at = from_unix(order.get("create_time"))
    updated_at = from_unix(order.get("update_time"))
    if placed_at is None or updated_at is None:
        raise MappingError("missing create_time or update_time")

    skus = order.get("sku_order_list") or []
    if not isinstance(skus, list):
        raise MappingError("sku_order_list is not a list")
    mapped = [map_line(s) for s in skus if isinstance(s, Mapping)]
    lines = [m[0] for m in mapped]
    line_promotions = sum(m[1] for m in mapped)
    line_paid = [m[2] for m in mapped]

    paid_total = _int(order.get("pay_amount"), "pay_amount")
    # order-level promotions not spread over the lines still count as discount
    discount_total = sum(ln.discount for ln in lines) + max(
        0, _int(order.get("promotion_amount"), "promotion_amount") - line_promotions)
    payment, refunded_total = _payment(status_code, _int(order.get("main_status"), "main_status"),
                                       order, lines, paid_total, line_paid)
    logistics = order.get("logistics_info") or []
    tracking = [str(li["tracking_no"]) for li in logistics
                if isinstance(li, Mapping) and li.get("tracking_no")]

    return NormalizedOrder(
        external_id=order_id,
        order_number=order_id,
        platform_status=str(raw_status),
        status=status,
        payment_status=payment,
        currency=CURRENCY,
        items_total=sum(ln.unit_price * ln.quantity for ln in lines),
        shipping_fee=_int(order.get("post_amount"), "post_amount"),
        discount_total=discount_total,
        tax_total=_int(order.get("tax_amount"), "tax_amount"),
        paid_total=paid_total,
        placed_at=placed_at,
        updated_at=updated_at,
        paid_at=from_unix(order.get("pay_time")),
        cancelled_at=updated_at if status is NormalizedStatus.CANCELLED else None,
        ship_by=from_unix(order.get("exp_ship_time")),
        refunded_total=refunded_total,
        buyer=NormalizedBuyer(platform_buyer_id=str(order.get("doudian_open_id") or "")),
        receiver=map_address(order),
        buyer_note=str(order.get("buyer_words") or ""),
        seller_note=str(order.get("seller_words") or ""),
        lines=lines,
        tracking_numbers=tracking,
    )
