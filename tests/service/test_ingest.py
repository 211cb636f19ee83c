"""The ingest pipeline against real PostgreSQL: idempotent, newest-wins, matched, unified, concurrent."""
import asyncio

from server.catalog import service as catalog
from server.channels import service as channels
from server.channels.connectors.base import FetchedOrder, NormalizedStatus, PaymentStatus
from server.core import db
from server.core.actor import system
from server.orders import ingest
from tests.support.orders import fetched, later, line, order


async def setup(merchant, platform="website", name="Web"):
    actor = system(merchant["id"], "test")
    for code in ("TEA-LJ-250", "CUP-CER-01"):
        if not await db.fetchval("SELECT 1 FROM sku WHERE code = $1 AND merchant_id = $2", code, merchant["id"]):
            await catalog.create_sku(actor, {"code": code, "name": code.title()})
    ch = await channels.create_channel(actor, platform=platform, name=name)
    row = dict(await db.fetchrow("SELECT * FROM channel WHERE id = $1", ch["id"]))
    return actor, row


async def test_new_order_is_normalized_and_matched(merchant):
    _, ch = await setup(merchant)
    o = order("A1", lines=[line("TEA-LJ-250", 2), line("TEA-LJ-250", 1, price=0, pid="gift", sid="gift")])
    res = await ingest.ingest(ch, [fetched(o)], source="pull")
    assert (res.created, res.updated, res.failed) == (1, 0, 0)
    row = await db.fetchrow("SELECT * FROM sales_order WHERE external_id = 'A1'")
    assert row["status"] == "awaiting_review" and row["hold_reasons"] == []
    assert row["receiver_phone"] == "+8613812345678" and row["phone_tail"] == "5678"
    assert row["region_code"] == "440305" and row["latitude"] is not None
    assert row["order_number"].startswith("SO") and row["total"] == 16800 * 2 + 1000
    lines = await db.fetch("SELECT * FROM order_line WHERE order_id = $1 ORDER BY line_no", row["id"])
    assert [ln["quantity"] for ln in lines] == [2, 1] and all(ln["sku_id"] for ln in lines)  # gift matched by code
    events = await db.fetch("SELECT kind FROM order_event WHERE order_id = $1", row["id"])
    assert [e["kind"] for e in events] == ["created"]


async def test_same_payload_twice_is_one_order_and_one_raw_version(merchant):
    _, ch = await setup(merchant)
    o = order("A2")
    await ingest.ingest(ch, [fetched(o)], source="pull")
    res = await ingest.ingest(ch, [fetched(o)], source="webhook")
    assert res.created == 0 and res.unchanged == 1
    assert await db.fetchval("SELECT count(*) FROM sales_order") == 1
    assert await db.fetchval("SELECT count(*) FROM raw_channel_order") == 1


async def test_only_newer_versions_apply_and_cancellation_moves_status(merchant):
    _, ch = await setup(merchant)
    await ingest.ingest(ch, [fetched(order("A3", updated=later(10)))], source="pull")
    cancelled = order("A3", status=NormalizedStatus.CANCELLED, payment=PaymentStatus.REFUNDED, updated=later(20))
    stale = order("A3", status=NormalizedStatus.PENDING_PAYMENT, payment=PaymentStatus.UNPAID, updated=later(5))
    await ingest.ingest(ch, [fetched(stale)], source="pull")
    assert await db.fetchval("SELECT status FROM sales_order") == "awaiting_review"  # the older one was ignored
    res = await ingest.ingest(ch, [fetched(cancelled)], source="pull")
    assert res.updated == 1
    row = await db.fetchrow("SELECT * FROM sales_order")
    assert row["status"] == "cancelled" and row["payment_status"] == "refunded"
    kinds = [r["kind"] for r in await db.fetch("SELECT kind FROM order_event ORDER BY id")]
    assert kinds == ["created", "status_changed", "payment_changed"]
    # three distinct payloads were received; all kept
    assert await db.fetchval("SELECT count(*) FROM raw_channel_order") == 3


async def test_unmatched_sku_holds_until_matched(merchant):
    actor, ch = await setup(merchant)
    o = order("A4", lines=[line("NOPE-1", 1)])
    await ingest.ingest(ch, [fetched(o)], source="pull")
    row = await db.fetchrow("SELECT * FROM sales_order")
    assert row["status"] == "on_hold" and row["hold_reasons"] == ["unmatched_sku"]
    listing = await db.fetchrow("SELECT * FROM channel_listing WHERE sku_id IS NULL")
    sku = await catalog.create_sku(actor, {"code": "TEA-PE-357", "name": "Pu-erh"})
    await catalog.match_listing(actor, listing["id"], sku["code"])
    row = await db.fetchrow("SELECT * FROM sales_order")
    assert row["status"] == "awaiting_review" and row["hold_reasons"] == [] and row["sku_codes"] == ["TEA-PE-357"]


