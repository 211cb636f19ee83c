"""Pushing sellable quantities to the platforms: the channel's push job and the sweep.

One job per channel (outbox job `inventory.stock_push`, emitted by the ledger hook, policy changes
and resync) runs under a per-channel advisory lock in the job's transaction:

1. it turns the channel's stock_push_mark rows into dirty listing_stock_push rows (version + 1);
2. it takes every dirty listing that is due (new changes at once, failed ones at their backoff time),
   computes each one's sellable quantity from the stock as it is NOW (so a burst of changes becomes
   one push of the latest value), and sends them all in ONE `push_inventory` call;
3. it records each listing's result: ok (quantity, time), retrying (error, attempts, next attempt
   after 1 s, 2 s, 4 s … at most 5 min) or failed (a permanent refusal such as an unknown item:
   visible, not retried until the stock or the policy changes again, never blocking the others).

`sweep()` (a step of every worker's outbox relay loop, every 5 s) re-schedules channels whose marks or due retries have no job
waiting — the safety net for a mark that committed just after its channel's job had read the marks.
"""
from __future__ import annotations

import logging
from typing import Any

from server.channels.connectors.base import (
    Capability,
    ConnectorAuthError,
    InventoryUpdate,
    PushResult,
)
from server.core import db
from server.core.errors import DomainError, TransientError
from server.inventory import channel_stock

log = logging.getLogger("oms.stock_push")

BATCH = 500                    # listings per push_inventory call
MAX_ATTEMPTS = 12              # transient failures of one value before it is marked failed
MAX_BACKOFF = 300.0


def backoff(attempts: int) -> float:
    """Seconds before the next try after `attempts` failed ones: 1, 2, 4, … at most 5 minutes."""
    return min(2.0 ** max(0, attempts - 1), MAX_BACKOFF)


async def push_channel(channel_id: int) -> dict[str, Any]:
    """The job: push the channel's dirty listings. Runs inside the outbox job's transaction."""
    if not db.in_transaction():
        async with db.transaction():
            return await push_channel(channel_id)
    await db.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"stock_push:{channel_id}")
    ch = await db.fetchrow("SELECT * FROM channel WHERE id = $1", channel_id)
    if ch is None:
        await db.execute("DELETE FROM stock_push_mark WHERE channel_id = $1", channel_id)
        return {"pushed": 0}
    await _absorb_marks(channel_id)
    due = [dict(r) for r in await db.fetch(
        """SELECT p.listing_id AS id, p.version, p.attempts, p.last_result, l.sku_id, l.platform_product_id,
                  l.platform_sku_id, l.platform_sku_code, s.code AS sku_code
           FROM listing_stock_push p JOIN channel_listing l ON l.id = p.listing_id
           LEFT JOIN sku s ON s.id = l.sku_id
           WHERE p.channel_id = $1 AND p.dirty AND (p.next_attempt_at IS NULL OR p.next_attempt_at <= now())
           ORDER BY p.listing_id LIMIT $2""", channel_id, BATCH)]
    if not due:
        await _schedule_retry(ch)
        return {"pushed": 0}
    computed = await channel_stock.quantities(ch["merchant_id"], channel_id, due)
    unmatched = [r for r in due if r["id"] not in computed]
    due = [r for r in due if r["id"] in computed]
    outcomes: list[tuple[dict, int, PushResult]] = []
    for r in unmatched:
        outcomes.append((r, 0, PushResult(str(r["id"]), ok=False, error="not matched to a SKU: not pushed")))
    if due:
        outcomes += await _push(dict(ch), due, {i: q["sellable"] for i, q in computed.items()})
    await _record(outcomes)
    more = await db.fetchval("SELECT count(*) FROM listing_stock_push WHERE channel_id = $1 AND dirty "
                             "AND (next_attempt_at IS NULL OR next_attempt_at <= now())", channel_id)
    if more:
        await channel_stock.schedule(ch["merchant_id"], channel_id, delay=0)
    await _schedule_retry(ch)
    ok = sum(1 for _, _, res in outcomes if res.ok)
    return {"pushed": ok, "failed": len(outcomes) - ok}


async def _absorb_marks(channel_id: int) -> None:
    await db.execute(
        """WITH m AS (DELETE FROM stock_push_mark WHERE channel_id = $1 RETURNING listing_id),
                ids AS (SELECT DISTINCT listing_id FROM m)
           INSERT INTO listing_stock_push AS p (listing_id, merchant_id, channel_id, dirty, version, next_attempt_at)
           SELECT l.id, l.merchant_id, l.channel_id, true, 1, now()
           FROM ids JOIN channel_listing l ON l.id = ids.listing_id AND l.channel_id = $1
           ORDER BY l.id
           ON CONFLICT (listing_id) DO UPDATE SET dirty = true, version = p.version + 1, next_attempt_at = now(),
                                                 updated_at = now()""", channel_id)


