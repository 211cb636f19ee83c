"""Stock alerts against real PostgreSQL: threshold and days-of-cover rules, one alert (and one mail)
per crossing however often evaluation runs, resolve and re-open, concurrent evaluations, the
ledger's mark through the outbox, recipients and their languages, tenant isolation."""
import asyncio
import contextlib

import asyncpg
import pytest

from jobs import alerts as alert_jobs
from server.catalog import service as catalog
from server.channels import service as channels
from server.core import db, outbox
from server.core.actor import system
from server.core.errors import ErrorList, NotFound, PermissionDenied, ValidationError
from server.inventory import alerts
from server.inventory import service as inventory
from server.orders import service as orders
from server.orders.service import LineInput, OrderInput, ReceiverInput
from tests.support.fixtures import wait_for


async def world(merchant):
    actor = system(merchant["id"], "test")
    await catalog.create_sku(actor, {"code": "TEA", "name": "Longjing", "category": "tea", "list_price": "10.00"})
    await catalog.create_sku(actor, {"code": "OOLONG", "name": "Oolong", "category": "tea", "list_price": "10.00"})
    await catalog.create_sku(actor, {"code": "CUP", "name": "Cup", "category": "ware", "list_price": "5.00"})
    await inventory.create_warehouse(actor, {"code": "SZ", "name": "Shenzhen", "priority": 10})
    await inventory.create_warehouse(actor, {"code": "HZ", "name": "Hangzhou", "priority": 5})
    await inventory.receive(actor, "SZ", "TEA", 10, "initial")
    await inventory.receive(actor, "HZ", "TEA", 5, "initial")
    await inventory.receive(actor, "SZ", "OOLONG", 8, "initial")
    await inventory.receive(actor, "SZ", "CUP", 3, "initial")
    await channels.create_channel(actor, platform="website", name="Web")
    return actor


async def alert_rows(merchant_id: int) -> list[tuple]:
    rows = await db.fetch("""SELECT s.code, w.code AS wh, a.status, a.available FROM stock_alert a
                             JOIN sku s ON s.id = a.sku_id LEFT JOIN warehouse w ON w.id = a.warehouse_id
                             WHERE a.merchant_id = $1 ORDER BY a.id""", merchant_id)
    return [(r["code"], r["wh"], r["status"], r["available"]) for r in rows]


async def notify_jobs(merchant_id: int) -> int:
    return await db.fetchval("SELECT count(*) FROM outbox WHERE job_name = 'alerts.notify' AND merchant_id = $1",
                             merchant_id)


async def test_threshold_fires_once_per_crossing_resolves_and_reopens(merchant):
    actor = await world(merchant)
    mid = merchant["id"]
    rule = await alerts.create_rule(actor, {"sku": "TEA", "kind": "threshold", "threshold": "5"})
    assert rule["sku_code"] == "TEA" and rule["warehouse_id"] is None and rule["alerting"] == 0
    assert await alert_rows(mid) == []                                 # 15 available over SZ + HZ

    await inventory.adjust(actor, "SZ", "TEA", delta=-9, reason="damaged")   # 1 + 5 = 6: still above
    assert (await alerts.evaluate(mid))["opened"] == []
    await inventory.adjust(actor, "SZ", "TEA", delta=-1, reason="damaged")   # 0 + 5 = 5: crossed
    first = await alerts.evaluate(mid)
    assert len(first["opened"]) == 1
    assert await alert_rows(mid) == [("TEA", None, "open", 5)]
    for _ in range(5):                                                 # the cron keeps running: no new alert
        assert await alerts.evaluate(mid) == {"opened": [], "resolved": 0}
    assert await notify_jobs(mid) == 1
    assert await alerts.open_count(actor) == 1
    await inventory.adjust(actor, "HZ", "TEA", delta=-2, reason="damaged")   # lower still: same alert
    assert (await alerts.evaluate(mid))["opened"] == []
    (alert,) = (await alerts.list_alerts(actor)).items
    assert (alert["available"], alert["available_now"]) == (5, 3)

    await inventory.receive(actor, "SZ", "TEA", 20, "PO-2")            # back above: resolves
    assert (await alerts.evaluate(mid))["resolved"] == 1
    assert await alert_rows(mid) == [("TEA", None, "resolved", 5)]
    assert await db.fetchval("SELECT resolved_available FROM stock_alert") == 23
    assert await alerts.open_count(actor) == 0

    await inventory.adjust(actor, "HZ", "TEA", counted_quantity=0, reason="stocktake")   # 20
    assert (await alerts.evaluate(mid))["opened"] == []
    await inventory.adjust(actor, "SZ", "TEA", counted_quantity=2, reason="stocktake")   # 2: crossing again
    assert len((await alerts.evaluate(mid))["opened"]) == 1
    assert await alert_rows(mid) == [("TEA", None, "resolved", 5), ("TEA", None, "open", 2)]
    assert await notify_jobs(mid) == 2