async def test_creating_the_sku_auto_matches_waiting_orders(merchant):
    actor, ch = await setup(merchant)
    await ingest.ingest(ch, [fetched(order("A5", lines=[line("LATE-1")]))], source="pull")
    await catalog.create_sku(actor, {"code": "LATE-1", "name": "Arrives late"})
    assert await db.fetchval("SELECT status FROM sales_order") == "awaiting_review"


async def test_buyers_unify_across_channels(merchant):
    _, web = await setup(merchant, name="Web")
    _, pos = await setup(merchant, platform="pos", name="Store")
    await ingest.ingest(web, [fetched(order("B1", phone="138 1234 5678", buyer_id="x"))], source="pull")
    await ingest.ingest(pos, [fetched(order("B2", phone="+86 13812345678", buyer_id="y", placed=later(60)))],
                        source="pull")
    rows = await db.fetch("SELECT customer_id, is_returning FROM sales_order ORDER BY placed_at")
    assert rows[0]["customer_id"] == rows[1]["customer_id"]
    assert [r["is_returning"] for r in rows] == [False, True]
    assert await db.fetchval("SELECT orders_count FROM customer") == 2


async def test_mapping_failure_is_kept_with_reason(merchant):
    _, ch = await setup(merchant)
    bad = FetchedOrder(external_id="BAD1", raw={"weird": True}, error="missing field total")
    res = await ingest.ingest(ch, [bad], source="pull")
    assert res.failed == 1
    row = await db.fetchrow("SELECT * FROM raw_channel_order")
    assert row["mapping_error"] == "missing field total" and db.loads(row["payload"]) == {"weird": True}


async def test_concurrent_deliveries_make_one_order(merchant):
    _, ch = await setup(merchant)
    o = order("C1", lines=[line("TEA-LJ-250"), line("CUP-CER-01")])
    await asyncio.gather(*(ingest.ingest(ch, [fetched(o)], source="webhook") for _ in range(20)))
    assert await db.fetchval("SELECT count(*) FROM sales_order") == 1
    assert await db.fetchval("SELECT count(*) FROM order_line") == 2
    assert await db.fetchval("SELECT count(*) FROM customer") == 1


async def test_status_counts_follow_changes(merchant):
    _, ch = await setup(merchant)
    await ingest.ingest(ch, [fetched(order(f"D{i}")) for i in range(5)], source="pull")
    await ingest.ingest(ch, [fetched(order("D1", status=NormalizedStatus.SHIPPED, updated=later(30)))], source="pull")
    counts = {r["status"]: r["count"] for r in await db.fetch("SELECT status, sum(count) AS count FROM order_status_count GROUP BY status")}
    assert counts["awaiting_review"] == 4 and counts["shipped"] == 1


async def test_count_deltas_fold_without_changing_totals(merchant):
    from server.orders import queries

    _, ch = await setup(merchant)
    for i in range(3):
        await ingest.ingest(ch, [fetched(order(f"H{i}"))], source="pull")
    await ingest.ingest(ch, [fetched(order("H0", status=NormalizedStatus.SHIPPED, updated=later(30)))], source="pull")
    actor = system(merchant["id"], "test")
    before = await queries.status_counts(actor)
    assert await db.fetchval("SELECT count(*) FROM order_status_count") > 2
    await queries.compact_status_counts()
    assert await db.fetchval("SELECT count(*) FROM order_status_count") == 2
    assert await queries.status_counts(actor) == before


async def test_stream_ingests_pages_while_fetching_and_keeps_what_came_before_a_failure(merchant):
    _, ch = await setup(merchant)
    fetched_pages: list[int] = []

    async def pages():
        for p in range(3):
            fetched_pages.append(p)
            yield [fetched(order(f"S{p}-{i}", placed=later(p))) for i in range(2)]
        raise RuntimeError("platform went away")

    total = ingest.IngestResult()
    try:
        await ingest.ingest_stream(ch, pages(), source="pull", into=total)
        raise AssertionError("the fetch error must come out")
    except RuntimeError as exc:
        assert str(exc) == "platform went away"
    assert fetched_pages == [0, 1, 2] and (total.fetched, total.created) == (6, 6)
    assert await db.fetchval("SELECT count(*) FROM sales_order") == 6


async def test_stream_stops_fetching_when_a_page_fails_to_ingest(merchant, monkeypatch):
    _, ch = await setup(merchant)
    asked: list[int] = []

    async def pages():
        for p in range(5):
            asked.append(p)
            yield [fetched(order(f"F{p}"))]

    real = ingest.ingest

    async def broken(channel, batch, *, source, actor_label=""):
        if batch[0].external_id == "F1":
            raise ValueError("database said no")
        return await real(channel, batch, source=source, actor_label=actor_label)

    monkeypatch.setattr(ingest, "ingest", broken)
    total = ingest.IngestResult()
    try:
        await ingest.ingest_stream(ch, pages(), source="pull", into=total)
        raise AssertionError("the ingest error must come out")
    except ValueError:
        pass
    assert total.created == 1 and asked[:2] == [0, 1] and len(asked) <= 3   # at most one page fetched ahead
