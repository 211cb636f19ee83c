"""Read side of inventory for the stock pages (and any surface that wants the same views).

- `stock_overview`: one row per SKU with totals over the active warehouses (on hand, reserved,
  available, incoming) and the per-warehouse breakdown, filtered by warehouse, category, search,
  low stock (available <= n) and out of stock, keyset-paginated on (SKU code, id). A kit's figures
  come from its components: available = min over components of available // units per kit, per
  warehouse.
- `categories`, `kit_components`, `listings_for_sku`, `warehouses_page`: the smaller reads the pages
  need.

Every read goes through auth.policy (permission + the merchant filter); nothing here writes.
"""
from __future__ import annotations

from typing import Any

from server.auth import policy
from server.core import db
from server.core.actor import Actor
from server.core.errors import ValidationError
from server.core.pagination import Page, decode_cursor, encode_cursor
from server.inventory.warehouses import _with_channels, resolve_warehouse

MAX_PAGE = 500

# Totals per SKU over the active warehouses ($1 merchant, $2 warehouse id or NULL). Plain SKUs sum
# their levels; a kit with components takes, per warehouse, the minimum over its components of
# available // quantity, and sums that over warehouses.
_TOTALS = """
    LEFT JOIN LATERAL (
        SELECT coalesce(sum(l.on_hand), 0)::int AS on_hand, coalesce(sum(l.reserved), 0)::int AS reserved,
               coalesce(sum(l.incoming), 0)::int AS incoming
        FROM stock_level l JOIN warehouse w ON w.id = l.warehouse_id AND w.active
        WHERE l.merchant_id = $1 AND l.sku_id = s.id AND ($2::bigint IS NULL OR l.warehouse_id = $2)
    ) t ON true
    LEFT JOIN LATERAL (
        SELECT sum(k.available)::int AS available FROM (
            SELECT min(coalesce(l.on_hand - l.reserved, 0) / c.quantity) AS available
            FROM sku_component c CROSS JOIN warehouse w
            LEFT JOIN stock_level l ON l.sku_id = c.component_sku_id AND l.warehouse_id = w.id
            WHERE c.kit_sku_id = s.id AND w.merchant_id = $1 AND w.active
              AND ($2::bigint IS NULL OR w.id = $2)
            GROUP BY w.id) k
    ) kit ON s.is_kit
"""
_AVAILABLE = "(CASE WHEN kit.available IS NOT NULL THEN kit.available ELSE t.on_hand - t.reserved END)"


async def stock_overview(actor: Actor, *, warehouse: str | int | None = None, category: str | None = None,
                         search: str = "", low_stock: int | None = None, out_of_stock: bool = False,
                         sku_ids: list[int] | None = None, first: int = 50, after: str | None = None) -> Page:
    """SKUs with their stock, by SKU code. Items: id, code, name, category, is_kit, on_hand, reserved,
    available, incoming, warehouses [{warehouse_id, code, name, active, on_hand, reserved, available,
    incoming}] (kits: available only). `low_stock=n` keeps available <= n; `out_of_stock` keeps
    available <= 0; `sku_ids` keeps only those (bulk export of a selection)."""
    policy.authorize(actor, "inventory.view")
    mid = policy.tenant(actor)
    wh_id = (await resolve_warehouse(actor, warehouse))["id"] if warehouse not in (None, "") else None
    where, args = ["s.merchant_id = $1"], [mid, wh_id]

    def add(sql: str, value: Any) -> None:
        args.append(value)
        where.append(sql.replace("?", f"${len(args)}"))

    if category:
        add("s.category = ?", category)
    if search and search.strip():
        add("(s.code || ' ' || s.name || ' ' || s.barcode) ILIKE ?", f"%{_like(search.strip())}%")
    if low_stock is not None:
        add(f"{_AVAILABLE} <= ?", int(low_stock))
    if out_of_stock:
        where.append(f"{_AVAILABLE} <= 0")
    if sku_ids is not None:
        add("s.id = ANY(?::bigint[])", [int(i) for i in sku_ids])
    count_where, count_args = list(where), list(args)
    if after:
        code, last_id = _cursor(after)
        args.extend([code, last_id])
        where.append(f"(s.code, s.id) > (${len(args) - 1}, ${len(args)})")
    first = max(1, min(int(first), MAX_PAGE))
    rows = await db.fetch(
        f"""SELECT s.id, s.code, s.name, s.category, s.barcode, s.active, s.is_kit AND kit.available IS NOT NULL AS is_kit,
                   t.on_hand, t.reserved, t.incoming, {_AVAILABLE} AS available
            FROM sku s {_TOTALS} WHERE {' AND '.join(where)} ORDER BY s.code, s.id LIMIT {first + 1}""",  # noqa: S608
        *args)
    if low_stock is None and not out_of_stock:    # the count needs the stock figures only to filter on them
        count_sql = f"SELECT count(*) FROM sku s WHERE {' AND '.join(count_where)} AND $2::bigint IS NOT DISTINCT FROM $2"  # noqa: S608
    else:
        count_sql = f"SELECT count(*) FROM sku s {_TOTALS} WHERE {' AND '.join(count_where)}"  # noqa: S608
    total = await db.fetchval(count_sql, *count_args)
    items = [dict(r) for r in rows[:first]]
    await _attach_breakdown(mid, items, wh_id)
    return Page(items=items, has_next=len(rows) > first, cursor=lambda it: encode_cursor(it["code"], it["id"]),
                total=total)


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _bad_cursor() -> ValidationError:
    return ValidationError("invalid cursor; use a cursor returned by a previous page", code="invalid_cursor",
                           field="after")