async def test_category_rule_per_warehouse_watches_each_sku_of_the_category(merchant):
    actor = await world(merchant)
    await alerts.create_rule(actor, {"category": "tea", "warehouse": "HZ", "kind": "threshold", "threshold": 2,
                                     "name": "HZ tea"})
    # TEA has 5 at HZ, OOLONG was never stocked there (0); CUP is not tea
    assert await alert_rows(merchant["id"]) == [("OOLONG", "HZ", "open", 0)]
    await inventory.receive(actor, "HZ", "OOLONG", 3)
    await inventory.adjust(actor, "HZ", "TEA", delta=-4, reason="damaged")
    result = await alerts.evaluate(merchant["id"])
    assert len(result["opened"]) == 1 and result["resolved"] == 1
    assert await alert_rows(merchant["id"]) == [("OOLONG", "HZ", "resolved", 0), ("TEA", "HZ", "open", 1)]
    page = await alerts.list_alerts(actor, status="open")
    assert [(a["sku_code"], a["warehouse_code"], a["rule_name"]) for a in page.items] == [("TEA", "HZ", "HZ tea")]


async def place(actor, ext: str, sku: str, qty: int) -> dict:
    created, _ = await orders.create_order(actor, OrderInput(
        channel="Web", external_id=ext, lines=[LineInput(sku=sku, quantity=qty)],
        receiver=ReceiverInput(name="张三", phone="13812345678"), paid=True))
    return created


async def test_days_of_cover_from_recent_demand(merchant):
    actor = await world(merchant)
    mid = merchant["id"]
    # 8 OOLONG on hand; 7 reserved by orders of the last 14 days (0.5 a day) and 1 by an order
    # from 30 days ago, which is no recent demand
    for n in range(7):
        await place(actor, f"D{n}", "OOLONG", 1)
    await place(actor, "OLD", "OOLONG", 1)
    await db.execute("UPDATE reservation SET created_at = now() - interval '30 days' WHERE order_id = "
                     "(SELECT id FROM sales_order WHERE external_id = 'OLD')")
    assert (await inventory.availability(actor, "OOLONG"))["available"] == 0
    rule = await alerts.create_rule(actor, {"sku": "OOLONG", "kind": "days_of_cover", "cover_days": "1.5",
                                            "demand_days": "14"})
    assert rule["alerting"] == 1                              # 0 available: 0 days of cover
    alert = (await alerts.list_alerts(actor, status="open")).items[0]
    assert alert["kind"] == "days_of_cover" and alert["available"] == 0 and alert["cover_days"] == 1.5
    assert alert["daily_demand"] == pytest.approx(7 / 14) and alert["days_of_cover"] == 0

    await inventory.receive(actor, "SZ", "OOLONG", 1)         # 1 available / 0.5 a day = 2 days > 1.5
    assert (await alerts.evaluate(mid))["resolved"] == 1
    await place(actor, "D8", "OOLONG", 1)                     # 0 available again, 8/14 a day
    assert len((await alerts.evaluate(mid))["opened"]) == 1
    assert [r[2] for r in await alert_rows(mid)] == ["resolved", "open"]
    await inventory.receive(actor, "SZ", "OOLONG", 2)         # 2 / (8/14) = 3.5 days: resolved
    assert (await alerts.evaluate(mid))["resolved"] == 1
    # over 28 days the same 8 units are 2/7 a day: 2 available last 7 days, within 8
    await alerts.update_rule(actor, rule["id"], {"demand_days": "28", "cover_days": "8"})
    alert = (await alerts.list_alerts(actor, status="open")).items[0]
    assert alert["days_of_cover"] == pytest.approx(7) and alert["daily_demand"] == pytest.approx(8 / 28)


