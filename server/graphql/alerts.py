"""Stock alerts for partners: alert rules (CRUD), alerts, acknowledgement. Every resolver is a call
into server/inventory/alerts.py.

`sku` and `warehouse` inputs accept the merchant's SKU code and warehouse code as well as ids.
"""
from __future__ import annotations

import enum
from datetime import datetime

import strawberry
from strawberry.types import Info

from server.core.errors import ValidationError
from server.graphql.context import get_actor
from server.graphql.errors import Error, payload
from server.graphql.relay import DEFAULT_FIRST, After, Connection, First, decode_id, encode_id, paginate
from server.inventory import alerts


@strawberry.enum(description="What a rule watches: units available, or days of cover at recent demand.")
class StockAlertRuleKind(enum.Enum):
    THRESHOLD = "threshold"
    DAYS_OF_COVER = "days_of_cover"


@strawberry.enum(description="open: not yet seen; acknowledged: seen, stock still low; resolved: stock "
                             "recovered (or the rule changed or went).")
class StockAlertStatus(enum.Enum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


@strawberry.type(description="A stock alert rule: one SKU or a category, one warehouse or all of them "
                             "(their total available).")
class StockAlertRule:
    id: strawberry.ID
    name: str
    kind: StockAlertRuleKind
    sku: str | None = strawberry.field(description="The watched SKU's code (null for a category rule).")
    category: str | None
    warehouse: str | None = strawberry.field(description="The warehouse's code; null = all warehouses.")
    threshold: int | None = strawberry.field(description="THRESHOLD: alert when available <= this.")
    cover_days: float | None = strawberry.field(description="DAYS_OF_COVER: alert when available / average "
                                                            "daily demand <= this many days.")
    demand_days: int = strawberry.field(description="Days of recent demand averaged (default 14).")
    recipients: list[str] = strawberry.field(description="Mail recipients; empty = the merchant's users who "
                                                         "may adjust stock.")
    active: bool
    alerting: int = strawberry.field(description="Unresolved alerts of this rule now.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, r: dict) -> StockAlertRule:
        return cls(id=encode_id(r["id"]), name=r["name"], kind=StockAlertRuleKind(r["kind"]), sku=r["sku_code"],
                   category=r["category"], warehouse=r["warehouse_code"], threshold=r["threshold"],
                   cover_days=r["cover_days"], demand_days=r["demand_days"], recipients=list(r["recipients"]),
                   active=r["active"], alerting=int(r["alerting"] or 0), created_at=r["created_at"],
                   updated_at=r["updated_at"])


@strawberry.type(description="One crossing of a rule by one SKU in one warehouse (or all): opened once, "
                             "mailed once, resolved when stock recovers.")
class StockAlert:
    id: strawberry.ID
    status: StockAlertStatus
    kind: StockAlertRuleKind
    rule_id: strawberry.ID | None = strawberry.field(description="Null when the rule was deleted.")
    rule_name: str
    sku: str
    sku_name: str
    warehouse: str | None = strawberry.field(description="The warehouse's code; null = all warehouses.")
    available: int = strawberry.field(description="Units available when the alert opened.")
    available_now: int = strawberry.field(description="Units available now (same warehouse scope).")
    threshold: int | None
    cover_days: float | None
    daily_demand: float
    days_of_cover: float | None
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str
    resolved_at: datetime | None

    @classmethod
    def from_row(cls, r: dict) -> StockAlert:
        return cls(id=encode_id(r["id"]), status=StockAlertStatus(r["status"]), kind=StockAlertRuleKind(r["kind"]),
                   rule_id=encode_id(r["rule_id"]) if r["rule_id"] else None, rule_name=r["rule_name"],
                   sku=r["sku_code"], sku_name=r["sku_name"], warehouse=r["warehouse_code"], available=r["available"],
                   available_now=r["available_now"],
                   threshold=r["threshold"], cover_days=r["cover_days"], daily_demand=r["daily_demand"] or 0,
                   days_of_cover=r["days_of_cover"], opened_at=r["opened_at"], acknowledged_at=r["acknowledged_at"],
                   acknowledged_by=r["acknowledged_by"], resolved_at=r["resolved_at"])


@strawberry.input
class StockAlertFilterInput:
    status: StockAlertStatus | None = None
    sku: str | None = strawberry.field(default=None, description="Part of the SKU code or name.")


@strawberry.input(description="Give `sku` or `category`; `threshold` for THRESHOLD, `coverDays` for "
                              "DAYS_OF_COVER. On update, omitted fields stay as they are.")
class StockAlertRuleInput:
    name: str | None = None
    kind: StockAlertRuleKind | None = None
    sku: str | None = strawberry.field(default=None, description="SKU code or id.")
    category: str | None = None
    warehouse: str | None = strawberry.field(default=None, description="Warehouse code or id; empty string = "
                                                                       "all warehouses.")
    threshold: int | None = None
    cover_days: float | None = None
    demand_days: int | None = None
    recipients: list[str] | None = None
    active: bool | None = None


@strawberry.type
class StockAlertRulePayload:
    stock_alert_rule: StockAlertRule | None = None
    errors: list[Error] = strawberry.field(default_factory=list)


@strawberry.type
class StockAlertRuleDeletePayload:
    stock_alert_rule: StockAlertRule | None = None
    errors: list[Error] = strawberry.field(default_factory=list)


@strawberry.type
class StockAlertAcknowledgePayload:
    stock_alerts: list[StockAlert] = strawberry.field(default_factory=list)
    errors: list[Error] = strawberry.field(default_factory=list)


def _data(input: StockAlertRuleInput, *, create: bool) -> dict:
    data = {"name": input.name, "kind": input.kind.value if input.kind else None, "threshold": input.threshold,
            "cover_days": input.cover_days, "demand_days": input.demand_days, "recipients": input.recipients,
            "active": input.active}
    if input.sku is not None or input.category is not None or create:
        data["sku"], data["category"] = input.sku or "", input.category or ""
    if input.warehouse is not None or create:
        data["warehouse"] = input.warehouse or ""
    return {k: v for k, v in data.items() if v is not None}


@strawberry.type
class Query:
    @strawberry.field(description="Stock alert rules, oldest first. Needs `inventory.view`.")
    async def stock_alert_rules(self, info: Info, first: First = DEFAULT_FIRST,
                                after: After = None) -> Connection[StockAlertRule] | None:
        return await paginate(alerts.list_rules, StockAlertRule.from_row, get_actor(info), first=first, after=after)

    @strawberry.field(description="Stock alerts, newest first. Needs `inventory.view`.")
    async def stock_alerts(self, info: Info, filter: StockAlertFilterInput | None = None, first: First = DEFAULT_FIRST,
                           after: After = None) -> Connection[StockAlert] | None:
        f = filter or StockAlertFilterInput()
        return await paginate(alerts.list_alerts, StockAlert.from_row, get_actor(info), first=first, after=after,
                              status=f.status.value if f.status else None, sku=(f.sku or "").strip() or None)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Create a stock alert rule; SKUs already below it alert at once. "
                                     "Needs `inventory.manage`.")
    @payload(StockAlertRulePayload)
    async def stock_alert_rule_create(self, info: Info, input: StockAlertRuleInput) -> StockAlertRulePayload:
        if input.kind is None:
            raise ValidationError("kind is required", code="required", field="kind")
        rule = await alerts.create_rule(get_actor(info), _data(input, create=True))
        return StockAlertRulePayload(stock_alert_rule=StockAlertRule.from_row(rule))

    @strawberry.mutation(description="Change a stock alert rule (re-evaluated at once). Needs `inventory.manage`.")
    @payload(StockAlertRulePayload)
    async def stock_alert_rule_update(self, info: Info, id: strawberry.ID,
                                      input: StockAlertRuleInput) -> StockAlertRulePayload:
        rule = await alerts.update_rule(get_actor(info), decode_id(id), _data(input, create=False))
        return StockAlertRulePayload(stock_alert_rule=StockAlertRule.from_row(rule))

    @strawberry.mutation(description="Delete a stock alert rule; its unresolved alerts resolve. Needs "
                                     "`inventory.manage`.")
    @payload(StockAlertRuleDeletePayload)
    async def stock_alert_rule_delete(self, info: Info, id: strawberry.ID) -> StockAlertRuleDeletePayload:
        rule = await alerts.delete_rule(get_actor(info), decode_id(id))
        return StockAlertRuleDeletePayload(stock_alert_rule=StockAlertRule.from_row(rule))

    @strawberry.mutation(description="Acknowledge open alerts (they stay unresolved until stock recovers). "
                                     "Needs `inventory.adjust`.")
    @payload(StockAlertAcknowledgePayload)
    async def stock_alert_acknowledge(self, info: Info, ids: list[strawberry.ID]) -> StockAlertAcknowledgePayload:
        rows = await alerts.acknowledge(get_actor(info), [decode_id(i, field="ids") for i in ids])
        return StockAlertAcknowledgePayload(stock_alerts=[StockAlert.from_row(r) for r in rows])