def _cursor(after: str) -> tuple[str, int]:
    parts = decode_cursor(after)
    try:
        return str(parts[0]), int(parts[1])
    except (IndexError, TypeError, ValueError):
        raise _bad_cursor() from None


async def _attach_breakdown(merchant_id: int, items: list[dict], warehouse_id: int | None) -> None:
    """Per-warehouse figures for the SKUs of one page (one query for levels, one for kits)."""
    if not items:
        return
    plain = [it["id"] for it in items if not it["is_kit"]]
    kits = [it["id"] for it in items if it["is_kit"]]
    per: dict[int, list[dict]] = {it["id"]: [] for it in items}
    if plain:
        for r in await db.fetch(
                """SELECT l.sku_id, w.id AS warehouse_id, w.code, w.name, w.active, l.on_hand, l.reserved,
                          l.on_hand - l.reserved AS available, l.incoming
                   FROM stock_level l JOIN warehouse w ON w.id = l.warehouse_id
                   WHERE l.merchant_id = $1 AND l.sku_id = ANY($2::bigint[])
                     AND ($3::bigint IS NULL OR w.id = $3)
                   ORDER BY w.priority DESC, w.code""", merchant_id, plain, warehouse_id):
            per[r["sku_id"]].append(dict(r))
    if kits:
        for r in await db.fetch(
                """SELECT c.kit_sku_id AS sku_id, w.id AS warehouse_id, w.code, w.name, w.active,
                          min(coalesce(l.on_hand - l.reserved, 0) / c.quantity)::int AS available
                   FROM sku_component c CROSS JOIN warehouse w
                   LEFT JOIN stock_level l ON l.sku_id = c.component_sku_id AND l.warehouse_id = w.id
                   WHERE c.kit_sku_id = ANY($2::bigint[]) AND w.merchant_id = $1
                     AND ($3::bigint IS NULL OR w.id = $3)
                   GROUP BY c.kit_sku_id, w.id, w.code, w.name, w.active, w.priority
                   ORDER BY w.priority DESC, w.code""", merchant_id, kits, warehouse_id):
            per[r["sku_id"]].append(dict(r) | {"on_hand": None, "reserved": None, "incoming": None})
    for it in items:
        it["warehouses"] = per[it["id"]]


async def categories(actor: Actor) -> list[str]:
    """The merchant's SKU categories (for the category filter)."""
    policy.authorize(actor, "inventory.view")
    return [r["category"] for r in await db.fetch(
        "SELECT DISTINCT category FROM sku WHERE merchant_id = $1 AND category <> '' ORDER BY category",
        policy.tenant(actor))]


