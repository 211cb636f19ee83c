"""Piccolo view of the transfer tables (schema of record: migrations/oms_2026_12_02t01_…; the
idempotency key: migrations/oms_2026_12_02t06_…).

Written by server.inventory.transfers only: the status through its transition table, the stock
effects through the ledger.
"""
from piccolo.columns import JSONB, BigInt, BigSerial, Boolean, Integer, Text, Timestamptz
from piccolo.table import Table


class TransferOrder(Table, tablename="transfer_order"):
    id = BigSerial(primary_key=True)
    merchant_id = BigInt()
    from_warehouse_id = BigInt()
    to_warehouse_id = BigInt()
    status = Text(default="draft")
    reference = Text(default="")
    note = Text(default="")
    suggested = Boolean(default=False)
    created_by = Text(default="")
    idempotency_key = Text(default="")
    shipped_at = Timestamptz(null=True, default=None)
    received_at = Timestamptz(null=True, default=None)
    cancelled_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class TransferLine(Table, tablename="transfer_line"):
    id = BigSerial(primary_key=True)
    merchant_id = BigInt()
    transfer_id = BigInt()
    line_no = Integer()
    sku_id = BigInt()
    quantity = Integer()
    shipped_quantity = Integer(default=0)
    received_quantity = Integer(default=0)
    returned_quantity = Integer(default=0)


class TransferEvent(Table, tablename="transfer_event"):
    """The transfer's timeline: every status change and every receipt."""

    id = BigSerial(primary_key=True)
    merchant_id = BigInt()
    transfer_id = BigInt()
    kind = Text()
    from_status = Text(default="")
    to_status = Text(default="")
    actor_label = Text(default="")
    message = Text(default="")
    data = JSONB(default="{}")
    at = Timestamptz()
