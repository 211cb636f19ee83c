"""Piccolo view of the catalogue tables (schema of record: migrations/oms_2026_11_22t06_…).

Foreign keys are plain BigInt columns, as in the other domains: the constraints and their ON DELETE
rules live in the SQL migration, and the service layer joins explicitly.
"""
from piccolo.columns import BigInt, BigSerial, Boolean, Char, Integer, Text, Timestamptz
from piccolo.table import Table


class Product(Table, tablename="product"):
    id = BigSerial(primary_key=True)
    merchant_id = BigInt()
    name = Text()
    category = Text(default="")
    brand = Text(default="")
    description = Text(default="")
    active = Boolean(default=True)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class Sku(Table, tablename="sku"):
    id = BigSerial(primary_key=True)
    merchant_id = BigInt()
    product_id = BigInt()
    code = Text()
    barcode = Text(default="")
    name = Text()
    spec = Text(default="")
    category = Text(default="")
    weight_g = Integer(default=0)
    cost_minor = BigInt(default=0)
    list_price_minor = BigInt(default=0)
    currency = Char(length=3, default="CNY")
    is_kit = Boolean(default=False)
    active = Boolean(default=True)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class SkuComponent(Table, tablename="sku_component"):
    """A kit's bill of materials. The real key is (kit_sku_id, component_sku_id); Piccolo needs one
    primary-key column, so kit_sku_id stands in: query with explicit where clauses, never save()."""

    kit_sku_id = BigInt(primary_key=True)
    component_sku_id = BigInt()
    quantity = Integer()


class ChannelListing(Table, tablename="channel_listing"):
    """A platform product/SKU on one channel, matched (or not yet) to a merchant SKU."""

    id = BigSerial(primary_key=True)
    merchant_id = BigInt()
    channel_id = BigInt()
    platform_product_id = Text(default="")
    platform_sku_id = Text(default="")
    platform_sku_code = Text(default="")
    title = Text(default="")
    sku_id = BigInt(null=True, default=None)
    match_method = Text(default="")
    created_at = Timestamptz()
    updated_at = Timestamptz()