async def kit_components(actor: Actor, sku_id: int) -> list[dict]:
    """A kit's components with units per kit and, per component, available over active warehouses and
    how many kits that allows."""
    policy.authorize(actor, "inventory.view")
    rows = await db.fetch(
        """SELECT s.id, s.code, s.name, c.quantity,
                  coalesce((SELECT sum(l.on_hand - l.reserved) FROM stock_level l
                            JOIN warehouse w ON w.id = l.warehouse_id AND w.active
                            WHERE l.sku_id = s.id), 0)::int AS available
           FROM sku_component c JOIN sku s ON s.id = c.component_sku_id
           JOIN sku k ON k.id = c.kit_sku_id AND k.merchant_id = $1
           WHERE c.kit_sku_id = $2 ORDER BY s.code""", policy.tenant(actor), int(sku_id))
    return [dict(r) | {"kits": r["available"] // r["quantity"]} for r in rows]


async def listings_for_sku(actor: Actor, sku_id: int) -> list[dict]:
    """The channel listings matched to one SKU, with their channel."""
    policy.authorize(actor, "inventory.view")
    rows = await db.fetch(
        """SELECT l.*, c.name AS channel_name, c.platform
           FROM channel_listing l JOIN channel c ON c.id = l.channel_id
           WHERE l.merchant_id = $1 AND l.sku_id = $2 ORDER BY c.name, l.id""", policy.tenant(actor), int(sku_id))
    return [dict(r) for r in rows]


async def warehouses_page(actor: Actor, *, search: str = "", active: bool | None = None,
                          ids: list[int] | None = None, first: int = 50, after: str | None = None) -> Page:
    """Warehouses most preferred first (priority desc, code), keyset-paginated, with channel_ids and
    the number of SKUs stocked there."""
    policy.authorize(actor, "inventory.view")
    where, args = ["w.merchant_id = $1"], [policy.tenant(actor)]
    if search and search.strip():
        args.append(f"%{_like(search.strip())}%")
        where.append(f"(w.code || ' ' || w.name || ' ' || w.province || ' ' || w.city || ' ' || w.district) "
                     f"ILIKE ${len(args)}")
    if active is not None:
        args.append(active)
        where.append(f"w.active = ${len(args)}")
    if ids is not None:
        args.append([int(i) for i in ids])
        where.append(f"w.id = ANY(${len(args)}::bigint[])")
    count_where, count_args = list(where), list(args)
    if after:
        parts = decode_cursor(after)
        try:
            priority, code = int(parts[0]), str(parts[1])
        except (IndexError, TypeError, ValueError):
            raise _bad_cursor() from None
        args.extend([priority, code])
        where.append(f"(w.priority < ${len(args) - 1} OR (w.priority = ${len(args) - 1} AND w.code > ${len(args)}))")
    first = max(1, min(int(first), MAX_PAGE))
    rows = await db.fetch(
        f"""SELECT w.*, (SELECT count(*) FROM stock_level l WHERE l.warehouse_id = w.id AND l.on_hand > 0)
                        AS skus_stocked,
                   (SELECT coalesce(sum(l.on_hand), 0) FROM stock_level l WHERE l.warehouse_id = w.id)::int
                        AS units_on_hand
            FROM warehouse w WHERE {' AND '.join(where)} ORDER BY w.priority DESC, w.code LIMIT {first + 1}""",  # noqa: S608
        *args)
    total = await db.fetchval(f"SELECT count(*) FROM warehouse w WHERE {' AND '.join(count_where)}", *count_args)  # noqa: S608
    items = await _with_channels([dict(r) for r in rows[:first]])
    return Page(items=items, has_next=len(rows) > first, cursor=lambda w: encode_cursor(w["priority"], w["code"]),
                total=total)


async def channel_choices(actor: Actor) -> list[dict]:
    """The merchant's channels (id, name, platform) to show which ones a warehouse serves."""
    policy.authorize(actor, "inventory.view")
    return [dict(r) for r in await db.fetch(
        "SELECT id, name, platform FROM channel WHERE merchant_id = $1 ORDER BY name, id", policy.tenant(actor))]
