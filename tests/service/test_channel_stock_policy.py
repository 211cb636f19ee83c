"""Channel stock policies: the documented quantities (table + property tests of the pure function),
validation, eligible warehouses, kits, per-listing overrides, the ledger's push marks (one job per
channel however many changes), and tenant isolation."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.catalog import service as catalog
from server.channels import service as channels
from server.core import db
from server.core.actor import system
from server.core.errors import DomainError, ErrorList, NotFound, PermissionDenied, ValidationError
from server.inventory import channel_stock as cs
from server.inventory import service as inventory
from server.inventory.channel_stock import Policy, sellable

# -- the pure function -------------------------------------------------------------------------------

CASES = [
    # available, policy, expected
    (0, Policy(), 0),
    (10, Policy(), 10),
    (-3, Policy(), 0),                                             # never negative
    (10, Policy(buffer=3), 7),                                     # hold back 3
    (2, Policy(buffer=3), 0),
    (10, Policy(mode="percent", percent=50), 5),
    (7, Policy(mode="percent", percent=50), 3),                     # rounds down
    (10, Policy(mode="percent", percent=0), 0),
    (10, Policy(mode="percent", percent=100), 10),
    (10, Policy(mode="percent", percent=50, buffer=2), 4),          # 50 % of (10 - 2)
    (10, Policy(mode="quota", quota=4), 4),
    (3, Policy(mode="quota", quota=4), 3),                          # a quota never exceeds available
    (10, Policy(mode="quota", quota=4, buffer=8), 2),
    (100, Policy(max_listed=20), 20),                              # maximum listed
    (100, Policy(mode="percent", percent=30, max_listed=20), 20),
    (5, Policy(zero_at=5), 0),                                     # list zero at or below N
    (6, Policy(zero_at=5), 6),
    (6, Policy(zero_at=5, buffer=5), 1),
    (6, Policy(zero_at=5, max_listed=2), 2),
]


@pytest.mark.parametrize(("available", "policy", "expected"), CASES)
def test_documented_quantities(available, policy, expected):
    assert sellable(available, policy) == expected


policies = st.builds(
    Policy, mode=st.sampled_from(cs.MODES), percent=st.integers(0, 100), quota=st.integers(0, 10_000),
    buffer=st.integers(0, 1_000), max_listed=st.none() | st.integers(0, 10_000), zero_at=st.integers(0, 1_000))


@given(policies, st.integers(-1_000, 100_000))
def test_never_negative_never_above_available(policy, available):
    qty = sellable(available, policy)
    assert 0 <= qty <= max(0, available)
    if policy.max_listed is not None:
        assert qty <= policy.max_listed
    if policy.mode == "quota":
        assert qty <= policy.quota
    if available <= policy.zero_at:
        assert qty == 0


@given(policies.filter(lambda p: p.mode in ("pool", "percent")), st.integers(-100, 50_000), st.integers(0, 5_000))
def test_monotone_in_available_for_pool_and_percent(policy, available, more):
    assert sellable(available, policy) <= sellable(available + more, policy)


@given(st.dictionaries(st.integers(1, 5), st.integers(-10, 100)), st.dictionaries(st.integers(1, 5), st.integers(1, 4),
                                                                                    min_size=1))
def test_kit_available_is_min_over_components(levels, components):
    kits = cs.kit_available(levels, components)
    assert kits >= 0
    for c, q in components.items():
        assert kits * q <= max(0, levels.get(c, 0))
    assert any((kits + 1) * q > max(0, levels.get(c, 0)) for c, q in components.items())


def test_listing_quantity_sums_feeding_warehouses_and_kits():
    levels = {(1, 10): 5, (2, 10): 7, (3, 10): 100, (1, 11): 4, (2, 11): -2, (1, 20): 9}
    # warehouse 3 is not eligible for the channel: never counted
    assert cs.listing_quantity(levels, 10, None, [1, 2], Policy()) == (12, 12)
    assert cs.listing_quantity(levels, 10, None, [1, 2], Policy(warehouse_ids=(2, 3))) == (7, 7)
    # kit = 2 x sku10 + 1 x sku11: warehouse 1 builds min(5//2, 4) = 2, warehouse 2 min(3, 0) = 0
    assert cs.listing_quantity(levels, 99, {10: 2, 11: 1}, [1, 2], Policy()) == (2, 2)
    assert cs.listing_quantity(levels, 11, None, [1, 2], Policy()) == (4, 4)   # a negative level counts 0


def test_clean_policy_reports_every_bad_field():
    with pytest.raises(ErrorList) as caught:
        cs.clean_policy({"mode": "lottery", "percent": "150", "buffer": "-1", "max_listed": "x"})
    assert {e.field for e in caught.value.errors} == {"mode", "percent", "buffer", "max_listed"}
    with pytest.raises(ValidationError) as one:
        cs.clean_policy({"mode": "quota"})
    assert one.value.field == "quota" and one.value.code == "required"
    with pytest.raises(ValidationError) as wh:
        cs.clean_policy({"mode": "pool", "warehouse_ids": "1,5"}, eligible=[1, 2])
    assert wh.value.code == "warehouse_not_eligible" and wh.value.details["warehouse_ids"] == [5]
    p = cs.clean_policy({"mode": "percent", "percent": "40", "buffer": "2", "max_listed": "", "zero_at": "3",
                         "warehouse_ids": ["2", "1"]}, eligible=[1, 2])
    assert p == Policy(mode="percent", percent=40, buffer=2, max_listed=None, zero_at=3, warehouse_ids=(1, 2))


# -- against the database -------------------------------------------------------------------------------

async def shop(merchant, *, platform="website", name="Web"):
    """SKUs TEA, CUP and a kit GIFT (2 TEA + 1 CUP); warehouses SZ, HZ and BJ (BJ serves only another
    channel); a channel with listings for TEA, GIFT and one unmatched platform SKU."""
    actor = system(merchant["id"], "test")
    for code in ("TEA", "CUP"):
        await catalog.create_sku(actor, {"code": code, "name": code})
    kit = await catalog.create_sku(actor, {"code": "GIFT", "name": "Gift set"})
    await db.execute("UPDATE sku SET is_kit = true WHERE id = $1", kit["id"])
    await db.execute("""INSERT INTO sku_component (kit_sku_id, component_sku_id, quantity)
                        SELECT $1, id, CASE code WHEN 'TEA' THEN 2 ELSE 1 END FROM sku
                        WHERE merchant_id = $2 AND code IN ('TEA', 'CUP')""", kit["id"], merchant["id"])
    ch = await channels.create_channel(actor, platform=platform, name=name)
    other = await channels.create_channel(actor, platform="website", name=f"{name} other")
    for code, p in (("SZ", 10), ("HZ", 5)):
        await inventory.create_warehouse(actor, {"code": code, "name": code, "priority": p})
    await inventory.create_warehouse(actor, {"code": "BJ", "name": "BJ", "priority": 1, "channels": [other["id"]]})
    await db.execute(
        """INSERT INTO channel_listing (merchant_id, channel_id, platform_product_id, platform_sku_id, platform_sku_code,
                                        title, sku_id, match_method)
           SELECT $1, $2, 'P-' || x.c, 'S-' || x.c, x.c, x.c || ' listing', s.id, CASE WHEN s.id IS NULL THEN '' ELSE 'code' END
           FROM unnest(ARRAY['TEA', 'GIFT', 'NOPE']) AS x(c) LEFT JOIN sku s ON s.merchant_id = $1 AND s.code = x.c""",
        merchant["id"], ch["id"])
    listings = {r["platform_sku_code"]: r["id"] for r in await db.fetch(
        "SELECT id, platform_sku_code FROM channel_listing WHERE channel_id = $1", ch["id"])}
    return actor, ch, other, listings


async def page_by_code(actor, ch, **kw):
    page = await cs.list_listings(actor, ch["id"], **kw)
    return {i["platform_sku_code"]: i for i in page.items}


async def test_channel_policy_kits_eligibility_and_overrides(merchant):
    actor, ch, _, listings = await shop(merchant)
    await inventory.receive(actor, "SZ", "TEA", 10)
    await inventory.receive(actor, "HZ", "TEA", 5)
    await inventory.receive(actor, "BJ", "TEA", 100)      # BJ does not serve this channel
    await inventory.receive(actor, "SZ", "CUP", 3)
    rows = await page_by_code(actor, ch)
    assert (rows["TEA"]["available"], rows["TEA"]["sellable"]) == (15, 15)
    assert (rows["GIFT"]["available"], rows["GIFT"]["sellable"]) == (3, 3)      # SZ: min(10//2, 3); HZ: no cups
    assert rows["NOPE"]["sellable"] is None and rows["NOPE"]["state"] == "unmatched"

    got = await cs.get_policy(actor, ch["id"])
    assert got["policy"] == cs.DEFAULT and not got["saved"]
    assert [w["code"] for w in got["eligible_warehouses"]] == ["SZ", "HZ"]
    sz = next(w["id"] for w in got["eligible_warehouses"] if w["code"] == "SZ")
    bj = await db.fetchval("SELECT id FROM warehouse WHERE code = 'BJ'")
    with pytest.raises(ValidationError) as caught:
        await cs.update_policy(actor, ch["id"], {"mode": "pool", "warehouse_ids": [bj]})
    assert caught.value.code == "warehouse_not_eligible"

    await cs.update_policy(actor, ch["name"], {"mode": "percent", "percent": 50, "buffer": 1, "zero_at": 2})
    rows = await page_by_code(actor, ch)
    assert rows["TEA"]["sellable"] == 7 and rows["GIFT"]["sellable"] == 1       # (15-1)//2, (3-1)//2
    await cs.update_policy(actor, ch["id"], {"mode": "quota", "quota": 4}, listing_id=listings["TEA"])
    await cs.update_policy(actor, ch["id"], {"mode": "pool", "warehouse_ids": [sz], "max_listed": 6},
                           listing_id=listings["GIFT"])
    rows = await page_by_code(actor, ch)
    assert (rows["TEA"]["sellable"], rows["TEA"]["override"]) == (4, True)
    assert (rows["GIFT"]["sellable"], rows["GIFT"]["override"]) == (3, True)
    assert list(await page_by_code(actor, ch, overridden=True)) == ["TEA", "GIFT"]
    await cs.remove_override(actor, ch["id"], listings["TEA"])
    rows = await page_by_code(actor, ch)
    assert (rows["TEA"]["sellable"], rows["TEA"]["override"]) == (7, False)
    actions = [r["action"] for r in await db.fetch("SELECT action FROM audit_entry WHERE object_type = "
                                                   "'channel_stock_policy' ORDER BY id")]
    assert actions == ["stock_policy.update", "stock_policy.override", "stock_policy.override",
                       "stock_policy.override_removed"]


async def test_stock_changes_mark_listings_and_coalesce_into_one_job(merchant):
    actor, ch, _other, listings = await shop(merchant)
    assert await db.fetchval("SELECT count(*) FROM stock_push_mark") == 0
    for n in range(5):
        await inventory.receive(actor, "SZ", "TEA", 1 + n)
    marks = await db.fetch("SELECT channel_id, listing_id FROM stock_push_mark ORDER BY id")
    # TEA's listing and the GIFT kit's listing (TEA is a component), five times; never the unmatched one
    assert {(m["channel_id"], m["listing_id"]) for m in marks} == {(ch["id"], listings["TEA"]), (ch["id"], listings["GIFT"])}
    jobs = await db.fetch("SELECT payload, available_at - created_at AS delay FROM outbox "
                          "WHERE job_name = 'inventory.stock_push' AND enqueued_at IS NULL")
    assert len(jobs) == 1 and db.loads(jobs[0]["payload"]) == {"channel_id": ch["id"]}
    assert jobs[0]["delay"].total_seconds() <= 1.0
    # a change of on hand and reserved together (shipping a reservation) leaves available alone
    before = await db.fetchval("SELECT count(*) FROM stock_push_mark")
    await inventory.receive(actor, "SZ", "CUP", 2)
    assert await db.fetchval("SELECT count(*) FROM stock_push_mark") == before + 1   # the GIFT listing only
    # the job absorbs the marks: one dirty row per listing, then nothing left (website: no stock API)
    result = await cs_push(ch["id"])
    assert result == {"pushed": 0, "failed": 2}
    assert await db.fetchval("SELECT count(*) FROM stock_push_mark") == 0
    rows = await page_by_code(actor, ch)
    assert rows["TEA"]["last_result"] == "failed" and "does not accept stock pushes" in rows["TEA"]["last_error"]
    assert rows["TEA"]["desired_qty"] == 15 and rows["TEA"]["state"] == "failed"


async def cs_push(channel_id):
    from server.inventory import channel_stock_push

    return await channel_stock_push.push_channel(channel_id)


async def test_resync_marks_every_matched_listing(merchant):
    actor, ch, _, listings = await shop(merchant)
    assert await cs.resync(actor, ch["id"]) == 2
    assert {r["listing_id"] for r in await db.fetch("SELECT listing_id FROM stock_push_mark")} == \
        {listings["TEA"], listings["GIFT"]}
    assert await cs.push_now(actor, ch["id"], [listings["TEA"], listings["NOPE"]]) == 1


async def test_tenant_isolation_of_policies_and_pushes(merchant, other_merchant):
    actor, ch, _, listings = await shop(merchant)
    await cs.update_policy(actor, ch["id"], {"mode": "quota", "quota": 3})
    await inventory.receive(actor, "SZ", "TEA", 9)
    intruder, their_ch, _, their_listings = await shop(other_merchant, name="Theirs")
    for call in (cs.get_policy(intruder, ch["id"]), cs.update_policy(intruder, ch["id"], {"mode": "pool"}),
                 cs.resync(intruder, ch["id"]), cs.list_listings(intruder, ch["id"]),
                 cs.update_policy(intruder, their_ch["id"], {"mode": "pool"}, listing_id=listings["TEA"])):
        with pytest.raises(NotFound):
            await call
    # their stock change marks only their listings; their policy is theirs
    await inventory.receive(intruder, "SZ", "TEA", 4)
    theirs = {r["listing_id"] for r in await db.fetch("SELECT listing_id FROM stock_push_mark WHERE merchant_id = $1",
                                                      other_merchant["id"])}
    assert theirs == {their_listings["TEA"], their_listings["GIFT"]}
    assert (await cs.get_policy(intruder, their_ch["id"]))["policy"] == cs.DEFAULT
    assert (await page_by_code(intruder, their_ch))["TEA"]["sellable"] == 4
    assert (await page_by_code(actor, ch))["TEA"]["sellable"] == 3
    # a read-only role may look but not change
    from server.auth.roles import ROLES
    from server.core.actor import Actor

    viewer = Actor(kind="user", merchant_id=merchant["id"], role="finance", permissions=ROLES["finance"])
    assert (await cs.get_policy(viewer, ch["id"]))["policy"].mode == "quota"
    with pytest.raises(PermissionDenied):
        await cs.update_policy(viewer, ch["id"], {"mode": "pool"})
    with pytest.raises(DomainError):
        await cs.resync(viewer, ch["id"])


async def marks_of(listing_id: int) -> int:
    return await db.fetchval("SELECT count(*) FROM stock_push_mark WHERE listing_id = $1", listing_id)


async def test_every_kind_of_available_change_marks_the_listing(merchant):
    """reservation (order), release (cancel), shipment (no change of available: no mark), transfer
    out/in, return, adjustment — each change of available marks the listing; the sellable follows."""
    from server.inventory import fulfilment, transfers
    from server.orders import service as orders
    from server.orders.service import LineInput, OrderInput, ReceiverInput

    actor, ch, _, listings = await shop(merchant)
    tea = listings["TEA"]
    await inventory.receive(actor, "SZ", "TEA", 10)
    n = await marks_of(tea)

    async def place(ext, qty):
        created, _ = await orders.create_order(actor, OrderInput(
            channel=ch["name"], external_id=ext, lines=[LineInput(sku="TEA", quantity=qty)],
            receiver=ReceiverInput(name="张三", phone="13812345678"), paid=True))
        return created

    first = await place("A-1", 3)                          # reservation
    assert await marks_of(tea) == n + 1 and (await page_by_code(actor, ch))["TEA"]["sellable"] == 7
    second = await place("A-2", 2)
    await orders.cancel_order(actor, second["id"], "buyer changed mind")       # release
    assert await marks_of(tea) == n + 3 and (await page_by_code(actor, ch))["TEA"]["sellable"] == 7
    await fulfilment.mark_shipped(actor, first["id"], "SF", "SF1234567890")    # on hand and reserved both -3
    assert await marks_of(tea) == n + 3
    await inventory.adjust(actor, "SZ", "TEA", delta=-1, reason="damaged")     # adjustment
    await inventory.receive(actor, "SZ", "TEA", 1, "RMA-1", kind="return", reason="back")   # return
    assert await marks_of(tea) == n + 5
    moved = await transfers.create_transfer(actor, "SZ", "HZ", [{"sku": "TEA", "quantity": 2}])
    await transfers.ship_transfer(actor, moved["id"])                          # transfer out: 7 -> 5 here
    assert await marks_of(tea) == n + 6 and (await page_by_code(actor, ch))["TEA"]["sellable"] == 5
    await transfers.receive_transfer(actor, moved["id"])                       # transfer in: back to 7
    assert await marks_of(tea) == n + 7 and (await page_by_code(actor, ch))["TEA"]["sellable"] == 7


async def test_sweep_schedules_marks_that_missed_their_job(merchant):
    from server.inventory import channel_stock_push

    actor, ch, _, _listings = await shop(merchant)
    await inventory.receive(actor, "SZ", "TEA", 4)
    # the job was enqueued and ran before this mark committed (the rare race): no job waits for it
    await db.execute("UPDATE outbox SET enqueued_at = now(), done_at = now()")
    await db.execute("UPDATE stock_push_mark SET at = now() - interval '5 seconds'")
    waiting = ("SELECT count(*) FROM outbox WHERE done_at IS NULL AND job_name = $1 "
               "AND payload->>'channel_id' = $2::text")
    assert await channel_stock_push.sweep() >= 1
    assert await db.fetchval(waiting, cs.PUSH_JOB, str(ch["id"])) == 1
    await channel_stock_push.sweep()                      # idempotent: still one waiting job
    assert await db.fetchval(waiting, cs.PUSH_JOB, str(ch["id"])) == 1


async def test_a_warehouse_that_stops_feeding_the_channel_marks_the_listings(merchant):
    """A warehouse deactivated (or serving other channels) changes sellable without any stock
    movement: the change marks the merchant's listings in its own transaction."""
    actor, ch, _, listings = await shop(merchant)
    await inventory.receive(actor, "SZ", "TEA", 6)
    await inventory.receive(actor, "HZ", "TEA", 4)
    assert (await page_by_code(actor, ch))["TEA"]["sellable"] == 10
    await db.execute("DELETE FROM stock_push_mark")
    await inventory.update_warehouse(actor, "HZ", {"priority": 3})         # feeds the same channels
    assert await db.fetchval("SELECT count(*) FROM stock_push_mark") == 0
    await inventory.update_warehouse(actor, "HZ", {"active": False})      # no stock movement
    marked = {r["listing_id"] for r in await db.fetch("SELECT listing_id FROM stock_push_mark")}
    assert marked == {listings["TEA"], listings["GIFT"]}
    assert (await page_by_code(actor, ch))["TEA"]["sellable"] == 6


