"""Catalog pages: SKU list (filters, keyset pages, bulk export), create/edit with field errors, CSV
import with preview and every bad row by line number, export, channel listings and matching."""
from __future__ import annotations

import csv
import io
import re

from server.catalog import service as catalog
from server.channels import service as channels
from server.core import db
from server.orders import ingest
from tests.support.orders import fetched, line, order
from tests.web.conftest import form, hx, rows_text, sign_in, text_of


def read_csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


async def test_sku_list_full_page_fragment_filters_and_paging(client, users):
    admin = await users.make("admin")
    actor = admin["actor"]
    for i in range(30):
        await catalog.create_sku(actor, {"code": f"TEA-{i:03d}", "name": f"Tea {i}", "category": "Tea" if i % 2 else "Cups",
                                         "list_price": "12.50"})
    await sign_in(client, admin)
    page = await client.get("/catalog")
    assert page.status_code == 200 and "<html" in page.text
    rows = rows_text(page.text, "sku-rows")
    assert "TEA-000" in rows and "TEA-024" in rows and "TEA-025" not in rows  # 25 a page
    assert "¥12.50" in rows or "CN¥12.50" in rows
    assert 'name="ids" value=' in page.text and "Export selected" in page.text
    more = re.search(r'hx-get="(/catalog\?[^"]*after=[^"]+)"', page.text).group(1).replace("&amp;", "&")
    nxt = await client.get(more, headers=hx(client))
    assert nxt.status_code == 200 and "<html" not in nxt.text
    assert "TEA-025" in nxt.text and "TEA-029" in nxt.text and "TEA-000" not in nxt.text
    filtered = await client.get("/catalog?category=Tea&q=TEA-00", headers=hx(client))
    assert 'id="sku-list"' in filtered.text
    codes = re.findall(r'<code class="sku-code">([^<]+)</code>', filtered.text)
    assert codes == ["TEA-001", "TEA-003", "TEA-005", "TEA-007", "TEA-009"]


async def test_create_and_edit_sku_with_field_errors(client, users):
    admin = await users.make("admin")
    await sign_in(client, admin)
    bad = await client.post("/catalog/skus", data=form(client, code="HAS SPACE", name="", cost="abc",
                                                      weight_g="-3", list_price="", currency="CNY"), headers=hx(client))
    assert bad.status_code == 422 and "<html" not in bad.text
    for field in ("code", "name", "cost", "weight_g"):
        assert f'id="f-{field}-error"' in bad.text, field
    assert 'value="HAS SPACE"' in bad.text  # what was typed stays
    assert await db.fetchval("SELECT count(*) FROM sku") == 0
    ok = await client.post("/catalog/skus", data=form(client, code="TEA-LJ-250", name="Longjing 250 g", barcode="6901234567892",
                                                     spec="250 g tin", category="Tea", weight_g="300", cost="80.00",
                                                     list_price="168.00", currency="CNY"))
    assert ok.status_code == 303
    sku_id = int(ok.headers["location"].rsplit("/", 1)[1])
    sku = await db.fetchrow("SELECT * FROM sku WHERE id = $1", sku_id)
    assert (sku["cost_minor"], sku["list_price_minor"], sku["weight_g"], sku["barcode"]) == (8000, 16800, 300, "6901234567892")
    dup = await client.post("/catalog/skus", data=form(client, code="TEA-LJ-250", name="Again", currency="CNY"))
    assert dup.status_code == 422 and 'id="f-code-error"' in dup.text and "<html" in dup.text
    page = await client.get(f"/catalog/skus/{sku_id}")
    assert page.status_code == 200 and 'value="168.00"' in page.text and 'value="250 g tin"' in page.text
    edited = await client.post(f"/catalog/skus/{sku_id}", data=form(
        client, code="TEA-LJ-250", name="Longjing", barcode="", spec="250 g tin", category="Tea", weight_g="310",
        cost="82.5", list_price="169", currency="CNY", active="1"))
    assert edited.status_code == 303
    sku = await db.fetchrow("SELECT * FROM sku WHERE id = $1", sku_id)
    assert (sku["name"], sku["cost_minor"], sku["list_price_minor"], sku["weight_g"], sku["active"]) == \
        ("Longjing", 8250, 16900, 310, True)
    bad_edit = await client.post(f"/catalog/skus/{sku_id}", data=form(
        client, code="TEA-LJ-250", name="Longjing", list_price="1,2,3", currency="CNY", active="1"), headers=hx(client))
    assert bad_edit.status_code == 422 and 'id="f-list_price-error"' in bad_edit.text
    deactivated = await client.post(f"/catalog/skus/{sku_id}", data=form(
        client, code="TEA-LJ-250", name="Longjing", list_price="169", currency="CNY"))
    assert deactivated.status_code == 303
    assert await db.fetchval("SELECT active FROM sku WHERE id = $1", sku_id) is False


