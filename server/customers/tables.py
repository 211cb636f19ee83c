"""Piccolo view of the customer tables: one buyer across channels, found by their identities."""
from piccolo.columns import BigInt, BigSerial, Char, Integer, Text, Timestamptz
from piccolo.table import Table


class Customer(Table, tablename="customer"):
    id = BigSerial(primary_key=True)
    merchant_id = BigInt()
    name = Text(default="")
    phone = Text(default="")
    email = Text(default="")
    orders_count = Integer(default=0)
    total_spent = BigInt(default=0)
    currency = Char(length=3, default="CNY")
    first_order_at = Timestamptz(null=True, default=None)
    last_order_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()


class CustomerIdentity(Table, tablename="customer_identity"):
    """A normalized phone, email or platform buyer id pointing at a customer. The real key is
    (merchant_id, kind, value); Piccolo needs one primary-key column, so merchant_id stands in:
    query with explicit where clauses, never save()."""

    merchant_id = BigInt(primary_key=True)
    kind = Text()                           # phone | email | platform
    value = Text()
    customer_id = BigInt()