async def test_a_listing_matched_by_hand_or_by_code_is_marked_for_a_push(merchant):
    actor, ch, _, _listings = await shop(merchant)
    await inventory.receive(actor, "SZ", "TEA", 5)
    unmatched = await db.fetchrow(
        """INSERT INTO channel_listing (merchant_id, channel_id, platform_product_id, platform_sku_id,
                                        platform_sku_code, title)
           VALUES ($1, $2, 'p-new', 's-new', 'NEWTEA', 'New tea') RETURNING id""", merchant["id"], ch["id"])
    by_hand = await db.fetchrow(
        """INSERT INTO channel_listing (merchant_id, channel_id, platform_product_id, platform_sku_id,
                                        platform_sku_code, title)
           VALUES ($1, $2, 'p-hand', 's-hand', 'HAND-1', 'Tea by hand') RETURNING id""", merchant["id"], ch["id"])
    await db.execute("DELETE FROM stock_push_mark")
    await catalog.create_sku(actor, {"code": "NEWTEA", "name": "New tea", "list_price": "10.00"})   # auto-match
    await catalog.match_listing(actor, by_hand["id"], "TEA")
    marked = {r["listing_id"] for r in await db.fetch("SELECT listing_id FROM stock_push_mark")}
    assert marked == {unmatched["id"], by_hand["id"]}