async def _push(ch: dict, due: list[dict], qty: dict[int, int]) -> list[tuple[dict, int, PushResult]]:
    from server.channels.service import connector_for  # noqa: PLC0415 - channels import inventory

    try:
        connector = connector_for(ch)
    except DomainError as exc:
        return [(r, qty[r["id"]], PushResult(str(r["id"]), ok=False, error=exc.message)) for r in due]
    if Capability.PUSH_INVENTORY not in connector.capabilities:
        return [(r, qty[r["id"]], PushResult(str(r["id"]), ok=False,
                                             error=f"{ch['platform']} does not accept stock pushes"))
                for r in due]
    updates = [_update(connector, r, qty[r["id"]]) for r in due]
    try:
        results = await connector.push_inventory(updates)
    except ConnectorAuthError as exc:
        results = [PushResult(u.platform_sku_id, ok=False, error=exc.message) for u in updates]
    except TransientError as exc:
        results = [PushResult(u.platform_sku_id, ok=False, error=exc.message, transient=True) for u in updates]
    except DomainError as exc:
        results = [PushResult(u.platform_sku_id, ok=False, error=exc.message) for u in updates]
    except Exception as exc:  # a bug or an unexpected answer: visible on the listing, retried
        log.exception("stock push failed", extra={"channel_id": ch["id"]})
        results = [PushResult(u.platform_sku_id, ok=False, error=f"{type(exc).__name__}: {exc}", transient=True)
                   for u in updates]
    if len(results) != len(updates):
        by_key = {r.key: r for r in results}
        results = [by_key.get(u.platform_sku_id) or by_key.get(u.sku_code) or
                   PushResult(u.platform_sku_id, ok=False, error="the platform did not answer for this item",
                              transient=True) for u in updates]
    return [(r, qty[r["id"]], res) for r, res in zip(due, results, strict=True)]


def _update(connector: Any, row: dict, quantity: int) -> InventoryUpdate:
    build = getattr(connector, "listing_update", None)
    code = row["platform_sku_code"] or row["sku_code"] or ""
    if build is not None:
        return build(row["platform_product_id"], row["platform_sku_id"], code, quantity)
    return InventoryUpdate(row["platform_product_id"], row["platform_sku_id"], quantity, sku_code=code)


async def _record(outcomes: list[tuple[dict, int, PushResult]]) -> None:
    rows = []
    for r, qty, res in outcomes:
        if res.ok:
            result = "ok"
        elif res.transient and (r["attempts"] if r["last_result"] == "retrying" else 0) + 1 < MAX_ATTEMPTS:
            result = "retrying"
        else:
            result = "failed"
        rows.append((r["id"], r["version"], qty, result, (res.error or "")[:1000]))
    if not rows:
        return
    ids, versions, qtys, results, errors = (list(c) for c in zip(*rows, strict=True))
    await db.execute(
        """UPDATE listing_stock_push p SET
               attempts = CASE WHEN p.last_result = 'retrying' THEN p.attempts + 1 ELSE 1 END,
               desired_qty = u.qty, last_attempt_at = clock_timestamp(), last_result = u.result, last_error = u.error,
               last_pushed_qty = CASE WHEN u.result = 'ok' THEN u.qty ELSE p.last_pushed_qty END,
               last_pushed_at = CASE WHEN u.result = 'ok' THEN clock_timestamp() ELSE p.last_pushed_at END,
               dirty = (u.result = 'retrying' OR p.version <> u.version),
               next_attempt_at = CASE WHEN u.result = 'retrying'
                   THEN clock_timestamp() + make_interval(secs => LEAST(power(2, CASE WHEN p.last_result = 'retrying'
                                                                     THEN p.attempts ELSE 0 END), $6))
                   ELSE NULL END,
               updated_at = clock_timestamp()
           FROM unnest($1::bigint[], $2::bigint[], $3::int[], $4::text[], $5::text[]) AS u(id, version, qty, result, error)
           WHERE p.listing_id = u.id""", ids, versions, qtys, results, errors, MAX_BACKOFF)


async def _schedule_retry(ch: Any) -> None:
    """A job for the earliest retry still waiting, unless one is due by then anyway."""
    wait = await db.fetchval(
        """SELECT extract(epoch FROM min(next_attempt_at) - clock_timestamp()) FROM listing_stock_push
           WHERE channel_id = $1 AND dirty AND next_attempt_at > clock_timestamp()""", ch["id"])
    if wait is not None:       # (min over no rows is NULL: nothing waits)
        await channel_stock.schedule(ch["merchant_id"], ch["id"], delay=max(0.0, float(wait)) + 0.05)


async def sweep() -> int:
    """The safety net: schedule a push for channels with marks older than a second, or retries due,
    and no job waiting (changes outside the ledger — warehouses, matches — mark their listings in
    their own transaction). Returns how many channels were scheduled."""
    rows = await db.fetch(
        """SELECT DISTINCT merchant_id, channel_id FROM (
               SELECT merchant_id, channel_id FROM stock_push_mark WHERE at < now() - interval '1 second'
               UNION ALL
               SELECT merchant_id, channel_id FROM listing_stock_push
               WHERE dirty AND (next_attempt_at IS NULL OR next_attempt_at < now() - interval '1 second')) x""")
    for r in rows:
        async with db.transaction():
            await channel_stock.schedule(r["merchant_id"], r["channel_id"], delay=0)
    return len(rows)
