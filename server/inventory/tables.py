"""Piccolo view of the inventory tables (schema of record: migrations/oms_2026_11_22t07_…).

Writes go through server.inventory services only: stock_level changes always come with a
stock_movement in the same transaction, and the movement ledger is append-only (trigger).
"""
from piccolo.columns import BigInt, BigSerial, Boolean, DoublePrecision, Integer, Text, Timestamptz
from piccolo.table import Table


class Warehouse(Table, tablename="warehouse"):
    id = BigSerial(primary_key=True)
    merchant_id = BigInt()
    code = Text()
    name = Text()
    country_code = Text(default="")
    province = Text(default="")
    city = Text(default="")
    district = Text(default="")
    address = Text(default="")
    postcode = Text(default="")
    region_code = Text(default="")
    latitude = DoublePrecision(null=True, default=None)
    longitude = DoublePrecision(null=True, default=None)
    priority = Integer(default=0)
    active = Boolean(default=True)
    serves_all_channels = Boolean(default=True)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class WarehouseChannel(Table, tablename="warehouse_channel"):
    """A channel a warehouse serves (when it does not serve all). The real key is
    (warehouse_id, channel_id); warehouse_id stands in as Piccolo's one primary key: query with
    explicit where clauses, never save()."""

    warehouse_id = BigInt(primary_key=True)
    channel_id = BigInt()
    merchant_id = BigInt()


class StockLevel(Table, tablename="stock_level"):
    """Warehouse × SKU. The database refuses reserved > on_hand or anything negative (I1)."""

    id = BigSerial(primary_key=True)
    merchant_id = BigInt()
    warehouse_id = BigInt()
    sku_id = BigInt()
    on_hand = Integer(default=0)
    reserved = Integer(default=0)
    incoming = Integer(default=0)
    updated_at = Timestamptz()


class StockMovement(Table, tablename="stock_movement"):
    """The append-only ledger: each row changes on_hand and/or reserved of one stock level (I2)."""

    id = BigSerial(primary_key=True)
    merchant_id = BigInt()
    stock_level_id = BigInt()
    warehouse_id = BigInt()
    sku_id = BigInt()
    kind = Text()
    on_hand_delta = Integer(default=0)
    reserved_delta = Integer(default=0)
    reason = Text(default="")
    reference = Text(default="")
    order_id = BigInt(null=True, default=None)
    order_line_id = BigInt(null=True, default=None)
    actor_label = Text(default="")
    at = Timestamptz()


class Reservation(Table, tablename="reservation"):
    """Stock held for one order line (a kit line: one row per component) in one warehouse."""

    id = BigSerial(primary_key=True)
    merchant_id = BigInt()
    order_id = BigInt()
    order_line_id = BigInt()
    sku_id = BigInt()
    warehouse_id = BigInt()
    stock_level_id = BigInt()
    quantity = Integer()
    status = Text(default="reserved")
    created_at = Timestamptz()
    updated_at = Timestamptz()
