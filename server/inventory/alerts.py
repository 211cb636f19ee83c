"""Stock alerts (库存预警): rules, one alert per crossing, and the mail that tells the team.

A rule watches one SKU or every SKU of a category, in one warehouse or over all active warehouses
(their total available), and fires on a threshold (available <= N) or on days of cover
(available / average daily demand over the last `demand_days` days <= D; demand is the units of
order lines reserved or shipped in that window — reservations not released).

State per rule x SKU x warehouse is the alert itself: no unresolved alert = ok. Evaluating:
- ok and the condition holds  -> an alert opens and ONE mail job is emitted (outbox);
- alerting and it still holds -> nothing (no new mail, however often it is evaluated);
- alerting and it no longer holds (stock came back, the rule changed or went) -> resolved;
- a later crossing opens a new alert.
Two evaluations at once cannot open two alerts: they serialize on a per-merchant advisory lock, and
the unique partial index `stock_alert_unresolved_key` (ON CONFLICT DO NOTHING) is the last line.

When evaluation runs:
- after stock changes: every stock write (ledger.apply / ledger.record) runs MARK_SQL in its own
  statement: when the merchant has an active rule it emits the coalesced outbox job
  `alerts.evaluate:{merchant}` (due 2 s later). It never waits: the insert is guarded by a
  try-advisory-lock, so concurrent stock writers skip instead of queueing behind each other's
  uncommitted outbox row (the reservation lock rule: after the first stock lock, never wait). That
  job evaluates the SKUs whose levels changed in the last minutes;
- a cron sweep every 5 minutes evaluates everything (days of cover move with time alone, and it
  catches a mark skipped under contention).
"""
from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Any

from server.audit import service as audit
from server.auth import policy
from server.core import db, outbox
from server.core.actor import Actor, system
from server.core.errors import DomainError, ErrorList, NotFound, ValidationError
from server.core.pagination import Page, decode_cursor, encode_cursor

KINDS = ("threshold", "days_of_cover")
STATUSES = ("open", "acknowledged", "resolved")
DEFAULT_DEMAND_DAYS = 14
RECIPIENT_PERMISSION = "inventory.adjust"     # who gets alert mail when a rule names no recipients
EVALUATE_DELAY = 2.0                          # seconds: stock changes within this window coalesce
RECENT = timedelta(minutes=10)                # the after-change evaluation looks at levels changed since
_EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")

# Run in the same transaction as every stock change (see the module doc). $1 = merchant id.
MARK_SQL = f"""INSERT INTO outbox (merchant_id, job_name, job_id, payload, available_at)
       SELECT $1::bigint, 'alerts.evaluate', 'alerts.evaluate:' || $1::bigint,
              jsonb_build_object('merchant_id', $1::bigint), now() + interval '{EVALUATE_DELAY} seconds'
       WHERE EXISTS (SELECT 1 FROM stock_alert_rule WHERE merchant_id = $1::bigint AND active)
         AND pg_try_advisory_xact_lock(hashtextextended('stock-alerts:mark:' || $1::bigint, 0))
       ON CONFLICT (job_id) WHERE enqueued_at IS NULL DO NOTHING"""  # noqa: S608 - constants


async def mark(merchant_id: int) -> None:
    """Stock of this merchant changed (called by the ledger inside the change's transaction)."""
    await db.execute(MARK_SQL, merchant_id)


# -- rules ---------------------------------------------------------------------------------------

def _int(value: Any, field: str, errors: list, *, low: int, high: int | None = None) -> int | None:
    text = str(value).strip() if value is not None else ""
    if isinstance(value, bool) or not re.fullmatch(r"-?\d+", text):
        errors.append(ValidationError(f"{field} must be a whole number", code="invalid", field=field))
        return None
    n = int(text)
    if n < low or (high is not None and n > high):
        limit = f"between {low} and {high}" if high is not None else f"at least {low}"
        errors.append(ValidationError(f"{field} must be {limit}", code="out_of_range", field=field))
        return None
    return n


