"""Warehouses: where stock lives, in which order they are preferred, and which channels they serve."""
from __future__ import annotations

from typing import Any

from server.audit import service as audit
from server.auth import policy
from server.core import db
from server.core.actor import Actor
from server.core.errors import Conflict, ErrorList, NotFound, ValidationError
from server.customers import normalize
from server.inventory import channel_stock

ADDRESS_FIELDS = ("country_code", "province", "city", "district", "address", "postcode")
AUDITED = ("code", "name", "priority", "active", "serves_all_channels", *ADDRESS_FIELDS, "region_code")


def _clean(data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    errors: list[ValidationError] = []
    out: dict[str, Any] = {}
    for key in ("code", "name"):
        if data.get(key) is not None:
            out[key] = str(data[key]).strip()
        if not partial and not out.get(key):
            errors.append(ValidationError(f"{key} is required", code="required", field=key))
        elif key in out and not out[key]:
            errors.append(ValidationError(f"{key} cannot be empty", code="required", field=key))
    code = out.get("code", "")
    if code and (len(code) > 32 or any(c.isspace() for c in code)):
        errors.append(ValidationError("code must be up to 32 characters without spaces", code="invalid",
                                      field="code"))
    if data.get("priority") is not None:
        try:
            out["priority"] = int(data["priority"])
        except (TypeError, ValueError):
            errors.append(ValidationError("priority must be a whole number", code="invalid", field="priority"))
    for key in ("active", "serves_all_channels"):
        if data.get(key) is not None:
            out[key] = bool(data[key])
    address = data.get("address")
    if isinstance(address, dict):
        raw = {k: str(address.get(k) or "").strip() for k in ADDRESS_FIELDS}
        country = normalize.country_code(raw["country_code"] or "CN")
        if raw["country_code"] and not country:
            errors.append(ValidationError(f"unknown country {raw['country_code']!r}", code="invalid",
                                          field="address.countryCode"))
        region = normalize.region(country, raw["province"], raw["city"], raw["district"])
        out.update(country_code=country, province=region.province or raw["province"],
                   city=region.city or raw["city"], district=region.district or raw["district"],
                   address=raw["address"], postcode=raw["postcode"], region_code=region.code,
                   latitude=region.latitude, longitude=region.longitude)
    elif address is not None:
        errors.append(ValidationError("address must be an object", code="invalid", field="address"))
    if errors:
        raise ErrorList(errors)
    return out


async def _channel_ids(actor: Actor, refs: list[str | int]) -> list[int]:
    from server.channels import service as channels  # noqa: PLC0415 - channels never import inventory

    return sorted({(await channels.resolve_channel(actor, ref))["id"] for ref in refs})


async def _set_channels(actor: Actor, warehouse_id: int, channel_ids: list[int]) -> None:
    await db.execute("DELETE FROM warehouse_channel WHERE warehouse_id = $1", warehouse_id)
    if channel_ids:
        await db.execute(
            "INSERT INTO warehouse_channel (warehouse_id, channel_id, merchant_id) "
            "SELECT $1, c, $2 FROM unnest($3::bigint[]) AS c", warehouse_id, policy.tenant(actor), channel_ids)


async def _with_channels(rows: list[dict]) -> list[dict]:
    ids = [r["id"] for r in rows]
    links: dict[int, list[int]] = {}
    for r in await db.fetch("SELECT warehouse_id, channel_id FROM warehouse_channel "
                            "WHERE warehouse_id = ANY($1::bigint[]) ORDER BY channel_id", ids):
        links.setdefault(r["warehouse_id"], []).append(r["channel_id"])
    return [r | {"channel_ids": links.get(r["id"], [])} for r in rows]


def _duplicate(code: str) -> Conflict:
    return Conflict(f"a warehouse with code {code!r} exists", code="duplicate_code", field="code")


async def create_warehouse(actor: Actor, data: dict[str, Any]) -> dict:
    """data: code, name, priority (higher is preferred), active, serves_all_channels, channels (ids or
    names it serves when not all), address {country_code, province, city, district, address, postcode}."""
    policy.authorize(actor, "inventory.manage")
    clean = _clean(data, partial=False)
    channel_ids = await _channel_ids(actor, data.get("channels") or [])
    if channel_ids and "serves_all_channels" not in clean:
        clean["serves_all_channels"] = False
    async with db.transaction():
        cols = ["merchant_id", *clean]
        row = await db.fetchrow(
            f"INSERT INTO warehouse ({', '.join(cols)}) VALUES ({', '.join(f'${i + 1}' for i in range(len(cols)))}) "  # noqa: S608 - fixed keys
            "ON CONFLICT (merchant_id, code) DO NOTHING RETURNING *", policy.tenant(actor), *clean.values())
        if row is None:
            raise _duplicate(clean["code"])
        await _set_channels(actor, row["id"], channel_ids)
        await audit.record(actor, "warehouse.create", "warehouse", row["id"],
                           after={k: row[k] for k in AUDITED} | {"channel_ids": channel_ids})
    return (await _with_channels([dict(row)]))[0]


async def update_warehouse(actor: Actor, ref: str | int, data: dict[str, Any]) -> dict:
    """Change any field of create_warehouse; `channels` (a list) replaces the served channels."""
    policy.authorize(actor, "inventory.manage")
    clean = _clean(data, partial=True)
    channel_ids = await _channel_ids(actor, data["channels"]) if data.get("channels") is not None else None
    if channel_ids is not None and "serves_all_channels" not in clean:
        clean["serves_all_channels"] = not channel_ids    # naming channels means serving only those
    async with db.transaction():
        before = await resolve_warehouse(actor, ref, lock=True)
        row = before
        if clean:
            sets = ", ".join(f"{k} = ${i + 3}" for i, k in enumerate(clean))
            try:
                row = dict(await db.fetchrow(
                    f"UPDATE warehouse SET {sets}, updated_at = now() WHERE id = $1 AND merchant_id = $2 RETURNING *",  # noqa: S608
                    before["id"], policy.tenant(actor), *clean.values()))
            except Exception as exc:
                if "warehouse_code_key" in str(exc):
                    raise _duplicate(clean["code"]) from exc
                raise
        if channel_ids is not None:
            await _set_channels(actor, before["id"], channel_ids)
        b, a = audit.diff({k: before[k] for k in AUDITED}, {k: row[k] for k in AUDITED})
        if channel_ids is not None and channel_ids != before["channel_ids"]:
            b["channel_ids"], a["channel_ids"] = before["channel_ids"], channel_ids
        if a:
            await audit.record(actor, "warehouse.update", "warehouse", before["id"], before=b, after=a)
        if {"active", "serves_all_channels", "channel_ids"} & set(a):
            await channel_stock.mark_merchant(policy.tenant(actor))   # channels' sellable changed
            if row["active"]:
                await _stock_became_reachable(actor, before["id"])
    return (await _with_channels([row]))[0]


async def _stock_became_reachable(actor: Actor, warehouse_id: int) -> None:
    """An activated warehouse, or one serving more channels, may fill orders waiting for stock."""
    from server.inventory import reservations  # noqa: PLC0415 - reservations use warehouses' tables only

    skus = [r["sku_id"] for r in await db.fetch(
        "SELECT sku_id FROM stock_level WHERE warehouse_id = $1 AND on_hand > reserved ORDER BY sku_id", warehouse_id)]
    if skus:
        await reservations._release_backorders(actor, skus)


async def resolve_warehouse(actor: Actor, ref: str | int, *, lock: bool = False) -> dict:
    """A warehouse of the actor's merchant by id or by code (every API input accepts both)."""
    policy.authorize(actor, "inventory.view")
    ref_s = str(ref).strip()
    sql = ("SELECT * FROM warehouse WHERE merchant_id = $1 "  # noqa: S608 - fixed fragments
           "AND (code = $2 OR ($3::bigint IS NOT NULL AND id = $3)) "
           "ORDER BY (code = $2) DESC LIMIT 1" + (" FOR UPDATE" if lock else ""))
    row = await db.fetchrow(
        sql, policy.tenant(actor), ref_s, int(ref_s) if ref_s.isdigit() and len(ref_s) < 19 else None)
    if row is None:
        raise NotFound(f"no warehouse {ref_s!r}", code="unknown_warehouse", field="warehouse")
    return (await _with_channels([dict(row)]))[0]


async def list_warehouses(actor: Actor, *, active: bool | None = None) -> list[dict]:
    """Every warehouse of the merchant, most preferred first (priority, then code)."""
    policy.authorize(actor, "inventory.view")
    rows = await db.fetch(
        "SELECT * FROM warehouse WHERE merchant_id = $1 AND ($2::boolean IS NULL OR active = $2) "
        "ORDER BY priority DESC, code", policy.tenant(actor), active)
    return await _with_channels([dict(r) for r in rows])