async def test_roles_and_tenants_for_skus(client, users, other_merchant):
    viewer = await users.make("customer_service")  # catalog.view only
    theirs = await catalog.create_sku((await users.make("admin", merchant=other_merchant))["actor"],
                                      {"code": "THEIRS-1", "name": "Not mine"})
    mine = await catalog.create_sku((await users.make("admin", merchant=viewer["merchant"]))["actor"],
                                    {"code": "MINE-1", "name": "Mine"})
    await sign_in(client, viewer)
    page = await client.get("/catalog")
    assert page.status_code == 200 and "MINE-1" in page.text and "THEIRS-1" not in page.text
    assert "New SKU" not in page.text
    assert (await client.get("/catalog/skus/new")).status_code == 403
    assert (await client.post("/catalog/skus", data=form(client, code="X-1", name="x"))).status_code == 403
    assert (await client.post(f"/catalog/skus/{mine['id']}", data=form(client, code="X", name="x"))).status_code == 403
    assert (await client.get(f"/catalog/skus/{theirs['id']}")).status_code == 404
    export = await client.get("/catalog/export.csv")
    assert [r["code"] for r in read_csv(export.text)] == ["MINE-1"]


async def test_export_all_matching_and_selected(client, users):
    admin = await users.make("admin")
    made = [await catalog.create_sku(admin["actor"], {"code": f"CUP-{i}", "name": f"杯子 {i}", "cost": "1.50",
                                                      "category": "Cups" if i < 3 else "Tea"}) for i in range(5)]
    await sign_in(client, admin)
    r = await client.get("/catalog/export.csv?category=Cups")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = read_csv(r.text)
    assert [x["code"] for x in rows] == ["CUP-0", "CUP-1", "CUP-2"] and rows[0]["name"] == "杯子 0"
    assert rows[0]["cost"] == "1.50"
    picked = await client.get(f"/catalog/export.csv?ids={made[1]['id']}&ids={made[4]['id']}")
    assert [x["code"] for x in read_csv(picked.text)] == ["CUP-1", "CUP-4"]


async def test_csv_import_preview_lists_every_bad_row_then_imports(client, users):
    admin = await users.make("admin")
    await catalog.create_sku(admin["actor"], {"code": "OLD-1", "name": "Old", "cost": "5.00"})
    await sign_in(client, admin)
    data = (b"code,name,cost,list_price,weight_g\n"
            b"NEW-1,New one,10.00,20.00,100\n"        # line 2: create
            b"OLD-1,,6.00,,\n"                        # line 3: update cost
            b"BAD 1,Spaced,1,1,1\n"                   # line 4: bad code
            b"NEW-2,,1,1,1\n"                         # line 5: name missing
            b"NEW-3,Price,abc,1,1\n"                  # line 6: bad amount
            b"NEW-1,Twice,1,1,1\n")          # line 7: duplicate in file
    files = {"file": ("skus.csv", data, "text/csv")}
    preview = await client.post("/catalog/import", data=form(client, step="preview"), files=files, headers=hx(client))
    assert preview.status_code == 200, preview.text
    assert "<html" not in preview.text
    table = preview.text.split('id="import-errors"')[1]
    lines = [int(n) for n in re.findall(r'<td class="num">(\d+)</td>', table)]
    assert sorted(set(lines)) == [4, 5, 6, 7]
    summary = text_of(preview.text)
    assert "6 rows read" in summary and "1 to create" in summary and "1 to update" in summary
    assert "4 rows with errors" in summary
    assert await db.fetchval("SELECT count(*) FROM sku") == 1  # a preview writes nothing
    data_b64 = re.search(r'name="data_b64" value="([^"]+)"', preview.text).group(1)
    # all or nothing: refused, nothing written
    refused = await client.post("/catalog/import", data=form(client, step="apply", mode="all_or_nothing",
                                                              data_b64=data_b64), headers=hx(client))
    assert refused.status_code == 200 and "Nothing was imported" in refused.text
    assert await db.fetchval("SELECT count(*) FROM sku") == 1
    # good rows only: the two good rows land, the bad ones are reported
    done = await client.post("/catalog/import", data=form(client, step="apply", mode="good_rows", data_b64=data_b64),
                             headers=hx(client))
    assert "Import done: 1 created, 1 updated, 0 unchanged, 4 rows skipped." in text_of(done.text)
    assert await db.fetchval("SELECT cost_minor FROM sku WHERE code = 'OLD-1'") == 600
    assert await db.fetchval("SELECT list_price_minor FROM sku WHERE code = 'NEW-1'") == 2000
    # a full page without htmx; a file that cannot be read is one clear error
    page = await client.post("/catalog/import", data=form(client, step="preview"),
                             files={"file": ("x.csv", b"", "text/csv")})
    assert page.status_code == 422 and "<html" in page.text and 'id="import-file-error"' in page.text


