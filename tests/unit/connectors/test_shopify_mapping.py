"""Shopify order JSON -> NormalizedOrder, and webhook signatures, on payloads in the Admin REST shape."""
from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime

import httpx
import pytest

from server.channels.connectors.base import ConnectorError, NormalizedStatus, PaymentStatus
from server.channels.connectors.shopify import CONNECTOR
from server.channels.connectors.shopify.mapping import map_order, to_fetched

SECRET = "shpss_unit_test_secret"


def order(**overrides) -> dict:
    """A paid, unfulfilled order as GET orders.json returns it (shop in New York, UTC-04:00)."""
    base = {
        "id": 5_123_456_789_012, "admin_graphql_api_id": "gid://shopify/Order/5123456789012",
        "name": "#1042", "order_number": 1042, "number": 42, "email": "ada@example.com",
        "contact_email": "ada@example.com", "phone": None,
        "created_at": "2024-05-07T09:20:39-04:00", "updated_at": "2024-05-07T09:25:00-04:00",
        "processed_at": "2024-05-07T09:20:38-04:00", "cancelled_at": None, "cancel_reason": None,
        "closed_at": None, "currency": "USD", "presentment_currency": "USD",
        "financial_status": "paid", "fulfillment_status": None, "gateway": "shopify_payments",
        "payment_gateway_names": ["shopify_payments"], "taxes_included": False,
        "total_line_items_price": "74.70", "subtotal_price": "67.23", "total_discounts": "7.47",
        "total_tax": "4.03", "total_price": "77.25",
        "total_shipping_price_set": {"shop_money": {"amount": "5.99", "currency_code": "USD"},
                                     "presentment_money": {"amount": "5.99", "currency_code": "USD"}},
        "note": "Please leave the parcel with the neighbour.",
        "customer": {"id": 7_001_234, "email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace",
                     "phone": "+16135550142"},
        "billing_address": None,
        "shipping_address": {"first_name": "Ada", "last_name": "Lovelace", "name": "Ada Lovelace",
                             "address1": "1777 Kramer Court", "address2": "Suite 054", "city": "Portland",
                             "province": "Oregon", "province_code": "OR", "zip": "97201",
                             "country": "United States", "country_code": "US", "phone": "+1-503-555-0199",
                             "company": None},
        "shipping_lines": [{"id": 1, "title": "Standard", "price": "5.99", "code": "Standard"}],
        "line_items": [
            {"id": 13_000_000_001, "product_id": 8_100_000_000, "variant_id": 44_100_000_000, "sku": "TEA-LJ-250",
             "title": "Longjing green tea 250g", "name": "Longjing green tea 250g", "variant_title": None,
             "quantity": 2, "price": "24.90", "total_discount": "0.00",
             "discount_allocations": [{"amount": "4.98", "discount_application_index": 0}],
             "tax_lines": [{"title": "OR Tax", "rate": 0.06, "price": "2.69"}], "fulfillable_quantity": 2},
            {"id": 13_000_000_002, "product_id": 8_100_000_010, "variant_id": 44_100_000_001, "sku": "TRAY-BMB-L",
             "title": "Bamboo tea tray", "name": "Bamboo tea tray - L", "variant_title": "L",
             "quantity": 1, "price": "24.90", "total_discount": "0.00",
             "discount_allocations": [{"amount": "2.49", "discount_application_index": 0}],
             "tax_lines": [{"title": "OR Tax", "rate": 0.06, "price": "1.34"}], "fulfillable_quantity": 1},
        ],
        "fulfillments": [], "refunds": [],
    }
    base.update(overrides)
    return base


def test_paid_order_maps_money_lines_buyer_and_receiver():
    o = map_order(order())
    assert (o.external_id, o.order_number, o.currency) == ("5123456789012", "#1042", "USD")
    assert (o.status, o.payment_status, o.platform_status) == (NormalizedStatus.PAID, PaymentStatus.PAID, "paid/unfulfilled")
    assert (o.items_total, o.discount_total, o.shipping_fee, o.tax_total, o.paid_total) == (7470, 747, 599, 403, 7725)
    assert o.placed_at == datetime(2024, 5, 7, 13, 20, 39, tzinfo=UTC)
    assert o.updated_at == datetime(2024, 5, 7, 13, 25, tzinfo=UTC)
    assert o.paid_at == datetime(2024, 5, 7, 13, 20, 38, tzinfo=UTC)
    first = o.lines[0]
    assert (first.external_line_id, first.platform_product_id, first.platform_sku_id, first.sku_code) == (
        "13000000001", "8100000000", "44100000000", "TEA-LJ-250")
    assert (first.quantity, first.unit_price, first.discount, first.tax, first.total) == (2, 2490, 498, 269, 4482)
    assert o.lines[1].spec == "L"
    assert (o.buyer.platform_buyer_id, o.buyer.name, o.buyer.email, o.buyer.phone) == (
        "7001234", "Ada Lovelace", "ada@example.com", "+16135550142")
    r = o.receiver
    assert (r.name, r.phone, r.country_code, r.province, r.city, r.district, r.address, r.postcode) == (
        "Ada Lovelace", "+1-503-555-0199", "US", "Oregon", "Portland", "", "1777 Kramer Court, Suite 054", "97201")
    assert o.buyer_note == "Please leave the parcel with the neighbour."


