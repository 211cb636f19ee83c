"""CSV imports and exports through the service layer, on a real database: SKUs (create/update by code,
encodings, delimiters, every problem of every row with its file line) and orders (multi-row orders,
line numbers of create_order's errors, both modes, idempotent re-import, preview writes nothing)."""
from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from server.catalog import csv_io
from server.catalog import service as catalog
from server.channels import service as channels
from server.core import db
from server.core.actor import Actor, system
from server.core.csvimport import ImportFileError
from server.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from server.orders import csv_import as csv_io_orders
from server.orders import queries
from server.orders import service as orders
from server.orders.service import LineInput, OrderInput, ReceiverInput


def triples(report) -> set[tuple[int, str, str]]:
    return {(e.line, e.field, e.code) for e in report.errors}


async def sku_count() -> int:
    return await db.fetchval("SELECT count(*) FROM sku")


# -- SKUs -----------------------------------------------------------------------------------------

MIXED = (
    "code,name,barcode,spec,weight_g,cost,list_price,currency,active\n"
    "TEA-1,Longjing,6901234567890,250g,250,50.00,168.00,CNY,true\n"         # 2 good
    ',No code,,,abc,xx,-5,CNYY,maybe\n'                                     # 3 six problems
    'CUP-1,Cup,,"white,\nlarge",100,10,45.5,,\n'                            # 4-5 good (quoted newline)
    "BAD CODE,,,,,,,,\n"                                                    # 6 code + name
    "\n"                                                                    # 7 blank: skipped
    "PLATE-1,Plate,,,,,12,,否\n"                                            # 8 good, inactive
)
MIXED_ERRORS = {
    (3, "code", "required"), (3, "weight_g", "invalid"), (3, "cost", "invalid_amount"),
    (3, "list_price", "invalid"), (3, "currency", "invalid"), (3, "active", "invalid"),
    (6, "code", "invalid"), (6, "name", "required"),
}


async def test_sku_preview_reports_every_problem_of_every_row_with_its_line(merchant):
    actor = system(merchant["id"], "test")
    preview = await csv_io.preview_sku_import(actor, MIXED.encode())
    assert preview.rows == 5 and not preview.ok
    assert triples(preview) == MIXED_ERRORS
    assert [(i.key, i.lines, i.action) for i in preview.items] == [
        ("TEA-1", [2], "create"), ("", [3], "error"), ("CUP-1", [4], "create"), ("BAD CODE", [6], "error"),
        ("PLATE-1", [8], "create")]
    assert preview.error_lines == [3, 6]
    assert await sku_count() == 0


async def test_sku_import_all_or_nothing_imports_nothing_when_a_row_is_bad(merchant):
    actor = system(merchant["id"], "test")
    result = await csv_io.apply_sku_import(actor, MIXED.encode(), "all_or_nothing")
    assert not result.applied and triples(result) == MIXED_ERRORS
    assert await sku_count() == 0
    assert await db.fetchval("SELECT count(*) FROM audit_entry WHERE action = 'sku.import'") == 0


async def test_sku_import_good_rows_imports_the_good_ones(merchant):
    actor = system(merchant["id"], "test")
    result = await csv_io.apply_sku_import(actor, MIXED.encode(), "good_rows")
    assert result.applied and triples(result) == MIXED_ERRORS
    assert result.counts() == {"created": 3, "error": 2}
    rows = {r["code"]: dict(r) for r in await db.fetch("SELECT * FROM sku")}
    assert set(rows) == {"TEA-1", "CUP-1", "PLATE-1"}
    assert rows["TEA-1"]["cost_minor"] == 5000 and rows["TEA-1"]["weight_g"] == 250
    assert rows["CUP-1"]["spec"] == "white,\nlarge" and rows["CUP-1"]["list_price_minor"] == 4550
    assert rows["PLATE-1"]["active"] is False
    summary = await db.fetch("SELECT * FROM audit_entry WHERE action = 'sku.import'")
    assert len(summary) == 1
    assert db.loads(summary[0]["after"]) == {"mode": "good_rows", "rows": 5, "created": 3, "updated": 0,
                                             "unchanged": 0, "failed": 2}