def _recipients(value: Any, errors: list) -> list[str]:
    items = value if isinstance(value, list | tuple) else re.split(r"[\s,;]+", str(value or ""))
    out = []
    for item in (str(i).strip().lower() for i in items):
        if not item:
            continue
        if not _EMAIL.match(item) or len(item) > 254:
            errors.append(ValidationError(f"{item!r} is not an email address", code="invalid_email",
                                          field="recipients"))
            continue
        if item not in out:
            out.append(item)
    if len(out) > 20:
        errors.append(ValidationError("at most 20 recipients", code="too_many", field="recipients"))
    return out


async def _clean(actor: Actor, data: dict, current: dict | None = None) -> dict:
    """Validate a rule's fields (form strings or API values); every problem at once (ErrorList)."""
    from server.inventory.stock import resolve_skus  # noqa: PLC0415 - stock imports ledger, which imports us
    from server.inventory.warehouses import resolve_warehouse  # noqa: PLC0415

    merged = {**(current or {}), **{k: v for k, v in data.items() if v is not None}}
    errors: list[DomainError] = []
    out: dict[str, Any] = {"name": str(merged.get("name") or "").strip()[:100]}
    kind = str(merged.get("kind") or "").strip()
    if kind not in KINDS:
        errors.append(ValidationError("choose a threshold or days of cover", code="invalid", field="kind"))
    out["kind"] = kind
    sku_ref = str(data.get("sku") or "").strip() if "sku" in data else None
    category = str(data.get("category") or "").strip() if "category" in data else None
    if current is not None and sku_ref is None and category is None:
        out["sku_id"], out["category"] = current["sku_id"], current["category"]
    elif sku_ref and category:
        errors.append(ValidationError("watch either one SKU or a category, not both", code="invalid",
                                      field="sku"))
    elif sku_ref:
        try:
            (sku,) = await resolve_skus(actor, [sku_ref])
        except NotFound as exc:
            errors.append(exc)
        else:
            if sku["is_kit"]:
                errors.append(ValidationError(f"{sku['code']} is a kit: watch its components, the kit's stock "
                                              "follows them", code="kit_not_stocked", field="sku"))
            out["sku_id"], out["category"] = sku["id"], None
    elif category:
        if not await db.fetchval("SELECT 1 FROM sku WHERE merchant_id = $1 AND category = $2 LIMIT 1",
                                 policy.tenant(actor), category):
            errors.append(ValidationError(f"no SKU is in the category {category!r}", code="unknown_category",
                                          field="category"))
        out["sku_id"], out["category"] = None, category
    else:
        errors.append(ValidationError("choose a SKU or a category to watch", code="required", field="sku"))
    if "warehouse" in data:
        ref = str(data.get("warehouse") or "").strip()
        out["warehouse_id"] = None
        if ref:
            try:
                out["warehouse_id"] = (await resolve_warehouse(actor, ref))["id"]
            except NotFound as exc:
                errors.append(exc)
    else:
        out["warehouse_id"] = merged.get("warehouse_id")
    out["threshold"] = out["cover_days"] = None
    if kind == "threshold":
        if merged.get("threshold") in (None, ""):
            errors.append(ValidationError("say at how many units available to alert", code="required",
                                          field="threshold"))
        else:
            out["threshold"] = _int(merged["threshold"], "threshold", errors, low=0, high=10_000_000)
    elif kind == "days_of_cover":
        raw = str(merged.get("cover_days") if merged.get("cover_days") is not None else "").strip()
        try:
            cover = float(raw)
            if not math.isfinite(cover) or cover <= 0 or cover > 3650:
                raise ValueError
            out["cover_days"] = round(cover, 2)
        except ValueError:
            errors.append(ValidationError("days of cover must be a number of days above 0" if raw else
                                          "say at how many days of cover to alert",
                                          code="invalid" if raw else "required", field="cover_days"))
    demand = merged.get("demand_days")
    out["demand_days"] = DEFAULT_DEMAND_DAYS if demand in (None, "") else \
        _int(demand, "demand_days", errors, low=1, high=365)
    out["recipients"] = _recipients(merged.get("recipients"), errors)
    active = merged.get("active", True)
    out["active"] = active if isinstance(active, bool) else str(active).lower() in ("1", "true", "on", "yes")
    if errors:
        raise ErrorList(errors) if len(errors) > 1 else errors[0]
    if not out["name"]:
        out["name"] = ""   # shown as the target and limit (see describe())
    return out


