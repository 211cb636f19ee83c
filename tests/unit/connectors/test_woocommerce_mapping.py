"""WooCommerce order JSON -> NormalizedOrder, and webhook signatures, on payloads in the REST v3 shape."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime

import httpx
import pytest

from server.channels.connectors.base import ConnectorError, NormalizedStatus, PaymentStatus
from server.channels.connectors.woocommerce import CONNECTOR
from server.channels.connectors.woocommerce.mapping import map_order, to_fetched

SECRET = "wc_unit_test_secret"


def order(**overrides) -> dict:
    """A processing order from a London shop: site-local times are BST (UTC+1), *_gmt are UTC."""
    base = {
        "id": 727, "parent_id": 0, "number": "727", "order_key": "wc_order_58d2d042d1d", "created_via": "checkout",
        "status": "processing", "currency": "GBP", "prices_include_tax": False,
        "date_created": "2024-05-07T10:20:39", "date_created_gmt": "2024-05-07T09:20:39",
        "date_modified": "2024-05-07T10:25:00", "date_modified_gmt": "2024-05-07T09:25:00",
        "date_paid": "2024-05-07T10:20:45", "date_paid_gmt": "2024-05-07T09:20:45",
        "date_completed": None, "date_completed_gmt": None,
        "discount_total": "2.49", "discount_tax": "0.00", "shipping_total": "3.99", "shipping_tax": "0.00",
        "cart_tax": "7.97", "total": "51.32", "total_tax": "7.97", "customer_id": 26,
        "billing": {"first_name": "Aaron", "last_name": "Pearce", "company": "", "address_1": "17 Jones Light",
                    "address_2": "", "city": "North Holly", "state": "Cambridgeshire", "postcode": "S6 7LJ",
                    "country": "GB", "email": "aaron.pearce@example.co.uk", "phone": "+44 20 7496 0150"},
        "shipping": {"first_name": "Aaron", "last_name": "Pearce", "company": "", "address_1": "17 Jones Light",
                     "address_2": "Flat 2", "city": "North Holly", "state": "Cambridgeshire", "postcode": "S6 7LJ",
                     "country": "GB", "phone": ""},
        "payment_method": "stripe", "payment_method_title": "Credit Card (Stripe)", "transaction_id": "ch_1",
        "customer_note": "Ring twice, the bell is quiet.", "meta_data": [],
        "line_items": [
            {"id": 315, "name": "Longjing 250g", "product_id": 101, "variation_id": 111, "quantity": 2,
             "tax_class": "", "subtotal": "39.40", "subtotal_tax": "7.88", "total": "39.40", "total_tax": "7.88",
             "taxes": [{"id": 1, "total": "7.88", "subtotal": "7.88"}], "sku": "TEA-LJ-250", "price": 19.7,
             "meta_data": [{"id": 1, "key": "pa_weight", "value": "250g", "display_key": "Weight",
                            "display_value": "250g"}, {"id": 2, "key": "_reduced_stock", "value": "2"}]},
            {"id": 316, "name": "Stainless tea strainer", "product_id": 127, "variation_id": 0, "quantity": 3,
             "tax_class": "", "subtotal": "5.94", "subtotal_tax": "1.19", "total": "3.45", "total_tax": "0.09",
             "taxes": [], "sku": "FLT-SS-02", "price": 1.15, "meta_data": []},
        ],
        "shipping_lines": [{"id": 317, "method_title": "Flat rate", "method_id": "flat_rate", "total": "3.99"}],
        "coupon_lines": [{"id": 318, "code": "welcome10", "discount": "2.49"}], "fee_lines": [], "refunds": [],
    }
    base.update(overrides)
    return base


def test_processing_order_maps_gmt_times_lines_buyer_and_receiver():
    o = map_order(order())
    assert (o.external_id, o.order_number, o.currency, o.platform_status) == ("727", "727", "GBP", "processing")
    assert (o.status, o.payment_status) == (NormalizedStatus.PAID, PaymentStatus.PAID)
    assert o.placed_at == datetime(2024, 5, 7, 9, 20, 39, tzinfo=UTC)
    assert o.updated_at == datetime(2024, 5, 7, 9, 25, tzinfo=UTC)
    assert o.paid_at == datetime(2024, 5, 7, 9, 20, 45, tzinfo=UTC)
    assert (o.items_total, o.discount_total, o.shipping_fee, o.tax_total, o.paid_total) == (4534, 249, 399, 797, 5132)
    tea, strainer = o.lines
    assert (tea.platform_product_id, tea.platform_sku_id, tea.sku_code, tea.spec) == ("101", "111", "TEA-LJ-250", "250g")
    assert (tea.unit_price, tea.discount, tea.tax, tea.quantity) == (1970, 0, 788, 2)
    # unit price before the coupon (subtotal / qty), discount = subtotal - total
    assert (strainer.platform_sku_id, strainer.unit_price, strainer.discount, strainer.total) == ("127", 198, 249, 345)
    assert (o.buyer.platform_buyer_id, o.buyer.name, o.buyer.email, o.buyer.phone) == (
        "26", "Aaron Pearce", "aaron.pearce@example.co.uk", "+44 20 7496 0150")
    r = o.receiver
    assert (r.name, r.phone, r.country_code, r.province, r.city, r.district, r.address, r.postcode) == (
        "Aaron Pearce", "+44 20 7496 0150", "GB", "Cambridgeshire", "North Holly", "", "17 Jones Light, Flat 2",
        "S6 7LJ")
    assert o.buyer_note == "Ring twice, the bell is quiet."


@pytest.mark.parametrize(("status", "paid", "expected"), [
    ("pending", None, (NormalizedStatus.PENDING_PAYMENT, PaymentStatus.UNPAID)),
    ("on-hold", None, (NormalizedStatus.PENDING_PAYMENT, PaymentStatus.UNPAID)),
    ("failed", None, (NormalizedStatus.PENDING_PAYMENT, PaymentStatus.UNPAID)),
    ("processing", "2024-05-07T09:20:45", (NormalizedStatus.PAID, PaymentStatus.PAID)),
    ("completed", "2024-05-07T09:20:45", (NormalizedStatus.COMPLETED, PaymentStatus.PAID)),
    ("cancelled", None, (NormalizedStatus.CANCELLED, PaymentStatus.UNPAID)),
    ("trash", None, (NormalizedStatus.CANCELLED, PaymentStatus.UNPAID)),
    ("shipped", "2024-05-07T09:20:45", (NormalizedStatus.SHIPPED, PaymentStatus.PAID)),
    ("awaiting-pickup", "2024-05-07T09:20:45", (NormalizedStatus.PAID, PaymentStatus.PAID)),
])
def test_status_table(status, paid, expected):
    o = map_order(order(status=status, date_paid_gmt=paid, date_paid=paid))
    assert (o.status, o.payment_status) == expected
    assert o.platform_status == status


def test_partial_refund_uses_refund_totals():
    o = map_order(order(refunds=[{"id": 730, "reason": "broken lid", "total": "-5.00"},
                                 {"id": 731, "reason": "", "total": "-1.15"}]))
    assert (o.status, o.payment_status, o.refunded_total) == (NormalizedStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED, 615)


def test_full_refund_and_cancellation_after_payment():
    refunded = map_order(order(status="refunded", refunds=[{"id": 730, "total": "-51.32"}]))
    assert (refunded.status, refunded.payment_status, refunded.refunded_total) == (
        NormalizedStatus.CANCELLED, PaymentStatus.REFUNDED, 5132)
    cancelled = map_order(order(status="cancelled", date_modified_gmt="2024-05-08T12:00:00"))
    # paid, then cancelled, money not returned yet: the order service must see it is still owed
    assert (cancelled.status, cancelled.payment_status) == (NormalizedStatus.CANCELLED, PaymentStatus.PAID)
    assert cancelled.cancelled_at == datetime(2024, 5, 8, 12, 0, tzinfo=UTC)


def test_cash_on_delivery():
    cod = map_order(order(payment_method="cod", payment_method_title="Cash on delivery", date_paid=None,
                          date_paid_gmt=None))
    assert (cod.status, cod.payment_status, cod.paid_at) == (NormalizedStatus.PAID, PaymentStatus.COD, None)
    collected = map_order(order(status="completed", payment_method="cod", date_paid_gmt="2024-05-09T16:00:00"))
    assert (collected.status, collected.payment_status) == (NormalizedStatus.COMPLETED, PaymentStatus.PAID)


def test_zero_priced_gift_line_is_kept():
    payload = order()
    payload["line_items"].append({"id": 319, "name": "Jingdezhen ceramic cup", "product_id": 122, "variation_id": 0,
                                  "quantity": 1, "subtotal": "0.00", "total": "0.00", "total_tax": "0.00",
                                  "sku": "CUP-CER-01", "price": 0, "meta_data": []})
    gift = map_order(payload).lines[-1]
    assert (gift.sku_code, gift.unit_price, gift.discount, gift.total) == ("CUP-CER-01", 0, 0, 0)


def test_yen_and_euro_amounts():
    yen = map_order(order(currency="JPY", total="8270", total_tax="0", discount_total="0", shipping_total="800",
                          line_items=[{"id": 1, "product_id": 124, "variation_id": 0, "quantity": 2,
                                       "subtotal": "7470", "total": "7470", "total_tax": "0", "sku": "POT-YX-300",
                                       "price": 3735}]))
    assert (yen.paid_total, yen.shipping_fee, yen.lines[0].unit_price, yen.items_total) == (8270, 800, 3735, 7470)
    assert map_order(order(currency="EUR", total="22.91")).paid_total == 2291


def test_guest_checkout_and_virtual_goods():
    o = map_order(order(customer_id=0, shipping={"first_name": "", "last_name": "", "company": "", "address_1": "",
                                                 "address_2": "", "city": "", "state": "", "postcode": "",
                                                 "country": "", "phone": ""}))
    assert (o.buyer.platform_buyer_id, o.buyer.email) == ("", "aaron.pearce@example.co.uk")
    assert o.receiver.address == "" and o.receiver.name == "" and o.receiver.country_code == ""


def test_tracking_numbers_from_shipment_tracking_meta():
    o = map_order(order(status="completed", meta_data=[{"id": 9, "key": "_wc_shipment_tracking_items", "value": [
        {"tracking_provider": "Royal Mail", "tracking_number": "JD014600003828374", "date_shipped": "1715250000"}]}]))
    assert o.tracking_numbers == ["JD014600003828374"]


def test_unmappable_payload_is_kept_with_the_reason():
    bad = order(date_created_gmt=None)
    fetched = to_fetched(bad)
    assert (fetched.external_id, fetched.order, fetched.raw) == ("727", None, bad)
    assert "date_created_gmt" in fetched.error
    assert "not a number" in to_fetched(order(total="n/a")).error


# -- webhooks ------------------------------------------------------------------------------
@pytest.fixture
def connector():
    return CONNECTOR({"site_url": "https://tea.example"}, {"webhook_secret": SECRET}, httpx.AsyncClient())


def signed(body: bytes, topic: str = "order.updated", secret: str = SECRET) -> dict:
    digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return {"X-WC-Webhook-Source": "https://tea.example/", "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Resource": topic.split(".")[0], "X-WC-Webhook-Event": topic.split(".")[1],
            "X-WC-Webhook-Signature": digest, "X-WC-Webhook-ID": "31",
            "X-WC-Webhook-Delivery-ID": "a4fe0d5f3c1b8e2d9a7c6b5e4d3c2b1a"}


def wp_json(payload: dict) -> bytes:
    """wp_json_encode escapes slashes; the signature covers those exact bytes."""
    return json.dumps(payload).replace("/", "\\/").encode()


def test_webhook_signature_checks_raw_body_secret_and_any_header_case(connector):
    body = wp_json(order(customer_note="see https://tea.example/faq"))
    headers = signed(body)
    assert connector.verify_webhook(headers, body)
    assert connector.verify_webhook({k.lower(): v for k, v in headers.items()}, body)
    assert not connector.verify_webhook(headers, body.replace(b"51.32", b"0.01"))
    assert not connector.verify_webhook(signed(body, secret="not ours"), body)
    assert not connector.verify_webhook({"X-WC-Webhook-Topic": "order.updated"}, body)


def test_order_webhook_parses_and_delivery_ids_stay_distinct(connector):
    body = wp_json(order())
    event = connector.parse_webhook({k.lower(): v for k, v in signed(body).items()}, body)
    assert event.topic == "order.updated" and event.orders[0].order.external_id == "727"
    assert event.event_id.startswith("a4fe0d5f3c1b8e2d9a7c6b5e4d3c2b1a:")
    # the same delivery id (same webhook, same second) on another body is another event
    other = wp_json(order(id=728, number="728"))
    assert connector.parse_webhook(signed(other), other).event_id != event.event_id
    legacy = {**signed(body), "X-WC-Delivery-ID": "legacy-1"}
    del legacy["X-WC-Webhook-Delivery-ID"]
    assert connector.parse_webhook(legacy, body).event_id.startswith("legacy-1:")


def test_ping_on_creation_is_accepted_unsigned_and_parsed_as_ping(connector):
    ping = b"webhook_id=31"
    assert connector.verify_webhook({"content-type": "application/x-www-form-urlencoded"}, ping)
    event = connector.parse_webhook({"User-Agent": "WooCommerce/9.4.2 Hookshot (WordPress/6.7.1)"}, ping)
    assert (event.topic, event.orders) == ("ping", [])
    assert not connector.verify_webhook({}, b"webhook_id=31&total=0.01")
    assert not connector.verify_webhook({"X-WC-Webhook-Signature": "forged"}, ping)


def test_deleted_order_webhook_asks_for_a_refetch(connector):
    body = b'{"id":727}'
    [stub] = connector.parse_webhook(signed(body, "order.deleted"), body).orders
    assert (stub.external_id, stub.order, stub.error, stub.raw) == ("727", None, None, {"id": 727})


def test_malformed_webhook_bodies_raise_with_a_reason(connector):
    with pytest.raises(ConnectorError, match="not valid JSON"):
        connector.parse_webhook(signed(b"{oops"), b"{oops")
    with pytest.raises(ConnectorError, match="X-WC-Webhook-Topic"):
        connector.parse_webhook({}, b"{}")
    with pytest.raises(ConnectorError, match="without id"):
        connector.parse_webhook(signed(b"{}"), b"{}")
    with pytest.raises(ConnectorError, match="not a JSON object"):
        connector.parse_webhook(signed(b'"x"'), b'"x"')