async def test_sku_all_or_nothing_undoes_rows_written_before_one_that_fails_to_write(merchant, monkeypatch):
    actor = system(merchant["id"], "test")
    real = catalog.create_sku

    async def racing(actor, data, **kw):
        if data["code"] == "B":          # someone else created B after the check
            raise Conflict("a SKU with code 'B' exists", code="duplicate_code", field="code")
        return await real(actor, data, **kw)

    monkeypatch.setattr(csv_io.catalog, "create_sku", racing)
    result = await csv_io.apply_sku_import(actor, b"code,name\nA,first\nB,second\nC,third\n", "all_or_nothing")
    assert not result.applied and triples(result) == {(3, "code", "duplicate_code")}
    assert [(i.key, i.action) for i in result.items] == [("A", "create"), ("B", "error"), ("C", "create")]
    assert await sku_count() == 0 and "id" not in result.items[0].info


async def test_sku_import_gbk_with_chinese_headers(merchant):
    actor = system(merchant["id"], "test")
    text = ("SKU编码,名称,条码,规格,分类,重量(g),成本,售价,币种\n"
            "TEA-LJ,西湖龙井 明前特级,6901234567890,250克,茶叶,250,80.5,168,cny\n")
    result = await csv_io.apply_sku_import(actor, text.encode("gbk"), "all_or_nothing")
    assert result.applied and result.ok and result.counts() == {"created": 1}
    sku = await catalog.resolve_sku(actor, "TEA-LJ")
    assert (sku["name"], sku["spec"], sku["category"], sku["cost_minor"], sku["currency"]) == (
        "西湖龙井 明前特级", "250克", "茶叶", 8050, "CNY")


async def test_sku_import_tab_delimited_and_bom_with_odd_header_case(merchant):
    actor = system(merchant["id"], "test")
    tab = "Code\tNAME\tList Price\r\nT-1\t茶杯\t12.5\r\nT-2\t茶壶\t99\r\n"
    result = await csv_io.apply_sku_import(actor, tab.encode("utf-8"), "all_or_nothing")
    assert result.counts() == {"created": 2}
    bom = b"\xef\xbb\xbf" + "编码,名称,售价,备注\nT-3,茶盘,30\n".encode()
    preview = await csv_io.preview_sku_import(actor, bom)
    assert preview.ok and preview.columns == ["code", "name", "list_price"]
    assert [(w.line, w.field, w.code) for w in preview.warnings] == [(1, "备注", "unknown_column")]
    assert (await catalog.resolve_sku(actor, "T-1"))["list_price_minor"] == 1250


async def test_sku_import_duplicate_codes_in_file_are_errors_on_the_later_lines(merchant):
    actor = system(merchant["id"], "test")
    text = "code,name\nA-1,first\nB-1,other\nA-1,second\nA-1,third\n"
    result = await csv_io.apply_sku_import(actor, text.encode(), "good_rows")
    assert triples(result) == {(4, "code", "duplicate_in_file"), (5, "code", "duplicate_in_file")}
    assert "line 2" in result.errors[0].message
    assert (await catalog.resolve_sku(actor, "A-1"))["name"] == "first"


async def test_sku_import_updates_existing_skus_by_code_and_blank_cells_keep_values(merchant):
    actor = system(merchant["id"], "test")
    await catalog.create_sku(actor, {"code": "TEA-1", "name": "Longjing", "barcode": "690", "cost": "50",
                                     "list_price": "168"})
    await catalog.create_sku(actor, {"code": "YEN-1", "name": "Matcha", "currency": "JPY", "cost": "900"})
    text = "code,name,barcode,cost,active\nTEA-1,,,60.00,\nYEN-1,Matcha,,1000,no\nNEW-1,New one,,1,\n"
    preview = await csv_io.preview_sku_import(actor, text.encode())
    assert [(i.key, i.action) for i in preview.items] == [("TEA-1", "update"), ("YEN-1", "update"),
                                                          ("NEW-1", "create")]
    assert preview.items[0].info["changes"] == {"cost_minor": [5000, 6000]}
    result = await csv_io.apply_sku_import(actor, text.encode(), "all_or_nothing")
    assert result.counts() == {"updated": 2, "created": 1}
    tea = await catalog.resolve_sku(actor, "TEA-1")
    assert (tea["name"], tea["barcode"], tea["cost_minor"], tea["list_price_minor"]) == ("Longjing", "690", 6000, 16800)
    yen = await catalog.resolve_sku(actor, "YEN-1")
    assert (yen["cost_minor"], yen["active"]) == (1000, False)   # JPY has no minor unit
    updates = await db.fetch("SELECT after FROM audit_entry WHERE action = 'sku.update' ORDER BY id")
    assert [db.loads(u["after"]) for u in updates] == [{"cost_minor": 6000}, {"cost_minor": 1000, "active": False}]


