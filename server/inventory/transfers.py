"""Transfers (调拨): moving stock from one of the merchant's warehouses to another.

Lifecycle (TRANSITIONS in transfer_status.py; its `transition()` is the only writer of the status, and writes
the timeline event and the audit entry):

    draft ──ship──▶ shipped ──receive (part)──▶ partially_received ──receive (rest)──▶ received
      │                │                               │
      └──cancel──▶ cancelled ◀──────cancel─────────────┘

- draft: lines (SKU × quantity) from → to. Nothing has moved; a draft may be cancelled freely.
- ship: every line leaves the source as a `transfer_out` movement, checked against the source's
  *available* stock under row locks (units reserved for orders never leave: `insufficient_stock`
  names the SKU and warehouse). The units show as `incoming` at the destination. All lines or none.
- receive: any quantities up to what is still in transit (partial receipts allowed); each receipt is
  a `transfer_in` movement at the destination and lowers its `incoming`. Units arriving go straight
  to orders waiting for them (backorders), in the same transaction, exactly like a purchase receipt.
  When everything shipped has arrived the transfer is `received` (closed).
- cancel after shipping: the units still in transit (shipped − received) go back to the SOURCE as
  `transfer_in` movements there (reason "returned to source"), the destination's `incoming` drops by
  them, and waiting backorders at the source are served. What was already received stays received.

Locking follows reservations.py: the transfer row first, then every stock_level row involved in ONE
statement ordered by id; after that nothing waits (backorder passes use SKIP LOCKED). Missing
destination rows are created before the locks are taken.
"""
from __future__ import annotations

from typing import Any

from server.audit import service as audit
from server.auth import policy
from server.core import clock, db
from server.core.actor import Actor
from server.core.errors import Conflict, DomainError, ErrorList, NotFound, ValidationError
from server.inventory import ledger, reservations
from server.inventory.reservations import InsufficientStock
from server.inventory.transfer_queries import (  # noqa: F401 - the read side, re-exported
    EXPORT_COLUMNS,
    _id,
    _lines,
    attach_details,
    export_transfers_csv,
    get_transfer,
    incoming_mismatches,
    list_transfers,
)
from server.inventory.transfer_status import (  # noqa: F401 - the status machine, re-exported
    IN_TRANSIT,
    OPEN,
    STATUSES,
    TRANSITIONS,
    InvalidTransferTransition,
    T,
    TransferStatus,
    _event,
    can_move,
    number,
    transition,
)
from server.inventory.warehouses import resolve_warehouse

MAX_LINES = 500
SUGGESTION_DAYS = 14


# -- writing ------------------------------------------------------------------------------------

