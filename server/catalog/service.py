"""Products, SKUs and channel listings (platform SKU ↔ merchant SKU). The only writer of them."""
from __future__ import annotations

from typing import Any

from server.audit import service as audit
from server.auth import policy
from server.core import db
from server.core.actor import Actor
from server.core.errors import Conflict, ErrorList, NotFound, ValidationError
from server.core.money import to_minor
from server.core.pagination import Page, decode_cursor, encode_cursor

SKU_FIELDS = ("code", "name", "barcode", "spec", "category", "weight_g", "cost_minor", "list_price_minor",
              "currency", "active")


def _clean_sku(data: dict[str, Any], *, partial: bool = False) -> dict:
    errors: list[ValidationError] = []
    out: dict[str, Any] = {}
    for key in ("code", "name", "barcode", "spec", "category"):
        if key in data and data[key] is not None:
            out[key] = str(data[key]).strip()
    if not partial:
        for key in ("code", "name"):
            if not out.get(key):
                errors.append(ValidationError(f"{key} is required", code="required", field=key))
    if out.get("code") and (len(out["code"]) > 64 or any(c.isspace() for c in out["code"])):
        errors.append(ValidationError("code must be at most 64 characters without spaces", code="invalid",
                                      field="code"))
    currency = str(data.get("currency") or "CNY").upper()
    if len(currency) != 3:
        errors.append(ValidationError("currency must be a 3-letter ISO code", code="invalid", field="currency"))
    if "currency" in data or not partial:
        out["currency"] = currency
    if data.get("weight_g") not in (None, ""):
        try:
            out["weight_g"] = int(data["weight_g"])
            if out["weight_g"] < 0:
                raise ValueError
        except (TypeError, ValueError):
            errors.append(ValidationError("weight must be a whole number of grams", code="invalid", field="weightG"))
    for key, minor_key in (("cost", "cost_minor"), ("list_price", "list_price_minor")):
        if data.get(minor_key) not in (None, ""):
            out[minor_key] = int(data[minor_key])
        elif data.get(key) not in (None, ""):
            try:
                out[minor_key] = to_minor(data[key], currency)
            except ValidationError:
                errors.append(ValidationError(f"{key.replace('_', ' ')} must be an amount like 12.50",
                                              code="invalid_amount", field=key))
        if out.get(minor_key, 0) < 0:
            errors.append(ValidationError(f"{key.replace('_', ' ')} cannot be negative", code="invalid", field=key))
    if "active" in data and data["active"] is not None:
        out["active"] = bool(data["active"])
    if errors:
        raise ErrorList(errors)
    return out


def validate_sku(data: dict[str, Any], *, partial: bool = False) -> dict:
    """The SKU rules create_sku/update_sku apply, for batch callers (CSV import) that check many rows
    before writing any: the cleaned fields, or ErrorList with every problem."""
    return _clean_sku(data, partial=partial)


async def create_sku(actor: Actor, data: dict[str, Any], *, product_id: int | None = None) -> dict:
    """Create a SKU (and its product, named after it, unless `product_id` is given)."""
    policy.authorize(actor, "catalog.manage")
    merchant_id = policy.tenant(actor)
    clean = _clean_sku(data)
    async with db.transaction():
        if product_id is None:
            product_id = await db.fetchval(
                "INSERT INTO product (merchant_id, name, category) VALUES ($1, $2, $3) RETURNING id",
                merchant_id, str(data.get("product_name") or clean["name"]), clean.get("category", ""))
        elif not await db.fetchval("SELECT 1 FROM product WHERE id = $1 AND merchant_id = $2", product_id, merchant_id):
            raise NotFound("product not found", field="product")
        cols = ["merchant_id", "product_id", *clean]
        row = await db.fetchrow(
            f"INSERT INTO sku ({', '.join(cols)}) VALUES ({', '.join(f'${i + 1}' for i in range(len(cols)))}) "  # noqa: S608
            "ON CONFLICT (merchant_id, code) DO NOTHING RETURNING *", merchant_id, product_id, *clean.values())
        if row is None:
            raise Conflict(f"a SKU with code {clean['code']!r} exists", code="duplicate_code", field="code")
        sku = dict(row)
        await audit.record(actor, "sku.create", "sku", sku["id"], after={k: sku[k] for k in SKU_FIELDS})
        await _match_waiting_listings(actor, [sku])
    return sku


