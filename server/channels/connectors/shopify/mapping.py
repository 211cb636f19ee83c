"""Shopify Admin REST / webhook order JSON -> NormalizedOrder. Pure: no I/O, no clock.

Shopify has no single order status: the lifecycle is read from `cancelled_at`, `financial_status`,
`fulfillment_status`, `closed_at` and the fulfillments' `shipment_status`. `platform_status` keeps
the raw pair verbatim as "<financial_status>/<fulfillment_status or 'unfulfilled'>", prefixed with
"cancelled/" or "closed/" when those timestamps are set.
"""
from __future__ import annotations

from collections import defaultdict
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
from server.core.money import to_minor

# financial_status values that mean the money is (or is held to be) collected. `authorized` counts:
# Shopify lets merchants fulfil authorized orders and captures the payment on fulfilment.
_PAID_LIKE = {"paid", "partially_refunded", "authorized"}
_DEAD_FULFILMENTS = {"cancelled", "error", "failure"}


def is_cod(payload: dict) -> bool:
    names = [*(payload.get("payment_gateway_names") or []), payload.get("gateway") or ""]
    for name in names:
        low = str(name).strip().lower()
        if low in {"cod", "cash_on_delivery"} or "cash on delivery" in low:
            return True
    return False


def _str_id(value: Any) -> str:
    return "" if value in (None, "", 0) else str(value)


def _join(*parts: Any) -> str:
    return " ".join(str(p).strip() for p in parts if p not in (None, "") and str(p).strip())


def refunded_total(payload: dict, currency: str) -> int:
    """Money actually returned: successful refund transactions across all refunds."""
    total = 0
    for refund in payload.get("refunds") or []:
        for tx in refund.get("transactions") or []:
            if (tx.get("kind") or "refund") == "refund" and (tx.get("status") or "success") == "success":
                total += to_minor(tx.get("amount"), currency)
    return total


def _refunded_quantities(payload: dict) -> dict[str, int]:
    qty: dict[str, int] = defaultdict(int)
    for refund in payload.get("refunds") or []:
        for rli in refund.get("refund_line_items") or []:
            qty[_str_id(rli.get("line_item_id"))] += int(rli.get("quantity") or 0)
    return qty


def _line(item: dict, currency: str, refunded_qty: dict[str, int]) -> NormalizedLine:
    if item.get("id") in (None, ""):
        raise ValueError("line item without id")
    quantity = int(item.get("quantity") or 0)
    allocations = item.get("discount_allocations") or []
    # Newer API versions leave total_discount at 0 and put the real amounts in discount_allocations.
    discount = (sum(to_minor(a.get("amount"), currency) for a in allocations) if allocations
                else to_minor(item.get("total_discount"), currency))
    tax = sum(to_minor(t.get("price"), currency) for t in item.get("tax_lines") or [])
    line_id = str(item["id"])
    return NormalizedLine(
        external_line_id=line_id,
        title=item.get("name") or item.get("title") or "",
        quantity=quantity,
        unit_price=to_minor(item.get("price"), currency),
        discount=discount,
        platform_product_id=_str_id(item.get("product_id")),
        platform_sku_id=_str_id(item.get("variant_id")),
        sku_code=(item.get("sku") or "").strip(),
        spec=item.get("variant_title") or "",
        refunded_quantity=min(refunded_qty.get(line_id, 0), quantity),
        tax=tax,
    )


def _address(addr: dict | None) -> NormalizedAddress:
    """Shopify's shipping_address; absent for digital goods and local pickup -> empty receiver."""
    if not addr:
        return NormalizedAddress()
    return NormalizedAddress(
        name=addr.get("name") or _join(addr.get("first_name"), addr.get("last_name")),
        phone=addr.get("phone") or "",
        country_code=(addr.get("country_code") or "").upper(),
        province=addr.get("province") or addr.get("province_code") or "",
        city=addr.get("city") or "",
        district="",
        address=", ".join(p.strip() for p in (addr.get("address1"), addr.get("address2")) if p and p.strip()),
        postcode=addr.get("zip") or "",
    )


def _buyer(payload: dict) -> NormalizedBuyer:
    customer = payload.get("customer") or {}
    return NormalizedBuyer(
        platform_buyer_id=_str_id(customer.get("id")),
        name=_join(customer.get("first_name"), customer.get("last_name")),
        email=payload.get("email") or payload.get("contact_email") or customer.get("email") or "",
        phone=customer.get("phone") or payload.get("phone") or "",
    )


def _live_fulfillments(payload: dict) -> list[dict]:
    return [f for f in payload.get("fulfillments") or [] if (f.get("status") or "") not in _DEAD_FULFILMENTS]


