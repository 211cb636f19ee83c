"""Piccolo view of the channel stock sync tables (schema of record: migrations/oms_2026_12_02t02_…).

Writes go through server.inventory.channel_stock only: policies by the policy service, push marks by
the ledger hook, push state by the push job.
"""
from piccolo.columns import Array, BigInt, BigSerial, Boolean, Integer, Text, Timestamptz
from piccolo.table import Table


class ChannelStockPolicy(Table, tablename="channel_stock_policy"):
    """How much of the stock a channel (listing_id NULL) or one listing (an override) may sell."""

    id = BigSerial(primary_key=True)
    merchant_id = BigInt()
    channel_id = BigInt()
    listing_id = BigInt(null=True, default=None)
    mode = Text(default="pool")                 # pool | percent | quota
    percent = Integer(default=100)
    quota = Integer(default=0)
    buffer = Integer(default=0)                 # units held back
    max_listed = Integer(null=True, default=None)
    zero_at = Integer(default=0)                # list zero when available <= zero_at
    warehouse_ids = Array(base_column=BigInt(), null=True, default=None)   # NULL: all eligible
    created_at = Timestamptz()
    updated_at = Timestamptz()


class StockPushMark(Table, tablename="stock_push_mark"):
    """Insert-only: "this listing's available stock changed" (consumed by the channel's push job)."""

    id = BigSerial(primary_key=True)
    merchant_id = BigInt()
    channel_id = BigInt()
    listing_id = BigInt()
    at = Timestamptz()


class ListingStockPush(Table, tablename="listing_stock_push"):
    """The push state of one listing: pending (dirty) or last result, visible on the stock page."""

    listing_id = BigInt(primary_key=True)
    merchant_id = BigInt()
    channel_id = BigInt()
    dirty = Boolean(default=False)
    version = BigInt(default=0)
    desired_qty = Integer(null=True, default=None)
    last_pushed_qty = Integer(null=True, default=None)
    last_pushed_at = Timestamptz(null=True, default=None)
    last_attempt_at = Timestamptz(null=True, default=None)
    last_result = Text(default="")
    last_error = Text(default="")
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(null=True, default=None)
    updated_at = Timestamptz()