async def test_sku_export_round_trip_changes_nothing(merchant):
    actor = system(merchant["id"], "test")
    await catalog.create_sku(actor, {"code": "TEA-1", "name": "西湖龙井", "barcode": "6901234567890", "spec": "250克",
                                     "category": "茶叶", "weight_g": 260, "cost": "80.50", "list_price": "168"})
    await catalog.create_sku(actor, {"code": "F-1", "name": "=HYPERLINK(\"x\")", "spec": "-5℃, \"cold\"",
                                     "list_price": "0.1"})
    await catalog.create_sku(actor, {"code": "YEN-1", "name": "抹茶", "currency": "JPY", "list_price": "1200",
                                     "active": False})
    chunks = [c async for c in csv_io.export_skus_csv(actor, batch=2)]
    assert chunks[0].startswith("\ufeffcode,name,barcode,spec,category,weight_g,cost,list_price,currency,active")
    text = "".join(chunks)
    assert "'=HYPERLINK" in text and "西湖龙井" in text
    result = await csv_io.apply_sku_import(actor, text.encode("utf-8"), "all_or_nothing")
    assert result.ok and result.counts() == {"unchanged": 3}
    assert await db.fetchval("SELECT count(*) FROM audit_entry WHERE action = 'sku.update'") == 0
    only_tea = "".join([c async for c in csv_io.export_skus_csv(actor, category="茶叶")])
    assert only_tea.count("\n") == 2


async def test_sku_import_file_level_errors(merchant):
    actor = system(merchant["id"], "test")
    with pytest.raises(ImportFileError) as exc:
        await csv_io.preview_sku_import(actor, b"  \n")
    assert exc.value.code == "empty_file"
    with pytest.raises(ImportFileError) as exc:
        await csv_io.preview_sku_import(actor, "名称,sku_kode\nx,y\n".encode())
    assert exc.value.code == "missing_columns" and "code" in exc.value.message and "sku_kode" in exc.value.message
    with pytest.raises(ImportFileError) as exc:
        await csv_io.preview_sku_import(actor, b"code,name\n\xff\xfe\xfa,x\n")
    assert exc.value.code == "bad_encoding"
    with pytest.raises(ImportFileError) as exc:
        await csv_io.preview_sku_import(actor, b"code,name\r\n\r\n")
    assert exc.value.code == "no_rows"
    with pytest.raises(ImportFileError) as exc:
        await csv_io.preview_sku_import(actor, "code,SKU编码,name\nA,A,x\n".encode())
    assert exc.value.code == "duplicate_column"
    with pytest.raises(ValidationError):
        await csv_io.apply_sku_import(actor, b"code,name\nA,x\n", "some")
    utf16 = "code\tname\r\nA-1\t茶\r\n".encode("utf-16")           # Excel "Unicode text"
    assert (await csv_io.apply_sku_import(actor, utf16, "good_rows")).counts() == {"created": 1}
    wide = await csv_io.preview_sku_import(actor, b"code,name\nB-1,x,surplus\n")
    assert triples(wide) == {(2, "", "column_count")}


async def test_sku_import_and_export_need_their_permissions(merchant, users):
    finance = (await users.make("finance", merchant))["actor"]
    with pytest.raises(PermissionDenied):
        await csv_io.preview_sku_import(finance, b"code,name\nA,B\n")
    with pytest.raises(PermissionDenied):
        await csv_io.apply_sku_import(finance, b"code,name\nA,B\n", "good_rows")
    assert "".join([c async for c in csv_io.export_skus_csv(finance)]).startswith("\ufeffcode")
    nobody = Actor(kind="user", merchant_id=merchant["id"], role="none")
    with pytest.raises(PermissionDenied):
        csv_io.export_skus_csv(nobody)
    assert await sku_count() == 0


async def test_sku_import_stays_in_its_tenant(merchant, other_merchant):
    mine, theirs = system(merchant["id"], "test"), system(other_merchant["id"], "test")
    await catalog.create_sku(theirs, {"code": "SHARED", "name": "Theirs", "cost": "1"})
    result = await csv_io.apply_sku_import(mine, b"code,name,cost\nSHARED,Mine,2\n", "all_or_nothing")
    assert result.counts() == {"created": 1}
    assert (await catalog.resolve_sku(theirs, "SHARED"))["name"] == "Theirs"
    assert "Theirs" not in "".join([c async for c in csv_io.export_skus_csv(mine)])


