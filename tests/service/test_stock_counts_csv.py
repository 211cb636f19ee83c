"""Stock count CSV import against real PostgreSQL: every bad row reported by its line number, the two
modes (nothing if any row is bad / only the good rows), counts applied as stocktake adjustments with
their reason through the ledger, backorders served, and a count sheet that imports back unchanged."""
import pytest

from server.catalog import service as catalog
from server.channels import service as channels
from server.core import db
from server.core.actor import system
from server.core.csvimport import ImportFileError
from server.core.errors import PermissionDenied, ValidationError
from server.inventory import counts_csv, invariants
from server.inventory import service as inventory
from server.orders.service import LineInput, OrderInput, ReceiverInput, create_order


async def world(merchant):
    actor = system(merchant["id"], "test")
    for code in ("TEA", "CUP", "POT"):
        await catalog.create_sku(actor, {"code": code, "name": f"{code} name"})
    kit = await catalog.create_sku(actor, {"code": "KIT", "name": "Kit"})
    await db.execute("UPDATE sku SET is_kit = true WHERE id = $1", kit["id"])
    await db.execute("INSERT INTO sku_component (kit_sku_id, component_sku_id, quantity) "
                     "SELECT $1, id, 1 FROM sku WHERE code = 'TEA' AND merchant_id = $2", kit["id"], merchant["id"])
    await inventory.create_warehouse(actor, {"code": "SZ", "name": "Shenzhen", "priority": 10})
    await inventory.create_warehouse(actor, {"code": "HZ", "name": "Hangzhou"})
    await inventory.receive(actor, "SZ", "TEA", 10)
    await inventory.receive(actor, "SZ", "CUP", 4)
    await channels.create_channel(actor, platform="website", name="Web")
    await create_order(actor, OrderInput(channel="Web", external_id="R-1", lines=[LineInput(sku="CUP", quantity=3)],
                                         receiver=ReceiverInput(name="张三")))
    return actor


BAD = """warehouse,sku,counted_quantity,reason
SZ,TEA,8,broken tins
BJ,TEA,1,
SZ,NOPE,2,
SZ,POT,two,
HZ,TEA,-1,
SZ,TEA,7,second count
SZ,KIT,1,
SZ,CUP,2,
HZ,POT,5,
HZ,CUP,1.0,found in returns
"""


async def level(actor, wh, sku):
    try:
        lv = await inventory.get_level(actor, wh, sku)
    except Exception:
        return (0, 0)
    return (lv["on_hand"], lv["reserved"])


async def test_preview_reports_every_bad_row_by_line(merchant):
    actor = await world(merchant)
    preview = await counts_csv.preview_count_import(actor, BAD.encode())
    assert preview.rows == 10 and preview.columns == ["warehouse", "sku", "counted_quantity", "reason"]
    assert [(e.line, e.field, e.code) for e in preview.errors] == [
        (3, "warehouse", "unknown_warehouse"), (4, "sku", "unknown_sku"), (5, "counted_quantity", "invalid"),
        (6, "counted_quantity", "negative"), (7, "", "duplicate_in_file"), (8, "sku", "kit_not_stocked"),
        (9, "counted_quantity", "insufficient_stock")]
    assert "line 2" in preview.errors[4].message
    assert "3 are reserved" in preview.errors[6].message
    good = {i.key: (i.action, i.info.get("delta")) for i in preview.items if i.action != "error"}
    assert good == {"SZ / TEA": ("update", -2), "HZ / POT": ("update", 5), "HZ / CUP": ("update", 1)}
    assert await level(actor, "SZ", "TEA") == (10, 0)          # a preview writes nothing


async def test_all_or_nothing_writes_nothing_when_a_row_is_bad(merchant):
    actor = await world(merchant)
    result = await counts_csv.apply_count_import(actor, BAD.encode(), "all_or_nothing")
    assert not result.applied and len(result.errors) == 7
    assert await level(actor, "SZ", "TEA") == (10, 0) and await level(actor, "HZ", "POT") == (0, 0)
    assert await db.fetchval("SELECT count(*) FROM stock_movement WHERE kind = 'adjustment'") == 0