def _qty(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().isdigit():
        raise ValidationError(f"{field} must be a whole number above 0", code="invalid", field=field)
    n = int(str(value).strip())
    if n <= 0:
        raise ValidationError(f"{field} must be more than 0", code="invalid", field=field)
    return n


async def create_transfer(actor: Actor, from_warehouse: str | int, to_warehouse: str | int,
                          lines: list[dict], *, reference: str = "", note: str = "",
                          suggested: bool = False, idempotency_key: str | None = None) -> dict:
    """A draft transfer. lines: [{sku (code or id), quantity}]; a SKU at most once. Nothing moves yet.

    With an idempotency key (per merchant), retrying the same request returns the first transfer
    with `created: False` and creates nothing, also when the retries race (an advisory lock on the
    key, the unique index behind it); the same key with different warehouses, lines, reference or
    note is refused with `idempotency_conflict`. Without a key every call creates (`created: True`).
    """
    policy.authorize(actor, "inventory.manage")
    from server.inventory.stock import _stockable  # noqa: PLC0415 - stock imports reservations, not us

    errors: list[DomainError] = []
    src = dst = None
    for field, ref in (("fromWarehouse", from_warehouse), ("toWarehouse", to_warehouse)):
        if ref in (None, ""):
            errors.append(ValidationError(f"{field} is required", code="required", field=field))
            continue
        try:
            wh = await resolve_warehouse(actor, ref)
        except NotFound as exc:
            errors.append(NotFound(exc.message, code=exc.code, field=field))
            continue
        if field == "fromWarehouse":
            src = wh
        else:
            dst = wh
    if src and dst and src["id"] == dst["id"]:
        errors.append(ValidationError("a transfer goes between two different warehouses", code="same_warehouse",
                                      field="toWarehouse"))
    clean: list[tuple[dict, int]] = []
    if not lines:
        errors.append(ValidationError("add at least one line (SKU and quantity)", code="required", field="lines"))
    elif len(lines) > MAX_LINES:
        errors.append(ValidationError(f"at most {MAX_LINES} lines per transfer", code="invalid", field="lines"))
    seen: dict[int, int] = {}
    for n, line in enumerate(lines or []):
        if str(line.get("sku") or "").strip() == "":
            errors.append(ValidationError("choose a SKU", code="required", field=f"lines.{n}.sku"))
            continue
        try:
            sku = await _stockable(actor, line["sku"])
        except DomainError as exc:
            errors.append(type(exc)(exc.message, code=exc.code, field=f"lines.{n}.sku"))
            continue
        try:
            qty = _qty(line.get("quantity"), f"lines.{n}.quantity")
        except DomainError as exc:
            errors.append(exc)
            continue
        if sku["id"] in seen:
            errors.append(ValidationError(f"{sku['code']} is already on line {seen[sku['id']] + 1}",
                                          code="duplicate_sku", field=f"lines.{n}.sku"))
            continue
        seen[sku["id"]] = n
        clean.append((sku, qty))
    if errors:
        raise errors[0] if len(errors) == 1 else ErrorList(errors)
    assert src is not None and dst is not None
    mid = policy.tenant(actor)
    key = (idempotency_key or "").strip()
    if len(key) > 200:
        raise ValidationError("idempotencyKey must be at most 200 characters", code="invalid", field="idempotencyKey")
    reference, note = (reference or "").strip()[:200], (note or "").strip()[:2000]
    async with db.transaction():
        if key:
            await db.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"transfer-idem:{mid}:{key}")
            first = await db.fetchrow("SELECT * FROM transfer_order WHERE merchant_id = $1 AND idempotency_key = $2",
                                      mid, key)
            if first is not None:
                _same_request(dict(first), await _lines(first["id"]), src, dst, clean, reference, note, key)
                return await get_transfer(actor, first["id"]) | {"created": False}
        row = await db.fetchrow(
            """INSERT INTO transfer_order (merchant_id, from_warehouse_id, to_warehouse_id, reference, note, suggested,
                                           created_by, idempotency_key)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *""",
            mid, src["id"], dst["id"], reference, note, suggested, actor.label, key)
        await db.execute(
            """INSERT INTO transfer_line (merchant_id, transfer_id, line_no, sku_id, quantity)
               SELECT $1, $2, n, s, q FROM unnest($3::int[], $4::bigint[], $5::int[]) AS u(n, s, q)""",
            mid, row["id"], list(range(1, len(clean) + 1)), [s["id"] for s, _ in clean], [q for _, q in clean])
        data = {"from": src["code"], "to": dst["code"], "lines": {s["code"]: q for s, q in clean}}
        await _event(actor, dict(row), "created", "suggested transfer created" if suggested else "draft created",
                     data, "", T.DRAFT)
        await audit.record(actor, "transfer.create", "transfer", row["id"], after={"status": T.DRAFT.value, **data})
    return await get_transfer(actor, row["id"]) | {"created": True}