# -- orders ---------------------------------------------------------------------------------------

async def shop(merchant):
    actor = system(merchant["id"], "test")
    await catalog.create_sku(actor, {"code": "TEA-LJ-250", "name": "Longjing", "list_price": "168.00"})
    await catalog.create_sku(actor, {"code": "CUP-CER-01", "name": "Cup", "list_price": "45.50"})
    web = await channels.create_channel(actor, platform="website", name="Web")
    store = await channels.create_channel(actor, platform="pos", name="门店 Store")
    return actor, web, store


ORDER_HEADER = ("external_id,channel,placed_at,paid,currency,receiver_name,receiver_phone,country_code,province,"
                "city,district,address,postcode,sku,quantity,unit_price,shipping_fee,buyer_note\n")
MULTI = ORDER_HEADER + (
    "A-1,,2024-05-07 09:20,是,,李四,13900001111,CN,浙江省,杭州市,西湖区,文三路 1 号,310000,TEA-LJ-250,2,,10,轻放\n"
    "A-1,,,,,,,,,,,,,CUP-CER-01,1,40.00,,\n"
    "B-1,门店 Store,2024-05-08T10:00:00+00:00,false,,王五,13700002222,CN,北京市,北京市,海淀区,中关村,,CUP-CER-01,3,,,\n"
    "A-1,,2024-05-07 09:20,true,,李四,,,,,,,,TEA-LJ-250,1,150,10.00,\n"
)


async def counts() -> dict:
    tables = ("sales_order", "order_line", "order_event", "raw_channel_order", "customer", "audit_entry")
    out = {t: await db.fetchval(f"SELECT count(*) FROM {t}") for t in tables}
    out["seq"] = tuple(await db.fetchrow("SELECT last_value, is_called FROM sales_order_id_seq"))
    return out


async def test_order_preview_groups_rows_into_orders_and_writes_nothing(merchant):
    actor = (await shop(merchant))[0]
    before = await counts()
    preview = await csv_io_orders.preview_order_import(actor, MULTI.encode(), channel_ref="Web")
    assert preview.ok, preview.errors
    assert [(i.key, i.lines, i.action, i.info["channel"], i.info["lines"], i.info["total"]) for i in preview.items] == [
        ("A-1", [2, 3, 5], "create", "Web", 3, 168_00 * 2 + 40_00 + 150_00 + 10_00),
        ("B-1", [4], "create", "门店 Store", 1, 45_50 * 3)]
    assert await counts() == before


async def test_order_import_creates_multi_row_orders_and_reimport_creates_nothing(merchant):
    actor, web, store = await shop(merchant)
    result = await csv_io_orders.apply_order_import(actor, MULTI.encode(), "all_or_nothing", channel_ref=web["id"])
    assert result.applied and result.ok and result.counts() == {"created": 2}
    a = await queries.get_order(actor, result.items[0].info["order_id"])
    assert (a["external_id"], a["channel_id"], a["total"], a["payment_status"], a["buyer_note"]) == (
        "A-1", web["id"], 526_00 + 10_00, "paid", "轻放")
    assert a["placed_at"] == datetime(2024, 5, 7, 1, 20, tzinfo=UTC)        # 09:20 in Asia/Shanghai
    assert [(ln["sku_code"], ln["quantity"], ln["unit_price"]) for ln in a["lines"]] == [
        ("TEA-LJ-250", 2, 168_00), ("CUP-CER-01", 1, 40_00), ("TEA-LJ-250", 1, 150_00)]
    b = await queries.get_order(actor, result.items[1].info["order_id"])
    assert (b["channel_id"], b["payment_status"], b["placed_at"]) == (
        store["id"], "unpaid", datetime(2024, 5, 8, 10, 0, tzinfo=UTC))
    source = await db.fetchval("SELECT source FROM sales_order WHERE id = $1", a["id"])
    assert source == "csv"
    before = await counts()
    again = await csv_io_orders.apply_order_import(actor, MULTI.encode(), "all_or_nothing", channel_ref="Web")
    assert again.applied and again.counts() == {"already_imported": 2}
    assert [i.info["order_id"] for i in again.items] == [a["id"], b["id"]]
    after = await counts()
    assert after["sales_order"] == before["sales_order"] and after["order_line"] == before["order_line"]
    summaries = await db.fetch("SELECT after FROM audit_entry WHERE action = 'order.import' ORDER BY id")
    assert [db.loads(s["after"]) for s in summaries] == [
        {"mode": "all_or_nothing", "rows": 4, "orders": 2, "created": 2, "already_imported": 0, "failed": 0},
        {"mode": "all_or_nothing", "rows": 4, "orders": 2, "created": 0, "already_imported": 2, "failed": 0}]