async def update_sku(actor: Actor, sku_id: int, data: dict[str, Any]) -> dict:
    policy.authorize(actor, "catalog.manage")
    _clean_sku(data, partial=True)  # input errors before any lock
    async with db.transaction():
        before = await get_sku(actor, sku_id, lock=True)
        if data.get("currency") in (None, "") and any(data.get(k) not in (None, "") for k in ("cost", "list_price")):
            data = {**data, "currency": before["currency"].strip()}  # prices are in the SKU's own currency
        clean = _clean_sku(data, partial=True)
        if not clean:
            return before
        sets = ", ".join(f"{k} = ${i + 3}" for i, k in enumerate(clean))
        try:
            row = await db.fetchrow(
                f"UPDATE sku SET {sets}, updated_at = now() WHERE id = $1 AND merchant_id = $2 RETURNING *",  # noqa: S608
                sku_id, policy.tenant(actor), *clean.values())
        except Exception as exc:
            if "sku_code_key" in str(exc):
                raise Conflict(f"a SKU with code {clean.get('code')!r} exists", code="duplicate_code",
                               field="code") from exc
            raise
        b, a = audit.diff({k: before[k] for k in clean}, {k: row[k] for k in clean})
        await audit.record(actor, "sku.update", "sku", sku_id, before=b, after=a)
        if "code" in clean:
            await _match_waiting_listings(actor, [dict(row)])
    return dict(row)


async def get_sku(actor: Actor, sku_id: int, *, lock: bool = False) -> dict:
    policy.authorize(actor, "catalog.view")
    sql = "SELECT * FROM sku WHERE id = $1 AND merchant_id = $2" + (" FOR UPDATE" if lock else "")  # noqa: S608
    row = await db.fetchrow(sql,
                            sku_id, policy.tenant(actor))
    if row is None:
        raise NotFound("SKU not found", field="id")
    return dict(row)


async def resolve_sku(actor: Actor, ref: str | int) -> dict:
    """A SKU by id or by the merchant's SKU code (every API input accepts both)."""
    policy.authorize(actor, "catalog.view")
    ref_s = str(ref).strip()
    row = await db.fetchrow(
        "SELECT * FROM sku WHERE merchant_id = $1 AND (code = $2 OR ($3::bigint IS NOT NULL AND id = $3)) "
        "ORDER BY (code = $2) DESC LIMIT 1",
        policy.tenant(actor), ref_s, int(ref_s) if ref_s.isdigit() else None)
    if row is None:
        raise NotFound(f"no SKU {ref_s!r}", code="unknown_sku", field="sku")
    return dict(row)


async def skus_by_ref(actor: Actor, refs: list[str], *, by_id: bool = True) -> dict[str, dict]:
    """Batch `resolve_sku`: {ref: sku} for the refs that exist, by code first, then (by_id) by id."""
    policy.authorize(actor, "catalog.view")
    mid = policy.tenant(actor)
    wanted = sorted({str(r).strip() for r in refs if str(r).strip()})
    out = {r["code"]: dict(r) for r in await db.fetch(
        "SELECT * FROM sku WHERE merchant_id = $1 AND code = ANY($2::text[])", mid, wanted)}
    ids = [int(r) for r in wanted if by_id and r not in out and r.isdigit() and len(r) < 19]
    if ids:
        out.update({str(r["id"]): dict(r) for r in await db.fetch(
            "SELECT * FROM sku WHERE merchant_id = $1 AND id = ANY($2::bigint[])", mid, ids)})
    return out


async def list_skus(actor: Actor, *, first: int = 50, after: str | None = None, search: str = "",
                    category: str = "", active: bool | None = None, ids: list[int] | None = None) -> Page:
    policy.authorize(actor, "catalog.view")
    where, args = ["merchant_id = $1"], [policy.tenant(actor)]
    if ids:
        args.append([int(i) for i in ids])
        where.append(f"id = ANY(${len(args)}::bigint[])")
    if search:
        args.append(f"%{search}%")
        where.append(f"(code || ' ' || name || ' ' || barcode) ILIKE ${len(args)}")
    if category:
        args.append(category)
        where.append(f"category = ${len(args)}")
    if active is not None:
        args.append(active)
        where.append(f"active = ${len(args)}")
    count_where, count_args = list(where), list(args)
    if after:
        args.append(int(decode_cursor(after)[0]))
        where.append(f"id > ${len(args)}")
    first = max(1, min(first, 500))
    rows = await db.fetch(f"SELECT * FROM sku WHERE {' AND '.join(where)} ORDER BY id LIMIT {first + 1}", *args)  # noqa: S608
    total = await db.fetchval(f"SELECT count(*) FROM sku WHERE {' AND '.join(count_where)}", *count_args)  # noqa: S608
    return Page(items=[dict(r) for r in rows[:first]], has_next=len(rows) > first,
                cursor=lambda s: encode_cursor(s["id"]), total=total)


async def list_products(actor: Actor, *, first: int = 50, after: str | None = None, search: str = "") -> Page:
    policy.authorize(actor, "catalog.view")
    where, args = ["merchant_id = $1"], [policy.tenant(actor)]
    if search:
        args.append(f"%{search}%")
        where.append(f"name ILIKE ${len(args)}")
    if after:
        args.append(int(decode_cursor(after)[0]))
        where.append(f"id > ${len(args)}")
    rows = await db.fetch(f"SELECT * FROM product WHERE {' AND '.join(where)} ORDER BY id LIMIT {first + 1}", *args)  # noqa: S608
    return Page(items=[dict(r) for r in rows[:first]], has_next=len(rows) > first,
                cursor=lambda p: encode_cursor(p["id"]))