def _same_request(first: dict, first_lines: list[dict], src: dict, dst: dict, clean: list[tuple[dict, int]],
                  reference: str, note: str, key: str) -> None:
    """The transfer an idempotency key already made must be what this call asks for, or the call is refused."""
    asked = {"from": src["id"], "to": dst["id"], "lines": [(s["id"], q) for s, q in clean],
             "reference": reference, "note": note}
    made = {"from": first["from_warehouse_id"], "to": first["to_warehouse_id"],
            "lines": [(ln["sku_id"], ln["quantity"]) for ln in first_lines],
            "reference": first["reference"], "note": first["note"]}
    differs = [k for k in asked if asked[k] != made[k]]
    if differs:
        raise Conflict(f"idempotency key {key!r} was already used for transfer {number(first['id'])} with different "
                       f"{', '.join(differs)}; use a new key for a different transfer",
                       code="idempotency_conflict", field="idempotencyKey",
                       details={"transfer": number(first["id"]), "differs": differs})


async def _locked(actor: Actor, transfer_id: int | str) -> dict:
    row = await db.fetchrow("SELECT * FROM transfer_order WHERE id = $1 AND merchant_id = $2 FOR UPDATE",
                            _id(transfer_id), policy.tenant(actor))
    if row is None:
        raise NotFound("transfer not found", code="unknown_transfer", field="id")
    return dict(row)


async def _lock_levels(mid: int, pairs: list[tuple[int, int]]) -> dict[tuple[int, int], dict]:
    """Create the missing (warehouse, SKU) rows, then lock them all in one statement by id."""
    whs, skus = [w for w, _ in pairs], [s for _, s in pairs]
    await db.execute(
        """INSERT INTO stock_level (merchant_id, warehouse_id, sku_id)
           SELECT $1, w, s FROM unnest($2::bigint[], $3::bigint[]) AS u(w, s)
           WHERE NOT EXISTS (SELECT 1 FROM stock_level l WHERE l.warehouse_id = u.w AND l.sku_id = u.s)
           ORDER BY w, s ON CONFLICT (warehouse_id, sku_id) DO NOTHING""", mid, whs, skus)
    rows = await db.fetch(
        """SELECT l.* FROM stock_level l JOIN unnest($2::bigint[], $3::bigint[]) AS u(w, s)
                ON l.warehouse_id = u.w AND l.sku_id = u.s
           WHERE l.merchant_id = $1 ORDER BY l.id FOR UPDATE OF l""", mid, whs, skus)
    return {(r["warehouse_id"], r["sku_id"]): dict(r) for r in rows}


async def _codes(*warehouse_ids: int) -> dict[int, str]:
    return {r["id"]: r["code"] for r in await db.fetch("SELECT id, code FROM warehouse WHERE id = ANY($1::bigint[])",
                                                       list(warehouse_ids))}


async def _incoming(changes: list[tuple[int, int]]) -> None:
    """Add to (or, negative, take from) stock_level.incoming: [(level id, units)]; rows locked."""
    if changes:
        await db.execute(
            """UPDATE stock_level s SET incoming = s.incoming + u.d, updated_at = now()
               FROM unnest($1::bigint[], $2::int[]) AS u(id, d) WHERE s.id = u.id""",
            [c[0] for c in changes], [c[1] for c in changes])