_RULE_SELECT = """SELECT r.*, s.code AS sku_code, s.name AS sku_name, w.code AS warehouse_code,
                         (SELECT count(*) FROM stock_alert a WHERE a.rule_id = r.id AND a.status <> 'resolved')
                             AS alerting
                  FROM stock_alert_rule r LEFT JOIN sku s ON s.id = r.sku_id
                  LEFT JOIN warehouse w ON w.id = r.warehouse_id"""


async def _rule(actor: Actor, rule_id: int, *, lock: bool = False) -> dict:
    row = await db.fetchrow(
        f"{_RULE_SELECT} WHERE r.id = $1 AND r.merchant_id = $2" + (" FOR UPDATE OF r" if lock else ""),
        int(rule_id), policy.tenant(actor))
    if row is None:
        raise NotFound("no such alert rule", code="not_found", field="id")
    return dict(row)


async def get_rule(actor: Actor, rule_id: int) -> dict:
    policy.authorize(actor, "inventory.view")
    return await _rule(actor, rule_id)


async def list_rules(actor: Actor, *, first: int = 50, after: str | None = None) -> Page:
    """The merchant's rules, oldest first (keyset on id), with SKU/warehouse codes and how many of each
    rule's alerts are unresolved."""
    policy.authorize(actor, "inventory.view")
    last = int(decode_cursor(after)[0]) if after else 0
    first = max(1, min(first, 500))
    rows = await db.fetch(f"{_RULE_SELECT} WHERE r.merchant_id = $1 AND r.id > $2 ORDER BY r.id LIMIT $3",
                          policy.tenant(actor), last, first + 1)
    total = await db.fetchval("SELECT count(*) FROM stock_alert_rule WHERE merchant_id = $1", policy.tenant(actor))
    return Page(items=[dict(r) for r in rows[:first]], has_next=len(rows) > first,
                cursor=lambda it: encode_cursor(it["id"]), total=total)


_RULE_FIELDS = ("name", "sku_id", "category", "warehouse_id", "kind", "threshold", "cover_days", "demand_days",
                "recipients", "active")


def _audit_view(rule: dict) -> dict:
    return {k: rule.get(k) for k in _RULE_FIELDS}


async def create_rule(actor: Actor, data: dict) -> dict:
    """A new rule (fields: name, sku | category, warehouse, kind, threshold | cover_days, demand_days,
    recipients, active). It is evaluated at once: SKUs already below it alert now."""
    policy.authorize(actor, "inventory.manage")
    clean = await _clean(actor, data)
    mid = policy.tenant(actor)
    async with db.transaction():
        await _serialize(mid)
        rule_id = await db.fetchval(
            """INSERT INTO stock_alert_rule (merchant_id, name, sku_id, category, warehouse_id, kind, threshold,
                                             cover_days, demand_days, recipients, active, created_by_id)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id""",
            mid, clean["name"], clean["sku_id"], clean["category"], clean["warehouse_id"], clean["kind"],
            clean["threshold"], clean["cover_days"], clean["demand_days"], clean["recipients"], clean["active"],
            actor.user_id if actor.kind == "user" else None)
        await audit.record(actor, "stock_alert_rule.create", "stock_alert_rule", rule_id, after=clean)
        await evaluate(mid, rule_ids=[rule_id])
        return await _rule(actor, rule_id)


async def update_rule(actor: Actor, rule_id: int, data: dict) -> dict:
    """Change a rule (omitted fields stay); re-evaluated at once, so alerts it no longer explains
    resolve and new crossings open."""
    policy.authorize(actor, "inventory.manage")
    async with db.transaction():
        await _serialize(policy.tenant(actor))
        current = await _rule(actor, rule_id, lock=True)
        clean = await _clean(actor, data, current)
        await db.execute(
            """UPDATE stock_alert_rule SET name = $2, sku_id = $3, category = $4, warehouse_id = $5, kind = $6,
                      threshold = $7, cover_days = $8, demand_days = $9, recipients = $10, active = $11,
                      updated_at = now() WHERE id = $1""",
            current["id"], clean["name"], clean["sku_id"], clean["category"], clean["warehouse_id"], clean["kind"],
            clean["threshold"], clean["cover_days"], clean["demand_days"], clean["recipients"], clean["active"])
        await audit.record(actor, "stock_alert_rule.update", "stock_alert_rule", current["id"],
                           before=_audit_view(current), after=clean)
        if _limits_changed(current, clean):
            # a different limit or target is a different crossing: close the old alerts, then look again
            await _resolve_rule(current["id"])
        await evaluate(policy.tenant(actor), rule_ids=[current["id"]])
        return await _rule(actor, current["id"])


