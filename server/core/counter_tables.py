"""Piccolo view of merchant_counter: per-merchant named sequences (order numbers, ...)."""
from piccolo.columns import BigInt, Text
from piccolo.table import Table


class MerchantCounter(Table, tablename="merchant_counter"):
    """The real key is (merchant_id, name); Piccolo needs one primary-key column, so merchant_id
    stands in: query with explicit where clauses, never save()."""

    merchant_id = BigInt(primary_key=True)
    name = Text()
    value = BigInt(default=0)