BAD = (
    "external_id,receiver_name,sku,quantity,placed_at\n"
    "G-1,张三,TEA-LJ-250,1,2024-05-07 09:20\n"      # 2 good
    "X-1,张三,NOPE-1,1,\n"                          # 3 unknown SKU (create_order)
    "X-2,张三,TEA-LJ-250,two,\n"                    # 4 bad quantity
    "X-3,张三,TEA-LJ-250,1,2024-13-45\n"            # 5 bad date
    "X-4,,CUP-CER-01,1,\n"                          # 6 missing receiver (create_order)
    "G-2,李四,CUP-CER-01,2,2024/5/7 9:05\n"         # 7 good
    "X-5,王五,TEA-LJ-250,1,\n"                      # 8 fine, but its order has a bad line 9
    "X-5,王五,NOPE-2,0,\n"                          # 9 unknown SKU and quantity 0
    ",王五,TEA-LJ-250,1,\n"                         # 10 no external id
)
BAD_ERRORS = {(3, "sku", "unknown_sku"), (4, "quantity", "invalid"), (5, "placed_at", "invalid_date"),
              (6, "receiver_name", "required"), (9, "sku", "unknown_sku"), (9, "quantity", "invalid"),
              (10, "external_id", "required")}


async def test_order_import_reports_bad_rows_at_their_lines_and_all_or_nothing_imports_nothing(merchant):
    actor = (await shop(merchant))[0]
    preview = await csv_io_orders.preview_order_import(actor, BAD.encode(), channel_ref="Web")
    assert triples(preview) == BAD_ERRORS
    assert [(i.key, i.action) for i in preview.items] == [
        ("G-1", "create"), ("X-1", "error"), ("X-2", "error"), ("X-3", "error"), ("X-4", "error"),
        ("G-2", "create"), ("X-5", "error"), ("", "error")]
    assert next(i for i in preview.items if i.key == "X-5").lines == [8, 9]
    assert "line" not in next(e for e in preview.errors if e.line == 3).message   # no create_order line index
    result = await csv_io_orders.apply_order_import(actor, BAD.encode(), "all_or_nothing", channel_ref="Web")
    assert not result.applied and triples(result) == BAD_ERRORS
    assert await db.fetchval("SELECT count(*) FROM sales_order") == 0
    assert await db.fetchval("SELECT count(*) FROM audit_entry WHERE action LIKE 'order.%'") == 0


async def test_order_import_good_rows_imports_only_the_good_orders(merchant):
    actor = (await shop(merchant))[0]
    result = await csv_io_orders.apply_order_import(actor, BAD.encode(), "good_rows", channel_ref="Web")
    assert result.applied and triples(result) == BAD_ERRORS
    assert result.counts() == {"created": 2, "error": 6}
    rows = await db.fetch("SELECT external_id, placed_at FROM sales_order ORDER BY external_id")
    assert [(r["external_id"], r["placed_at"]) for r in rows] == [
        ("G-1", datetime(2024, 5, 7, 1, 20, tzinfo=UTC)), ("G-2", datetime(2024, 5, 7, 1, 5, tzinfo=UTC))]
    fixed = BAD.replace("NOPE-1", "CUP-CER-01")
    again = await csv_io_orders.apply_order_import(actor, fixed.encode(), "good_rows", channel_ref="Web")
    assert again.counts() == {"already_imported": 2, "created": 1, "error": 5}


async def test_all_or_nothing_checks_every_order_before_writing_any(merchant):
    actor = (await shop(merchant))[0]
    text = "external_id,receiver_name,sku,quantity\nG-1,张三,TEA-LJ-250,1\nX-1,张三,NOPE,1\nG-2,李四,CUP-CER-01,1\n"
    result = await csv_io_orders.apply_order_import(actor, text.encode(), "all_or_nothing", channel_ref="Web")
    assert not result.applied and triples(result) == {(3, "sku", "unknown_sku")}
    assert [(i.key, i.action) for i in result.items] == [("G-1", "create"), ("X-1", "error"), ("G-2", "create")]
    assert await db.fetchval("SELECT count(*) FROM sales_order") == 0
    assert await db.fetchval("SELECT count(*) FROM audit_entry WHERE action LIKE 'order.%'") == 0


