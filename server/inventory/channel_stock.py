"""Channel stock policies: how much of the stock each channel (and, by override, each listing) may
sell, and the sellable quantity that is pushed to the platform.

The computation is pure (`sellable`, `kit_available`, `pooled`), documented here once:

1. The feeding warehouses are the channel's eligible ones (active, and serving all channels or this
   channel) — narrowed to the policy's `warehouse_ids` when it names some.
2. available = the sum over those warehouses of (on hand − reserved), never below 0 per warehouse.
   A kit's available per warehouse is min over its components of available // units per kit.
3. If available <= `zero_at`, list 0 ("list zero when at or below N").
4. base = available − `buffer` (the safety stock held back), at least 0.
5. mode `pool`: base; `percent`: floor(base × percent / 100); `quota`: min(quota, base).
6. Capped at `max_listed` when set.

So the sellable quantity is never negative, never above available, and (pool / percent) never
falls when available rises.

Service entry points (one permission gate; tenancy through the actor's merchant): `get_policy`,
`update_policy` (channel or one listing's override), `remove_override`, `list_listings` (the stock
page and GraphQL), `resync` (push every matched listing again), `push_now` (selected listings).
Pushing itself lives in `channel_stock_push` (the job), fed by `dirty_marks` — the ledger's hook.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from server.audit import service as audit
from server.auth import policy as gate
from server.core import db
from server.core.actor import Actor
from server.core.errors import ErrorList, NotFound, ValidationError
from server.core.pagination import Page, decode_cursor, encode_cursor

MODES = ("pool", "percent", "quota")
PUSH_JOB = "inventory.stock_push"
DEBOUNCE_SECONDS = 0.25          # a burst of changes within this window becomes one push
MAX_INT = 1_000_000_000


# -- the pure part ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Policy:
    mode: str = "pool"
    percent: int = 100
    quota: int = 0
    buffer: int = 0
    max_listed: int | None = None
    zero_at: int = 0
    warehouse_ids: tuple[int, ...] | None = None     # None: every warehouse eligible for the channel


DEFAULT = Policy()


def sellable(available: int, p: Policy) -> int:
    """The quantity to list for `available` units under policy `p` (see the module docstring)."""
    avail = max(0, int(available))
    if avail <= p.zero_at:
        return 0
    base = max(0, avail - p.buffer)
    if p.mode == "percent":
        qty = base * p.percent // 100
    elif p.mode == "quota":
        qty = min(p.quota, base)
    else:
        qty = base
    if p.max_listed is not None:
        qty = min(qty, p.max_listed)
    return max(0, qty)


def kit_available(component_available: Mapping[int, int], components: Mapping[int, int]) -> int:
    """Kits buildable in one warehouse: min over components of available // units per kit."""
    if not components:
        return 0
    return min(max(0, component_available.get(c, 0)) // q for c, q in components.items())


def pooled(per_warehouse: Mapping[int, int], feeding: Iterable[int]) -> int:
    """Available summed over the feeding warehouses (a warehouse never counts below zero)."""
    return sum(max(0, per_warehouse.get(w, 0)) for w in set(feeding))


def feeding_warehouses(eligible: Iterable[int], p: Policy) -> list[int]:
    eligible = list(eligible)
    if p.warehouse_ids is None:
        return eligible
    chosen = set(p.warehouse_ids)
    return [w for w in eligible if w in chosen]


def listing_quantity(levels: Mapping[tuple[int, int], int], sku_id: int, components: Mapping[int, int] | None,
                     eligible: Iterable[int], p: Policy) -> tuple[int, int]:
    """(available, sellable) of one listing. `levels`: (warehouse id, sku id) -> on hand − reserved."""
    feeding = feeding_warehouses(eligible, p)
    if components:
        per = {w: kit_available({c: levels.get((w, c), 0) for c in components}, components) for w in feeding}
    else:
        per = {w: levels.get((w, sku_id), 0) for w in feeding}
    available = pooled(per, feeding)
    return available, sellable(available, p)


def _int(data: Mapping[str, Any], key: str, errors: list, *, default: int | None, low: int = 0,
         high: int = MAX_INT, nullable: bool = False) -> int | None:
    raw = data.get(key)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None if nullable else default
    try:
        if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
            raise ValueError
        value = int(str(raw).strip()) if not isinstance(raw, int | float) else int(raw)
    except ValueError:
        errors.append(ValidationError(f"{key} must be a whole number", code="invalid", field=key))
        return default
    if not low <= value <= high:
        errors.append(ValidationError(f"{key} must be between {low} and {high}", code="out_of_range", field=key))
        return default
    return value


def clean_policy(data: Mapping[str, Any], eligible: Iterable[int] | None = None) -> Policy:
    """Validate a policy from a form or API input; every bad field is reported at once (ErrorList).
    `warehouse_ids`: ids, or empty/None for "all eligible"; each must be eligible for the channel."""
    errors: list[ValidationError] = []
    mode = str(data.get("mode") or "pool").strip().lower()
    if mode not in MODES:
        errors.append(ValidationError(f"mode must be one of {', '.join(MODES)}", code="invalid", field="mode"))
        mode = "pool"
    percent = _int(data, "percent", errors, default=100, high=100)
    quota = _int(data, "quota", errors, default=0)
    if mode == "quota" and data.get("quota") in (None, ""):
        errors.append(ValidationError("a fixed quota needs the quota quantity", code="required", field="quota"))
    if mode == "percent" and data.get("percent") in (None, ""):
        errors.append(ValidationError("a percentage policy needs the percentage", code="required", field="percent"))
    buffer = _int(data, "buffer", errors, default=0)
    max_listed = _int(data, "max_listed", errors, default=None, nullable=True)
    zero_at = _int(data, "zero_at", errors, default=0)
    raw_ids = data.get("warehouse_ids")
    ids: tuple[int, ...] | None = None
    if raw_ids not in (None, "", [], ()):
        values = raw_ids.split(",") if isinstance(raw_ids, str) else list(raw_ids)
        try:
            ids = tuple(sorted({int(str(v).strip()) for v in values if str(v).strip()}))
        except ValueError:
            errors.append(ValidationError("warehouses must be warehouse ids", code="invalid", field="warehouse_ids"))
            ids = None
        if ids is not None and eligible is not None:
            allowed = set(eligible)
            bad = [i for i in ids if i not in allowed]
            if bad:
                errors.append(ValidationError("a chosen warehouse does not serve this channel (or is inactive)",
                                              code="warehouse_not_eligible", field="warehouse_ids",
                                              details={"warehouse_ids": bad}))
        if ids == ():
            ids = None
    if errors:
        raise ErrorList(errors) if len(errors) > 1 else errors[0]
    return Policy(mode=mode, percent=100 if percent is None else percent, quota=quota or 0,
                  buffer=buffer or 0, max_listed=max_listed, zero_at=zero_at or 0, warehouse_ids=ids)


def policy_from_row(row: Mapping[str, Any] | None) -> Policy:
    if row is None:
        return DEFAULT
    ids = row["warehouse_ids"]
    return Policy(mode=row["mode"], percent=row["percent"], quota=row["quota"], buffer=row["buffer"],
                  max_listed=row["max_listed"], zero_at=row["zero_at"],
                  warehouse_ids=None if ids is None else tuple(ids))


def policy_dict(p: Policy) -> dict:
    out = asdict(p)
    out["warehouse_ids"] = None if p.warehouse_ids is None else list(p.warehouse_ids)
    return out


# -- the ledger's hook: mark listings whose available stock changed -------------------------------

_AFFECTED = """SELECT l.merchant_id, l.channel_id, l.id FROM channel_listing l
               WHERE l.merchant_id = $1 AND l.sku_id IS NOT NULL
                 AND l.sku_id IN (SELECT unnest($2::bigint[])
                                  UNION SELECT k.kit_sku_id FROM sku_component k
                                        WHERE k.component_sku_id = ANY($2::bigint[]))"""

MARK_SQL = f"INSERT INTO stock_push_mark (merchant_id, channel_id, listing_id) {_AFFECTED}"

# One push job per channel: emitted only if none is waiting yet (no unique-key conflict, so
# concurrent stock writers never wait on each other here; a rare duplicate job finds nothing to do,
# and a mark that missed every job is picked up by the sweep).
EMIT_SQL = f"""INSERT INTO outbox (merchant_id, job_name, job_id, payload, available_at)
    SELECT $1, '{PUSH_JOB}', 'stock_push:' || c.channel_id || ':' || gen_random_uuid(),
           jsonb_build_object('channel_id', c.channel_id), clock_timestamp() + make_interval(secs => {DEBOUNCE_SECONDS})
    FROM (SELECT DISTINCT a.channel_id FROM ({_AFFECTED}) a) c
    WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.enqueued_at IS NULL AND o.done_at IS NULL
                        AND o.job_name = '{PUSH_JOB}' AND o.payload->>'channel_id' = c.channel_id::text
                        AND o.available_at <= clock_timestamp() + make_interval(secs => {DEBOUNCE_SECONDS}))"""  # noqa: S608


def dirty_marks(merchant_id: int, sku_ids: Iterable[int]) -> list[tuple[str, tuple]]:
    """(sql, args) statements — each an INSERT … SELECT with parameters from $1 — that mark the
    listings of these SKUs (and of kits made of them) for a push and schedule their channels' push
    jobs. The ledger runs them in the same statement as the stock change."""
    ids = sorted({int(i) for i in sku_ids})
    if not ids:
        return []
    return [(MARK_SQL, (merchant_id, ids)), (EMIT_SQL, (merchant_id, ids))]


async def mark_skus(merchant_id: int, sku_ids: Iterable[int]) -> None:
    """`dirty_marks` as one statement of its own (for writers that do not go through ledger.apply)."""
    ids = sorted({int(i) for i in sku_ids})
    if ids:
        await db.execute(f"WITH a AS ({MARK_SQL}), b AS ({EMIT_SQL}) SELECT 1", merchant_id, ids)  # noqa: S608


async def mark_listings(merchant_id: int, channel_id: int, listing_ids: list[int] | None = None) -> int:
    """Mark matched listings of a channel (all, or these) for a push and schedule the job."""
    args: list = [merchant_id, channel_id]
    where = ""
    if listing_ids is not None:
        args.append([int(i) for i in listing_ids])
        where = "AND l.id = ANY($3::bigint[])"
    count = await db.fetchval(
        f"""WITH m AS (INSERT INTO stock_push_mark (merchant_id, channel_id, listing_id)
                       SELECT l.merchant_id, l.channel_id, l.id FROM channel_listing l
                       WHERE l.merchant_id = $1 AND l.channel_id = $2 AND l.sku_id IS NOT NULL {where}
                       RETURNING 1)
            SELECT count(*) FROM m""", *args)  # noqa: S608
    if count:
        await schedule(merchant_id, channel_id)
    return int(count or 0)


async def mark_merchant(merchant_id: int) -> int:
    """Mark every matched listing of the merchant: what feeds the channels changed (a warehouse
    activated, deactivated or serving other channels) without any stock movement."""
    total = 0
    for ch in await db.fetch("SELECT id FROM channel WHERE merchant_id = $1 ORDER BY id", merchant_id):
        total += await mark_listings(merchant_id, ch["id"])
    return total


async def mark_matched(merchant_id: int, listings: Iterable[Mapping[str, Any]]) -> None:
    """Listings just matched to a SKU (by hand or by code) now have something to sell: push them."""
    by_channel: dict[int, list[int]] = {}
    for row in listings:
        by_channel.setdefault(int(row["channel_id"]), []).append(int(row["id"]))
    for channel_id, ids in sorted(by_channel.items()):
        await mark_listings(merchant_id, channel_id, ids)


async def schedule(merchant_id: int, channel_id: int, *, delay: float = DEBOUNCE_SECONDS) -> None:
    """Emit the channel's push job unless one is already waiting that runs soon enough (within
    `delay`, or the debounce window)."""
    await db.execute(
        f"""INSERT INTO outbox (merchant_id, job_name, job_id, payload, available_at)
            SELECT $1, '{PUSH_JOB}', 'stock_push:' || $2::bigint || ':' || gen_random_uuid(),
                   jsonb_build_object('channel_id', $2::bigint), clock_timestamp() + make_interval(secs => $3)
            WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.enqueued_at IS NULL AND o.done_at IS NULL
                                AND o.job_name = '{PUSH_JOB}' AND o.payload->>'channel_id' = $2::text
                                AND o.available_at <= clock_timestamp()
                                                      + make_interval(secs => GREATEST($3, {DEBOUNCE_SECONDS})))""",  # noqa: S608
        merchant_id, channel_id, float(delay))


# -- reading stock for listings -----------------------------------------------------------------

async def eligible_warehouses(merchant_id: int, channel_id: int) -> list[dict]:
    rows = await db.fetch(
        """SELECT w.id, w.code, w.name, w.priority FROM warehouse w
           WHERE w.merchant_id = $1 AND w.active
             AND (w.serves_all_channels OR EXISTS (SELECT 1 FROM warehouse_channel wc
                                                   WHERE wc.warehouse_id = w.id AND wc.channel_id = $2))
           ORDER BY w.priority DESC, w.code""", merchant_id, channel_id)
    return [dict(r) for r in rows]


async def policies_for(merchant_id: int, channel_id: int, listing_ids: list[int]) -> tuple[Policy, dict[int, Policy]]:
    rows = await db.fetch(
        """SELECT * FROM channel_stock_policy WHERE merchant_id = $1 AND channel_id = $2
             AND (listing_id IS NULL OR listing_id = ANY($3::bigint[]))""", merchant_id, channel_id, listing_ids)
    channel = next((policy_from_row(r) for r in rows if r["listing_id"] is None), DEFAULT)
    return channel, {r["listing_id"]: policy_from_row(r) for r in rows if r["listing_id"] is not None}


async def quantities(merchant_id: int, channel_id: int, listings: list[Mapping[str, Any]]) -> dict[int, dict]:
    """listing id -> {available, sellable, policy, override} for matched listings (rows with id,
    sku_id). Unmatched listings are left out."""
    matched = [r for r in listings if r["sku_id"] is not None]
    if not matched:
        return {}
    eligible = [w["id"] for w in await eligible_warehouses(merchant_id, channel_id)]
    channel_policy, overrides = await policies_for(merchant_id, channel_id, [r["id"] for r in matched])
    sku_ids = sorted({r["sku_id"] for r in matched})
    kits: dict[int, dict[int, int]] = {}
    for r in await db.fetch("SELECT kit_sku_id, component_sku_id, quantity FROM sku_component "
                            "WHERE kit_sku_id = ANY($1::bigint[])", sku_ids):
        kits.setdefault(r["kit_sku_id"], {})[r["component_sku_id"]] = r["quantity"]
    wanted = set(sku_ids) | {c for comps in kits.values() for c in comps}
    levels = {(r["warehouse_id"], r["sku_id"]): r["available"] for r in await db.fetch(
        """SELECT warehouse_id, sku_id, on_hand - reserved AS available FROM stock_level
           WHERE merchant_id = $1 AND sku_id = ANY($2::bigint[]) AND warehouse_id = ANY($3::bigint[])""",
        merchant_id, sorted(wanted), eligible)}
    out = {}
    for r in matched:
        p = overrides.get(r["id"], channel_policy)
        available, qty = listing_quantity(levels, r["sku_id"], kits.get(r["sku_id"]), eligible, p)
        out[r["id"]] = {"available": available, "sellable": qty, "policy": p, "override": r["id"] in overrides}
    return out


# -- the service ----------------------------------------------------------------------------------

async def _channel(actor: Actor, ref: str | int) -> dict:
    ref_s = str(ref).strip()
    row = await db.fetchrow(
        "SELECT id, merchant_id, name, platform, status FROM channel WHERE merchant_id = $1 "
        "AND (($2::bigint IS NOT NULL AND id = $2) OR lower(name) = lower($3)) ORDER BY id LIMIT 1",
        gate.tenant(actor), int(ref_s) if ref_s.isdigit() else None, ref_s)
    if row is None:
        raise NotFound(f"no channel {ref_s!r}", field="channel")
    return dict(row)


async def _listing(actor: Actor, channel_id: int, listing_id: int | str) -> dict:
    try:
        lid = int(str(listing_id).strip())
    except ValueError:
        raise NotFound("listing not found", field="listing") from None
    row = await db.fetchrow("SELECT * FROM channel_listing WHERE id = $1 AND merchant_id = $2 AND channel_id = $3",
                            lid, gate.tenant(actor), channel_id)
    if row is None:
        raise NotFound("listing not found", field="listing")
    return dict(row)


async def get_policy(actor: Actor, channel: str | int) -> dict:
    """The channel's policy (the default when none was saved) with its eligible warehouses."""
    gate.authorize(actor, "inventory.view")
    ch = await _channel(actor, channel)
    row = await db.fetchrow("SELECT * FROM channel_stock_policy WHERE channel_id = $1 AND listing_id IS NULL", ch["id"])
    return {"channel": ch, "policy": policy_from_row(row), "saved": row is not None,
            "updated_at": row["updated_at"] if row else None,
            "eligible_warehouses": await eligible_warehouses(ch["merchant_id"], ch["id"]),
            "overrides": await db.fetchval("SELECT count(*) FROM channel_stock_policy "
                                           "WHERE channel_id = $1 AND listing_id IS NOT NULL", ch["id"])}


async def update_policy(actor: Actor, channel: str | int, data: Mapping[str, Any], *,
                        listing_id: int | str | None = None) -> dict:
    """Save the channel's policy, or (with `listing_id`) that listing's override; the affected
    listings are pushed again with their new sellable quantity."""
    gate.authorize(actor, "inventory.manage")
    ch = await _channel(actor, channel)
    eligible = [w["id"] for w in await eligible_warehouses(ch["merchant_id"], ch["id"])]
    listing = await _listing(actor, ch["id"], listing_id) if listing_id not in (None, "") else None
    data = dict(data)
    if data.get("warehouses") not in (None, ""):      # codes or ids, as every API input accepts
        data["warehouse_ids"] = await _warehouse_ids(ch["merchant_id"], data.pop("warehouses"))
    p = clean_policy(data, eligible)
    values = policy_dict(p)
    async with db.transaction():
        where = "listing_id = $2" if listing else "listing_id IS NULL"
        before = await db.fetchrow(f"SELECT * FROM channel_stock_policy WHERE channel_id = $1 AND {where} FOR UPDATE",  # noqa: S608
                                   ch["id"], *([listing["id"]] if listing else []))
        args = (p.mode, p.percent, p.quota, p.buffer, p.max_listed, p.zero_at,
                None if p.warehouse_ids is None else list(p.warehouse_ids))
        if before:
            row = await db.fetchrow(
                """UPDATE channel_stock_policy SET mode = $2, percent = $3, quota = $4, buffer = $5, max_listed = $6,
                          zero_at = $7, warehouse_ids = $8, updated_at = now() WHERE id = $1 RETURNING *""",
                before["id"], *args)
        else:
            row = await db.fetchrow(
                """INSERT INTO channel_stock_policy (merchant_id, channel_id, listing_id, mode, percent, quota, buffer,
                                                    max_listed, zero_at, warehouse_ids)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *""",
                ch["merchant_id"], ch["id"], listing["id"] if listing else None, *args)
        old = policy_dict(policy_from_row(before)) if before else None
        await audit.record(actor, "stock_policy.override" if listing else "stock_policy.update", "channel_stock_policy",
                           row["id"], before=old, after={**values, "channel": ch["name"],
                                                         **({"listing": listing["id"]} if listing else {})})
        await mark_listings(ch["merchant_id"], ch["id"], [listing["id"]] if listing else None)
    return {"channel": ch, "listing_id": listing["id"] if listing else None, "policy": p, "id": row["id"]}


async def _warehouse_ids(merchant_id: int, refs: Any) -> list[int]:
    refs = [r for r in (refs.split(",") if isinstance(refs, str) else list(refs)) if str(r).strip()]
    rows = await db.fetch("SELECT id, code FROM warehouse WHERE merchant_id = $1", merchant_id)
    by_code = {r["code"]: r["id"] for r in rows}
    ids = {r["id"] for r in rows}
    out = []
    for ref in refs:
        text = str(ref).strip()
        if text in by_code:
            out.append(by_code[text])
        elif text.isdigit() and int(text) in ids:
            out.append(int(text))
        else:
            raise ValidationError(f"no warehouse {text!r}", code="unknown_warehouse", field="warehouses")
    return out


async def remove_override(actor: Actor, channel: str | int, listing_id: int | str) -> None:
    gate.authorize(actor, "inventory.manage")
    ch = await _channel(actor, channel)
    listing = await _listing(actor, ch["id"], listing_id)
    async with db.transaction():
        row = await db.fetchrow("DELETE FROM channel_stock_policy WHERE listing_id = $1 RETURNING *", listing["id"])
        if row is not None:
            await audit.record(actor, "stock_policy.override_removed", "channel_stock_policy", row["id"],
                               before=policy_dict(policy_from_row(row)) | {"listing": listing["id"]})
            await mark_listings(ch["merchant_id"], ch["id"], [listing["id"]])


async def resync(actor: Actor, channel: str | int) -> int:
    """Push every matched listing of the channel again. Returns how many were queued."""
    gate.authorize(actor, "inventory.manage")
    ch = await _channel(actor, channel)
    async with db.transaction():
        count = await mark_listings(ch["merchant_id"], ch["id"])
        await audit.record(actor, "stock_push.resync", "channel", ch["id"], after={"listings": count})
    return count


async def push_now(actor: Actor, channel: str | int, listing_ids: list[int | str]) -> int:
    """Push these listings now (bulk action on the stock page)."""
    gate.authorize(actor, "inventory.manage")
    ch = await _channel(actor, channel)
    ids = []
    for i in listing_ids:
        try:
            ids.append(int(str(i).strip()))
        except ValueError:
            raise ValidationError("listing ids must be numbers", field="listings") from None
    async with db.transaction():
        return await mark_listings(ch["merchant_id"], ch["id"], ids)


PUSH_STATES = ("pending", "ok", "retrying", "failed", "never", "unmatched")


async def list_listings(actor: Actor, channel: str | int, *, first: int = 50, after: str | None = None,
                        search: str = "", state: str = "", overridden: bool | None = None,
                        listing_ids: list[int] | None = None) -> Page:
    """Listings of a channel with computed available/sellable and their push state, keyset by id.
    state: pending | ok | retrying | failed | never (matched, never pushed) | unmatched."""
    gate.authorize(actor, "inventory.view")
    ch = await _channel(actor, channel)
    where, args = ["l.merchant_id = $1", "l.channel_id = $2"], [ch["merchant_id"], ch["id"]]

    def add(sql: str, value: Any) -> None:
        args.append(value)
        where.append(sql.replace("$?", f"${len(args)}"))

    if search.strip():
        add("(l.title ILIKE $? OR l.platform_sku_id ILIKE $? OR l.platform_sku_code ILIKE $? OR s.code ILIKE $?)",
            f"%{search.strip()}%")
    if state:
        if state not in PUSH_STATES:
            raise ValidationError(f"state must be one of {', '.join(PUSH_STATES)}", field="state")
        where.append({
            "pending": "p.dirty AND p.last_result <> 'retrying'", "ok": "p.last_result = 'ok' AND NOT p.dirty",
            "retrying": "p.last_result = 'retrying'", "failed": "p.last_result = 'failed'",
            "never": "l.sku_id IS NOT NULL AND (p.listing_id IS NULL OR (p.last_result = '' AND NOT p.dirty))",
            "unmatched": "l.sku_id IS NULL"}[state])
    if overridden is not None:
        exists = "EXISTS (SELECT 1 FROM channel_stock_policy o WHERE o.listing_id = l.id)"
        where.append(exists if overridden else f"NOT {exists}")
    if listing_ids is not None:
        add("l.id = ANY($?::bigint[])", [int(i) for i in listing_ids])
    if after:
        add("l.id > $?", int(decode_cursor(after)[0]))
    rows = await db.fetch(
        f"""SELECT l.id, l.channel_id, l.platform_product_id, l.platform_sku_id, l.platform_sku_code, l.title, l.sku_id,
                   s.code AS sku_code, s.name AS sku_name, s.is_kit,
                   p.dirty, p.desired_qty, p.last_pushed_qty, p.last_pushed_at, p.last_attempt_at, p.last_result,
                   p.last_error, p.attempts, p.next_attempt_at
            FROM channel_listing l LEFT JOIN sku s ON s.id = l.sku_id
            LEFT JOIN listing_stock_push p ON p.listing_id = l.id
            WHERE {' AND '.join(where)} ORDER BY l.id LIMIT {int(first) + 1}""", *args)  # noqa: S608
    items = [dict(r) for r in rows[:first]]
    computed = await quantities(ch["merchant_id"], ch["id"], items)
    for item in items:
        q = computed.get(item["id"])
        item.update(available=q["available"] if q else None, sellable=q["sellable"] if q else None,
                    policy=q["policy"] if q else None, override=bool(q and q["override"]),
                    state=push_state(item))
    return Page(items=items, has_next=len(rows) > first, cursor=lambda item: encode_cursor(item["id"]))


def push_state(item: Mapping[str, Any]) -> str:
    if item.get("sku_id") is None:
        return "unmatched"
    if item.get("last_result") == "retrying":
        return "retrying"
    if item.get("dirty"):
        return "pending"
    return {"ok": "ok", "failed": "failed", "skipped": "failed"}.get(item.get("last_result") or "", "never")


async def channel_overview(actor: Actor) -> list[dict]:
    """Every channel of the merchant with its policy and push health (for the overview page)."""
    gate.authorize(actor, "inventory.view")
    rows = await db.fetch(
        """SELECT c.id, c.name, c.platform, c.status, p.mode, p.percent, p.quota, p.buffer, p.max_listed, p.zero_at,
                  count(l.id) FILTER (WHERE l.sku_id IS NOT NULL) AS matched,
                  count(s.listing_id) FILTER (WHERE s.last_result = 'ok' AND NOT s.dirty) AS pushed,
                  count(s.listing_id) FILTER (WHERE s.dirty) AS pending,
                  count(s.listing_id) FILTER (WHERE s.last_result IN ('failed', 'retrying')) AS failing,
                  max(s.last_pushed_at) AS last_pushed_at
           FROM channel c
           LEFT JOIN channel_stock_policy p ON p.channel_id = c.id AND p.listing_id IS NULL
           LEFT JOIN channel_listing l ON l.channel_id = c.id
           LEFT JOIN listing_stock_push s ON s.listing_id = l.id
           WHERE c.merchant_id = $1 GROUP BY c.id, p.id ORDER BY c.id""", gate.tenant(actor))
    return [dict(r) for r in rows]


async def listing_override(actor: Actor, channel: str | int, listing_id: int | str) -> dict:
    gate.authorize(actor, "inventory.view")
    ch = await _channel(actor, channel)
    listing = await _listing(actor, ch["id"], listing_id)
    row = await db.fetchrow("SELECT * FROM channel_stock_policy WHERE listing_id = $1", listing["id"])
    return {"channel": ch, "listing": listing, "policy": policy_from_row(row) if row else None}