async def test_days_of_cover_without_demand_never_alerts_and_threshold_on_zero_does(merchant):
    actor = await world(merchant)
    await alerts.create_rule(actor, {"sku": "CUP", "kind": "days_of_cover", "cover_days": 30})
    assert await alert_rows(merchant["id"]) == []            # 3 cups, nobody bought one: infinite cover
    await alerts.create_rule(actor, {"sku": "CUP", "warehouse": "HZ", "kind": "threshold", "threshold": 0})
    assert await alert_rows(merchant["id"]) == [("CUP", "HZ", "open", 0)]


async def test_concurrent_evaluations_open_one_alert(merchant):
    actor = await world(merchant)
    mid = merchant["id"]
    await alerts.create_rule(actor, {"sku": "TEA", "kind": "threshold", "threshold": 100, "active": False})
    rule = (await alerts.list_rules(actor)).items[0]
    await db.execute("UPDATE stock_alert_rule SET active = true WHERE id = $1", rule["id"])
    results = await asyncio.gather(*(alerts.evaluate(mid) for _ in range(8)))
    assert sum(len(r["opened"]) for r in results) == 1
    assert len(await alert_rows(mid)) == 1 and await notify_jobs(mid) == 1


async def test_the_database_refuses_a_second_unresolved_alert_for_one_crossing(merchant):
    actor = await world(merchant)
    await alerts.create_rule(actor, {"sku": "CUP", "kind": "threshold", "threshold": 5})
    row = await db.fetchrow("SELECT * FROM stock_alert")
    insert = ("INSERT INTO stock_alert (merchant_id, rule_id, kind, sku_id, warehouse_id, available, status) "
              "VALUES ($1, $2, 'threshold', $3, $4, 0, $5)")
    with pytest.raises(asyncpg.UniqueViolationError):
        await db.execute(insert, row["merchant_id"], row["rule_id"], row["sku_id"], None, "acknowledged")
    # another warehouse scope, or a resolved one, is a different row
    await db.execute(insert, row["merchant_id"], row["rule_id"], row["sku_id"], None, "resolved")


async def test_stock_changes_mark_the_merchant_for_evaluation_through_the_outbox(merchant, other_merchant):
    actor = await world(merchant)
    other = system(other_merchant["id"], "test")
    await catalog.create_sku(other, {"code": "TEA", "name": "Tea"})
    await inventory.create_warehouse(other, {"code": "SZ", "name": "SZ"})
    await inventory.receive(other, "SZ", "TEA", 1)
    marks = "SELECT count(*) FROM outbox WHERE job_name = 'alerts.evaluate' AND merchant_id = $1"
    assert await db.fetchval(marks, merchant["id"]) == 0          # no rules yet: stock writes emit nothing
    await alerts.create_rule(actor, {"sku": "TEA", "kind": "threshold", "threshold": 3})
    await inventory.adjust(actor, "SZ", "TEA", delta=-5, reason="damaged")
    await inventory.adjust(actor, "HZ", "TEA", delta=-4, reason="damaged")
    for n in range(3):
        await place(actor, f"M{n}", "TEA", 1)                      # reservations go through ledger.apply
    assert await db.fetchval(marks, merchant["id"]) == 1          # coalesced into one pending job
    assert await db.fetchval(marks, other_merchant["id"]) == 0
    job = await db.fetchrow("SELECT id, job_id, available_at > now() AS later FROM outbox "
                            "WHERE job_name = 'alerts.evaluate'")
    assert job["job_id"] == f"alerts.evaluate:{merchant['id']}" and job["later"]
    result = await outbox.run(job["id"], alert_jobs.evaluate)     # what the worker runs
    assert len(result["opened"]) == 1                             # 5 + 1 - 3 reserved = 3 available
    assert await alert_rows(merchant["id"]) == [("TEA", None, "open", 3)]


