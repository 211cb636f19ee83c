"""The demo seed (first `make run`): an admin, the catalogue, two stocked warehouses and a low-stock
rule; running it again creates nothing twice and never shows the password again."""
from server import demo
from server.core import db as database
from server.inventory import invariants


async def test_seed_is_complete_and_idempotent(db):  # noqa: ARG001 - the fixture resets the tables
    first = await demo.seed()
    assert first["admin_password"]
    mid = first["merchant_id"]
    counts = await db_counts(mid)
    assert counts["warehouse"] == 2
    assert counts["sku"] > 0 and counts["stock_level"] == 2 * counts["sku"]
    assert counts["stock_alert_rule"] == 1
    assert await database.fetchval("SELECT min(on_hand) FROM stock_level WHERE merchant_id = $1", mid) > 0
    assert not await invariants.ledger_mismatches(mid)

    again = await demo.seed()
    assert again["merchant_id"] == mid and again["admin_password"] is None
    assert await db_counts(mid) == counts


async def db_counts(mid: int) -> dict[str, int]:
    return {t: await database.fetchval(f"SELECT count(*) FROM {t} WHERE merchant_id = $1", mid)  # noqa: S608
            for t in ("warehouse", "sku", "stock_level", "stock_alert_rule", "app_user")}