async def test_good_rows_mode_applies_the_good_rows_with_their_reasons(merchant):
    actor = await world(merchant)
    result = await counts_csv.apply_count_import(actor, BAD.encode(), "good_rows")
    assert result.applied and result.counts() == {"updated": 3, "error": 7}
    assert await level(actor, "SZ", "TEA") == (8, 0)
    assert await level(actor, "HZ", "POT") == (5, 0) and await level(actor, "HZ", "CUP") == (1, 0)
    assert await level(actor, "SZ", "CUP") == (4, 3)          # the bad row changed nothing
    moves = await db.fetch("SELECT w.code, s.code AS sku, m.on_hand_delta, m.reason FROM stock_movement m "
                           "JOIN warehouse w ON w.id = m.warehouse_id JOIN sku s ON s.id = m.sku_id "
                           "WHERE m.kind = 'adjustment' ORDER BY m.id")
    assert [tuple(m) for m in moves] == [("SZ", "TEA", -2, "broken tins"), ("HZ", "POT", 5, "stocktake"),
                                         ("HZ", "CUP", 1, "found in returns")]
    audit_rows = await db.fetch("SELECT action, after FROM audit_entry WHERE action LIKE 'stock.count%' ORDER BY id")
    assert [r["action"] for r in audit_rows] == ["stock.count"] * 3 + ["stock.count_import"]
    assert db.loads(audit_rows[-1]["after"])["adjusted"] == 3
    assert await invariants.ledger_mismatches(merchant["id"]) == []
    assert await invariants.oversold(merchant["id"]) == []


async def test_clean_file_applies_and_serves_backorders_and_round_trips(merchant):
    actor = await world(merchant)
    waiting, _ = await create_order(actor, OrderInput(channel="Web", external_id="W-2",
                                                      lines=[LineInput(sku="POT", quantity=2)],
                                                      receiver=ReceiverInput(name="李四")))
    assert (await db.fetchval("SELECT status FROM sales_order WHERE id = $1", waiting["id"])) == "on_hold"
    text = "仓库编码,商品编码,盘点数量,原因\nSZ,POT,2,盘点\nSZ,TEA,10,盘点\n"
    result = await counts_csv.apply_count_import(actor, text.encode("gb18030"), "all_or_nothing")
    assert result.applied and result.errors == [] and result.counts() == {"updated": 1, "unchanged": 1}
    pot = next(i for i in result.items if i.key == "SZ / POT")
    assert pot.info["released_orders"] == [waiting["id"]] and pot.info["delta"] == 2
    assert await level(actor, "SZ", "POT") == (2, 2)

    sheet = "".join([c async for c in counts_csv.export_count_sheet(actor, warehouse="SZ")])
    assert sheet.startswith("\ufeffwarehouse,sku,counted_quantity,reason")
    again = await counts_csv.preview_count_import(actor, sheet.encode())
    assert again.ok and {i.action for i in again.items} == {"unchanged"} and again.rows == 3


async def test_file_errors_modes_and_permissions(merchant, users):
    actor = await world(merchant)
    with pytest.raises(ImportFileError) as exc:
        await counts_csv.preview_count_import(actor, b"warehouse,sku\nSZ,TEA\n")
    assert exc.value.code == "missing_columns"
    with pytest.raises(ImportFileError):
        await counts_csv.preview_count_import(actor, b"")
    with pytest.raises(ValidationError):
        await counts_csv.apply_count_import(actor, b"warehouse,sku,counted_quantity\nSZ,TEA,1\n", "some")
    readonly = (await users.make("partner_readonly", merchant))["actor"]
    with pytest.raises(PermissionDenied):
        await counts_csv.preview_count_import(readonly, b"warehouse,sku,counted_quantity\nSZ,TEA,1\n")
