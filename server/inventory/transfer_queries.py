"""Transfers to read: one with its lines and timeline, keyset-paginated lists, the CSV export, and
the check that every level's `incoming` equals the units in transit to it."""
from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from server.auth import policy
from server.core import db
from server.core.actor import Actor
from server.core.csvimport import CsvWriter, safe_cell
from server.core.errors import NotFound, ValidationError
from server.core.pagination import Page, decode_cursor, encode_cursor
from server.inventory.transfer_status import OPEN, STATUSES, number
from server.inventory.warehouses import resolve_warehouse

_SELECT = """SELECT t.*, fw.code AS from_code, fw.name AS from_name, tw.code AS to_code, tw.name AS to_name,
                    coalesce(l.lines, 0) AS line_count, coalesce(l.units, 0) AS units,
                    coalesce(l.received, 0) AS received_units, coalesce(l.in_transit, 0) AS in_transit_units
             FROM transfer_order t
             JOIN warehouse fw ON fw.id = t.from_warehouse_id JOIN warehouse tw ON tw.id = t.to_warehouse_id
             LEFT JOIN LATERAL (SELECT count(*) AS lines, sum(quantity) AS units, sum(received_quantity) AS received,
                                       sum(shipped_quantity - received_quantity - returned_quantity) AS in_transit
                                FROM transfer_line WHERE transfer_id = t.id) l ON true"""


def _view(row: Any) -> dict:
    out = dict(row)
    out["number"] = number(out["id"])
    for k in ("line_count", "units", "received_units", "in_transit_units"):
        out[k] = int(out.get(k) or 0)
    return out


async def _lines(transfer_id: int) -> list[dict]:
    return (await _lines_of([transfer_id])).get(transfer_id, [])


async def _lines_of(transfer_ids: list[int]) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    for r in await db.fetch(
            """SELECT l.*, s.code AS sku_code, s.name AS sku_name,
                      l.shipped_quantity - l.received_quantity - l.returned_quantity AS in_transit
               FROM transfer_line l JOIN sku s ON s.id = l.sku_id WHERE l.transfer_id = ANY($1::bigint[])
               ORDER BY l.transfer_id, l.line_no""", transfer_ids):
        out.setdefault(r["transfer_id"], []).append(dict(r))
    return out


async def attach_details(items: list[dict], *, events: bool = True) -> list[dict]:
    """Add `lines` (and `events`) to transfers of a list page: one query each, however many."""
    ids = [t["id"] for t in items]
    lines = await _lines_of(ids)
    timeline: dict[int, list[dict]] = {}
    if events:
        for r in await db.fetch("SELECT * FROM transfer_event WHERE transfer_id = ANY($1::bigint[]) "
                                "ORDER BY transfer_id, id", ids):
            timeline.setdefault(r["transfer_id"], []).append(
                dict(r) | {"data": db.loads(r["data"]) if isinstance(r["data"], str) else r["data"]})
    for t in items:
        t["lines"] = lines.get(t["id"], [])
        if events:
            t["events"] = timeline.get(t["id"], [])
    return items


async def get_transfer(actor: Actor, transfer_id: int | str, *, events: bool = True) -> dict:
    """One transfer with its warehouses, lines (quantity, shipped, received, returned, in transit) and
    timeline (oldest first)."""
    policy.authorize(actor, "inventory.view")
    tid = _id(transfer_id)
    row = await db.fetchrow(f"{_SELECT} WHERE t.merchant_id = $1 AND t.id = $2",  # noqa: S608
                            policy.tenant(actor), tid)
    if row is None:
        raise NotFound("transfer not found", code="unknown_transfer", field="id")
    return (await attach_details([_view(row)], events=events))[0]


def _id(value: int | str) -> int:
    text = str(value).strip().upper().removeprefix("TR-")
    if not text.isdigit() or len(text) > 18:
        raise NotFound("transfer not found", code="unknown_transfer", field="id")
    return int(text)


