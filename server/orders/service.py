"""Order commands: create (partner API, staff form, CSV), cancel, change address, notes, tags,
bulk actions and saved views. Every change is validated, in the timeline and in the audit trail."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from server.audit import service as audit
from server.auth import policy
from server.channels import service as channels
from server.channels.connectors.base import (
    NormalizedAddress,
    NormalizedBuyer,
    NormalizedLine,
    NormalizedOrder,
    NormalizedStatus,
    PaymentStatus,
)
from server.core import clock, db
from server.core.actor import Actor
from server.core.errors import Conflict, DomainError, ErrorList, NotFound, ValidationError
from server.core.money import to_minor
from server.inventory import service as inventory
from server.orders import ingest, queries
from server.orders import status as st


@dataclass
class LineInput:
    sku: str                     # SKU code or id
    quantity: int
    unit_price: Any = None       # decimal string; defaults to the SKU's list price
    discount: Any = None


@dataclass
class ReceiverInput:
    name: str = ""
    phone: str = ""
    country_code: str = "CN"
    province: str = ""
    city: str = ""
    district: str = ""
    address: str = ""
    postcode: str = ""


@dataclass
class OrderInput:
    channel: str                 # channel id or name
    external_id: str
    lines: list[LineInput]
    receiver: ReceiverInput = field(default_factory=ReceiverInput)
    idempotency_key: str | None = None
    currency: str | None = None
    paid: bool = True
    placed_at: datetime | None = None
    shipping_fee: Any = None
    buyer_note: str = ""
    buyer_name: str = ""
    buyer_email: str = ""


async def create_order(actor: Actor, data: OrderInput, *, source: str = "api") -> tuple[dict, bool]:
    """Create an order from a partner, the staff form or a CSV row. Returns (order, created).

    With an idempotency key, retrying the same request returns the first order instead of a second.
    """
    policy.authorize(actor, "orders.create")
    mid = policy.tenant(actor)
    channel = await channels.resolve_channel(actor, data.channel)
    currency = (data.currency or "").upper() or (await db.fetchval("SELECT currency FROM merchant WHERE id = $1", mid))
    skus: dict[str, dict] = {}
    for ln in data.lines:
        try:
            from server.catalog import service as catalog  # noqa: PLC0415

            skus[str(ln.sku).strip()] = await catalog.resolve_sku(actor, ln.sku)
        except NotFound:
            pass
    order, listing, key = _prepare(data, currency, skus)
    ext = order.external_id
    async with db.transaction():
        locks = sorted([f"order:{channel['id']}:{ext}"] + ([f"idem:{mid}:{key}"] if key else []))
        await db.execute("SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest($1::text[]) AS k ORDER BY k",
                         locks)
        if key:
            existing = await db.fetchval("SELECT id FROM sales_order WHERE merchant_id = $1 AND idempotency_key = $2",
                                         mid, key)
            if existing:
                return await queries.get_order(actor, existing), False
        if await db.fetchval("SELECT 1 FROM sales_order WHERE channel_id = $1 AND external_id = $2", channel["id"], ext):
            raise _duplicate(ext, channel)
        raw = {"source": source, "input": _input_dict(data)}
        await ingest._store_raw(mid, channel["id"], [ingest.FetchedOrder(ext, raw, order)], source)
        (oid,) = await ingest._create(channel, [order], listing, source, actor.label, [key])
        await audit.record(actor, "order.create", "order", oid, after={"external_id": ext, "channel": channel["name"],
                                                                       "source": source})
        await inventory.reconcile_orders(actor, [oid])
    return await queries.get_order(actor, oid), True


def _duplicate(ext: str, channel: dict) -> Conflict:
    return Conflict(f"order {ext!r} already exists on channel {channel['name']}", code="duplicate_order",
                    field="externalId")


def _prepare(data: OrderInput, currency: str, skus: dict[str, dict]
             ) -> tuple[NormalizedOrder, dict[tuple[str, str], tuple[int, str]], str | None]:
    """Validate one input (SKUs already looked up by ref) into (order, listing, idempotency key);
    every problem at once as an ErrorList."""
    errors: list[ValidationError] = []
    ext = (data.external_id or "").strip()
    if not ext:
        errors.append(ValidationError("externalId is required (your system's order id)", code="required",
                                      field="externalId"))
    if not data.lines:
        errors.append(ValidationError("an order needs at least one line", code="required", field="lines"))
    if len(currency) != 3:
        errors.append(ValidationError("currency must be a 3-letter ISO code", code="invalid", field="currency"))
    lines: list[NormalizedLine] = []
    listing: dict[tuple[str, str], tuple[int, str]] = {}
    for i, ln in enumerate(data.lines):
        sku = skus.get(str(ln.sku).strip())
        if sku is None:
            errors.append(ValidationError(f"line {i + 1}: no SKU {ln.sku!r}", code="unknown_sku",
                                          field=f"lines.{i}.sku"))
            continue
        if not isinstance(ln.quantity, int) or ln.quantity <= 0:
            errors.append(ValidationError(f"line {i + 1}: quantity must be a positive whole number",
                                          code="invalid", field=f"lines.{i}.quantity"))
            continue
        try:
            price = to_minor(ln.unit_price, currency) if ln.unit_price not in (None, "") else sku["list_price_minor"]
            discount = to_minor(ln.discount, currency) if ln.discount not in (None, "") else 0
        except ValidationError:
            errors.append(ValidationError(f"line {i + 1}: unitPrice must be an amount like 12.50",
                                          code="invalid_amount", field=f"lines.{i}.unitPrice"))
            continue
        if price < 0 or discount < 0:
            errors.append(ValidationError(f"line {i + 1}: amounts cannot be negative", code="invalid",
                                          field=f"lines.{i}.unitPrice"))
            continue
        lines.append(NormalizedLine(external_line_id=str(i + 1), title=sku["name"], quantity=ln.quantity,
                                    unit_price=price, discount=discount, platform_sku_id=sku["code"],
                                    sku_code=sku["code"]))
        listing[("", sku["code"])] = (sku["id"], sku["code"])
    try:
        shipping = to_minor(data.shipping_fee, currency) if data.shipping_fee not in (None, "") else 0
    except ValidationError:
        errors.append(ValidationError("shippingFee must be an amount like 10.00", code="invalid_amount",
                                      field="shippingFee"))
        shipping = 0
    r = data.receiver
    if not (r.name or "").strip():
        errors.append(ValidationError("receiver name is required", code="required", field="receiver.name"))
    if errors:
        raise ErrorList(errors)

    now = clock.now()
    items = sum(ln.unit_price * ln.quantity for ln in lines)
    discount_total = sum(ln.discount for ln in lines)
    order = NormalizedOrder(
        external_id=ext, order_number=ext, platform_status="paid" if data.paid else "unpaid",
        status=NormalizedStatus.PAID if data.paid else NormalizedStatus.PENDING_PAYMENT,
        payment_status=PaymentStatus.PAID if data.paid else PaymentStatus.UNPAID, currency=currency,
        items_total=items, shipping_fee=shipping, discount_total=discount_total, tax_total=0,
        paid_total=items - discount_total + shipping, placed_at=clock.utc(data.placed_at) if data.placed_at else now,
        updated_at=now, paid_at=now if data.paid else None,
        buyer=NormalizedBuyer(name=data.buyer_name or r.name, email=data.buyer_email, phone=r.phone),
        receiver=NormalizedAddress(name=r.name.strip(), phone=r.phone, country_code=r.country_code or "CN",
                                   province=r.province, city=r.city, district=r.district, address=r.address,
                                   postcode=r.postcode),
        buyer_note=data.buyer_note, lines=lines)
    return order, listing, (data.idempotency_key or "").strip() or None


@dataclass
class CreateOutcome:
    """One input of `create_orders`: the order ({id, order_number, total, currency}) and whether it
    was created now (False: its idempotency key named an existing order), or the error that
    `create_order` would have raised for it."""
    order: dict | None = None
    created: bool = False
    error: DomainError | None = None


async def create_orders(actor: Actor, inputs: list[OrderInput], *, source: str = "api",
                        check_only: bool = False) -> list[CreateOutcome]:
    """Batch `create_order` (CSV imports): the same checks, idempotency, raw payloads, timeline,
    audit and reservations per order, but SKUs, locks, existence checks and writes go per batch
    (COPY through the ingest pipeline) instead of per order. The good inputs are written in the
    caller's transaction (or one of its own); a bad one is only reported. `check_only` writes nothing
    (a preview: an already created order comes back with created False)."""
    policy.authorize(actor, "orders.create")
    mid = policy.tenant(actor)
    from server.catalog import service as catalog  # noqa: PLC0415

    out = [CreateOutcome() for _ in inputs]
    found: dict[str, dict | DomainError] = {}
    for data in inputs:
        if data.channel not in found:
            try:
                found[data.channel] = await channels.resolve_channel(actor, data.channel)
            except DomainError as exc:
                found[data.channel] = exc
    default_currency = await db.fetchval("SELECT currency FROM merchant WHERE id = $1", mid)
    skus = await catalog.skus_by_ref(actor, [ln.sku for data in inputs for ln in data.lines])
    ready: list[tuple[int, dict, NormalizedOrder, dict, str | None]] = []
    for i, data in enumerate(inputs):
        channel = found[data.channel]
        try:
            if isinstance(channel, DomainError):
                raise channel
            order, listing, key = _prepare(data, (data.currency or "").upper() or default_currency, skus)
        except DomainError as exc:
            out[i].error = exc
            continue
        ready.append((i, channel, order, listing, key))
    if not ready:
        return out
    async with db.transaction():
        if not check_only:
            locks = sorted({f"order:{c['id']}:{o.external_id}" for _, c, o, _, _ in ready}
                           | {f"idem:{mid}:{k}" for *_, k in ready if k})
            await db.execute("SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest($1::text[]) AS k "
                             "ORDER BY k", locks)
        by_key = {r["idempotency_key"]: r["id"] for r in await db.fetch(   # a join: see ingest's lookup
            "SELECT s.idempotency_key, s.id FROM unnest($2::text[]) AS k(key) "
            "JOIN sales_order s ON s.merchant_id = $1 AND s.idempotency_key = k.key", mid, [k for *_, k in ready if k])}
        taken = {(r["channel_id"], r["external_id"]) for r in await db.fetch(
            """SELECT channel_id, external_id FROM sales_order
               WHERE (channel_id, external_id) IN (SELECT * FROM unnest($1::bigint[], $2::text[]))""",
            [c["id"] for _, c, *_ in ready], [o.external_id for _, _, o, *_ in ready])}
        todo: dict[int, list[tuple[int, dict, NormalizedOrder, dict, str | None]]] = {}
        keyed: dict[str, int] = {}          # idempotency key -> input index creating it in this batch
        for item in ready:
            i, channel, order, _, key = item
            if key and key in by_key:
                out[i].order = {"id": by_key[key]}
            elif key and key in keyed:
                out[i].order = out[keyed[key]].order
            elif (channel["id"], order.external_id) in taken:
                out[i].error = _duplicate(order.external_id, channel)
            else:
                taken.add((channel["id"], order.external_id))
                out[i].created = True
                out[i].order = {}
                if key:
                    keyed[key] = i
                todo.setdefault(channel["id"], []).append(item)
        if not check_only and todo:
            made: list[int] = []
            for group in todo.values():
                channel = group[0][1]
                await ingest._store_raw(mid, channel["id"], [
                    ingest.FetchedOrder(o.external_id, {"source": source, "input": _input_dict(inputs[i])}, o)
                    for i, _, o, _, _ in group], source)
                listing = {k: v for *_, ls, _ in group for k, v in ls.items()}
                ids = await ingest._create(channel, [o for _, _, o, _, _ in group], listing, source, actor.label,
                                           [k for *_, k in group])
                for (i, _, _, _, _), oid in zip(group, ids, strict=True):
                    out[i].order["id"] = oid
                await audit.record_many(actor, "order.create", "order", [
                    (oid, {"external_id": o.external_id, "channel": channel["name"], "source": source})
                    for (_, _, o, _, _), oid in zip(group, ids, strict=True)])
                made += ids
            await inventory.reconcile_orders(actor, made)
        ids = [o.order["id"] for o in out if o.order and "id" in o.order]
        rows = {r["id"]: dict(r) for r in await db.fetch(
            "SELECT id, order_number, total, currency FROM sales_order WHERE id = ANY($1::bigint[])", ids)}
    for o in out:
        if o.order is not None and o.order.get("id") in rows:
            o.order.update(rows[o.order["id"]])
    return out


def _input_dict(data: OrderInput) -> dict:
    """The input as stored in the raw payload (what dataclasses.asdict gives, without its deep copies)."""
    out = dict(vars(data))
    out["lines"] = [dict(vars(ln)) for ln in data.lines]
    out["receiver"] = dict(vars(data.receiver))
    out["placed_at"] = data.placed_at.isoformat() if data.placed_at else None
    return out


async def _lock_order(actor: Actor, order_id: int) -> dict:
    row = await db.fetchrow("SELECT * FROM sales_order WHERE id = $1 AND merchant_id = $2 FOR UPDATE",
                            int(order_id), policy.tenant(actor))
    if row is None:
        raise NotFound("order not found", field="id")
    return dict(row)


async def cancel_order(actor: Actor, order_id: int, reason: str = "") -> dict:
    policy.authorize(actor, "orders.manage")
    async with db.transaction():
        order = await _lock_order(actor, order_id)
        if order["status"] == st.S.CANCELLED:
            return order
        updated = await st.transition(actor, order, st.S.CANCELLED, kind="cancelled",
                                      message=reason or "cancelled by staff", data={"reason": reason},
                                      extra_sets={"cancelled_at": clock.now(), "hold_reasons": []})
        await inventory.reconcile_orders(actor, [order["id"]])
    return updated


ADDRESS_FIELDS = ("receiver_name", "receiver_phone", "country_code", "province", "city", "district", "address",
                  "postcode")


async def update_address(actor: Actor, order_id: int, receiver: ReceiverInput) -> dict:
    """Change the receiver before fulfilment; the change is audited and platform updates no longer
    overwrite it."""
    policy.authorize(actor, "orders.manage")
    if not (receiver.name or "").strip():
        raise ValidationError("receiver name is required", code="required", field="receiver.name")
    async with db.transaction():
        order = await _lock_order(actor, order_id)
        if order["status"] not in st.OPEN:
            raise st.InvalidTransition(f"the address cannot change once an order is {order['status'].replace('_', ' ')}",
                                       code="address_locked", field="receiver")
        norm = NormalizedOrder(external_id="", order_number="", platform_status="", status=NormalizedStatus.PAID,
                               payment_status=PaymentStatus.PAID, currency="CNY", items_total=0, shipping_fee=0,
                               discount_total=0, tax_total=0, paid_total=0, placed_at=clock.now(),
                               updated_at=clock.now(),
                               receiver=NormalizedAddress(name=receiver.name.strip(), phone=receiver.phone,
                                                          country_code=receiver.country_code or "CN",
                                                          province=receiver.province, city=receiver.city,
                                                          district=receiver.district, address=receiver.address,
                                                          postcode=receiver.postcode))
        rec = ingest.receiver_fields(norm)
        rec["receiver_masked"] = False
        sets = ", ".join(f"{k} = ${i + 2}" for i, k in enumerate(rec))
        row = await db.fetchrow(f"UPDATE sales_order SET {sets}, receiver_edited = true, version = version + 1, "  # noqa: S608
                                "updated_at = now() WHERE id = $1 RETURNING *", order["id"], *rec.values())
        before = {k: order[k] for k in ADDRESS_FIELDS}
        after = {k: row[k] for k in ADDRESS_FIELDS}
        b, a = audit.diff(before, after)
        await db.execute(
            "INSERT INTO order_event (order_id, merchant_id, kind, actor_label, message, data) "
            "VALUES ($1, $2, 'address_changed', $3, 'receiver address changed', $4::jsonb)",
            order["id"], order["merchant_id"], actor.label, db.dumps({"fields": sorted(a)}))
        await audit.record(actor, "order.address_changed", "order", order["id"], before=b, after=a)
    return dict(row)


async def add_note(actor: Actor, order_id: int, body: str) -> dict:
    policy.authorize(actor, "orders.manage")
    body = (body or "").strip()
    if not body:
        raise ValidationError("write something in the note", code="required", field="body")
    if len(body) > 5000:
        raise ValidationError("notes are limited to 5000 characters", code="too_long", field="body")
    async with db.transaction():
        order = await _lock_order(actor, order_id)
        note = await db.fetchrow("INSERT INTO order_note (order_id, merchant_id, author_label, body) "
                                 "VALUES ($1, $2, $3, $4) RETURNING *", order["id"], order["merchant_id"], actor.label, body)
        await audit.record(actor, "order.note_added", "order", order["id"], after={"note_id": note["id"]})
    return dict(note)


# -- bulk ---------------------------------------------------------------------------------------

@dataclass
class BulkResult:
    done: int = 0
    failed: list[dict] = field(default_factory=list)   # {id, order_number, code, message}


async def _targets(actor: Actor, ids: list[int] | None, f: queries.OrderFilter | None) -> list[int]:
    if ids:
        return sorted({int(i) for i in ids})
    if f is None:
        raise ValidationError("select orders or choose 'all matching'", code="required", field="ids")
    return await queries.matching_ids(actor, f)


def _clean_tags(tags: list[str]) -> list[str]:
    out = sorted({t.strip().lower()[:40] for t in tags if t and t.strip()})
    if not out:
        raise ValidationError("give at least one tag", code="required", field="tags")
    return out


async def bulk_tag(actor: Actor, tags: list[str], *, ids: list[int] | None = None,
                   f: queries.OrderFilter | None = None, remove: bool = False) -> BulkResult:
    policy.authorize(actor, "orders.manage")
    clean = _clean_tags(tags)
    targets = await _targets(actor, ids, f)
    async with db.transaction():
        op = ("SELECT coalesce(array_agg(t ORDER BY t), '{}') FROM unnest(o.tags) t WHERE t <> ALL($3::text[])"
              if remove else
              "SELECT array_agg(DISTINCT t ORDER BY t) FROM unnest(o.tags || $3::text[]) t")
        rows = await db.fetch(f"UPDATE sales_order o SET tags = ({op}), updated_at = now() "  # noqa: S608
                              "WHERE o.merchant_id = $1 AND o.id = ANY($2::bigint[]) RETURNING o.id",
                              policy.tenant(actor), targets, clean)
        await audit.record(actor, "order.bulk_untag" if remove else "order.bulk_tag", "order",
                           f"{len(rows)} orders", after={"tags": clean, "ids": [r["id"] for r in rows][:1000]})
    return BulkResult(done=len(rows))


async def bulk_note(actor: Actor, body: str, *, ids: list[int] | None = None,
                    f: queries.OrderFilter | None = None) -> BulkResult:
    policy.authorize(actor, "orders.manage")
    body = (body or "").strip()
    if not body:
        raise ValidationError("write something in the note", code="required", field="body")
    targets = await _targets(actor, ids, f)
    async with db.transaction():
        rows = await db.fetch(
            """INSERT INTO order_note (order_id, merchant_id, author_label, body)
               SELECT id, merchant_id, $3, $4 FROM sales_order WHERE merchant_id = $1 AND id = ANY($2::bigint[])
               RETURNING order_id""", policy.tenant(actor), targets, actor.label, body)
        await audit.record(actor, "order.bulk_note", "order", f"{len(rows)} orders",
                           after={"ids": [r["order_id"] for r in rows][:1000]})
    return BulkResult(done=len(rows))


async def bulk_cancel(actor: Actor, reason: str, *, ids: list[int] | None = None,
                      f: queries.OrderFilter | None = None) -> BulkResult:
    """Cancel each order that may be cancelled; the others are reported with the reason."""
    policy.authorize(actor, "orders.manage")
    result = BulkResult()
    for oid in await _targets(actor, ids, f):
        try:
            await cancel_order(actor, oid, reason)
            result.done += 1
        except (st.InvalidTransition, NotFound) as exc:
            number = await db.fetchval("SELECT order_number FROM sales_order WHERE id = $1 AND merchant_id = $2",
                                       oid, policy.tenant(actor))
            result.failed.append({"id": oid, "order_number": number, "code": exc.code, "message": exc.message})
    return result


# -- saved views --------------------------------------------------------------------------------

async def save_view(actor: Actor, name: str, query: dict, area: str = "orders") -> dict:
    policy.authorize(actor, "orders.view")
    if actor.user_id is None:
        raise ValidationError("saved views belong to staff users", code="not_a_user")
    name = (name or "").strip()
    if not name:
        raise ValidationError("name the view", code="required", field="name")
    row = await db.fetchrow(
        """INSERT INTO saved_view (merchant_id, user_id, area, name, query) VALUES ($1, $2, $3, $4, $5::jsonb)
           ON CONFLICT (user_id, area, name) DO UPDATE SET query = EXCLUDED.query RETURNING *""",
        policy.tenant(actor), actor.user_id, area, name[:80], db.dumps(query))
    return dict(row) | {"query": db.loads(row["query"])}


async def list_views(actor: Actor, area: str = "orders") -> list[dict]:
    if actor.user_id is None:
        return []
    rows = await db.fetch("SELECT * FROM saved_view WHERE user_id = $1 AND area = $2 ORDER BY name", actor.user_id, area)
    return [dict(r) | {"query": db.loads(r["query"])} for r in rows]


async def delete_view(actor: Actor, view_id: int) -> None:
    await db.execute("DELETE FROM saved_view WHERE id = $1 AND user_id = $2", view_id, actor.user_id)