async def test_rule_validation_names_every_field(merchant):
    actor = await world(merchant)
    with pytest.raises(ErrorList) as caught:
        await alerts.create_rule(actor, {"kind": "threshold", "threshold": "-1", "recipients": "ops@x.com, nope"})
    assert {(e.field, e.code) for e in caught.value.errors} == {
        ("sku", "required"), ("threshold", "out_of_range"), ("recipients", "invalid_email")}
    with pytest.raises(ErrorList) as caught:
        await alerts.create_rule(actor, {"sku": "NOPE", "kind": "days_of_cover", "cover_days": "abc",
                                         "demand_days": "0"})
    assert {(e.field, e.code) for e in caught.value.errors} == {
        ("sku", "unknown_sku"), ("cover_days", "invalid"), ("demand_days", "out_of_range")}
    with pytest.raises(ValidationError) as one:
        await alerts.create_rule(actor, {"category": "shoes", "kind": "threshold", "threshold": 1})
    assert one.value.code == "unknown_category"
    with pytest.raises(ValidationError) as one:
        await alerts.create_rule(actor, {"sku": "TEA", "category": "tea", "kind": "threshold", "threshold": 1})
    assert one.value.field == "sku"
    with pytest.raises(ValidationError) as one:
        await alerts.create_rule(actor, {"sku": "TEA", "kind": "sometimes"})
    assert one.value.field == "kind"
    assert await db.fetchval("SELECT count(*) FROM stock_alert_rule") == 0


async def test_update_and_delete_rules_resolve_what_they_no_longer_explain(merchant, users):
    actor = await world(merchant)
    rule = await alerts.create_rule(actor, {"sku": "CUP", "kind": "threshold", "threshold": 3})
    assert await alert_rows(merchant["id"]) == [("CUP", None, "open", 3)]
    rule = await alerts.update_rule(actor, rule["id"], {"threshold": 2})        # 3 > 2: resolved
    assert rule["threshold"] == 2 and await alert_rows(merchant["id"]) == [("CUP", None, "resolved", 3)]
    rule = await alerts.update_rule(actor, rule["id"], {"threshold": 3, "warehouse": "SZ"})
    assert await alert_rows(merchant["id"]) == [("CUP", None, "resolved", 3), ("CUP", "SZ", "open", 3)]
    await alerts.delete_rule(actor, rule["id"])
    assert await alert_rows(merchant["id"]) == [("CUP", None, "resolved", 3), ("CUP", "SZ", "resolved", 3)]
    assert await db.fetchval("SELECT rule_id FROM stock_alert LIMIT 1") is None
    with pytest.raises(NotFound):
        await alerts.get_rule(actor, rule["id"])
    actions = [r["action"] for r in await db.fetch("SELECT action FROM audit_entry WHERE object_type = "
                                                   "'stock_alert_rule' ORDER BY id")]
    assert actions == ["stock_alert_rule.create", "stock_alert_rule.update", "stock_alert_rule.update",
                       "stock_alert_rule.delete"]


async def test_acknowledge_and_permissions(merchant, users):
    actor = await world(merchant)
    await alerts.create_rule(actor, {"category": "tea", "kind": "threshold", "threshold": 100})
    page = await alerts.list_alerts(actor)
    assert page.total == 2
    viewer = await users.make("finance", merchant)
    warehouse = await users.make("warehouse", merchant)
    with pytest.raises(PermissionDenied):
        await alerts.acknowledge(viewer["actor"], [page.items[0]["id"]])
    with pytest.raises(PermissionDenied):
        await alerts.create_rule(viewer["actor"], {"sku": "CUP", "kind": "threshold", "threshold": 1})
    done = await alerts.acknowledge(warehouse["actor"], [a["id"] for a in page.items])
    assert {a["status"] for a in done} == {"acknowledged"}
    assert {a["acknowledged_by"] for a in done} == {warehouse["email"]}
    assert await alerts.open_count(actor) == 0
    assert (await alerts.list_alerts(actor, status="acknowledged")).total == 2
    assert (await alerts.list_alerts(actor, status="active")).total == 2
    # acknowledged alerts stay unresolved: evaluation opens nothing new and mails nobody again
    assert (await alerts.evaluate(merchant["id"]))["opened"] == []
    with pytest.raises(ValidationError):
        await alerts.list_alerts(actor, status="maybe")