async def test_all_or_nothing_stops_at_an_order_that_went_bad_after_the_check(merchant, monkeypatch):
    actor = (await shop(merchant))[0]
    real = orders.create_orders

    async def sku_renamed_meanwhile(actor, inputs, *, source="api", check_only=False):
        if not check_only and any(d.external_id == "G-2" for d in inputs):
            # the check passed; by G-2's write its SKU has another code (inside the chunk's transaction,
            # so undoing the chunk brings it back)
            await db.execute("UPDATE sku SET code = 'CUP-GONE' WHERE code = 'CUP-CER-01'")
        return await real(actor, inputs, source=source, check_only=check_only)

    monkeypatch.setattr(csv_io_orders.orders, "create_orders", sku_renamed_meanwhile)
    monkeypatch.setattr(csv_io_orders, "WRITE_CHUNK", 1)
    text = ("external_id,receiver_name,sku,quantity\nG-1,张三,TEA-LJ-250,1\nG-2,李四,TEA-LJ-250,1\n"
            "G-2,李四,CUP-CER-01,1\nG-3,王五,CUP-CER-01,1\n")
    result = await csv_io_orders.apply_order_import(actor, text.encode(), "all_or_nothing", channel_ref="Web")
    assert triples(result) == {(4, "sku", "unknown_sku")}
    assert [(i.key, i.action) for i in result.items] == [("G-1", "created"), ("G-2", "error"), ("G-3", "create")]
    assert await db.fetchval("SELECT array_agg(external_id) FROM sales_order") == ["G-1"]
    assert await db.fetchval("SELECT count(*) FROM sku WHERE code = 'CUP-CER-01'") == 1
    monkeypatch.setattr(csv_io_orders.orders, "create_orders", real)
    again = await csv_io_orders.apply_order_import(actor, text.encode(), "all_or_nothing", channel_ref="Web")
    assert again.counts() == {"already_imported": 1, "created": 2}


async def test_order_import_reports_an_order_that_exists_from_elsewhere_and_conflicting_rows(merchant):
    actor = (await shop(merchant))[0]
    await orders.create_order(actor, OrderInput(channel="Web", external_id="API-1", receiver=ReceiverInput(name="x"),
                                                lines=[LineInput(sku="TEA-LJ-250", quantity=1)]))
    text = ("订单号,收件人,商品编码,数量,运费,已付款\n"
            "API-1,张三,TEA-LJ-250,1,,是\n"
            "C-1,张三,TEA-LJ-250,1,5,是\n"
            "C-1,张三,CUP-CER-01,1,8,否\n")
    preview = await csv_io_orders.preview_order_import(actor, text.encode("gbk"), channel_ref="Web")
    assert triples(preview) == {(2, "external_id", "duplicate_order"), (4, "shipping_fee", "conflict"),
                                (4, "paid", "conflict")}


async def test_order_import_needs_orders_create(merchant, users):
    await shop(merchant)
    finance = (await users.make("finance", merchant))["actor"]
    with pytest.raises(PermissionDenied):
        await csv_io_orders.preview_order_import(finance, MULTI.encode(), channel_ref="Web")
    with pytest.raises(PermissionDenied):
        await csv_io_orders.apply_order_import(finance, MULTI.encode(), "good_rows", channel_ref="Web")
    ops = (await users.make("operations", merchant))["actor"]
    result = await csv_io_orders.apply_order_import(ops, MULTI.encode(), "good_rows", channel_ref="Web")
    assert result.counts() == {"created": 2}


async def test_order_import_cannot_target_another_merchants_channel(merchant, other_merchant):
    actor = (await shop(merchant))[0]
    theirs = await channels.create_channel(system(other_merchant["id"], "test"), platform="website", name="Theirs")
    with pytest.raises(NotFound):
        await csv_io_orders.preview_order_import(actor, MULTI.encode(), channel_ref=theirs["id"])
    with pytest.raises(NotFound):
        await csv_io_orders.apply_order_import(actor, MULTI.encode(), "good_rows", channel_ref="Theirs")
    text = f"external_id,channel,receiver_name,sku,quantity\nT-1,Theirs,张三,TEA-LJ-250,1\nT-2,{theirs['id']},张三,TEA-LJ-250,1\n"
    result = await csv_io_orders.apply_order_import(actor, text.encode(), "good_rows")
    assert triples(result) == {(2, "channel", "unknown_channel"), (3, "channel", "unknown_channel")}
    assert await db.fetchval("SELECT count(*) FROM sales_order") == 0
    with pytest.raises(ImportFileError) as exc:
        await csv_io_orders.preview_order_import(actor, b"external_id,receiver_name,sku,quantity\nA,B,C,1\n")
    assert exc.value.code == "missing_columns"


