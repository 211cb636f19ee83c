"""Piccolo view of the stock alert tables (schema of record: migrations/oms_2026_12_02t03_…).

Written only by server.inventory.alerts: rules by staff and partners, alerts by the evaluation
(one unresolved alert per rule x SKU x warehouse, enforced by a unique partial index).
"""
from piccolo.columns import Array, BigInt, BigSerial, Boolean, DoublePrecision, Integer, Text, Timestamptz
from piccolo.table import Table


class StockAlertRule(Table, tablename="stock_alert_rule"):
    id = BigSerial(primary_key=True)
    merchant_id = BigInt()
    name = Text(default="")
    sku_id = BigInt(null=True, default=None)
    category = Text(null=True, default=None)
    warehouse_id = BigInt(null=True, default=None)      # None: all warehouses (total available)
    kind = Text()                                       # threshold | days_of_cover
    threshold = Integer(null=True, default=None)
    cover_days = DoublePrecision(null=True, default=None)
    demand_days = Integer(default=14)
    recipients = Array(base_column=Text())
    active = Boolean(default=True)
    created_by_id = BigInt(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class StockAlert(Table, tablename="stock_alert"):
    id = BigSerial(primary_key=True)
    merchant_id = BigInt()
    rule_id = BigInt(null=True, default=None)
    rule_name = Text(default="")
    kind = Text()
    sku_id = BigInt()
    warehouse_id = BigInt(null=True, default=None)
    threshold = Integer(null=True, default=None)
    cover_days = DoublePrecision(null=True, default=None)
    available = Integer()
    daily_demand = DoublePrecision(default=0)
    days_of_cover = DoublePrecision(null=True, default=None)
    status = Text(default="open")                       # open | acknowledged | resolved
    opened_at = Timestamptz()
    acknowledged_at = Timestamptz(null=True, default=None)
    acknowledged_by = Text(default="")
    resolved_at = Timestamptz(null=True, default=None)
    resolved_available = Integer(null=True, default=None)
    notified_at = Timestamptz(null=True, default=None)
