"""Transfer suggestions: where a warehouse's recent demand exceeds its stock and another warehouse has
more than it needs, propose a transfer (one per pair of warehouses); `create_suggested` turns one into
a draft transfer in one call. The transfers themselves live in transfers.py.
"""
from __future__ import annotations

from datetime import timedelta

from server.auth import policy
from server.core import clock, db
from server.core.actor import Actor
from server.core.errors import NotFound
from server.inventory.transfers import SUGGESTION_DAYS, create_transfer
from server.inventory.warehouses import resolve_warehouse


async def suggestions(actor: Actor, *, days: int = SUGGESTION_DAYS) -> list[dict]:
    """Proposed transfers: where a warehouse's demand over the last `days` (units of order lines
    reserved or shipped from it) exceeds what it has available plus what is already on its way
    (in transit or in draft transfers), take the shortfall from warehouses with excess — available
    beyond their own demand over the same days (less what their drafts already send) — largest
    excess first. Active warehouses only. One suggestion per (from, to) pair, lines by SKU code:
    [{from_warehouse, to_warehouse (id, code, name), lines: [{sku_id, sku_code, sku_name, quantity,
    demand, available, incoming, source_available, source_demand}], units}]."""
    policy.authorize(actor, "inventory.view")
    mid = policy.tenant(actor)
    since = clock.now() - timedelta(days=max(1, int(days)))
    warehouses = {r["id"]: dict(r) for r in await db.fetch(
        "SELECT id, code, name, priority FROM warehouse WHERE merchant_id = $1 AND active", mid)}
    demand = {(r["warehouse_id"], r["sku_id"]): int(r["units"]) for r in await db.fetch(
        """SELECT warehouse_id, sku_id, sum(quantity) AS units FROM reservation
           WHERE merchant_id = $1 AND status IN ('reserved', 'shipped') AND created_at >= $2
           GROUP BY 1, 2""", mid, since)}
    if not demand:
        return []
    levels = {(r["warehouse_id"], r["sku_id"]): dict(r) for r in await db.fetch(
        "SELECT warehouse_id, sku_id, on_hand - reserved AS available, incoming FROM stock_level "
        "WHERE merchant_id = $1", mid)}
    draft_in: dict[tuple[int, int], int] = {}
    draft_out: dict[tuple[int, int], int] = {}
    for r in await db.fetch(
            """SELECT t.from_warehouse_id, t.to_warehouse_id, l.sku_id, l.quantity FROM transfer_line l
               JOIN transfer_order t ON t.id = l.transfer_id WHERE t.merchant_id = $1 AND t.status = 'draft'""", mid):
        draft_in[(r["to_warehouse_id"], r["sku_id"])] = draft_in.get((r["to_warehouse_id"], r["sku_id"]), 0) \
            + r["quantity"]
        draft_out[(r["from_warehouse_id"], r["sku_id"])] = draft_out.get((r["from_warehouse_id"], r["sku_id"]), 0) \
            + r["quantity"]

    def avail(key: tuple[int, int]) -> int:
        return levels[key]["available"] if key in levels else 0

    skus = sorted({s for _, s in demand} | {s for _, s in levels})
    excess: dict[tuple[int, int], int] = {}
    for w in warehouses:
        for s in skus:
            e = avail((w, s)) - demand.get((w, s), 0) - draft_out.get((w, s), 0)
            if e > 0:
                excess[(w, s)] = e
    shortages = []
    for (w, s), units in demand.items():
        if w not in warehouses:
            continue
        incoming = levels[(w, s)]["incoming"] if (w, s) in levels else 0
        short = units - avail((w, s)) - incoming - draft_in.get((w, s), 0)
        if short > 0:
            shortages.append((short, w, s, units, incoming))
    shortages.sort(key=lambda x: (-x[0], -warehouses[x[1]]["priority"], x[1], x[2]))
    proposals: dict[tuple[int, int], list[dict]] = {}
    for short, w, s, units, incoming in shortages:
        sources = sorted((src for src in warehouses if src != w and excess.get((src, s), 0) > 0),
                         key=lambda src: (-excess[(src, s)], -warehouses[src]["priority"], src))
        for src in sources:
            if short <= 0:
                break
            qty = min(short, excess[(src, s)])
            excess[(src, s)] -= qty
            short -= qty
            proposals.setdefault((src, w), []).append({
                "sku_id": s, "quantity": qty, "demand": units, "available": avail((w, s)), "incoming": incoming,
                "source_available": avail((src, s)), "source_demand": demand.get((src, s), 0)})
    if not proposals:
        return []
    names = {r["id"]: dict(r) for r in await db.fetch("SELECT id, code, name FROM sku WHERE id = ANY($1::bigint[])",
                                                      sorted({ln["sku_id"] for v in proposals.values() for ln in v}))}
    out = []
    for (src, dst), lines in proposals.items():
        for ln in lines:
            ln.update(sku_code=names[ln["sku_id"]]["code"], sku_name=names[ln["sku_id"]]["name"])
        lines.sort(key=lambda ln: ln["sku_code"])
        out.append({"from_warehouse": {k: warehouses[src][k] for k in ("id", "code", "name")},
                    "to_warehouse": {k: warehouses[dst][k] for k in ("id", "code", "name")},
                    "lines": lines, "units": sum(ln["quantity"] for ln in lines)})
    out.sort(key=lambda p: (-p["units"], p["from_warehouse"]["code"], p["to_warehouse"]["code"]))
    return out


async def create_suggested(actor: Actor, from_warehouse: str | int, to_warehouse: str | int, *,
                           days: int = SUGGESTION_DAYS) -> dict:
    """One click: the current suggestion for this pair of warehouses becomes a draft transfer."""
    policy.authorize(actor, "inventory.manage")
    src = await resolve_warehouse(actor, from_warehouse)
    dst = await resolve_warehouse(actor, to_warehouse)
    for p in await suggestions(actor, days=days):
        if p["from_warehouse"]["id"] == src["id"] and p["to_warehouse"]["id"] == dst["id"]:
            return await create_transfer(
                actor, src["id"], dst["id"], [{"sku": ln["sku_id"], "quantity": ln["quantity"]} for ln in p["lines"]],
                note=f"suggested from the last {days} days of demand", suggested=True)
    raise NotFound(f"nothing to transfer from {src['code']} to {dst['code']} right now", code="no_suggestion",
                   field="fromWarehouse")
