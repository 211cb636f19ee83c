"""WooCommerce REST v3 / webhook order JSON -> NormalizedOrder. Pure: no I/O, no clock.

Times come from the `*_gmt` fields (no offset in the string, UTC by definition); the site-local
variants are ignored. Line `price` is after discounts, so the unit price is `subtotal / quantity`
and the line discount is `subtotal - total` (both exclude tax; tax is `total_tax`).
"""
from __future__ import annotations

from typing import Any

from server.channels.connectors.base import (
    FetchedOrder,
    NormalizedAddress,
    NormalizedBuyer,
    NormalizedLine,
    NormalizedOrder,
    NormalizedStatus,
    PaymentStatus,
)
from server.core.clock import parse_iso
from server.core.errors import DomainError
from server.core.money import to_decimal, to_minor

# on-hold = awaiting payment confirmation (bank transfer, cheque): not payable-and-shippable yet.
# failed = payment declined; the buyer may still pay, so it stays pending rather than cancelled.
STATUS = {
    "pending": NormalizedStatus.PENDING_PAYMENT,
    "on-hold": NormalizedStatus.PENDING_PAYMENT,
    "failed": NormalizedStatus.PENDING_PAYMENT,
    "checkout-draft": NormalizedStatus.PENDING_PAYMENT,
    "processing": NormalizedStatus.PAID,
    "completed": NormalizedStatus.COMPLETED,
    "cancelled": NormalizedStatus.CANCELLED,
    "refunded": NormalizedStatus.CANCELLED,
    "trash": NormalizedStatus.CANCELLED,
    # statuses added by common shipment-tracking plugins
    "partial-shipped": NormalizedStatus.PARTIALLY_SHIPPED,
    "partially-shipped": NormalizedStatus.PARTIALLY_SHIPPED,
    "shipped": NormalizedStatus.SHIPPED,
    "delivered": NormalizedStatus.DELIVERED,
}
_UNPAYABLE = {"cancelled", "failed", "trash", "refunded"}


def _str_id(value: Any) -> str:
    return "" if value in (None, "", 0, "0") else str(value)


def _join(*parts: Any, sep: str = " ") -> str:
    return sep.join(str(p).strip() for p in parts if p not in (None, "") and str(p).strip())


def is_cod(payload: dict) -> bool:
    return (payload.get("payment_method") or "").lower() == "cod"


def refunded_total(payload: dict, currency: str) -> int:
    # refunds[].total is a negative decimal string ("-10.00")
    return sum(abs(to_minor(r.get("total"), currency)) for r in payload.get("refunds") or [])


def map_status(payload: dict) -> NormalizedStatus:
    status = (payload.get("status") or "").lower()
    if status in STATUS:
        return STATUS[status]
    # a custom status from some plugin: all we can tell is whether money arrived
    return NormalizedStatus.PAID if payload.get("date_paid_gmt") else NormalizedStatus.PENDING_PAYMENT


def map_payment_status(payload: dict, total: int, refunded: int) -> PaymentStatus:
    status = (payload.get("status") or "").lower()
    if status == "refunded" or (refunded > 0 and refunded >= total):
        return PaymentStatus.REFUNDED
    if refunded > 0:
        return PaymentStatus.PARTIALLY_REFUNDED
    # COD orders go straight to processing; Woo stamps date_paid only once the cash is in.
    if is_cod(payload) and not payload.get("date_paid_gmt") and status not in _UNPAYABLE:
        return PaymentStatus.COD
    if payload.get("date_paid_gmt") or status in {"processing", "completed"}:
        return PaymentStatus.PAID
    return PaymentStatus.UNPAID


def _line(item: dict, currency: str) -> NormalizedLine:
    if item.get("id") in (None, ""):
        raise ValueError("line item without id")
    quantity = int(item.get("quantity") or 0)
    subtotal = to_decimal(item.get("subtotal"))
    total = to_minor(item.get("total"), currency)
    if quantity > 0:
        unit = to_minor(subtotal / quantity, currency)
    else:
        unit = to_minor(item.get("price"), currency)
    product_id = _str_id(item.get("product_id"))
    # variation attributes ("pa_size": "250g"); keys starting with "_" are Woo's private meta
    spec = _join(*(m.get("display_value") or m.get("value") for m in item.get("meta_data") or []
                   if isinstance(m, dict) and not str(m.get("key", "_")).startswith("_")
                   and isinstance(m.get("display_value") or m.get("value"), str)), sep=", ")
    return NormalizedLine(
        external_line_id=str(item["id"]),
        title=item.get("name") or "",
        quantity=quantity,
        unit_price=unit,
        discount=max(0, to_minor(subtotal, currency) - total),
        platform_product_id=product_id,
        # a simple product's SKU-level id is the product itself
        platform_sku_id=_str_id(item.get("variation_id")) or product_id,
        sku_code=(item.get("sku") or "").strip(),
        spec=spec,
        tax=to_minor(item.get("total_tax"), currency),
    )