async def test_tenants_never_see_or_touch_each_others_alerts(merchant, other_merchant):
    mine = await world(merchant)
    theirs = await world(other_merchant)
    await alerts.create_rule(mine, {"sku": "CUP", "kind": "threshold", "threshold": 5})
    await alerts.create_rule(theirs, {"sku": "TEA", "kind": "threshold", "threshold": 100})
    their_alert = (await alerts.list_alerts(theirs)).items[0]
    my_rule = (await alerts.list_rules(mine)).items[0]
    assert [a["sku_code"] for a in (await alerts.list_alerts(mine)).items] == ["CUP"]
    assert [r["sku_code"] for r in (await alerts.list_rules(theirs)).items] == ["TEA"]
    with pytest.raises(NotFound):
        await alerts.acknowledge(mine, [their_alert["id"]])
    for call in (alerts.get_rule(theirs, my_rule["id"]), alerts.delete_rule(theirs, my_rule["id"]),
                 alerts.update_rule(theirs, my_rule["id"], {"threshold": 1})):
        with pytest.raises(NotFound):
            await call
    # a SKU code of another merchant is unknown here
    with pytest.raises(NotFound):
        await alerts.create_rule(mine, {"sku": str(their_alert["sku_id"]), "kind": "threshold", "threshold": 1})
    await alerts.evaluate(merchant["id"])
    assert await db.fetchval("SELECT status FROM stock_alert WHERE id = $1", their_alert["id"]) == "open"
    assert await alerts.open_count(mine) == 1 and await alerts.open_count(theirs) == 1


@contextlib.asynccontextmanager
async def running_worker():
    """A real arq worker with every registered job, and the outbox relay, in this event loop."""
    from arq import create_pool
    from arq.worker import Worker

    from jobs import worker as worker_module
    from server.core import queue

    redis = await create_pool(queue.redis_settings())
    settings = worker_module.worker_settings()
    w = Worker(functions=settings["functions"], redis_pool=redis, poll_delay=0.05, handle_signals=False,
               max_jobs=10, keep_result=0)
    relay = outbox.Relay(redis, poll_seconds=0.05)
    await relay.start()
    task = asyncio.create_task(w.async_run())
    try:
        yield
    finally:
        await relay.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        with contextlib.suppress(Exception):
            await w.close()


async def test_end_to_end_a_stock_change_opens_an_alert_and_mails_once_through_the_worker(merchant, users):
    actor = await world(merchant)
    keeper = await users.make("warehouse", merchant)
    await alerts.create_rule(actor, {"sku": "TEA", "warehouse": "SZ", "kind": "threshold", "threshold": 3})
    mails = "SELECT count(*) FROM mail_message WHERE to_address = $1"
    async with running_worker():
        await inventory.adjust(actor, "SZ", "TEA", delta=-8, reason="damaged")          # 10 -> 2
        await wait_for(lambda: db.fetchval(mails, keeper["email"]), timeout=20)
        assert await alert_rows(merchant["id"]) == [("TEA", "SZ", "open", 2)]
        await inventory.adjust(actor, "SZ", "TEA", delta=-1, reason="damaged")          # still low: no mail
        await wait_for(lambda: db.fetchval("SELECT count(*) = 0 FROM outbox WHERE done_at IS NULL"), timeout=20)
        await inventory.receive(actor, "SZ", "TEA", 10)                                 # 11: resolves
        await wait_for(lambda: db.fetchval("SELECT status = 'resolved' FROM stock_alert"), timeout=20)
    assert await db.fetchval(mails, keeper["email"]) == 1
    assert await db.fetchval("SELECT status FROM mail_message WHERE to_address = $1", keeper["email"]) == "captured"


async def test_marking_never_waits_for_another_stock_writer(merchant):
    """Two stock transactions at once: the second is not blocked by the first's uncommitted mark
    (the reservation lock rule: after the first stock lock, never wait)."""
    actor = await world(merchant)
    await alerts.create_rule(actor, {"sku": "TEA", "kind": "threshold", "threshold": 1})
    first_marked, release = asyncio.Event(), asyncio.Event()

    async def slow_writer():
        async with db.transaction():
            await inventory.adjust(actor, "SZ", "TEA", delta=-1, reason="damaged")
            assert await db.fetchval("SELECT count(*) FROM outbox WHERE job_name = 'alerts.evaluate'") == 1
            first_marked.set()
            await release.wait()

    task = asyncio.create_task(slow_writer())
    await asyncio.wait_for(first_marked.wait(), 10)
    try:
        # another SKU, another transaction: done while the first still holds its mark uncommitted
        await asyncio.wait_for(inventory.adjust(actor, "SZ", "CUP", delta=-1, reason="damaged"), 3)
        await asyncio.wait_for(place(actor, "W1", "OOLONG", 1), 3)
    finally:
        release.set()
        await task
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE job_name = 'alerts.evaluate' "
                             "AND enqueued_at IS NULL") == 1