def test_partial_refund_sums_successful_refund_transactions():
    payload = order(financial_status="partially_refunded", refunds=[{
        "id": 9001, "order_id": 5_123_456_789_012, "created_at": "2024-05-08T10:00:00-04:00", "note": "damaged",
        "refund_line_items": [{"id": 1, "line_item_id": 13_000_000_001, "quantity": 1, "restock_type": "no_restock",
                               "subtotal": 22.41, "total_tax": 1.34}],
        "transactions": [
            {"id": 1, "kind": "refund", "status": "success", "amount": "23.75", "currency": "USD"},
            {"id": 2, "kind": "refund", "status": "failure", "amount": "23.75", "currency": "USD"},
        ]}])
    o = map_order(payload)
    assert (o.status, o.payment_status, o.refunded_total) == (NormalizedStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED, 2375)
    assert [line.refunded_quantity for line in o.lines] == [1, 0]


def test_cancelled_after_payment_is_cancelled_and_refunded():
    payload = order(financial_status="refunded", cancelled_at="2024-05-07T11:00:00-04:00", cancel_reason="customer",
                    refunds=[{"id": 9002, "refund_line_items": [], "transactions": [
                        {"kind": "refund", "status": "success", "amount": "77.25"}]}])
    o = map_order(payload)
    assert (o.status, o.payment_status, o.refunded_total) == (NormalizedStatus.CANCELLED, PaymentStatus.REFUNDED, 7725)
    assert o.cancelled_at == datetime(2024, 5, 7, 15, 0, tzinfo=UTC)
    assert o.platform_status == "cancelled/refunded/unfulfilled"


def test_cancelled_unpaid_authorization_is_voided():
    o = map_order(order(financial_status="voided", cancelled_at="2024-05-07T11:00:00-04:00"))
    assert (o.status, o.payment_status, o.paid_at) == (NormalizedStatus.CANCELLED, PaymentStatus.UNPAID, None)


def test_zero_priced_gift_line_is_kept():
    payload = order()
    payload["line_items"].append({"id": 13_000_000_003, "product_id": 8_100_000_070, "variant_id": 44_100_000_007,
                                  "sku": "FLT-SS-02", "title": "Stainless tea strainer (free gift)", "quantity": 1,
                                  "price": "0.00", "total_discount": "0.00", "discount_allocations": [], "tax_lines": []})
    o = map_order(payload)
    gift = o.lines[-1]
    assert (len(o.lines), gift.sku_code, gift.unit_price, gift.total) == (3, "FLT-SS-02", 0, 0)
    assert o.items_total == 7470


def test_yen_has_no_minor_digits_and_euro_has_two():
    yen = map_order(order(currency="JPY", total_price="11200", total_tax="1018", total_discounts="0",
                          total_shipping_price_set={"shop_money": {"amount": "800", "currency_code": "JPY"}},
                          line_items=[{"id": 1, "sku": "TEA-LJ-250", "quantity": 3, "price": "3740",
                                       "total_discount": "0", "discount_allocations": [],
                                       "tax_lines": [{"price": "1018"}]}]))
    assert (yen.currency, yen.paid_total, yen.items_total, yen.shipping_fee, yen.lines[0].unit_price) == (
        "JPY", 11200, 11220, 800, 3740)
    euro = map_order(order(currency="EUR", total_price="22.91"))
    assert (euro.currency, euro.paid_total) == ("EUR", 2291)


def test_cash_on_delivery_is_payable_and_unpaid():
    o = map_order(order(financial_status="pending", gateway="Cash on Delivery (COD)",
                        payment_gateway_names=["Cash on Delivery (COD)"]))
    assert (o.status, o.payment_status, o.paid_at) == (NormalizedStatus.PAID, PaymentStatus.COD, None)
    manual = map_order(order(financial_status="pending", gateway="Bank Deposit", payment_gateway_names=["Bank Deposit"]))
    assert (manual.status, manual.payment_status) == (NormalizedStatus.PENDING_PAYMENT, PaymentStatus.UNPAID)


def test_missing_shipping_address_and_guest_checkout():
    o = map_order(order(shipping_address=None, shipping_lines=[], customer=None,
                        total_shipping_price_set=None))
    assert o.receiver.address == "" and o.receiver.country_code == "" and o.shipping_fee == 0
    assert (o.buyer.platform_buyer_id, o.buyer.email) == ("", "ada@example.com")


