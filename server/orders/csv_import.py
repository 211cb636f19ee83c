"""Order CSV import for offline stores and other systems. Orders go through
orders.service.create_orders (source "csv"), the batch form of create_order, so a CSV order is
validated, numbered, audited, reserved and put in the timeline exactly like a partner's or a staff
member's — written a few hundred at a time with COPY instead of one transaction per order.

Format: one row per order line; rows with the same `external_id` (on the same channel) are one order.
Columns (case-insensitive; Chinese aliases work):
  external_id (订单号, required), channel (渠道/店铺; else the channel chosen for the import),
  placed_at (下单时间; ISO 8601, or 'YYYY-MM-DD HH:MM[:SS]' / 'YYYY/MM/DD …' in the merchant's timezone),
  paid (已付款; true/false/是/否, default true), currency (币种; default the merchant's),
  receiver_name (收件人, required), receiver_phone (电话), country_code (国家), province (省),
  city (市), district (区), address (地址), postcode (邮编), sku (商品编码, required; code or id),
  quantity (数量, required), unit_price (单价; default the SKU's list price), shipping_fee (运费),
  buyer_note (买家留言).
Order-level columns may be repeated on every row of an order or given once; two different values for
one order are an error. The idempotency key is csv:{channel id}:{external id}, so importing a file
again creates nothing new: those orders are reported as "already_imported".

Preview runs the orders through create_orders(check_only=True) inside a READ ONLY transaction: all of
create_order's checks run (SKUs, amounts, receiver, idempotency, duplicates) and nothing can be written.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

import asyncpg

from server.audit import service as audit
from server.auth import policy
from server.auth import service as auth
from server.catalog import service as catalog
from server.channels import service as channels
from server.core import db
from server.core.actor import Actor
from server.core.csvimport import (
    Columns,
    ImportFileError,
    ImportItem,
    ImportPreview,
    ImportResult,
    Row,
    RowError,
    check_mode,
    chunks,
    file_digest,
    finish,
    parse_bool,
    parse_time,
    read_table,
    savepoint,
)
from server.core.errors import DomainError, ErrorList, NotFound, PermissionDenied, ValidationError
from server.core.money import to_minor
from server.orders import service as orders
from server.orders.service import LineInput, OrderInput, ReceiverInput

COLUMNS = Columns(aliases={
    "external_id": ("order id", "order no", "order number", "订单号", "外部订单号", "订单编号", "原始单号", "外部单号"),
    "channel": ("shop", "store", "渠道", "店铺", "店铺名称"),
    "placed_at": ("order date", "order time", "下单时间", "订单时间", "创建时间", "下单日期"),
    "paid": ("is paid", "已付款", "是否付款", "是否已付款", "已支付"),
    "currency": ("币种", "货币"),
    "receiver_name": ("receiver", "recipient", "收件人", "收货人", "收件人姓名", "收货人姓名"),
    "receiver_phone": ("phone", "mobile", "收件人电话", "收货人电话", "电话", "手机", "手机号", "联系电话"),
    "country_code": ("country", "国家", "国家代码", "国家/地区"),
    "province": ("state", "省", "省份"),
    "city": ("市", "城市"),
    "district": ("区", "区县", "区/县"),
    "address": ("address line", "地址", "详细地址", "收货地址"),
    "postcode": ("zip", "zip code", "postal code", "邮编", "邮政编码"),
    "sku": ("sku code", "商品编码", "SKU编码", "编码", "货号"),
    "quantity": ("qty", "数量"),
    "unit_price": ("price", "单价", "价格"),
    "shipping_fee": ("shipping", "运费"),
    "buyer_note": ("note", "买家留言", "买家备注", "备注"),
}, required=("external_id", "receiver_name", "sku", "quantity"))

ORDER_FIELDS = ("placed_at", "paid", "currency", "receiver_name", "receiver_phone", "country_code", "province",
                "city", "district", "address", "postcode", "shipping_fee", "buyer_note")
# create_order's error fields -> CSV columns
_FIELDS = {"externalId": "external_id", "currency": "currency", "shippingFee": "shipping_fee",
           "receiver.name": "receiver_name", "channel": "channel", "lines": "sku", "sku": "sku",
           "quantity": "quantity", "unitPrice": "unit_price"}
_LINE_FIELD = re.compile(r"lines\.(\d+)\.(\w+)")
_LINE_PREFIX = re.compile(r"^line \d+: ")
MAX_QUANTITY = 1_000_000
CHUNK = 1000         # orders per read-only transaction (checks)
WRITE_CHUNK = 250    # orders per writing transaction (the ingest pipeline's batch): ~2 advisory locks per
                     # order plus reservations stay well inside PostgreSQL's lock table
ONE_BY_ONE = 50      # a chunk the database refused is redone one order per savepoint to find the culprit


@dataclass
class _Order:
    item: ImportItem
    channel: dict | None
    values: dict[str, str] = field(default_factory=dict)   # order-level columns, first value given
    src: dict[str, int] = field(default_factory=dict)      # column -> the line that gave it
    lines: list[LineInput] = field(default_factory=list)
    line_src: list[int] = field(default_factory=list)
    placed_at: datetime | None = None
    paid: bool = True

    def error(self, line: int, column: str, code: str, message: str) -> None:
        self.item.errors.append(RowError(line, column, code, message))

    def order_input(self, currency: str) -> OrderInput:
        v = self.values
        assert self.channel is not None
        return OrderInput(
            channel=str(self.channel["id"]), external_id=self.item.key, lines=self.lines,
            idempotency_key=f"csv:{self.channel['id']}:{self.item.key}", currency=v.get("currency") or currency,
            paid=self.paid, placed_at=self.placed_at, shipping_fee=v.get("shipping_fee") or None,
            buyer_note=v.get("buyer_note", ""),
            receiver=ReceiverInput(name=v.get("receiver_name", ""), phone=v.get("receiver_phone", ""),
                                   country_code=v.get("country_code") or "CN", province=v.get("province", ""),
                                   city=v.get("city", ""), district=v.get("district", ""),
                                   address=v.get("address", ""), postcode=v.get("postcode", "")))


@dataclass
class _Plan:
    report: ImportPreview
    orders: list[_Order]
    currency: str


async def preview_order_import(actor: Actor, data: bytes, channel_ref: str | int | None = None) -> ImportPreview:
    """Per order: external id, lines, total and every problem with its file line. Writes nothing."""
    policy.authorize(actor, "orders.create")
    _own_transaction()
    plan = await _plan(actor, data, channel_ref)
    await _dry_run(actor, plan, plan.orders)
    return finish(plan.report)


async def apply_order_import(actor: Actor, data: bytes, mode: str = "all_or_nothing",
                             channel_ref: str | int | None = None) -> ImportResult:
    """Create the file's orders; orders imported before are reported as "already_imported".

    "good_rows": the good orders are created, the bad ones reported.
    "all_or_nothing": every order is first checked exactly as the preview does; if any is bad nothing
    is written. Then the orders are written in chunks of WRITE_CHUNK per transaction (one transaction
    for 10,000 orders would hold ~30,000 locks, more than PostgreSQL's default lock table). If an order
    turns bad between the check and its write (its SKU deleted meanwhile), writing stops there: that
    order is reported, the chunks before it stay imported, and importing the file again finishes the
    job, since re-imports are idempotent.
    """
    policy.authorize(actor, "orders.create")
    check_mode(mode)
    _own_transaction()
    plan = await _plan(actor, data, channel_ref)
    p = plan.report
    plan.report = result = ImportResult(kind=p.kind, rows=p.rows, columns=p.columns, items=p.items,
                                        warnings=p.warnings, mode=mode)
    bad = [o for o in plan.orders if o.item.errors]
    if mode == "all_or_nothing":
        await _dry_run(actor, plan, plan.orders)
        if any(o.item.errors for o in plan.orders):
            return finish(result)
        await _write(actor, plan, [o for o in plan.orders if o.item.action == "create"], stop_at_error=True)
    else:
        await _dry_run(actor, plan, bad)            # add create_order's findings to the rows already bad
        await _write(actor, plan, [o for o in plan.orders if o.channel is not None and not o.item.errors],
                     stop_at_error=False)
    result.applied = True
    async with db.transaction():
        await _audit(actor, result, data)
    return finish(result)


def _own_transaction() -> None:
    if db.in_transaction():
        raise RuntimeError("order imports manage their own transactions; call them outside one")


async def _write(actor: Actor, plan: _Plan, todo: list[_Order], *, stop_at_error: bool) -> None:
    for part in chunks(todo, WRITE_CHUNK):
        try:
            async with db.transaction():
                outcomes = await orders.create_orders(actor, [o.order_input(plan.currency) for o in part],
                                                      source="csv")
                for o, outcome in zip(part, outcomes, strict=True):
                    _apply(o, outcome, dry=False)
                if stop_at_error and any(o.item.errors for o in part):
                    raise _Stop
        except _Stop:
            _undo(part)
            return
        except (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError):
            _undo(part)                         # the database refused something in the chunk: find what
            if not await _write_one_by_one(actor, plan, part, stop_at_error=stop_at_error):
                return


def _undo(part: list[_Order]) -> None:
    """The chunk was rolled back: its orders were not created after all."""
    for o in part:
        if o.item.action in ("created", "already_imported") and not o.item.errors:
            o.item.action = "create"
            for k in ("order_id", "order_number"):
                o.item.info.pop(k, None)


async def _write_one_by_one(actor: Actor, plan: _Plan, part: list[_Order], *, stop_at_error: bool) -> bool:
    """Each order in its own savepoint through create_order; False when all-or-nothing must stop."""
    for sub in chunks(part, ONE_BY_ONE):        # one savepoint per order: stay under 64 per transaction
        try:
            async with db.transaction():
                for o in sub:
                    await _create(actor, plan, o, dry=False)
                    if stop_at_error and o.item.errors:
                        raise _Stop
        except _Stop:
            _undo(sub)
            return False
    return True


class _Stop(Exception):
    """All-or-nothing: an order failed while writing; undo its chunk and write no more."""


async def _dry_run(actor: Actor, plan: _Plan, todo: list[_Order]) -> None:
    for part in chunks([o for o in todo if o.channel is not None], CHUNK):
        async with db.transaction() as tx:
            await db.execute("SET TRANSACTION READ ONLY")
            outcomes = await orders.create_orders(actor, [o.order_input(plan.currency) for o in part], source="csv",
                                                  check_only=True)
            await tx.rollback()
        for o, outcome in zip(part, outcomes, strict=True):
            _apply(o, outcome, dry=True)


def _apply(o: _Order, outcome: orders.CreateOutcome, *, dry: bool) -> None:
    """create_orders' verdict on one order, as _create records create_order's."""
    item = o.item
    if outcome.error is not None:
        if isinstance(outcome.error, PermissionDenied):
            raise outcome.error
        item.errors += _row_errors(o, outcome.error)
        item.action = "error"
        return
    if item.errors:                             # CSV-level problems: never kept (the caller undoes the chunk)
        item.action = "error"
        return
    saved = outcome.order or {}
    if outcome.created:
        item.action = "create" if dry else "created"
        if dry:
            return
    else:
        item.action = "already_imported"
    item.info.update(order_id=saved["id"], order_number=saved["order_number"], total=saved["total"],
                     currency=saved["currency"])


async def _create(actor: Actor, plan: _Plan, o: _Order, *, dry: bool) -> None:
    """One order through create_order, in a savepoint. CSV-level problems found earlier still get
    create_order's own findings added, but such an order is never kept."""
    item = o.item
    try:
        async with savepoint():
            saved, created = await orders.create_order(actor, o.order_input(plan.currency), source="csv")
            if item.errors:
                raise _Discard
    except _Discard:
        item.action = "error"
        return
    except asyncpg.ReadOnlySQLTransactionError:     # preview: every check passed, the first write refused
        item.action = "error" if item.errors else "create"
        return
    except PermissionDenied:
        raise
    except DomainError as exc:
        item.errors += _row_errors(o, exc)
        item.action = "error"
        return
    except (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError) as exc:
        o.error(item.lines[0], "", "rejected", f"the database refused this order: {exc}")
        item.action = "error"
        return
    item.action = ("create" if dry else "created") if created else "already_imported"
    item.info.update(order_id=saved["id"], order_number=saved["order_number"], total=saved["total"],
                     currency=saved["currency"])


class _Discard(Exception):
    """Undo an order that create_order accepted but whose rows had CSV-level problems."""


def _row_errors(o: _Order, exc: DomainError) -> list[RowError]:
    """create_order's errors (fields like lines.1.quantity) at the file lines that produced them;
    a problem already reported for that line and column is not repeated."""
    taken = {(e.line, e.field) for e in o.item.errors}
    out = []
    for e in (exc.errors if isinstance(exc, ErrorList) and exc.errors else [exc]):
        f = e.field or ""
        m = _LINE_FIELD.fullmatch(f)
        if m and int(m[1]) < len(o.line_src):
            line, column = o.line_src[int(m[1])], _FIELDS.get(m[2], m[2])
        else:
            column = _FIELDS.get(f, f)
            line = o.src.get(column, o.item.lines[0])
        if (line, column) not in taken:
            taken.add((line, column))
            out.append(RowError(line, column, e.code, _LINE_PREFIX.sub("", e.message)))
    return out


async def _audit(actor: Actor, result: ImportResult, data: bytes) -> None:
    counts = result.counts()
    await audit.record(actor, "order.import", "csv_import", file_digest(data), after={
        "mode": result.mode, "rows": result.rows, "orders": len(result.items),
        "created": counts.get("created", 0), "already_imported": counts.get("already_imported", 0),
        "failed": counts.get("error", 0)})


# -- reading the file ---------------------------------------------------------------------------

async def _plan(actor: Actor, data: bytes, channel_ref: str | int | None) -> _Plan:
    table = read_table(data, COLUMNS)
    default = None
    if channel_ref not in (None, ""):
        default = await channels.resolve_channel(actor, channel_ref)
    elif "channel" not in table.columns:
        raise ImportFileError("add a channel column or choose the channel these orders belong to",
                              code="missing_columns", line=1)
    merchant = await auth.current_merchant(actor) or {}
    tz = ZoneInfo(merchant.get("timezone") or "Asia/Shanghai")
    known: dict[str, dict | None] = {}
    for name in sorted({r.get("channel") for r in table.rows if r.get("channel")}):
        try:
            known[name] = await channels.resolve_channel(actor, name)
        except NotFound:
            known[name] = None
    report = ImportPreview(kind="order", rows=len(table.rows), columns=table.columns, warnings=table.warnings)
    groups: dict[tuple[int, str], _Order] = {}
    result: list[_Order] = []
    for row in table.rows:
        o = _group(row, default, known, groups)
        if o is not None:
            result.append(o)
    for o in result:
        _order_level(o, tz)
    skus = await catalog.skus_by_ref(actor, [ln.sku for o in result for ln in o.lines])
    currency = (merchant.get("currency") or "CNY").strip()
    for o in result:
        o.item.action = "error" if o.item.errors else "create"
        o.item.info = {"channel": o.channel["name"] if o.channel else "", "lines": len(o.lines),
                       "currency": (o.values.get("currency") or currency).upper(),
                       "total": _estimate(o, skus, currency)}
    report.items = [o.item for o in result]
    return _Plan(report=report, orders=result, currency=currency)


def _group(row: Row, default: dict | None, known: dict[str, dict | None],
           groups: dict[tuple[int, str], _Order]) -> _Order | None:
    """Add a row to its order (a new one when it starts one); None when it joined an existing one."""
    ext, name = row.get("external_id"), row.get("channel")
    channel = known.get(name) if name else default
    errors = list(row.errors)
    if not ext:
        errors.append(RowError(row.line, "external_id", "required", "external_id (your order number) is required"))
    if name and channel is None:
        errors.append(RowError(row.line, "channel", "unknown_channel", f"no channel {name!r}"))
    if not ext or channel is None:
        return _Order(ImportItem(key=ext, lines=[row.line], action="error", errors=errors), None)
    o = groups.get((channel["id"], ext))
    fresh = o is None
    if o is None:
        o = groups[(channel["id"], ext)] = _Order(ImportItem(key=ext, lines=[], action="create"), channel)
    o.item.lines.append(row.line)
    o.item.errors += errors
    for col in ORDER_FIELDS:
        value = row.get(col)
        if not value:
            continue
        if col not in o.values:
            o.values[col], o.src[col] = value, row.line
        elif not _same(col, o.values[col], value):
            o.error(row.line, col, "conflict", f"order {ext} has {col} {o.values[col]!r} on line {o.src[col]}, "
                                               f"here {value!r}")
    sku = row.get("sku")
    if not sku:
        o.error(row.line, "sku", "required", "sku is required")
    o.lines.append(LineInput(sku=sku, quantity=_quantity(o, row), unit_price=row.get("unit_price") or None))
    o.line_src.append(row.line)
    return o if fresh else None


def _same(column: str, a: str, b: str) -> bool:
    """Two spellings of one order-level value ('是' and 'true', '10' and '10.00') do not conflict."""
    try:
        if column == "paid":
            return parse_bool(a) == parse_bool(b)
        if column == "shipping_fee":
            return Decimal(a) == Decimal(b)
    except (ValueError, InvalidOperation):
        pass
    return a.casefold() == b.casefold()


def _quantity(o: _Order, row: Row) -> int | str:
    text = row.get("quantity")
    try:
        d = Decimal(text)
        if d != d.to_integral_value() or not 0 < d <= MAX_QUANTITY:
            raise ValueError
        return int(d)
    except (InvalidOperation, ValueError):
        o.error(row.line, "quantity", "invalid", f"quantity must be a whole number from 1 to {MAX_QUANTITY}, "
                                                 f"not {text!r}")
        return text


def _order_level(o: _Order, tz: ZoneInfo) -> None:
    if o.values.get("placed_at"):
        try:
            o.placed_at = parse_time(o.values["placed_at"], tz)
        except ValueError:
            o.error(o.src["placed_at"], "placed_at", "invalid_date",
                    f"placed_at {o.values['placed_at']!r} is not a date like 2024-05-07 09:20 or ISO 8601")
    if o.values.get("paid"):
        try:
            o.paid = parse_bool(o.values["paid"])
        except ValueError:
            o.error(o.src["paid"], "paid", "invalid", f"paid must be true or false (是/否), not {o.values['paid']!r}")


def _estimate(o: _Order, skus: dict[str, dict], currency: str) -> int | None:
    """The order total a preview shows (create_order computes the real one when it is written)."""
    cur = (o.values.get("currency") or currency).upper()
    try:
        total = to_minor(o.values.get("shipping_fee") or 0, cur)
        for ln in o.lines:
            price = to_minor(ln.unit_price, cur) if ln.unit_price else skus[ln.sku]["list_price_minor"]
            total += price * int(ln.quantity)
    except (KeyError, ValueError, TypeError, ValidationError):
        return None
    return total