async def ship_transfer(actor: Actor, transfer_id: int | str) -> dict:
    """Draft → shipped: every line leaves the source (transfer_out) and is incoming at the destination.
    A line asking for more than the source has available (on hand − reserved) refuses the whole
    shipment with `insufficient_stock` naming the SKU and the warehouse."""
    policy.authorize(actor, "inventory.manage")
    mid = policy.tenant(actor)
    async with db.transaction():
        t = await _locked(actor, transfer_id)
        if t["status"] != T.DRAFT:
            raise InvalidTransferTransition(
                f"transfer {number(t['id'])} is {t['status'].replace('_', ' ')}; only a draft can be shipped",
                field="id")
        lines = await _lines(t["id"])
        src, dst = t["from_warehouse_id"], t["to_warehouse_id"]
        codes = await _codes(src, dst)
        levels = await _lock_levels(mid, sorted([(src, ln["sku_id"]) for ln in lines]
                                                + [(dst, ln["sku_id"]) for ln in lines]))
        errors: list[DomainError] = []
        for n, ln in enumerate(lines):
            lv = levels[(src, ln["sku_id"])]
            available = lv["on_hand"] - lv["reserved"]
            if ln["quantity"] > available:
                errors.append(InsufficientStock(
                    f"cannot ship {ln['quantity']} of {ln['sku_code']} from {codes[src]}: {available} available "
                    f"({lv['on_hand']} on hand, {lv['reserved']} reserved for orders)",
                    field=f"lines.{n}.quantity",
                    details={"sku": ln["sku_code"], "warehouse": codes[src], "available": available}))
        if errors:
            raise errors[0] if len(errors) == 1 else ErrorList(errors)
        ref = number(t["id"])
        await ledger.apply(mid, actor.label, [
            ledger.Move(levels[(src, ln["sku_id"])]["id"], src, ln["sku_id"], "transfer_out",
                        on_hand_delta=-ln["quantity"], reason=f"transfer to {codes[dst]}", reference=ref)
            for ln in lines])
        await _incoming([(levels[(dst, ln["sku_id"])]["id"], ln["quantity"]) for ln in lines])
        await db.execute("UPDATE transfer_line SET shipped_quantity = quantity WHERE transfer_id = $1", t["id"])
        await transition(actor, t, T.SHIPPED, kind="shipped",
                         message=f"shipped from {codes[src]} to {codes[dst]}",
                         data={"lines": {ln["sku_code"]: ln["quantity"] for ln in lines}},
                         extra_sets={"shipped_at": clock.now()})
    return await get_transfer(actor, t["id"])


async def receive_transfer(actor: Actor, transfer_id: int | str, quantities: dict[str | int, Any] | None = None
                           ) -> dict:
    """Units of a shipped transfer arrive at the destination. `quantities`: {SKU code or id: units};
    None receives everything still in transit. Partial receipts leave the transfer
    partially_received; the last one closes it (received). Returns the transfer with
    `released_orders`: backorders the arriving units now reserve."""
    policy.authorize(actor, "inventory.adjust")
    mid = policy.tenant(actor)
    async with db.transaction():
        t = await _locked(actor, transfer_id)
        if t["status"] not in IN_TRANSIT:
            raise InvalidTransferTransition(
                f"transfer {number(t['id'])} is {t['status'].replace('_', ' ')}; only a shipped transfer can be "
                "received", field="id")
        lines = await _lines(t["id"])
        take = _receipt(lines, quantities)
        src, dst = t["from_warehouse_id"], t["to_warehouse_id"]
        codes = await _codes(src, dst)
        levels = await _lock_levels(mid, sorted((dst, ln["sku_id"]) for ln in lines if take.get(ln["id"])))
        ref = number(t["id"])
        moving = [ln for ln in lines if take.get(ln["id"])]
        await ledger.apply(mid, actor.label, [
            ledger.Move(levels[(dst, ln["sku_id"])]["id"], dst, ln["sku_id"], "transfer_in",
                        on_hand_delta=take[ln["id"]], reason=f"transfer from {codes[src]}", reference=ref)
            for ln in moving])
        await _incoming([(levels[(dst, ln["sku_id"])]["id"], -take[ln["id"]]) for ln in moving])
        await db.execute(
            """UPDATE transfer_line l SET received_quantity = l.received_quantity + u.q
               FROM unnest($1::bigint[], $2::int[]) AS u(id, q) WHERE l.id = u.id""",
            [ln["id"] for ln in moving], [take[ln["id"]] for ln in moving])
        left = sum(ln["in_transit"] for ln in lines) - sum(take.values())
        target = T.RECEIVED if left == 0 else T.PARTIALLY_RECEIVED
        received = {ln["sku_code"]: take[ln["id"]] for ln in moving}
        await transition(actor, t, target, kind="received" if left == 0 else "received_part",
                         message=f"{sum(take.values())} units received at {codes[dst]}"
                                 + ("" if left == 0 else f", {left} still in transit"),
                         data={"lines": received, "in_transit": left},
                         extra_sets={"received_at": clock.now()} if left == 0 else None)
        released = await reservations._release_backorders(actor, sorted({ln["sku_id"] for ln in moving}))
    return await get_transfer(actor, t["id"]) | {"released_orders": released}


