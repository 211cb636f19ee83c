"""Order search: each branch (ids, phone tail / whole phone, names) finds the right orders, combined
with the other filters, in keyset order (placed_at desc, id desc), page by page, and counted alike.
Correctness on small data; the speed at a million orders is bench/bench_orders_list.py's job."""
from dataclasses import replace

import pytest

from server.channels import service as channels
from server.channels.connectors.base import NormalizedAddress, NormalizedBuyer, NormalizedStatus
from server.core import db
from server.core.actor import system
from server.orders import ingest, queries
from tests.support.orders import fetched, later, order


def named(ext: str, name: str, *, phone: str = "13812345678", minute: int = 0, number: str | None = None,
          status: NormalizedStatus = NormalizedStatus.PAID, buyer: str | None = None):
    o = order(ext, phone=phone, placed=later(minute), status=status)
    return fetched(replace(o, order_number=number if number is not None else ext,
                   buyer=NormalizedBuyer(platform_buyer_id=f"b-{ext}", name=buyer if buyer is not None else name,
                                         phone=phone),
                   receiver=NormalizedAddress(name=name, phone=phone, country_code="CN", province="广东省",
                                              city="深圳市", district="南山区", address="科技园路1号")))


async def shop(merchant, platform="website", name="Web"):
    actor = system(merchant["id"], "test")
    ch = await channels.create_channel(actor, platform=platform, name=name)
    return actor, dict(await db.fetchrow("SELECT * FROM channel WHERE id = $1", ch["id"]))


async def search(actor, **kw) -> tuple[list[str], int]:
    """Every page (two orders each) in order, and the total the first page reports."""
    f = queries.OrderFilter(**kw)
    seen, after, total = [], None, None
    while True:
        page = await queries.list_orders(actor, f, first=2, after=after, with_total=total is None)
        total = page.total if total is None else total
        seen += [o["external_id"] for o in page.items]
        if not page.has_next:
            break
        after = page.end_cursor
    assert total == len(seen) == await queries.count(actor, f)
    return seen, total


def test_search_kind_classifies_the_string():
    assert queries.search_kind("1234") == "phone_tail"
    assert queries.search_kind(" 0007 ") == "phone_tail"
    for s in ("SO00000042", "ext-07", "#1001", "12345", "+8613800001234", "2234567890123"):
        assert queries.search_kind(s) == "id", s
    for s in ("王芳", "Wei Li", "buyer 1", "abc", "ORDER-X"):
        assert queries.search_kind(s) == "name", s


async def test_ids_exact_in_any_case_and_with_filters(merchant, other_merchant):
    actor, web = await shop(merchant)
    _, pos = await shop(merchant, "pos", "Store")
    await ingest.ingest(web, [named("EXT-07", "张三", minute=1), named("EXT-070", "张三", minute=2),
                              named("T-1", "李四", minute=3, number="PLAT-99")], source="pull")
    await ingest.ingest(pos, [named("EXT-07", "王五", minute=4, status=NormalizedStatus.SHIPPED)], source="pull")
    other_actor, other_web = await shop(other_merchant)
    await ingest.ingest(other_web, [named("EXT-07", "赵六", minute=9)], source="pull")

    assert await search(actor, search="EXT-07") == (["EXT-07", "EXT-07"], 2)   # both channels, newest first
    assert await search(actor, search="ext-07") == (["EXT-07", "EXT-07"], 2)   # typed in lower case
    assert await search(actor, search="EXT-0") == ([], 0)                      # ids are exact, not prefixes
    assert await search(actor, search="PLAT-99") == (["T-1"], 1)               # the platform's order number
    ours = await db.fetchval("SELECT order_number FROM sales_order WHERE external_id = 'T-1'")
    assert await search(actor, search=ours) == (["T-1"], 1)                    # our SO number
    assert await search(actor, search=ours.lower()) == (["T-1"], 1)
    assert await search(actor, search="EXT-07", status=["shipped"]) == (["EXT-07"], 1)
    assert await search(actor, search="EXT-07", channel_ids=[web["id"]]) == (["EXT-07"], 1)
    assert await search(actor, search="EXT-07", platform=["pos"]) == (["EXT-07"], 1)
    assert await search(actor, search="EXT-07", placed_to=later(2)) == (["EXT-07"], 1)
    assert await search(actor, search="EXT-07", status=["cancelled"]) == ([], 0)
    assert await search(other_actor, search="EXT-07") == (["EXT-07"], 1)      # tenants never mix