async def test_the_sweep_evaluates_every_merchant_and_days_of_cover_move_with_time(merchant, other_merchant):
    mine, theirs = await world(merchant), await world(other_merchant)
    for n in range(4):
        await place(mine, f"S{n}", "CUP", 1)           # CUP: 3 on hand, 3 reserved... 4th is backordered
    await alerts.create_rule(mine, {"sku": "OOLONG", "kind": "threshold", "threshold": 10, "active": False})
    await alerts.create_rule(theirs, {"sku": "OOLONG", "kind": "threshold", "threshold": 10, "active": False})
    await db.execute("UPDATE stock_alert_rule SET active = true")
    assert await alerts.sweep() == 2
    assert await alerts.sweep() == 0
    # days of cover: 1 OOLONG left... give it demand, then let the demand age out of the window
    await alerts.create_rule(mine, {"sku": "TEA", "kind": "days_of_cover", "cover_days": 20, "demand_days": 7})
    for n in range(7):
        await place(mine, f"T{n}", "TEA", 1)           # 7 a week: 1 a day; 15 - 7 = 8 available = 8 days
    assert await alerts.sweep() == 1
    assert ("TEA", None, "open", 8) in await alert_rows(merchant["id"])
    await db.execute("UPDATE reservation SET created_at = created_at - interval '8 days' WHERE merchant_id = $1",
                     merchant["id"])
    await alerts.sweep()                               # no recent demand: infinite cover, resolved
    assert ("TEA", None, "resolved", 8) in await alert_rows(merchant["id"])


async def test_a_storm_of_orders_with_rules_active_marks_once_and_alerts_once(merchant):
    """80 concurrent paid orders (each its own transaction) on SKUs watched by rules: no deadlock, no
    error, one coalesced evaluation job, and one alert per crossing once it runs."""
    actor = await world(merchant)
    await inventory.receive(actor, "SZ", "CUP", 37)                  # 40 cups, 8 oolong
    await alerts.create_rule(actor, {"category": "ware", "kind": "threshold", "threshold": 5})
    await alerts.create_rule(actor, {"category": "tea", "warehouse": "SZ", "kind": "threshold", "threshold": 2})
    await db.execute("DELETE FROM outbox")

    async def buy(n: int) -> None:
        async with db.transaction():
            await place(actor, f"STORM-{n}", "CUP" if n % 2 else "OOLONG", 1)

    await asyncio.gather(*(buy(n) for n in range(80)))
    assert await db.fetchval("SELECT count(*) FROM reservation WHERE status = 'reserved'") == 40 + 8
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE job_name = 'alerts.evaluate'") == 1
    job = await db.fetchval("SELECT id FROM outbox WHERE job_name = 'alerts.evaluate'")
    await outbox.run(job, alert_jobs.evaluate)
    assert sorted(await alert_rows(merchant["id"])) == [("CUP", None, "open", 0), ("OOLONG", "SZ", "open", 0)]


async def test_rule_changes_acknowledgements_and_evaluations_at_once_never_deadlock(merchant, users):
    actor = await world(merchant)
    keeper = await users.make("warehouse", merchant)
    rule = await alerts.create_rule(actor, {"category": "tea", "kind": "threshold", "threshold": 100})
    ids = [a["id"] for a in (await alerts.list_alerts(actor)).items]
    calls = []
    for n in range(4):
        calls += [alerts.evaluate(merchant["id"]), alerts.acknowledge(keeper["actor"], ids),
                  alerts.update_rule(actor, rule["id"], {"threshold": 100 + n}),
                  alerts.update_rule(actor, rule["id"], {"warehouse": "SZ" if n % 2 else ""})]
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert await db.fetchval("SELECT count(*) FROM stock_alert WHERE status <> 'resolved'") == 2
