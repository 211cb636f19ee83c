"""CSV imports and exports through the service layer, on a real database: SKUs (create/update by code,
encodings, delimiters, every problem of every row with its file line) and orders (multi-row orders,
line numbers of create_order's errors, both modes, idempotent re-import, preview writes nothing)."""
from __future__ import annotations

import time

import pytest

from server.catalog import csv_io
from server.catalog import service as catalog
from server.channels import service as channels
from server.core import db
from server.core.actor import Actor, system
from server.core.csvimport import ImportFileError
from server.core.errors import NotFound, PermissionDenied


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