def test_fulfilment_states_and_tracking():
    shipped = {"id": 1, "status": "success", "tracking_company": "UPS", "tracking_number": "1Z999AA10123456784",
               "tracking_numbers": ["1Z999AA10123456784"], "shipment_status": "in_transit"}
    cancelled = {"id": 2, "status": "cancelled", "tracking_numbers": ["VOID1"], "shipment_status": None}
    o = map_order(order(fulfillment_status="partial", fulfillments=[shipped, cancelled]))
    assert (o.status, o.tracking_numbers) == (NormalizedStatus.PARTIALLY_SHIPPED, ["1Z999AA10123456784"])
    assert map_order(order(fulfillment_status="fulfilled", fulfillments=[shipped])).status is NormalizedStatus.SHIPPED
    delivered = {**shipped, "shipment_status": "delivered"}
    assert map_order(order(fulfillment_status="fulfilled", fulfillments=[delivered])).status is NormalizedStatus.DELIVERED
    closed = map_order(order(fulfillment_status="fulfilled", fulfillments=[delivered],
                             closed_at="2024-05-20T08:00:00-04:00"))
    assert (closed.status, closed.platform_status) == (NormalizedStatus.COMPLETED, "closed/paid/fulfilled")


def test_legacy_total_discount_used_without_allocations():
    payload = order()
    payload["line_items"][0].update(discount_allocations=[], total_discount="5.00")
    assert map_order(payload).lines[0].discount == 500


def test_unmappable_payload_is_kept_with_the_reason():
    bad = order(created_at=None)
    fetched = to_fetched(bad)
    assert (fetched.external_id, fetched.order, fetched.raw) == ("5123456789012", None, bad)
    assert "created_at" in fetched.error
    amount = to_fetched(order(total_price="12,50"))
    assert amount.order is None and "not a number" in amount.error


# -- webhooks ------------------------------------------------------------------------------
@pytest.fixture
def connector():
    return CONNECTOR({"shop_domain": "oms-demo.myshopify.com"}, {"client_secret": SECRET}, httpx.AsyncClient())


def signed(body: bytes, topic: str = "orders/create", secret: str = SECRET) -> dict:
    digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return {"X-Shopify-Topic": topic, "X-Shopify-Hmac-Sha256": digest, "X-Shopify-Shop-Domain": "oms-demo.myshopify.com",
            "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043", "X-Shopify-API-Version": "2025-01"}


def test_webhook_signature_checks_raw_body_secret_and_any_header_case(connector):
    body = json.dumps(order()).encode()
    headers = signed(body)
    assert connector.verify_webhook(headers, body)
    assert connector.verify_webhook({k.lower(): v for k, v in headers.items()}, body)
    assert connector.verify_webhook({k.upper(): v for k, v in headers.items()}, body)
    assert not connector.verify_webhook(headers, body.replace(b"77.25", b"0.01"))
    assert not connector.verify_webhook(signed(body, secret="someone else"), body)
    assert not connector.verify_webhook({"X-Shopify-Topic": "orders/create"}, body)
    unconfigured = CONNECTOR({}, {}, connector.http)
    assert not unconfigured.verify_webhook(headers, body)


def test_order_webhook_parses_into_the_mapped_order(connector):
    body = json.dumps(order()).encode()
    event = connector.parse_webhook({k.lower(): v for k, v in signed(body, "orders/updated").items()}, body)
    assert (event.event_id, event.topic) == ("b54557e4-bdd9-4b37-8a5f-bf7d70bcd043", "orders/updated")
    assert event.orders[0].order.external_id == "5123456789012"


def test_refund_webhook_asks_for_a_refetch_of_its_order(connector):
    refund = {"id": 9001, "order_id": 5_123_456_789_012, "created_at": "2024-05-08T10:00:00-04:00",
              "refund_line_items": [], "transactions": [{"kind": "refund", "status": "success", "amount": "5.00"}]}
    body = json.dumps(refund).encode()
    event = connector.parse_webhook(signed(body, "refunds/create"), body)
    [stub] = event.orders
    assert (stub.external_id, stub.order, stub.error, stub.raw) == ("5123456789012", None, None, refund)


def test_malformed_webhook_bodies_raise_with_a_reason(connector):
    with pytest.raises(ConnectorError, match="not valid JSON"):
        connector.parse_webhook(signed(b"{not json"), b"{not json")
    with pytest.raises(ConnectorError, match="X-Shopify-Topic"):
        connector.parse_webhook({}, b"{}")
    with pytest.raises(ConnectorError, match="without order_id"):
        connector.parse_webhook(signed(b"{}", "refunds/create"), b"{}")
    with pytest.raises(ConnectorError, match="without id"):
        connector.parse_webhook({"X-Shopify-Topic": "orders/create"}, json.dumps(order(id=None)).encode())
    with pytest.raises(ConnectorError, match="not a JSON object"):
        connector.parse_webhook({"X-Shopify-Topic": "orders/create"}, b"[1, 2]")


def test_webhook_without_id_header_falls_back_to_the_body_digest(connector):
    body = json.dumps(order()).encode()
    event = connector.parse_webhook({"X-Shopify-Topic": "orders/create"}, body)
    assert event.event_id == hashlib.sha256(body).hexdigest()


def test_order_webhook_that_does_not_map_keeps_the_payload(connector):
    payload = copy.deepcopy(order(currency=None, presentment_currency=None))
    body = json.dumps(payload).encode()
    [fetched] = connector.parse_webhook(signed(body), body).orders
    assert fetched.order is None and "currency" in fetched.error and fetched.raw == payload