def _limits_changed(before: dict, after: dict) -> bool:
    return any(before.get(k) != after.get(k) for k in ("sku_id", "category", "warehouse_id", "kind"))


async def delete_rule(actor: Actor, rule_id: int) -> dict:
    """Delete a rule; its unresolved alerts resolve (the alert history stays, with the rule's name)."""
    policy.authorize(actor, "inventory.manage")
    async with db.transaction():
        await _serialize(policy.tenant(actor))
        current = await _rule(actor, rule_id, lock=True)
        await _resolve_rule(current["id"])
        await db.execute("DELETE FROM stock_alert_rule WHERE id = $1", current["id"])
        await audit.record(actor, "stock_alert_rule.delete", "stock_alert_rule", current["id"],
                           before=_audit_view(current))
    return current


async def _resolve_rule(rule_id: int) -> None:
    await db.execute("""UPDATE stock_alert SET status = 'resolved', resolved_at = now()
                        WHERE rule_id = $1 AND status <> 'resolved'""", rule_id)


# -- evaluation ----------------------------------------------------------------------------------

_EVALUATE = """
WITH rules AS (
    SELECT * FROM stock_alert_rule
    WHERE merchant_id = $1 AND active AND ($2::bigint[] IS NULL OR id = ANY($2::bigint[]))
), targets AS (
    SELECT r.id AS rule_id, r.name AS rule_name, s.id AS sku_id, r.warehouse_id, r.kind, r.threshold,
           r.cover_days, r.demand_days
    FROM rules r JOIN sku s ON s.merchant_id = $1 AND s.active AND NOT s.is_kit
                               AND (s.id = r.sku_id OR s.category = r.category)
    WHERE NOT $3::boolean OR s.id IN (SELECT l.sku_id FROM stock_level l
                                      WHERE l.merchant_id = $1 AND l.updated_at > now() - $4::interval)
), measured AS MATERIALIZED (
    SELECT t.*,
           coalesce((SELECT sum(l.on_hand - l.reserved) FROM stock_level l JOIN warehouse w ON w.id = l.warehouse_id
                     WHERE l.merchant_id = $1 AND l.sku_id = t.sku_id
                       AND CASE WHEN t.warehouse_id IS NULL THEN w.active ELSE l.warehouse_id = t.warehouse_id END),
                    0)::int AS available,
           CASE WHEN t.kind = 'days_of_cover' THEN
               coalesce((SELECT sum(r.quantity) FROM reservation r
                         WHERE r.merchant_id = $1 AND r.sku_id = t.sku_id AND r.status <> 'released'
                           AND r.created_at >= now() - make_interval(days => t.demand_days)
                           AND (t.warehouse_id IS NULL OR r.warehouse_id = t.warehouse_id)), 0)::float8
               / t.demand_days
           ELSE 0 END AS daily_demand
    FROM targets t
), unresolved AS MATERIALIZED (
    SELECT id, rule_id, sku_id, coalesce(warehouse_id, 0) AS wk FROM stock_alert
    WHERE merchant_id = $1 AND status <> 'resolved'
)
SELECT m.*, CASE WHEN m.daily_demand > 0 THEN m.available / m.daily_demand END AS days_of_cover,
       CASE WHEN m.kind = 'threshold' THEN m.available <= m.threshold
            ELSE m.daily_demand > 0 AND m.available / m.daily_demand <= m.cover_days END AS alerting,
       a.id AS alert_id
FROM measured m
LEFT JOIN unresolved a ON a.rule_id = m.rule_id AND a.sku_id = m.sku_id AND a.wk = coalesce(m.warehouse_id, 0)
"""

_OPEN = """
INSERT INTO stock_alert (merchant_id, rule_id, rule_name, kind, sku_id, warehouse_id, threshold, cover_days,
                         available, daily_demand, days_of_cover)
SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::int[],
                         $8::float8[], $9::int[], $10::float8[], $11::float8[])
ON CONFLICT (rule_id, sku_id, (coalesce(warehouse_id, 0))) WHERE status <> 'resolved' DO NOTHING
RETURNING id
"""