async def test_listings_filter_match_and_export(client, users):
    admin = await users.make("admin")
    actor = admin["actor"]
    sku = await catalog.create_sku(actor, {"code": "TEA-LJ-250", "name": "Longjing", "list_price": "168"})
    shop = await channels.create_channel(actor, platform="website", name="Web shop")
    ch = dict(await db.fetchrow("SELECT * FROM channel WHERE id = $1", shop["id"]))
    await ingest.ingest(ch, [fetched(order("U1", lines=[line("PLATFORM-ONLY-9", pid="P9", sid="S9")])),
                             fetched(order("U2", lines=[line("PLATFORM-ONLY-9", pid="P9", sid="S9")])),
                             fetched(order("M1", lines=[line("TEA-LJ-250")]))], source="pull")
    waiting = await db.fetchval("SELECT count(*) FROM sales_order WHERE 'unmatched_sku' = ANY(hold_reasons)")
    assert waiting == 2
    await sign_in(client, admin)
    page = await client.get("/listings?unmatched=1")
    assert page.status_code == 200 and "<html" in page.text
    rows = rows_text(page.text, "listing-rows")
    assert "PLATFORM-ONLY-9" in rows and "TEA-LJ-250" not in rows
    listing_id = int(re.search(r'id="listing-(\d+)"', page.text).group(1))
    assert re.search(rf'id="listing-{listing_id}".*?badge-warning">2<', page.text, flags=re.S)
    both = await client.get("/listings?q=TEA", headers=hx(client))
    assert 'id="listing-list"' in both.text and "TEA-LJ-250" in both.text and "PLATFORM-ONLY-9" not in both.text
    # the SKU picker finds codes
    options = await client.get("/catalog/sku-options?sku=LJ", headers=hx(client))
    assert '<option value="TEA-LJ-250">' in options.text
    # a code that does not exist: the row says so, nothing changes
    bad = await client.post(f"/listings/{listing_id}/match", data={"sku": "NOPE"}, headers=hx(client))
    assert bad.status_code == 422 and "field-error" in bad.text and bad.text.lstrip().startswith("<tr")
    ok = await client.post(f"/listings/{listing_id}/match", data={"sku": "TEA-LJ-250"}, headers=hx(client))
    assert ok.status_code == 200 and "Matched" in ok.text and "TEA-LJ-250" in ok.text
    assert await db.fetchval("SELECT sku_id FROM channel_listing WHERE id = $1", listing_id) == sku["id"]
    assert await db.fetchval("SELECT count(*) FROM sales_order WHERE 'unmatched_sku' = ANY(hold_reasons)") == 0
    sku_page = await client.get(f"/catalog/skus/{sku['id']}")
    listed = text_of(sku_page.text.split('id="sku-listings"')[1].split("</section>")[0])
    assert "Listed on" in sku_page.text and "PLATFORM-ONLY-9" in listed and "Web shop" in listed
    export = await client.get("/listings/export.csv")
    rows = read_csv(export.text)
    assert {r["platform_sku_code"]: r["sku"] for r in rows} == {"PLATFORM-ONLY-9": "TEA-LJ-250", "TEA-LJ-250": "TEA-LJ-250"}
    picked = await client.get(f"/listings/export.csv?ids={listing_id}")
    assert [r["platform_sku_code"] for r in read_csv(picked.text)] == ["PLATFORM-ONLY-9"]
    # a role that may only look cannot match
    viewer = await users.make("finance", merchant=admin["merchant"])
    other = await sign_in(client, viewer)
    assert (await other.post(f"/listings/{listing_id}/match", data=form(other, sku="TEA-LJ-250"))).status_code == 403


async def test_kit_page_shows_its_components(client, users):
    admin = await users.make("admin")
    actor = admin["actor"]
    tea = await catalog.create_sku(actor, {"code": "TEA-1", "name": "Tea"})
    cup = await catalog.create_sku(actor, {"code": "CUP-1", "name": "Cup"})
    kit = await catalog.create_sku(actor, {"code": "SET-1", "name": "Tea set"})
    # no service writes kit components yet: the bill of materials is set up directly
    await db.execute("UPDATE sku SET is_kit = true WHERE id = $1", kit["id"])
    await db.execute("INSERT INTO sku_component (kit_sku_id, component_sku_id, quantity) VALUES ($1, $2, 1), ($1, $3, 2)",
                     kit["id"], tea["id"], cup["id"])
    await sign_in(client, admin)
    page = await client.get(f"/catalog/skus/{kit['id']}")
    panel = text_of(page.text.split('id="kit-components"')[1].split("</section>")[0])
    assert "CUP-1 Cup 2 0" in panel and "TEA-1 Tea 1 0" in panel
    listing = await client.get("/catalog?q=SET", headers=hx(client))
    assert "Kit" in rows_text(listing.text, "sku-rows")
