"""Piccolo view of the order tables: orders, lines, timeline, notes, live status counts, saved views.

Schema of record: the SQL migration. Money columns are integer minor units in the order's currency;
`status` changes go through server.orders.status only.
"""
from piccolo.columns import (
    JSONB,
    Array,
    BigInt,
    BigSerial,
    Boolean,
    Char,
    DoublePrecision,
    Integer,
    Text,
    Timestamptz,
)
from piccolo.table import Table


class SalesOrder(Table, tablename="sales_order"):
    id = BigSerial(primary_key=True)
    merchant_id = BigInt()
    channel_id = BigInt()
    external_id = Text()
    order_number = Text()
    platform_order_number = Text(default="")
    status = Text()
    payment_status = Text()
    platform_status = Text(default="")
    hold_reasons = Array(base_column=Text(), default=list)
    tags = Array(base_column=Text(), default=list)
    customer_id = BigInt(null=True, default=None)
    is_returning = Boolean(default=False)
    buyer_name = Text(default="")
    buyer_platform_id = Text(default="")
    buyer_email = Text(default="")
    receiver_name = Text(default="")
    receiver_phone = Text(default="")
    phone_tail = Text(default="")
    country_code = Text(default="")
    province = Text(default="")
    city = Text(default="")
    district = Text(default="")
    town = Text(default="")
    address = Text(default="")
    postcode = Text(default="")
    region_code = Text(default="")
    latitude = DoublePrecision(null=True, default=None)
    longitude = DoublePrecision(null=True, default=None)
    receiver_masked = Boolean(default=False)
    receiver_edited = Boolean(default=False)
    buyer_note = Text(default="")
    seller_note = Text(default="")
    currency = Char(length=3)
    items_total = BigInt(default=0)
    shipping_fee = BigInt(default=0)
    discount_total = BigInt(default=0)
    tax_total = BigInt(default=0)
    total = BigInt(default=0)
    refunded_total = BigInt(default=0)
    placed_at = Timestamptz()
    paid_at = Timestamptz(null=True, default=None)
    cancelled_at = Timestamptz(null=True, default=None)
    ship_by = Timestamptz(null=True, default=None)
    platform_updated_at = Timestamptz(null=True, default=None)
    fulfilled_by_platform = Boolean(default=False)
    priority = Integer(default=0)
    sku_codes = Array(base_column=Text(), default=list)
    line_count = Integer(default=0)
    idempotency_key = Text(null=True, default=None)
    source = Text(default="pull")
    version = Integer(default=1)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class OrderLine(Table, tablename="order_line"):
    id = BigSerial(primary_key=True)
    order_id = BigInt()
    merchant_id = BigInt()
    line_no = Integer()
    external_line_id = Text(default="")
    sku_id = BigInt(null=True, default=None)     # null: unmatched platform SKU (order held)
    sku_code = Text(default="")
    platform_product_id = Text(default="")
    platform_sku_id = Text(default="")
    title = Text(default="")
    spec = Text(default="")
    quantity = Integer()
    unit_price = BigInt(default=0)
    discount = BigInt(default=0)
    tax = BigInt(default=0)
    refunded_quantity = Integer(default=0)
    refund_status = Text(default="")


class OrderEvent(Table, tablename="order_event"):
    """The order's timeline (append-only by convention; written by the status machine and services)."""

    id = BigSerial(primary_key=True)
    order_id = BigInt()
    merchant_id = BigInt()
    at = Timestamptz()
    kind = Text()
    from_status = Text(default="")
    to_status = Text(default="")
    actor_label = Text(default="")
    message = Text(default="")
    data = JSONB(default="{}")


class OrderNote(Table, tablename="order_note"):
    id = BigSerial(primary_key=True)
    order_id = BigInt()
    merchant_id = BigInt()
    author_label = Text()
    body = Text()
    created_at = Timestamptz()


class OrderStatusCount(Table, tablename="order_status_count"):
    """Order count deltas per status, appended by statement-level triggers on sales_order and folded
    by `queries.compact_status_counts`: sum them to read."""

    id = BigSerial(primary_key=True)
    merchant_id = BigInt()
    status = Text()
    count = BigInt(default=0)


class SavedView(Table, tablename="saved_view"):
    id = BigSerial(primary_key=True)
    merchant_id = BigInt()
    user_id = BigInt()
    area = Text()
    name = Text()
    query = JSONB(default="{}")
    created_at = Timestamptz()