async def _serialize(merchant_id: int) -> None:
    """Evaluations and every other write of a merchant's alerts take turns (per-merchant advisory
    lock, taken first in the transaction): no two evaluations decide on the same snapshot, and a rule
    change or an acknowledgement never locks alert rows in an order that deadlocks with one."""
    await db.execute("SELECT pg_advisory_xact_lock(hashtextextended('stock-alerts:eval:' || $1::bigint, 0))",
                     merchant_id)


async def evaluate(merchant_id: int, *, rule_ids: list[int] | None = None, recent: bool = False) -> dict:
    """Open and resolve this merchant's alerts (all rules, or `rule_ids`; with `recent`, only SKUs
    whose stock changed in the last minutes). Returns {"opened": [ids], "resolved": n}. Each opened
    alert emits one `alerts.notify` job (outbox, in this transaction)."""
    async with db.transaction():
        await _serialize(merchant_id)
        rows = [dict(r) for r in await db.fetch(_EVALUATE, merchant_id, rule_ids, recent, RECENT)]
        opening = [r for r in rows if r["alerting"] and r["alert_id"] is None]
        closing = [r for r in rows if not r["alerting"] and r["alert_id"] is not None]
        opened: list[int] = []
        if opening:
            cols = ("rule_id", "rule_name", "kind", "sku_id", "warehouse_id", "threshold", "cover_days", "available",
                    "daily_demand", "days_of_cover")
            opened = [r["id"] for r in await db.fetch(_OPEN, merchant_id, *([r[c] for r in opening] for c in cols))]
        resolved = 0
        if closing:
            status = await db.execute(
                """UPDATE stock_alert a SET status = 'resolved', resolved_at = now(), resolved_available = u.available
                   FROM unnest($1::bigint[], $2::int[]) AS u(id, available)
                   WHERE a.id = u.id AND a.status <> 'resolved'""",
                [r["alert_id"] for r in closing], [r["available"] for r in closing])
            resolved += int(status.split()[-1])
        if not recent:
            # unresolved alerts no target explains any more (rule switched off, SKU left the category
            # or was deactivated) resolve too
            explained = {r["alert_id"] for r in rows if r["alert_id"] is not None} | set(opened)
            orphans = [r["id"] for r in await db.fetch(
                """SELECT id FROM stock_alert WHERE merchant_id = $1 AND status <> 'resolved'
                     AND ($2::bigint[] IS NULL OR rule_id = ANY($2::bigint[]) OR rule_id IS NULL)""",
                merchant_id, rule_ids) if r["id"] not in explained]
            if orphans:
                status = await db.execute(
                    """UPDATE stock_alert SET status = 'resolved', resolved_at = now()
                       WHERE id = ANY($1::bigint[]) AND status <> 'resolved'""", orphans)
                resolved += int(status.split()[-1])
        for alert_id in opened:
            await outbox.emit("alerts.notify", {"alert_id": alert_id}, job_id=f"alerts.notify:{alert_id}",
                              merchant_id=merchant_id)
    return {"opened": opened, "resolved": resolved}


async def sweep() -> int:
    """Evaluate every merchant that has an active rule (cron). Returns how many alerts opened."""
    opened = 0
    for mid in [r["merchant_id"] for r in await db.fetch(
            "SELECT DISTINCT merchant_id FROM stock_alert_rule WHERE active ORDER BY merchant_id")]:
        opened += len((await evaluate(mid))["opened"])
    return opened


# -- alerts --------------------------------------------------------------------------------------

ALERT_SELECT = """SELECT a.*, s.code AS sku_code, s.name AS sku_name, s.category, w.code AS warehouse_code,
                          w.name AS warehouse_name,
                          coalesce((SELECT sum(l.on_hand - l.reserved) FROM stock_level l
                                    JOIN warehouse lw ON lw.id = l.warehouse_id
                                    WHERE l.merchant_id = a.merchant_id AND l.sku_id = a.sku_id
                                      AND CASE WHEN a.warehouse_id IS NULL THEN lw.active
                                               ELSE l.warehouse_id = a.warehouse_id END), 0)::int AS available_now
                   FROM stock_alert a JOIN sku s ON s.id = a.sku_id LEFT JOIN warehouse w ON w.id = a.warehouse_id"""