def _tracking_numbers(payload: dict) -> list[str]:
    numbers: list[str] = []
    for f in _live_fulfillments(payload):
        for n in f.get("tracking_numbers") or ([f["tracking_number"]] if f.get("tracking_number") else []):
            if n and n not in numbers:
                numbers.append(n)
    return numbers


def map_status(payload: dict) -> NormalizedStatus:
    fin = (payload.get("financial_status") or "pending").lower()
    ful = (payload.get("fulfillment_status") or "").lower()
    if payload.get("cancelled_at") or fin == "voided" or ful == "restocked":
        return NormalizedStatus.CANCELLED
    if ful == "fulfilled":
        if payload.get("closed_at"):
            return NormalizedStatus.COMPLETED
        live = _live_fulfillments(payload)
        if live and all((f.get("shipment_status") or "") == "delivered" for f in live):
            return NormalizedStatus.DELIVERED
        return NormalizedStatus.SHIPPED
    if ful == "partial":
        return NormalizedStatus.PARTIALLY_SHIPPED
    if fin == "refunded":      # refunded in full before anything shipped: nothing left to send
        return NormalizedStatus.CANCELLED
    if fin in _PAID_LIKE or is_cod(payload):
        return NormalizedStatus.PAID
    return NormalizedStatus.PENDING_PAYMENT


def map_payment_status(payload: dict, refunded: int) -> PaymentStatus:
    fin = (payload.get("financial_status") or "pending").lower()
    if fin == "refunded":
        return PaymentStatus.REFUNDED
    if fin == "partially_refunded" or (refunded > 0 and fin in _PAID_LIKE):
        return PaymentStatus.PARTIALLY_REFUNDED
    if fin in _PAID_LIKE:
        return PaymentStatus.PAID
    if is_cod(payload) and fin in {"pending", "partially_paid"} and not payload.get("cancelled_at"):
        return PaymentStatus.COD
    return PaymentStatus.UNPAID


def raw_status(payload: dict) -> str:
    raw = f"{payload.get('financial_status') or 'pending'}/{payload.get('fulfillment_status') or 'unfulfilled'}"
    if payload.get("closed_at"):
        raw = f"closed/{raw}"
    if payload.get("cancelled_at"):
        raw = f"cancelled/{raw}"
    return raw


def _shipping_fee(payload: dict, currency: str) -> int:
    price_set = (payload.get("total_shipping_price_set") or {}).get("shop_money") or {}
    if price_set.get("amount") not in (None, ""):
        return to_minor(price_set["amount"], currency)
    return sum(to_minor(s.get("price"), currency) for s in payload.get("shipping_lines") or [])


def map_order(payload: dict) -> NormalizedOrder:
    if not isinstance(payload, dict) or payload.get("id") in (None, ""):
        raise ValueError("order payload without id")
    currency = (payload.get("currency") or payload.get("presentment_currency") or "").upper()
    if not currency:
        raise ValueError("order payload without currency")
    placed_at = parse_iso(payload.get("created_at"))
    if placed_at is None:
        raise ValueError("order payload without created_at")
    refunded = refunded_total(payload, currency)
    refunded_qty = _refunded_quantities(payload)
    lines = [_line(item, currency, refunded_qty) for item in payload.get("line_items") or []]
    payment = map_payment_status(payload, refunded)
    paid_at = None
    if payment not in (PaymentStatus.UNPAID, PaymentStatus.COD):
        # REST orders carry no capture time; processed_at is when checkout completed and paid.
        paid_at = parse_iso(payload.get("processed_at")) or placed_at
    return NormalizedOrder(
        external_id=str(payload["id"]),
        order_number=payload.get("name") or str(payload.get("order_number") or payload["id"]),
        platform_status=raw_status(payload),
        status=map_status(payload),
        payment_status=payment,
        currency=currency,
        items_total=sum(line.unit_price * line.quantity for line in lines),
        shipping_fee=_shipping_fee(payload, currency),
        discount_total=to_minor(payload.get("total_discounts"), currency),
        tax_total=to_minor(payload.get("total_tax"), currency),
        paid_total=to_minor(payload.get("total_price"), currency),
        placed_at=placed_at,
        updated_at=parse_iso(payload.get("updated_at")) or placed_at,
        paid_at=paid_at,
        cancelled_at=parse_iso(payload.get("cancelled_at")),
        refunded_total=refunded,
        buyer=_buyer(payload),
        receiver=_address(payload.get("shipping_address")),
        buyer_note=payload.get("note") or "",
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