def _receipt(lines: list[dict], quantities: dict[str | int, Any] | None) -> dict[int, int]:
    """{line id: units} for a receipt, checked against what is still in transit."""
    if quantities is None:
        return {ln["id"]: ln["in_transit"] for ln in lines if ln["in_transit"] > 0}
    by_ref: dict[str, dict] = {}
    for ln in lines:
        by_ref[ln["sku_code"]] = ln
        by_ref.setdefault(str(ln["sku_id"]), ln)
    take: dict[int, int] = {}
    errors: list[DomainError] = []
    for ref, value in quantities.items():
        ln = by_ref.get(str(ref).strip())
        field = f"lines.{str(ref).strip()}"
        if ln is None:
            errors.append(ValidationError(f"{ref} is not on this transfer", code="unknown_sku", field=field))
            continue
        if value in (None, "", 0, "0"):
            continue
        try:
            n = _qty(value, field)
        except DomainError as exc:
            errors.append(exc)
            continue
        if take.get(ln["id"], 0) + n > ln["in_transit"]:
            errors.append(ValidationError(
                f"{ln['sku_code']}: cannot receive {n}, only {ln['in_transit']} still in transit",
                code="too_many", field=field))
            continue
        take[ln["id"]] = take.get(ln["id"], 0) + n
    if errors:
        raise errors[0] if len(errors) == 1 else ErrorList(errors)
    if not take:
        raise ValidationError("enter how many units arrived for at least one line", code="required", field="lines")
    return take


async def cancel_transfer(actor: Actor, transfer_id: int | str, reason: str = "") -> dict:
    """Cancel a draft (nothing moves) or a shipped transfer: what is still in transit returns to the
    source (transfer_in at the source, `incoming` at the destination drops); received units stay."""
    policy.authorize(actor, "inventory.manage")
    mid = policy.tenant(actor)
    reason = (reason or "").strip()[:500]
    async with db.transaction():
        t = await _locked(actor, transfer_id)
        if t["status"] not in OPEN:
            raise InvalidTransferTransition(
                f"transfer {number(t['id'])} is already {t['status'].replace('_', ' ')}", field="id")
        released: list[int] = []
        returned: dict[str, int] = {}
        returned_skus: list[int] = []
        if t["status"] in IN_TRANSIT:
            lines = [ln for ln in await _lines(t["id"]) if ln["in_transit"] > 0]
            src, dst = t["from_warehouse_id"], t["to_warehouse_id"]
            codes = await _codes(src, dst)
            if lines:
                levels = await _lock_levels(mid, sorted([(src, ln["sku_id"]) for ln in lines]
                                                        + [(dst, ln["sku_id"]) for ln in lines]))
                ref = number(t["id"])
                await ledger.apply(mid, actor.label, [
                    ledger.Move(levels[(src, ln["sku_id"])]["id"], src, ln["sku_id"], "transfer_in",
                                on_hand_delta=ln["in_transit"], reason=f"transfer cancelled: returned from "
                                f"transit to {codes[src]}" + (f" ({reason})" if reason else ""), reference=ref)
                    for ln in lines])
                await _incoming([(levels[(dst, ln["sku_id"])]["id"], -ln["in_transit"]) for ln in lines])
                await db.execute("UPDATE transfer_line SET returned_quantity = shipped_quantity - received_quantity "
                                 "WHERE transfer_id = $1", t["id"])
                returned = {ln["sku_code"]: ln["in_transit"] for ln in lines}
                returned_skus = sorted({ln["sku_id"] for ln in lines})
        message = "cancelled" + (f": {reason}" if reason else "")
        if returned:
            message += f"; {sum(returned.values())} units in transit returned to the source"
        await transition(actor, t, T.CANCELLED, kind="cancelled", message=message,
                         data={"reason": reason, "returned": returned}, extra_sets={"cancelled_at": clock.now()})
        if returned:
            released = await reservations._release_backorders(actor, returned_skus)
    return await get_transfer(actor, t["id"]) | {"released_orders": released}