async def test_order_import_of_2000_rows_is_quick(merchant):
    actor = (await shop(merchant))[0]
    rows = []
    for n in range(1000):
        rows.append(f"P-{n},2024-05-07 09:{n % 60:02d},张{n},139{n:08d},浙江省,杭州市,西湖区,路 {n} 号,TEA-LJ-250,1,\n")
        rows.append(f"P-{n},,,,,,,,CUP-CER-01,2,40\n")
    text = "external_id,placed_at,receiver_name,receiver_phone,province,city,district,address,sku,quantity,unit_price\n"
    data = (text + "".join(rows)).encode()
    started = time.perf_counter()
    preview = await csv_io_orders.preview_order_import(actor, data, channel_ref="Web")
    previewed = time.perf_counter() - started
    result = await csv_io_orders.apply_order_import(actor, data, "all_or_nothing", channel_ref="Web")
    applied = time.perf_counter() - started - previewed
    print(f"\n2,000 rows / 1,000 orders: preview {previewed:.1f}s, import {applied:.1f}s "
          f"(~{applied * 5:.0f}s for 10,000 rows)")
    assert preview.ok and result.counts() == {"created": 1000}
    assert await db.fetchval("SELECT count(*) FROM order_line") == 2000
    assert applied < 45


async def test_order_import_writes_like_create_order_reservations_timeline_audit_raw(merchant):
    """The batch write keeps create_order's effects per order: stock reserved (and an order that finds
    none held out of stock), a `created` timeline event, an audit entry and the raw input."""
    actor = (await shop(merchant))[0]
    from server.inventory import service as inventory

    await inventory.create_warehouse(actor, {"code": "HZ", "name": "Hangzhou"})
    await inventory.receive(actor, "HZ", "TEA-LJ-250", 3, "initial")
    text = ("external_id,receiver_name,sku,quantity\n"
            "R-1,张三,TEA-LJ-250,2\nR-2,李四,TEA-LJ-250,2\nR-3,王五,TEA-LJ-250,1\n")
    result = await csv_io_orders.apply_order_import(actor, text.encode(), "good_rows", channel_ref="Web")
    assert result.counts() == {"created": 3}
    rows = {r["external_id"]: r for r in await db.fetch("SELECT * FROM sales_order ORDER BY id")}
    reserved = {r["external_id"]: r["qty"] for r in await db.fetch(
        """SELECT o.external_id, sum(r.quantity) AS qty FROM reservation r JOIN order_line l ON l.id = r.order_line_id
           JOIN sales_order o ON o.id = l.order_id WHERE r.status = 'reserved' GROUP BY 1""")}
    assert reserved == {"R-1": 2, "R-3": 1}                   # in file order: R-2 finds only 1 left
    assert rows["R-2"]["status"] == "on_hold" and "out_of_stock" in rows["R-2"]["hold_reasons"]
    assert await db.fetchval("SELECT reserved FROM stock_level") == 3
    for ext, o in rows.items():
        assert o["source"] == "csv" and o["idempotency_key"] == f"csv:{o['channel_id']}:{ext}"
        kinds = [r["kind"] for r in await db.fetch("SELECT kind FROM order_event WHERE order_id = $1 ORDER BY id",
                                                   o["id"])]
        assert kinds[0] == "created"
        raw = db.loads(await db.fetchval("SELECT payload FROM raw_channel_order WHERE channel_id = $1 "
                                         "AND external_id = $2", o["channel_id"], ext))
        assert raw["source"] == "csv" and raw["input"]["external_id"] == ext
    audit = await db.fetch("SELECT object_id, after FROM audit_entry WHERE action = 'order.create' ORDER BY id")
    assert [(a["object_id"], db.loads(a["after"])["external_id"]) for a in audit] == [
        (str(rows[e]["id"]), e) for e in ("R-1", "R-2", "R-3")]