async def list_alerts(actor: Actor, *, status: str | None = None, sku: str | None = None, first: int = 50,
                      after: str | None = None) -> Page:
    """Alerts newest first (keyset on id). `status`: open | acknowledged | resolved | active (open or
    acknowledged); `sku`: part of the SKU code or name."""
    policy.authorize(actor, "inventory.view")
    where, args = ["a.merchant_id = $1"], [policy.tenant(actor)]
    if status:
        if status == "active":
            where.append("a.status <> 'resolved'")
        elif status in STATUSES:
            args.append(status)
            where.append(f"a.status = ${len(args)}")
        else:
            raise ValidationError(f"status must be one of {', '.join(STATUSES)}", code="invalid", field="status")
    if sku:
        args.append(f"%{sku.strip().lower()}%")
        where.append(f"(lower(s.code) LIKE ${len(args)} OR lower(s.name) LIKE ${len(args)})")
    count_where, count_args = list(where), list(args)
    if after:
        args.append(int(decode_cursor(after)[0]))
        where.append(f"a.id < ${len(args)}")
    first = max(1, min(first, 1000))
    rows = await db.fetch(f"{ALERT_SELECT} WHERE {' AND '.join(where)} ORDER BY a.id DESC LIMIT {first + 1}",  # noqa: S608
                          *args)
    total = await db.fetchval(
        f"SELECT count(*) FROM stock_alert a JOIN sku s ON s.id = a.sku_id WHERE {' AND '.join(count_where)}",  # noqa: S608
        *count_args)
    return Page(items=[dict(r) for r in rows[:first]], has_next=len(rows) > first,
                cursor=lambda it: encode_cursor(it["id"]), total=total)


async def acknowledge(actor: Actor, alert_ids: list[int]) -> list[dict]:
    """Mark open alerts as seen (they stay unresolved until stock recovers). Ids of other merchants
    or unknown ids are `not_found`; already acknowledged or resolved alerts are left as they are."""
    policy.authorize(actor, "inventory.adjust")
    ids = sorted({int(i) for i in alert_ids})
    if not ids:
        raise ValidationError("select at least one alert", code="required", field="ids")
    mid = policy.tenant(actor)
    async with db.transaction():
        await _serialize(mid)
        found = {r["id"] for r in await db.fetch(
            "SELECT id FROM stock_alert WHERE merchant_id = $1 AND id = ANY($2::bigint[]) ORDER BY id FOR UPDATE",
            mid, ids)}
        missing = [i for i in ids if i not in found]
        if missing:
            raise NotFound(f"no alert {missing[0]}", code="not_found", field="ids")
        changed = [r["id"] for r in await db.fetch(
            """UPDATE stock_alert SET status = 'acknowledged', acknowledged_at = now(), acknowledged_by = $3
               WHERE merchant_id = $1 AND id = ANY($2::bigint[]) AND status = 'open' RETURNING id""",
            mid, ids, actor.label)]
        if changed:
            await audit.record(actor, "stock_alert.acknowledge", "stock_alert", ",".join(map(str, changed))[:200],
                               after={"ids": changed})
        rows = await db.fetch(f"{ALERT_SELECT} WHERE a.merchant_id = $1 AND a.id = ANY($2::bigint[]) "
                              "ORDER BY a.id DESC", mid, ids)
    return [dict(r) for r in rows]


async def open_count(actor: Actor) -> int:
    """Unresolved alerts not yet acknowledged (the dashboard badge); 0 without inventory.view."""
    if not policy.can(actor, "inventory.view"):
        return 0
    return await db.fetchval("SELECT count(*) FROM stock_alert WHERE merchant_id = $1 AND status = 'open'",
                             policy.tenant(actor))


# -- mail (server/inventory/alert_mail.py) ------------------------------------------------------

async def notify(alert_id: int) -> dict:
    """Mail an opened alert to its recipients, each in their language (job `alerts.notify`)."""
    from server.inventory import alert_mail  # noqa: PLC0415 - alert_mail imports this module

    return await alert_mail.notify(alert_id)


def system_actor(merchant_id: int) -> Actor:
    return system(merchant_id, "stock-alerts")