async def list_transfers(actor: Actor, *, status: str | None = None, warehouse: str | int | None = None,
                         sku: str | int | None = None, ids: list[int] | None = None, first: int = 50,
                         after: str | None = None) -> Page:
    """Transfers, newest first (keyset on id). `warehouse`: from or to it; `sku`: with a line of it."""
    policy.authorize(actor, "inventory.view")
    where, args = ["t.merchant_id = $1"], [policy.tenant(actor)]

    def add(sql: str, value: Any) -> None:
        args.append(value)
        where.append(sql.replace("?", f"${len(args)}"))

    if status:
        if status == "open":
            add("t.status = ANY(?::text[])", [s.value for s in OPEN])
        elif status not in STATUSES:
            raise ValidationError(f"status must be one of {', '.join(STATUSES)}", code="invalid", field="status")
        else:
            add("t.status = ?", status)
    if warehouse not in (None, ""):
        args.append((await resolve_warehouse(actor, warehouse))["id"])
        where.append(f"(t.from_warehouse_id = ${len(args)} OR t.to_warehouse_id = ${len(args)})")
    if sku not in (None, ""):
        from server.inventory.stock import resolve_skus  # noqa: PLC0415 - stock is the SKU resolver

        add("EXISTS (SELECT 1 FROM transfer_line tl WHERE tl.transfer_id = t.id AND tl.sku_id = ?)",
            (await resolve_skus(actor, [sku]))[0]["id"])
    if ids is not None:
        add("t.id = ANY(?::bigint[])", [int(i) for i in ids])
    count_where, count_args = list(where), list(args)
    if after:
        add("t.id < ?", int(decode_cursor(after)[0]))
    first = max(1, min(int(first), 500))
    rows = await db.fetch(f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY t.id DESC LIMIT {first + 1}",  # noqa: S608
                          *args)
    total = await db.fetchval(f"SELECT count(*) FROM transfer_order t WHERE {' AND '.join(count_where)}",  # noqa: S608
                              *count_args)
    return Page(items=[_view(r) for r in rows[:first]], has_next=len(rows) > first,
                cursor=lambda it: encode_cursor(it["id"]), total=total)


EXPORT_COLUMNS = ["number", "status", "from_warehouse", "to_warehouse", "sku", "sku_name", "quantity", "shipped",
                  "received", "returned", "in_transit", "reference", "created_at", "shipped_at", "received_at"]


def export_transfers_csv(actor: Actor, *, status: str | None = None, warehouse: str | int | None = None,
                         ids: list[int] | None = None, batch: int = 200) -> AsyncIterator[str]:
    """One CSV row per transfer line (UTF-8 with BOM). Checks the permission when called."""
    policy.authorize(actor, "inventory.view")
    return _export(actor, status=status, warehouse=warehouse, ids=ids, batch=batch)


async def _export(actor: Actor, *, status: str | None, warehouse: str | int | None, ids: list[int] | None,
                  batch: int) -> AsyncIterator[str]:
    out = CsvWriter(EXPORT_COLUMNS)
    yield out.take()
    after = None
    while True:
        page = await list_transfers(actor, status=status, warehouse=warehouse, ids=ids, first=batch, after=after)
        for t in await attach_details(page.items, events=False):
            for ln in t["lines"]:
                out.add([t["number"], t["status"], safe_cell(t["from_code"]), safe_cell(t["to_code"]),
                         safe_cell(ln["sku_code"]), safe_cell(ln["sku_name"]), ln["quantity"], ln["shipped_quantity"],
                         ln["received_quantity"], ln["returned_quantity"], ln["in_transit"], safe_cell(t["reference"]),
                         t["created_at"].isoformat(), t["shipped_at"].isoformat() if t["shipped_at"] else "",
                         t["received_at"].isoformat() if t["received_at"] else ""])
        chunk = out.take()
        if chunk:
            yield chunk
        if not page.has_next:
            return
        after = page.end_cursor


async def incoming_mismatches(merchant_id: int | None = None) -> list[dict]:
    """Each level's `incoming` equals the units in transit to it on open transfers."""
    rows = await db.fetch(
        """SELECT l.id, l.warehouse_id, l.sku_id, l.incoming, coalesce(x.units, 0) AS in_transit
           FROM stock_level l
           LEFT JOIN (SELECT t.to_warehouse_id AS w, tl.sku_id AS s,
                             sum(tl.shipped_quantity - tl.received_quantity - tl.returned_quantity) AS units
                      FROM transfer_line tl JOIN transfer_order t ON t.id = tl.transfer_id
                      GROUP BY 1, 2) x ON x.w = l.warehouse_id AND x.s = l.sku_id
           WHERE ($1::bigint IS NULL OR l.merchant_id = $1) AND l.incoming <> coalesce(x.units, 0)
           ORDER BY l.id""", merchant_id)
    return [dict(r) for r in rows]
