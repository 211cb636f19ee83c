"""The ingest pipeline: platform orders in, normalized orders out — in batches, idempotently.

For a batch of FetchedOrders from one channel, in one transaction:
1. every distinct raw payload version is stored (immutable; a mapping failure is stored with its reason);
2. the orders are locked by (channel, external id) with advisory locks taken in sorted order, so
   concurrent deliveries of the same order (webhook retries, a pull overlapping a webhook) serialize
   instead of duplicating;
3. only versions newer than what we hold apply; platform SKUs resolve through channel listings
   (auto-matched by SKU code); buyers unify into customers by phone / email / platform id;
4. new orders, lines and timeline events are written with COPY; changed orders with one UPDATE.
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

from server.channels.connectors.base import FetchedOrder, NormalizedOrder, PaymentStatus
from server.core import db
from server.core.actor import system
from server.customers import normalize
from server.inventory import service as inventory
from server.orders import status as st

log = logging.getLogger("oms.ingest")

BATCH = 250


@dataclass
class IngestResult:
    fetched: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    order_ids: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def add(self, other: IngestResult) -> None:
        for k in ("fetched", "created", "updated", "unchanged", "failed"):
            setattr(self, k, getattr(self, k) + getattr(other, k))
        self.order_ids += other.order_ids
        self.errors += other.errors

    def counts(self) -> dict:
        return {"fetched": self.fetched, "created": self.created, "updated": self.updated, "failed": self.failed}


def canonical_json(raw: dict) -> str:
    return json.dumps(raw, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))


def payload_hash(raw: dict) -> str:
    return hashlib.sha256(canonical_json(raw).encode()).hexdigest()


def _lock_key(channel_id: int, external_id: str) -> str:
    return f"order:{channel_id}:{external_id}"


async def ingest(channel: dict, fetched: list[FetchedOrder], *, source: str, actor_label: str = "") -> IngestResult:
    total = IngestResult()
    for i in range(0, len(fetched), BATCH):
        async with db.transaction():
            total.add(await _ingest_batch(channel, fetched[i:i + BATCH], source, actor_label or f"channel:{channel['name']}"))
    return total


async def ingest_stream(channel: dict, batches: AsyncIterator[list[FetchedOrder]], *, source: str,
                        into: IngestResult) -> None:
    """Ingest a pull's pages while the next page is fetched, so the platform's HTTP (and the JSON
    parsing and mapping) overlaps the database work instead of alternating with it. What was ingested
    is added to `into` even when fetching fails; the fetch error is raised once the pages before it
    are in."""
    it = batches.__aiter__()

    async def fetch_next() -> list[FetchedOrder] | None:
        try:
            return await it.__anext__()
        except StopAsyncIteration:
            return None

    pending: asyncio.Future = asyncio.ensure_future(fetch_next())
    try:
        while (batch := await pending) is not None:
            pending = asyncio.ensure_future(fetch_next())
            into.add(await ingest(channel, batch, source=source))
    finally:
        if not pending.done():          # ingest failed: stop the fetch in flight
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending


async def _ingest_batch(channel: dict, batch: list[FetchedOrder], source: str, actor_label: str) -> IngestResult:
    res = IngestResult(fetched=len(batch))
    mid, cid = channel["merchant_id"], channel["id"]
    await _store_raw(mid, cid, batch, source)

    newest: dict[str, NormalizedOrder] = {}
    for f in batch:
        if f.order is None:
            if f.error:
                res.failed += 1
                res.errors.append(f"{f.external_id}: {f.error}")
            continue
        seen = newest.get(f.external_id)
        if seen is None or f.order.updated_at >= seen.updated_at:
            newest[f.external_id] = f.order
    if not newest:
        return res

    keys = sorted(_lock_key(cid, e) for e in newest)
    await db.execute("SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest($1::text[]) AS k ORDER BY k",
                     keys)
    # a join on unnest, not `external_id = ANY($2)`: on a table whose statistics lag (a fresh or fast
    # growing one) the planner scans it comparing every row with all 250 ids (20-60 ms per batch)
    existing = {r["external_id"]: dict(r) for r in await db.fetch(
        "SELECT s.id, s.external_id, s.status, s.platform_updated_at, s.hold_reasons, s.receiver_edited, "
        "s.payment_status, s.refunded_total, s.platform_status FROM unnest($2::text[]) AS e(ext) "
        "JOIN sales_order s ON s.channel_id = $1 AND s.external_id = e.ext ORDER BY s.id", cid, list(newest))}

    to_create = [o for e, o in newest.items() if e not in existing]
    to_update = [(existing[e], o) for e, o in newest.items()
                 if e in existing and (existing[e]["platform_updated_at"] is None
                                       or o.updated_at > existing[e]["platform_updated_at"])]
    res.unchanged = len(newest) - len(to_create) - len(to_update)
    if not to_create and not to_update:
        return res

    listing_skus = await _resolve_listings(mid, cid, [o for o in to_create] + [o for _, o in to_update])
    if to_create:
        created_ids = await _create(channel, to_create, listing_skus, source, actor_label)
        res.created = len(created_ids)
        res.order_ids += created_ids
    if to_update:
        res.order_ids += await _update(channel, to_update, actor_label)
        res.updated = len(to_update)
    await inventory.reconcile_orders(replace(system(mid, "ingest"), label=actor_label), res.order_ids)
    return res


async def _store_raw(mid: int, cid: int, batch: list[FetchedOrder], source: str) -> None:
    rows = []
    for f in batch:
        text = canonical_json(f.raw)  # encoded once: stored as jsonb and hashed for the version key
        rows.append((f.external_id, f.order.updated_at if f.order else None, text,
                     hashlib.sha256(text.encode()).hexdigest(), f.error or ""))
    await _fast_toast()
    # versions already stored are skipped before their JSON is parsed and compressed (a pull's overlap
    # and webhook retries deliver the same versions again); ON CONFLICT covers concurrent writers
    await db.execute(
        """INSERT INTO raw_channel_order (merchant_id, channel_id, external_id, platform_updated_at, source, payload,
                                          payload_hash, mapping_error)
           SELECT $1, $2, e, u, $3, p::jsonb, h, m
           FROM unnest($4::text[], $5::timestamptz[], $6::text[], $7::text[], $8::text[]) AS t(e, u, p, h, m)
           WHERE NOT EXISTS (SELECT 1 FROM raw_channel_order r
                             WHERE r.channel_id = $2 AND r.external_id = t.e AND r.payload_hash = t.h)
           ON CONFLICT (channel_id, external_id, payload_hash) DO NOTHING""",
        mid, cid, source, *map(list, zip(*rows, strict=True)))


_LZ4: list[bool] = []   # known after the first batch: whether this server has lz4


async def _fast_toast() -> None:
    """Raw payloads (~5 kB of JSON each) are compressed as they are stored; PostgreSQL's default pglz
    took half of the raw insert's time, lz4 about a quarter of it. Set for this transaction only, and
    only where the server was built with lz4 (each value records its method: reads need nothing)."""
    if _LZ4 == [False] or not db.in_transaction():
        return
    if not _LZ4:
        _LZ4.append(bool(await db.fetchval(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")))
        if not _LZ4[0]:
            return
    await db.execute("SELECT set_config('default_toast_compression', 'lz4', true)")


async def _resolve_listings(mid: int, cid: int, orders: list[NormalizedOrder]) -> dict[tuple[str, str], tuple[int | None, str]]:
    """(platform product id, platform sku id) -> (merchant sku id or None, sku code). Creates listings
    for platform SKUs seen for the first time, auto-matched by SKU code."""
    found: dict[tuple[str, str], tuple[str, str]] = {}
    for o in orders:
        for ln in o.lines:
            found.setdefault((ln.platform_product_id, ln.platform_sku_id), (ln.sku_code, ln.title))
    keys = sorted(found)
    rows = await db.fetch(
        """INSERT INTO channel_listing AS l (merchant_id, channel_id, platform_product_id, platform_sku_id,
                                             platform_sku_code, title, sku_id, match_method)
           SELECT $1, $2, x.p, x.s, x.c, x.t, sk.id, CASE WHEN sk.id IS NULL THEN '' ELSE 'code' END
           FROM unnest($3::text[], $4::text[], $5::text[], $6::text[]) AS x(p, s, c, t)
           LEFT JOIN sku sk ON sk.merchant_id = $1 AND sk.code = x.c AND x.c <> ''
           ON CONFLICT (channel_id, platform_product_id, platform_sku_id) DO UPDATE
             SET platform_sku_code = EXCLUDED.platform_sku_code, title = EXCLUDED.title,
                 sku_id = COALESCE(l.sku_id, EXCLUDED.sku_id),
                 match_method = CASE WHEN l.sku_id IS NULL THEN EXCLUDED.match_method ELSE l.match_method END,
                 updated_at = now()
           RETURNING l.platform_product_id, l.platform_sku_id, l.sku_id,
                     (SELECT code FROM sku WHERE sku.id = l.sku_id) AS code""",
        mid, cid, [k[0] for k in keys], [k[1] for k in keys], [found[k][0] for k in keys], [found[k][1] for k in keys])
    return {(r["platform_product_id"], r["platform_sku_id"]): (r["sku_id"], r["code"] or "") for r in rows}


def _identities(o: NormalizedOrder, platform: str) -> list[tuple[str, str]]:
    ids = []
    phone = normalize.normalize_phone(o.buyer.phone or o.receiver.phone, o.receiver.country_code or "CN")
    if phone.startswith("+"):
        ids.append(("phone", phone))
    if o.buyer.email:
        ids.append(("email", o.buyer.email.strip().lower()))
    if o.buyer.platform_buyer_id:
        ids.append(("platform", f"{platform}:{o.buyer.platform_buyer_id}"))
    return ids


async def _customers(mid: int, platform: str, orders: list[NormalizedOrder]) -> list[tuple[int | None, bool]]:
    """(customer id, is returning) per order; new buyers become customers, the same buyer twice in
    one batch becomes one customer."""
    per_order = [_identities(o, platform) for o in orders]
    all_ids = sorted({i for ids in per_order for i in ids})
    if not all_ids:
        return [(None, False)] * len(orders)
    await db.execute("SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest($1::text[]) AS k ORDER BY k",
                     [f"cust:{mid}:{k}:{v}" for k, v in all_ids])
    known = {(r["kind"], r["value"]): r["customer_id"] for r in await db.fetch(
        """SELECT kind, value, customer_id FROM customer_identity
           WHERE merchant_id = $1 AND (kind, value) IN (SELECT * FROM unnest($2::text[], $3::text[]))""",
        mid, [k for k, _ in all_ids], [v for _, v in all_ids])}
    returning_ids = set(known.values())
    # one round trip for every new customer id this batch needs (at most one per order)
    spare = [r["id"] for r in await db.fetch(
        "SELECT nextval('customer_id_seq') AS id FROM generate_series(1, $1)",
        sum(1 for ids in per_order if ids and not any(i in known for i in ids)))]
    result: list[int | None] = []
    new_rows: list[tuple] = []
    fresh: dict[tuple[str, str], int] = {}
    for o, ids in zip(orders, per_order, strict=True):
        cust = next((known.get(i) or fresh.get(i) for i in ids if known.get(i) or fresh.get(i)), None)
        if cust is None and ids:
            cust = spare.pop()
            new_rows.append((cust, mid, o.buyer.name or o.receiver.name, ids[0][1] if ids[0][0] == "phone" else "",
                             o.buyer.email.lower() if o.buyer.email else "", o.currency))
        for i in ids:
            if i not in known:
                fresh.setdefault(i, cust)
        result.append(cust)
    async with db.connection() as conn:
        if new_rows:
            await conn.copy_records_to_table("customer", records=new_rows,
                                             columns=["id", "merchant_id", "name", "phone", "email", "currency"])
        if fresh:   # one statement, not one per identity
            await conn.execute(
                "INSERT INTO customer_identity (merchant_id, kind, value, customer_id) "
                "SELECT $1, k, v, c FROM unnest($2::text[], $3::text[], $4::bigint[]) AS t(k, v, c) "
                "ON CONFLICT DO NOTHING", mid, [k for k, _ in fresh], [v for _, v in fresh], list(fresh.values()))
    return [(c, c in returning_ids) for c in result]


ORDER_COLUMNS = [
    "id", "merchant_id", "channel_id", "external_id", "order_number", "platform_order_number", "status",
    "payment_status", "platform_status", "hold_reasons", "customer_id", "is_returning", "buyer_name",
    "buyer_platform_id", "buyer_email", "receiver_name", "receiver_phone", "phone_tail", "country_code", "province",
    "city", "district", "town", "address", "postcode", "region_code", "latitude", "longitude", "receiver_masked",
    "buyer_note", "seller_note", "currency", "items_total", "shipping_fee", "discount_total", "tax_total", "total",
    "refunded_total", "placed_at", "paid_at", "cancelled_at", "ship_by", "platform_updated_at",
    "fulfilled_by_platform", "sku_codes", "line_count", "source", "idempotency_key",
]
LINE_COLUMNS = ["order_id", "merchant_id", "line_no", "external_line_id", "sku_id", "sku_code", "platform_product_id",
                "platform_sku_id", "title", "spec", "quantity", "unit_price", "discount", "tax", "refunded_quantity",
                "refund_status"]
EVENT_COLUMNS = ["order_id", "merchant_id", "kind", "from_status", "to_status", "actor_label", "message", "data"]


def order_number(order_id: int) -> str:
    return f"SO{order_id:08d}"


def receiver_fields(o: NormalizedOrder) -> dict[str, Any]:
    r = o.receiver
    country = normalize.country_code(r.country_code) or r.country_code.upper()[:2]
    region = normalize.region(country, r.province, r.city, r.district)
    phone = normalize.normalize_phone(r.phone, country or "CN")
    return {
        "receiver_name": r.name, "receiver_phone": phone, "phone_tail": normalize.phone_tail(phone),
        "country_code": country, "province": region.province, "city": region.city, "district": region.district,
        "town": r.town, "address": r.address, "postcode": r.postcode, "region_code": region.code,
        "latitude": region.latitude, "longitude": region.longitude,
        "receiver_masked": r.masked or normalize.is_masked(r.phone) or normalize.is_masked(r.name),
    }


async def _create(channel: dict, orders: list[NormalizedOrder], listing_skus: dict, source: str,
                  actor_label: str, idempotency_keys: list[str | None] | None = None) -> list[int]:
    mid, cid = channel["merchant_id"], channel["id"]
    customers = await _customers(mid, channel["platform"], orders)
    ids = [r["id"] for r in await db.fetch(
        "SELECT nextval('sales_order_id_seq') AS id FROM generate_series(1, $1)", len(orders))]
    order_rows, line_rows, event_rows = [], [], []
    for n, (oid, o, (cust, returning)) in enumerate(zip(ids, orders, customers, strict=True)):
        lines = []
        for i, ln in enumerate(o.lines, start=1):
            sku_id, code = listing_skus.get((ln.platform_product_id, ln.platform_sku_id), (None, ""))
            lines.append((oid, mid, i, ln.external_line_id, sku_id, code or ln.sku_code, ln.platform_product_id,
                          ln.platform_sku_id, ln.title, ln.spec, ln.quantity, ln.unit_price, ln.discount, ln.tax,
                          ln.refunded_quantity, ln.refund_status))
        holds = ["unmatched_sku"] if any(line[4] is None for line in lines) and not o.fulfilled_by_platform else []
        status = st.initial(o.status, holds)
        holds = holds if status in st.OPEN else []   # shipped/cancelled on the platform: nothing to hold
        rec = receiver_fields(o)
        row = {
            "id": oid, "merchant_id": mid, "channel_id": cid, "external_id": o.external_id,
            "order_number": order_number(oid), "platform_order_number": o.order_number, "status": status.value,
            "payment_status": o.payment_status.value, "platform_status": o.platform_status, "hold_reasons": holds,
            "customer_id": cust, "is_returning": returning, "buyer_name": o.buyer.name,
            "buyer_platform_id": o.buyer.platform_buyer_id, "buyer_email": o.buyer.email, **rec,
            "buyer_note": o.buyer_note, "seller_note": o.seller_note, "currency": o.currency,
            "items_total": o.items_total, "shipping_fee": o.shipping_fee, "discount_total": o.discount_total,
            "tax_total": o.tax_total, "total": o.paid_total, "refunded_total": o.refunded_total,
            "placed_at": o.placed_at, "paid_at": o.paid_at, "cancelled_at": o.cancelled_at, "ship_by": o.ship_by,
            "platform_updated_at": o.updated_at, "fulfilled_by_platform": o.fulfilled_by_platform,
            "sku_codes": sorted({line[5] for line in lines if line[5]}), "line_count": len(lines), "source": source,
            "idempotency_key": idempotency_keys[n] if idempotency_keys else None,
        }
        order_rows.append(tuple(row[c] for c in ORDER_COLUMNS))
        line_rows += lines
        event_rows.append((oid, mid, "created", "", status.value, actor_label,
                           f"received from {channel['platform']} ({source})",
                           json.dumps({"platform_status": o.platform_status, "holds": holds})))
    async with db.connection() as conn:
        await conn.copy_records_to_table("sales_order", records=order_rows, columns=ORDER_COLUMNS)
        await conn.copy_records_to_table("order_line", records=line_rows, columns=LINE_COLUMNS)
        await conn.copy_records_to_table("order_event", records=event_rows, columns=EVENT_COLUMNS)
    await _bump_customers(mid, orders, customers)
    return ids


async def _bump_customers(mid: int, orders: list[NormalizedOrder], customers: list[tuple[int | None, bool]]) -> None:
    agg: dict[int, list] = {}
    for o, (cust, _) in zip(orders, customers, strict=True):
        if cust is None:
            continue
        a = agg.setdefault(cust, [0, 0, o.currency, o.placed_at, o.placed_at])
        a[0] += 1
        a[1] += o.paid_total if o.payment_status != PaymentStatus.UNPAID else 0
        a[3] = min(a[3], o.placed_at)
        a[4] = max(a[4], o.placed_at)
    if not agg:
        return
    ids = sorted(agg)
    await db.execute(
        """UPDATE customer c SET orders_count = c.orders_count + u.n,
                  total_spent = c.total_spent + CASE WHEN c.currency = u.cur THEN u.spent ELSE 0 END,
                  first_order_at = LEAST(c.first_order_at, u.first), last_order_at = GREATEST(c.last_order_at, u.last)
           FROM unnest($1::bigint[], $2::int[], $3::bigint[], $4::text[], $5::timestamptz[], $6::timestamptz[])
                AS u(id, n, spent, cur, first, last)
           WHERE c.id = u.id""",
        ids, [agg[i][0] for i in ids], [agg[i][1] for i in ids], [agg[i][2] for i in ids],
        [agg[i][3] for i in ids], [agg[i][4] for i in ids])


async def _update(channel: dict, pairs: list[tuple[dict, NormalizedOrder]], actor_label: str) -> list[int]:
    mid = channel["merchant_id"]
    upd, events, line_updates = [], [], []
    for cur, o in pairs:
        new_status = st.follow_platform(cur["status"], o.status, list(cur["hold_reasons"]))
        holds = list(cur["hold_reasons"]) if new_status in st.OPEN else []
        rec = receiver_fields(o) if not cur["receiver_edited"] and cur["status"] in st.OPEN else None
        upd.append((cur["id"], new_status.value, o.payment_status.value, o.platform_status, holds, o.paid_total,
                    o.refunded_total, o.shipping_fee, o.discount_total, o.tax_total, o.items_total, o.updated_at,
                    o.paid_at, o.cancelled_at, o.seller_note, o.buyer_note, json.dumps(rec) if rec else None))
        if new_status != cur["status"]:
            events.append((cur["id"], mid, "status_changed", cur["status"], new_status.value, actor_label,
                           f"platform status {o.platform_status}", json.dumps({"platform_status": o.platform_status})))
        if o.refunded_total != cur["refunded_total"] or o.payment_status.value != cur["payment_status"]:
            events.append((cur["id"], mid, "payment_changed", "", "", actor_label,
                           f"payment {cur['payment_status']} → {o.payment_status.value}",
                           json.dumps({"refunded_total": o.refunded_total})))
        elif new_status == cur["status"]:
            events.append((cur["id"], mid, "platform_updated", "", "", actor_label,
                           f"platform status {o.platform_status}", json.dumps({})))
        for ln in o.lines:
            line_updates.append((cur["id"], ln.external_line_id, ln.refunded_quantity, ln.refund_status))
    await db.execute(
        """UPDATE sales_order s SET status = u.status, payment_status = u.pay, platform_status = u.pstatus,
                  hold_reasons = u.holds, total = u.total, refunded_total = u.refunded, shipping_fee = u.ship,
                  discount_total = u.disc, tax_total = u.tax, items_total = u.items, platform_updated_at = u.pupd,
                  paid_at = COALESCE(u.paid, s.paid_at), cancelled_at = COALESCE(u.cancelled, s.cancelled_at),
                  seller_note = u.snote, buyer_note = u.bnote,
                  receiver_name = COALESCE(u.rec->>'receiver_name', s.receiver_name),
                  receiver_phone = COALESCE(u.rec->>'receiver_phone', s.receiver_phone),
                  phone_tail = COALESCE(u.rec->>'phone_tail', s.phone_tail),
                  province = COALESCE(u.rec->>'province', s.province), city = COALESCE(u.rec->>'city', s.city),
                  district = COALESCE(u.rec->>'district', s.district), town = COALESCE(u.rec->>'town', s.town),
                  address = COALESCE(u.rec->>'address', s.address), postcode = COALESCE(u.rec->>'postcode', s.postcode),
                  version = s.version + 1, updated_at = now()
           FROM (SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[],
                        $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::timestamptz[],
                        $13::timestamptz[], $14::timestamptz[], $15::text[], $16::text[], $17::jsonb[])
                 AS t(id, status, pay, pstatus, holds_csv, total, refunded, ship, disc, tax, items, pupd, paid,
                      cancelled, snote, bnote, rec)) AS u0
           CROSS JOIN LATERAL (SELECT u0.*, coalesce(string_to_array(NULLIF(u0.holds_csv, ''), ','), '{}') AS holds) AS u
           WHERE s.id = u.id""",
        *_columns(upd, csv_index=4))
    if line_updates:
        await db.execute(
            """UPDATE order_line l SET refunded_quantity = u.rq, refund_status = u.rs
               FROM unnest($1::bigint[], $2::text[], $3::int[], $4::text[]) AS u(oid, ext, rq, rs)
               WHERE l.order_id = u.oid AND l.external_line_id = u.ext AND u.ext <> ''
                 AND (l.refunded_quantity, l.refund_status) IS DISTINCT FROM (u.rq, u.rs)""",
            *map(list, zip(*line_updates, strict=True)))
    async with db.connection() as conn:
        await conn.copy_records_to_table("order_event", records=events, columns=EVENT_COLUMNS)
    return [cur["id"] for cur, _ in pairs]


def _columns(rows: list[tuple], *, csv_index: int) -> list[list]:
    cols = [list(c) for c in zip(*rows, strict=True)]
    cols[csv_index] = [",".join(h) for h in cols[csv_index]]
    return cols

