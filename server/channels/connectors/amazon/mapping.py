"""Amazon SP-API Orders v0 order + its order items -> NormalizedOrder. Pure: no I/O, no clock.

Facts used (Orders API v0 reference):
- `ItemPrice` is the LINE total (unit price × QuantityOrdered), like `ItemTax`, `ShippingPrice`,
  `ShippingTax`, `ShippingDiscount`, `PromotionDiscount`; amounts are decimal strings with a currency.
- The unit price is ItemPrice / QuantityOrdered exactly when it divides; when it does not (10.00 for 3)
  the unit price is rounded UP to the minor unit and the excess goes into the line's discount, so the
  line total (unit × qty − discount) is exactly Amazon's ItemPrice − PromotionDiscount.
- `OrderTotal` is absent on some Pending orders: the currency then comes from the items or the
  marketplace, and the paid total is estimated from the lines (items − discounts + shipping + tax).
- `ShippingAddress` (and buyer PII) needs a Restricted Data Token; without one Amazon sends only
  City/StateOrRegion/PostalCode/CountryCode, or nothing at all for Pending orders. Such an address
  is flagged masked.
- `FulfillmentChannel` AFN = fulfilled by Amazon: not ours to ship.
- Amazon has no payment timestamp; paid orders get paid_at = PurchaseDate. Amazon only charges at
  shipment, so a Canceled order that had been accepted (it carries an OrderTotal) is reported as
  refunded (the authorization released), one that never left Pending as unpaid.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from server.channels.connectors.base import (
    NormalizedAddress,
    NormalizedBuyer,
    NormalizedLine,
    NormalizedOrder,
    NormalizedStatus,
    PaymentStatus,
)
from server.core.clock import parse_iso
from server.core.money import to_minor

STATUS: dict[str, NormalizedStatus] = {
    "PendingAvailability": NormalizedStatus.PENDING_PAYMENT,   # pre-order, not yet charged
    "Pending": NormalizedStatus.PENDING_PAYMENT,               # placed, payment not authorized
    "Unshipped": NormalizedStatus.PAID,
    "PartiallyShipped": NormalizedStatus.PARTIALLY_SHIPPED,
    "Shipped": NormalizedStatus.SHIPPED,
    "InvoiceUnconfirmed": NormalizedStatus.SHIPPED,            # shipped, invoice not yet confirmed (IN/BR)
    "Canceled": NormalizedStatus.CANCELLED,
    "Unfulfillable": NormalizedStatus.CANCELLED,               # MCF order Amazon cannot fulfil
}
UNPAID_STATUSES = {"PendingAvailability", "Pending"}

# Marketplace -> currency, for orders that carry no amount at all.
MARKETPLACE_CURRENCY = {
    "ATVPDKIKX0DER": "USD", "A2EUQ1WTGCTBG2": "CAD", "A1AM78C64UM0Y8": "MXN", "A2Q3Y263D00KWC": "BRL",
    "A1F83G8C2ARO7P": "GBP", "A1PA6795UKMFR9": "EUR", "A13V1IB3VIYZZH": "EUR", "APJ6JRA9NG5V4": "EUR",
    "A1RKKUPIHCS9HS": "EUR", "A1805IZSGTT6HS": "EUR", "AMEN7PMS3EDWL": "EUR", "A2NODRKZP88ZB9": "SEK",
    "A1C3SOZRARQ6R3": "PLN", "A33AVAJ2PDY3EV": "TRY", "A1VC38T7YXB528": "JPY", "A39IBJ37TRP1C6": "AUD",
    "A19VAU5U5O7RUS": "SGD", "A21TJRUUN4KGV": "INR", "A2VIGQ35RCS4UG": "AED", "A17E79C6D8DWNP": "SAR",
}


class MappingError(ValueError):
    """The payload cannot be read as an order; the caller keeps the raw payload with this reason."""


def _money(node: Any, currency: str) -> int:
    if not isinstance(node, Mapping) or node.get("Amount") in (None, ""):
        return 0
    code = str(node.get("CurrencyCode") or currency)
    if code != currency:
        raise MappingError(f"amount in {code} on an order in {currency}")
    return to_minor(node["Amount"], currency)


def _time(value: Any, name: str, required: bool = False) -> datetime | None:
    try:
        parsed = parse_iso(str(value)) if value else None
    except ValueError as exc:
        raise MappingError(f"{name} is not an ISO-8601 time: {value!r}") from exc
    if parsed is None and required:
        raise MappingError(f"missing {name}")
    return parsed


def currency_of(order: Mapping[str, Any], items: list[Mapping[str, Any]]) -> str:
    total = order.get("OrderTotal")
    if isinstance(total, Mapping) and total.get("CurrencyCode"):
        return str(total["CurrencyCode"])
    for item in items:
        for field in ("ItemPrice", "ShippingPrice", "ItemTax"):
            node = item.get(field)
            if isinstance(node, Mapping) and node.get("CurrencyCode"):
                return str(node["CurrencyCode"])
    currency = MARKETPLACE_CURRENCY.get(str(order.get("MarketplaceId") or ""))
    if currency is None:
        raise MappingError("no currency: no OrderTotal, no item amounts and an unknown marketplace")
    return currency


def map_line(item: Mapping[str, Any], currency: str) -> NormalizedLine:
    item_id = str(item.get("OrderItemId") or "")
    if not item_id:
        raise MappingError("order item without OrderItemId")
    try:
        qty = int(item.get("QuantityOrdered") or 0)
    except (TypeError, ValueError) as exc:
        raise MappingError(f"QuantityOrdered is not an integer: {item.get('QuantityOrdered')!r}") from exc
    line_total = _money(item.get("ItemPrice"), currency)
    if qty > 0:
        unit = -(-line_total // qty)               # ceiling division
        rounding = unit * qty - line_total          # 0 whenever the line total divides evenly
    else:                                           # cancelled lines come back with quantity 0
        unit, rounding = line_total, 0
    return NormalizedLine(
        external_line_id=item_id,
        title=str(item.get("Title") or ""),
        quantity=qty,
        unit_price=unit,
        discount=rounding + _money(item.get("PromotionDiscount"), currency),
        platform_product_id=str(item.get("ASIN") or ""),
        platform_sku_id=str(item.get("SellerSKU") or ""),
        sku_code=str(item.get("SellerSKU") or ""),
        tax=_money(item.get("ItemTax"), currency),
    )


def map_address(order: Mapping[str, Any]) -> NormalizedAddress:
    addr = order.get("ShippingAddress")
    if not isinstance(addr, Mapping):
        return NormalizedAddress(masked=True)
    lines = [str(addr.get(k) or "") for k in ("AddressLine1", "AddressLine2", "AddressLine3")]
    return NormalizedAddress(
        name=str(addr.get("Name") or ""),
        phone=str(addr.get("Phone") or ""),
        country_code=str(addr.get("CountryCode") or ""),
        province=str(addr.get("StateOrRegion") or ""),
        city=str(addr.get("City") or ""),
        district=str(addr.get("District") or addr.get("County") or ""),
        town=str(addr.get("Municipality") or ""),
        address="\n".join(line for line in lines if line),
        postcode=str(addr.get("PostalCode") or ""),
        # without a Restricted Data Token the name and street lines are withheld
        masked=not (addr.get("Name") and addr.get("AddressLine1")),
    )


def map_order(order: Mapping[str, Any], items: list[Mapping[str, Any]]) -> NormalizedOrder:
    if not isinstance(order, Mapping):
        raise MappingError("order payload is not an object")
    order_id = str(order.get("AmazonOrderId") or "")
    if not order_id:
        raise MappingError("missing AmazonOrderId")
    raw_status = str(order.get("OrderStatus") or "")
    if raw_status not in STATUS:
        raise MappingError(f"unknown OrderStatus {raw_status!r}")
    placed_at = _time(order.get("PurchaseDate"), "PurchaseDate", required=True)
    updated_at = _time(order.get("LastUpdateDate"), "LastUpdateDate", required=True)
    assert placed_at is not None and updated_at is not None
    currency = currency_of(order, items)

    lines = [map_line(item, currency) for item in items]
    shipping = sum(_money(i.get("ShippingPrice"), currency) for i in items)
    shipping_discount = sum(_money(i.get("ShippingDiscount"), currency) for i in items)
    tax = sum(_money(i.get("ItemTax"), currency) + _money(i.get("ShippingTax"), currency)
              - _money(i.get("PromotionDiscountTax"), currency) for i in items)
    items_total = sum(ln.unit_price * ln.quantity for ln in lines)
    discount = sum(ln.discount for ln in lines) + shipping_discount
    has_total = isinstance(order.get("OrderTotal"), Mapping) and order["OrderTotal"].get("Amount") not in (None, "")
    paid_total = _money(order.get("OrderTotal"), currency) if has_total else items_total - discount + shipping + tax

    if raw_status in UNPAID_STATUSES:
        payment = PaymentStatus.UNPAID
    elif raw_status == "Canceled":
        payment = PaymentStatus.REFUNDED if has_total else PaymentStatus.UNPAID
    elif str(order.get("PaymentMethod") or "") == "COD" and raw_status != "Shipped":
        payment = PaymentStatus.COD
    else:
        payment = PaymentStatus.PAID
    buyer = order.get("BuyerInfo") if isinstance(order.get("BuyerInfo"), Mapping) else {}

    return NormalizedOrder(
        external_id=order_id,
        order_number=order_id,
        platform_status=raw_status,
        status=STATUS[raw_status],
        payment_status=payment,
        currency=currency,
        items_total=items_total,
        shipping_fee=shipping,
        discount_total=discount,
        tax_total=tax,
        paid_total=paid_total,
        placed_at=placed_at,
        updated_at=updated_at,
        paid_at=placed_at if payment in (PaymentStatus.PAID, PaymentStatus.REFUNDED) else None,
        cancelled_at=updated_at if raw_status == "Canceled" else None,
        ship_by=_time(order.get("LatestShipDate"), "LatestShipDate"),
        refunded_total=paid_total if payment is PaymentStatus.REFUNDED else 0,
        buyer=NormalizedBuyer(platform_buyer_id=str(buyer.get("BuyerEmail") or ""),
                              name=str(buyer.get("BuyerName") or ""),
                              email=str(buyer.get("BuyerEmail") or "")),
        receiver=map_address(order),
        lines=lines,
        fulfilled_by_platform=str(order.get("FulfillmentChannel") or "") == "AFN",
    )