async def test_phone_tail_and_whole_phone_in_keyset_order(merchant):
    actor, web = await shop(merchant)
    _, pos = await shop(merchant, "pos", "Store")
    await ingest.ingest(web, [named(f"W{i}", "张三", phone=f"138000{i:01d}1234", minute=2 * i) for i in range(5)]
                        + [named("W-other", "张三", phone="13800005678", minute=9)], source="pull")
    await ingest.ingest(pos, [named("P1", "张三", phone="13900001234", minute=4)], source="pull")
    # an order number made of the same four digits is found too
    await ingest.ingest(pos, [named("1234", "李四", phone="13900009999", minute=5)], source="pull")

    ids, n = await search(actor, search="1234")
    assert ids == ["W4", "W3", "1234", "P1", "W2", "W1", "W0"] and n == 7   # P1 ties W2: the later id first
    placed = {r["external_id"]: (r["placed_at"], r["id"]) for r in await db.fetch(
        "SELECT external_id, placed_at, id FROM sales_order WHERE external_id = ANY($1::text[])", ids)}
    keys = [placed[e] for e in ids]
    assert keys == sorted(keys, reverse=True)                                  # (placed_at, id) descending
    assert await search(actor, search="1234", channel_ids=[pos["id"]]) == (["1234", "P1"], 2)
    assert await search(actor, search="1234", placed_from=later(4), placed_to=later(6)) == (["1234", "P1", "W2"], 3)
    assert await search(actor, search="13900001234") == (["P1"], 1)            # a whole phone number
    assert await search(actor, search="+8613900001234") == (["P1"], 1)
    assert await search(actor, search="5678") == (["W-other"], 1)


async def test_names_substring_word_prefix_and_filters(merchant):
    actor, web = await shop(merchant)
    await ingest.ingest(web, [
        named("N1", "王芳丽", minute=1), named("N2", "李王芳", minute=2), named("N3", "Wei Li", minute=3),
        named("N4", "Lisa Wong", minute=4, status=NormalizedStatus.SHIPPED), named("N5", "王芳", minute=5),
        named("N6", "收件人", buyer="王芳芳", minute=6), named("N7", "100%_纯", minute=7),
    ], source="pull")
    # three characters or more: a substring of the buyer's or the receiver's name
    assert await search(actor, search="王芳丽") == (["N1"], 1)
    assert await search(actor, search="wei li") == (["N3"], 1)
    assert await search(actor, search="王芳芳") == (["N6"], 1)                 # the buyer, not the receiver
    assert await search(actor, search="Lis", status=["shipped"]) == (["N4"], 1)
    assert await search(actor, search="Lis", status=["cancelled"]) == ([], 0)
    # shorter: the start of a word (a Chinese full name is one word; "Li" starts "Lisa" and "Li")
    assert await search(actor, search="王芳") == (["N6", "N5", "N1"], 3)       # not 李王芳
    assert await search(actor, search="li") == (["N4", "N3"], 2)
    assert await search(actor, search="王芳", placed_from=later(2), placed_to=later(6)) == (["N5"], 1)
    assert await search(actor, search="李") == (["N2"], 1)                     # one character: a surname
    # LIKE wildcards in the text are literal
    assert await search(actor, search="%") == ([], 0)
    assert await search(actor, search="%_纯") == (["N7"], 1)
    assert await search(actor, search="_") == ([], 0)


@pytest.mark.parametrize("text", ["1234", "13800001234", "EXT-07", "王芳", "王芳丽", "王"])
async def test_search_respects_every_other_filter(merchant, text):
    """The search arms only pick candidates: the filters that need no index still apply."""
    actor, web = await shop(merchant)
    await ingest.ingest(web, [named("EXT-07", "王芳丽", phone="13800001234", minute=1)], source="pull")
    hit = await queries.list_orders(actor, queries.OrderFilter(search=text, province="广东省", amount_min=1,
                                                               sku="TEA-LJ-250"), with_total=True)
    assert [o["external_id"] for o in hit.items] == ["EXT-07"] and hit.total == 1
    miss = await queries.list_orders(actor, queries.OrderFilter(search=text, province="浙江省"), with_total=True)
    assert miss.items == [] and miss.total == 0
    assert await queries.matching_ids(actor, queries.OrderFilter(search=text)) == [hit.items[0]["id"]]


async def test_buyer_filter_matches_the_buyer_or_the_receiver_not_across_both(merchant):
    actor, web = await shop(merchant)
    await ingest.ingest(web, [named("B1", "Anna Lee", buyer="Tom Hart", minute=1),
                              named("B2", "Hart Ann", buyer="Bob", minute=2)], source="pull")
    assert [o["external_id"] for o in (await queries.list_orders(actor, queries.OrderFilter(buyer="hart"))).items] \
        == ["B2", "B1"]
    assert [o["external_id"] for o in (await queries.list_orders(actor, queries.OrderFilter(buyer="Anna"))).items] \
        == ["B1"]
    # "Hart Anna" only exists across B1's buyer and receiver ("Tom Hart Anna Lee"): not a match
    assert (await queries.list_orders(actor, queries.OrderFilter(buyer="Hart Anna"))).items == []
