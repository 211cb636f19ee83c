"""Amazon Orders v0 order + order items -> NormalizedOrder, on payloads shaped like the API's."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from server.channels.connectors.amazon.client import to_fetched
from server.channels.connectors.amazon.mapping import MappingError, map_order
from server.channels.connectors.base import NormalizedStatus, PaymentStatus


def money(amount: str, currency: str = "USD") -> dict:
    return {"CurrencyCode": currency, "Amount": amount}


def item(item_id: str, sku: str, qty: int, price: str, *, tax: str = "0.00", shipping: str = "0.00",
         promo: str = "0.00", currency: str = "USD") -> dict:
    return {
        "ASIN": "B000000001", "SellerSKU": sku, "OrderItemId": item_id, "Title": f"{sku} title",
        "QuantityOrdered": qty, "QuantityShipped": 0, "ItemPrice": money(price, currency),
        "ItemTax": money(tax, currency), "ShippingPrice": money(shipping, currency),
        "ShippingTax": money("0.00", currency), "ShippingDiscount": money("0.00", currency),
        "PromotionDiscount": money(promo, currency), "PromotionDiscountTax": money("0.00", currency),
        "PromotionIds": [], "IsGift": "false", "ConditionId": "New",
    }


def order(**changes) -> dict:
    data = {
        "AmazonOrderId": "113-1234567-7654321", "SellerOrderId": "113-1234567-7654321",
        "PurchaseDate": "2024-05-01T10:00:00Z", "LastUpdateDate": "2024-05-01T12:30:00.123Z",
        "OrderStatus": "Unshipped", "FulfillmentChannel": "MFN", "SalesChannel": "Amazon.com",
        "OrderTotal": money("112.10"), "NumberOfItemsShipped": 0, "NumberOfItemsUnshipped": 3,
        "PaymentMethod": "Other", "MarketplaceId": "ATVPDKIKX0DER", "OrderType": "StandardOrder",
        "EarliestShipDate": "2024-05-01T10:00:00Z", "LatestShipDate": "2024-05-03T06:59:59Z",
        "IsPrime": False, "IsBusinessOrder": False,
        "ShippingAddress": {"City": "Seattle", "StateOrRegion": "WA", "PostalCode": "98101", "CountryCode": "US"},
    }
    data.update(changes)
    return data


def items() -> list[dict]:
    return [
        item("11111111111111", "TEA-LJ-250", 2, "49.80", tax="4.11", shipping="4.99"),
        item("22222222222222", "CUP-CER-01", 1, "7.90", promo="0.79", tax="0.59"),
        item("33333333333333", "FLT-SS-02", 1, "0.00"),       # free promotional gift
    ]


def test_item_price_is_the_line_total():
    result = map_order(order(), items())
    tea, cup, _gift = result.lines
    assert (tea.quantity, tea.unit_price, tea.discount, tea.total) == (2, 2490, 0, 4980)
    assert (cup.unit_price, cup.discount, cup.total) == (790, 79, 711)
    assert tea.sku_code == tea.platform_sku_id == "TEA-LJ-250" and tea.platform_product_id == "B000000001"
    assert tea.external_line_id == "11111111111111" and tea.tax == 411


def test_order_amounts():
    result = map_order(order(), items())
    assert result.currency == "USD"
    assert result.items_total == 4980 + 790
    assert result.shipping_fee == 499 and result.discount_total == 79 and result.tax_total == 411 + 59
    assert result.paid_total == 11210
    assert result.status is NormalizedStatus.PAID and result.payment_status is PaymentStatus.PAID
    assert result.platform_status == "Unshipped"


def test_times_are_aware_utc():
    result = map_order(order(), items())
    assert result.placed_at == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert result.updated_at == datetime(2024, 5, 1, 12, 30, 0, 123000, tzinfo=UTC)
    assert result.ship_by == datetime(2024, 5, 3, 6, 59, 59, tzinfo=UTC)


def test_indivisible_line_total_keeps_the_line_total_exact():
    line = map_order(order(), [item("1", "SET-GIFT-01", 3, "10.00")]).lines[0]
    assert (line.unit_price, line.discount) == (334, 2)
    assert line.total == 1000


def test_zero_priced_promotional_gift_line_is_kept():
    gift = map_order(order(), items()).lines[2]
    assert gift.sku_code == "FLT-SS-02" and gift.quantity == 1 and gift.unit_price == 0 and gift.total == 0


def test_promotion_discount():
    result = map_order(order(), [item("1", "POT-YX-300", 2, "118.00", promo="11.80")])
    assert result.lines[0].discount == 1180 and result.lines[0].total == 10620
    assert result.discount_total == 1180


def test_jpy_has_no_minor_digits():
    result = map_order(order(AmazonOrderId="503-1111111-2222222", MarketplaceId="A1VC38T7YXB528",
                             OrderTotal=money("7470", "JPY")),
                       [item("1", "TEA-LJ-250", 2, "7470", currency="JPY")])
    assert result.currency == "JPY"
    assert result.lines[0].unit_price == 3735 and result.paid_total == 7470


def test_eur_and_gbp():
    eur = map_order(order(OrderTotal=money("22.91", "EUR"), MarketplaceId="A1PA6795UKMFR9"),
                    [item("1", "TEA-LJ-250", 1, "22.91", currency="EUR")])
    gbp = map_order(order(OrderTotal=money("19.92", "GBP"), MarketplaceId="A1F83G8C2ARO7P"),
                    [item("1", "TEA-LJ-250", 1, "19.92", currency="GBP")])
    assert (eur.currency, eur.paid_total) == ("EUR", 2291)
    assert (gbp.currency, gbp.paid_total) == ("GBP", 1992)


def test_missing_address_is_masked_and_empty():
    data = order()
    del data["ShippingAddress"]
    receiver = map_order(data, items()).receiver
    assert receiver.masked is True and receiver.country_code == "" and receiver.name == ""


def test_address_without_rdt_is_partial_and_masked():
    receiver = map_order(order(), items()).receiver
    assert receiver.masked is True
    assert (receiver.city, receiver.province, receiver.postcode, receiver.country_code) == ("Seattle", "WA", "98101", "US")


def test_full_address_is_not_masked():
    data = order(ShippingAddress={"Name": "Emily Johnson", "AddressLine1": "1200 Pine St", "AddressLine2": "Apt 4",
                                  "City": "Seattle", "StateOrRegion": "WA", "PostalCode": "98101",
                                  "CountryCode": "US", "Phone": "+1 206-555-0100"},
                 BuyerInfo={"BuyerEmail": "abc@marketplace.amazon.com"})
    result = map_order(data, items())
    assert result.receiver.masked is False
    assert result.receiver.name == "Emily Johnson" and result.receiver.address == "1200 Pine St\nApt 4"
    assert result.buyer.email == result.buyer.platform_buyer_id == "abc@marketplace.amazon.com"


def test_afn_orders_are_fulfilled_by_amazon():
    assert map_order(order(FulfillmentChannel="AFN"), items()).fulfilled_by_platform is True
    assert map_order(order(), items()).fulfilled_by_platform is False


def test_canceled_after_payment_is_refunded():
    result = map_order(order(OrderStatus="Canceled"), items())
    assert result.status is NormalizedStatus.CANCELLED
    assert result.payment_status is PaymentStatus.REFUNDED and result.refunded_total == result.paid_total == 11210
    assert result.cancelled_at == result.updated_at


def test_canceled_while_pending_is_unpaid():
    data = order(OrderStatus="Canceled")
    del data["OrderTotal"]
    result = map_order(data, [item("1", "TEA-LJ-250", 1, "24.90")])
    assert result.payment_status is PaymentStatus.UNPAID and result.refunded_total == 0


def test_pending_without_order_total_takes_currency_from_items():
    data = order(OrderStatus="Pending")
    del data["OrderTotal"], data["ShippingAddress"]
    result = map_order(data, [item("1", "TEA-LJ-250", 1, "24.90", tax="2.05")])
    assert result.status is NormalizedStatus.PENDING_PAYMENT and result.payment_status is PaymentStatus.UNPAID
    assert result.currency == "USD" and result.paid_total == 2695 and result.paid_at is None


def test_pending_without_any_amount_takes_currency_from_marketplace():
    data = order(OrderStatus="Pending", MarketplaceId="A1PA6795UKMFR9")
    del data["OrderTotal"]
    bare = {"OrderItemId": "1", "SellerSKU": "TEA-LJ-250", "QuantityOrdered": 1, "Title": "Tea"}
    result = map_order(data, [bare])
    assert result.currency == "EUR" and result.lines[0].unit_price == 0


def test_cash_on_delivery_in_japan():
    result = map_order(order(PaymentMethod="COD", MarketplaceId="A1VC38T7YXB528", OrderTotal=money("3735", "JPY")),
                       [item("1", "TEA-LJ-250", 1, "3735", currency="JPY")])
    assert result.payment_status is PaymentStatus.COD


@pytest.mark.parametrize(("raw", "status"), [
    ("PendingAvailability", NormalizedStatus.PENDING_PAYMENT), ("Pending", NormalizedStatus.PENDING_PAYMENT),
    ("Unshipped", NormalizedStatus.PAID), ("PartiallyShipped", NormalizedStatus.PARTIALLY_SHIPPED),
    ("Shipped", NormalizedStatus.SHIPPED), ("InvoiceUnconfirmed", NormalizedStatus.SHIPPED),
    ("Canceled", NormalizedStatus.CANCELLED), ("Unfulfillable", NormalizedStatus.CANCELLED)])
def test_status_table(raw, status):
    result = map_order(order(OrderStatus=raw), items())
    assert result.status is status and result.platform_status == raw


def test_mixed_currencies_are_an_error():
    with pytest.raises(MappingError, match="EUR"):
        map_order(order(), [item("1", "TEA-LJ-250", 1, "24.90", currency="EUR")])


def test_unknown_status_keeps_the_raw_order_and_items():
    raw = {"order": order(OrderStatus="Exploded"), "items": items()}
    fetched = to_fetched(raw)
    assert fetched.order is None and "Exploded" in (fetched.error or "")
    assert fetched.external_id == "113-1234567-7654321" and fetched.raw == raw