def _receiver(payload: dict) -> NormalizedAddress:
    ship = payload.get("shipping") or {}
    if not any(ship.get(k) for k in ("address_1", "address_2", "city", "postcode", "country")):
        return NormalizedAddress()      # virtual/downloadable goods or local pickup
    billing = payload.get("billing") or {}
    return NormalizedAddress(
        name=_join(ship.get("first_name"), ship.get("last_name")) or _join(billing.get("first_name"),
                                                                          billing.get("last_name")),
        phone=ship.get("phone") or billing.get("phone") or "",
        country_code=(ship.get("country") or "").upper(),
        province=ship.get("state") or "",
        city=ship.get("city") or "",
        district="",
        address=_join(ship.get("address_1"), ship.get("address_2"), sep=", "),
        postcode=ship.get("postcode") or "",
    )


def _buyer(payload: dict) -> NormalizedBuyer:
    billing = payload.get("billing") or {}
    return NormalizedBuyer(
        platform_buyer_id=_str_id(payload.get("customer_id")),     # 0 = guest checkout
        name=_join(billing.get("first_name"), billing.get("last_name")),
        email=billing.get("email") or "",
        phone=billing.get("phone") or "",
    )


def _tracking_numbers(payload: dict) -> list[str]:
    """From the WooCommerce Shipment Tracking extension's order meta, when present."""
    numbers: list[str] = []
    for meta in payload.get("meta_data") or []:
        if isinstance(meta, dict) and meta.get("key") == "_wc_shipment_tracking_items":
            for entry in meta.get("value") or []:
                number = entry.get("tracking_number") if isinstance(entry, dict) else None
                if number and number not in numbers:
                    numbers.append(number)
    return numbers


def map_order(payload: dict) -> NormalizedOrder:
    if not isinstance(payload, dict) or payload.get("id") in (None, "", 0):
        raise ValueError("order payload without id")
    currency = (payload.get("currency") or "").upper()
    if not currency:
        raise ValueError("order payload without currency")
    placed_at = parse_iso(payload.get("date_created_gmt"))
    if placed_at is None:
        raise ValueError("order payload without date_created_gmt")
    updated_at = parse_iso(payload.get("date_modified_gmt")) or placed_at
    lines = [_line(item, currency) for item in payload.get("line_items") or []]
    total = to_minor(payload.get("total"), currency)
    refunded = refunded_total(payload, currency)
    status = map_status(payload)
    return NormalizedOrder(
        external_id=str(payload["id"]),
        order_number=str(payload.get("number") or payload["id"]),
        platform_status=payload.get("status") or "",
        status=status,
        payment_status=map_payment_status(payload, total, refunded),
        currency=currency,
        items_total=sum(line.unit_price * line.quantity for line in lines),
        shipping_fee=to_minor(payload.get("shipping_total"), currency),
        discount_total=to_minor(payload.get("discount_total"), currency),
        tax_total=to_minor(payload.get("total_tax"), currency),
        paid_total=total,
        placed_at=placed_at,
        updated_at=updated_at,
        paid_at=parse_iso(payload.get("date_paid_gmt")),
        # Woo keeps no cancellation time; the last modification is when it became cancelled.
        cancelled_at=updated_at if status is NormalizedStatus.CANCELLED else None,
        refunded_total=refunded,
        buyer=_buyer(payload),
        receiver=_receiver(payload),
        buyer_note=payload.get("customer_note") or "",
        lines=lines,
        tracking_numbers=_tracking_numbers(payload),
    )


def to_fetched(payload: Any) -> FetchedOrder:
    """Map one payload; a payload that does not map is kept with the reason, never dropped."""
    external_id = str(payload.get("id") or "") if isinstance(payload, dict) else ""
    raw = payload if isinstance(payload, dict) else {"value": payload}
    try:
        return FetchedOrder(external_id=external_id, raw=raw, order=map_order(payload))
    except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError, DomainError) as exc:
        return FetchedOrder(external_id=external_id, raw=raw, error=f"{type(exc).__name__}: {exc}")
