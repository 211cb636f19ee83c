"""Read-only figures for the staff dashboard: orders and sales per channel over a time window.

Reads only; tenancy through policy.tenant (every query is confined to the actor's merchant).
"""
from __future__ import annotations

from datetime import datetime

from server.auth import policy
from server.core import db
from server.core.actor import Actor

# Orders still needing someone's work, in the order a team works them.
WAITING_STATUSES = ("pending_payment", "awaiting_review", "on_hold", "ready", "in_fulfillment", "partially_shipped")


async def orders_by_channel(actor: Actor, since: datetime, until: datetime) -> list[dict]:
    """Per channel of the merchant (also those without orders): orders placed in [since, until) and
    their sales, cancelled orders left out. Sales are per currency: {currency: minor units}.

    [{channel_id, name, platform, status, orders, cancelled, sales: {"CNY": 123400}}] ordered by channel id.
    """
    policy.authorize(actor, "orders.view")
    rows = await db.fetch(
        """SELECT c.id, c.name, c.platform, c.status, o.currency,
                  count(o.id) FILTER (WHERE o.status <> 'cancelled') AS orders,
                  count(o.id) FILTER (WHERE o.status = 'cancelled') AS cancelled,
                  coalesce(sum(o.total) FILTER (WHERE o.status <> 'cancelled'), 0) AS sales
             FROM channel c
             LEFT JOIN sales_order o ON o.channel_id = c.id AND o.merchant_id = $1
                                    AND o.placed_at >= $2 AND o.placed_at < $3
            WHERE c.merchant_id = $1
            GROUP BY c.id, c.name, c.platform, c.status, o.currency
            ORDER BY c.id""", policy.tenant(actor), since, until)
    out: dict[int, dict] = {}
    for r in rows:
        item = out.setdefault(r["id"], {"channel_id": r["id"], "name": r["name"], "platform": r["platform"],
                                        "status": r["status"], "orders": 0, "cancelled": 0, "sales": {}})
        item["orders"] += int(r["orders"])
        item["cancelled"] += int(r["cancelled"])
        if r["currency"] and (r["orders"] or r["sales"]):
            cur = r["currency"].strip()
            item["sales"][cur] = item["sales"].get(cur, 0) + int(r["sales"])
    return list(out.values())