# -- listings -----------------------------------------------------------------------------------

async def match_listing(actor: Actor, listing_id: int, sku_ref: str | int) -> dict:
    """Match a platform SKU to a merchant SKU by hand; releases every order waiting on it."""
    policy.authorize(actor, "catalog.manage")
    sku = await resolve_sku(actor, sku_ref)
    async with db.transaction():
        row = await db.fetchrow(
            """UPDATE channel_listing SET sku_id = $3, match_method = 'manual', updated_at = now()
               WHERE id = $1 AND merchant_id = $2 RETURNING *""", listing_id, policy.tenant(actor), sku["id"])
        if row is None:
            raise NotFound("listing not found", field="listing")
        await audit.record(actor, "listing.match", "channel_listing", listing_id, after={"sku": sku["code"]})
        await _matched(actor, [dict(row)])
    return dict(row)


async def _match_waiting_listings(actor: Actor, skus: list[dict]) -> None:
    """A new or renamed SKU code auto-matches unmatched listings with that platform code."""
    codes = {s["code"]: s["id"] for s in skus}
    rows = await db.fetch(
        """UPDATE channel_listing l SET sku_id = s.id, match_method = 'code', updated_at = now()
           FROM sku s WHERE l.merchant_id = $1 AND l.sku_id IS NULL AND s.merchant_id = $1
             AND s.code = ANY($2::text[]) AND l.platform_sku_code = s.code RETURNING l.*""",
        policy.tenant(actor), list(codes))
    if rows:
        await _matched(actor, [dict(r) for r in rows])


async def _matched(actor: Actor, listings: list[dict]) -> None:
    """A listing now maps to a SKU: orders waiting on it are released and its stock is pushed."""
    # orders and inventory depend on catalog, not back at import time
    from server.inventory import channel_stock  # noqa: PLC0415
    from server.orders import holds  # noqa: PLC0415

    await holds.release_unmatched(actor, listings)
    await channel_stock.mark_matched(policy.tenant(actor), listings)


async def list_listings(actor: Actor, *, channel_id: int | None = None, unmatched: bool | None = None,
                        first: int = 50, after: str | None = None, listing_id: int | None = None,
                        search: str = "", ids: list[int] | None = None) -> Page:
    policy.authorize(actor, "catalog.view")
    where, args = ["l.merchant_id = $1"], [policy.tenant(actor)]
    if ids:
        args.append([int(i) for i in ids])
        where.append(f"l.id = ANY(${len(args)}::bigint[])")
    if search:  # platform code / ids, title, or the matched merchant SKU code
        args.append(f"%{search.strip()}%")
        where.append(f"(l.platform_sku_code || ' ' || l.platform_sku_id || ' ' || l.platform_product_id || ' ' "
                     f"|| l.title || ' ' || coalesce(s.code, '')) ILIKE ${len(args)}")
    if listing_id is not None:
        args.append(int(listing_id))
        where.append(f"l.id = ${len(args)}")
    if channel_id:
        args.append(channel_id)
        where.append(f"l.channel_id = ${len(args)}")
    if unmatched is not None:
        where.append("l.sku_id IS NULL" if unmatched else "l.sku_id IS NOT NULL")
    if after:
        args.append(int(decode_cursor(after)[0]))
        where.append(f"l.id > ${len(args)}")
    rows = await db.fetch(
        f"""SELECT l.*, s.code AS sku_code, c.name AS channel_name, c.platform,
                   (SELECT count(DISTINCT ol.order_id) FROM order_line ol
                     WHERE ol.merchant_id = l.merchant_id AND ol.sku_id IS NULL
                       AND ol.platform_product_id = l.platform_product_id
                       AND ol.platform_sku_id = l.platform_sku_id) AS waiting_orders
            FROM channel_listing l JOIN channel c ON c.id = l.channel_id LEFT JOIN sku s ON s.id = l.sku_id
            WHERE {' AND '.join(where)} ORDER BY l.id LIMIT {first + 1}""", *args)  # noqa: S608
    return Page(items=[dict(r) for r in rows[:first]], has_next=len(rows) > first,
                cursor=lambda item: encode_cursor(item["id"]))


async def sku_categories(actor: Actor) -> list[str]:
    """The merchant's SKU categories in use (for filter choices)."""
    policy.authorize(actor, "catalog.view")
    rows = await db.fetch("SELECT DISTINCT category FROM sku WHERE merchant_id = $1 AND category <> '' "
                          "ORDER BY category LIMIT 500", policy.tenant(actor))
    return [r["category"] for r in rows]
