"""Orders for partners: the shared read side (server/orders/queries.py) and the order commands
(server/orders/service.py). Every resolver is a call into one of them.

- `status` and `paymentStatus` are enums whose values are the database's own lower_snake strings
  (`awaiting_review`, `partially_refunded`), so a value reads the same in GraphQL, CSV and the admin.
- `order(id:)` takes the numeric id or the order number; it is null when no such order exists in the
  caller's merchant (another merchant's orders do not exist for this caller). Mutations take the
  numeric id and answer `not_found` in `errors`.
- Receiver phone numbers and addresses are masked for roles without `orders.view_pii` (partner keys
  by default), by the read side, whatever the query asks for.
- `lines`, `events` and `notes` of a page of orders are loaded in one query per field, not per order.
"""
from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from server.auth import service as auth_service
from server.channels.connectors.base import PaymentStatus as _PaymentStatus
from server.core.actor import Actor
from server.core.errors import NotFound, ValidationError
from server.core.money import to_minor
from server.graphql.context import get_actor
from server.graphql.errors import Error, payload
from server.graphql.money import Money
from server.graphql.relay import DEFAULT_FIRST, After, Connection, First, decode_id, encode_id, paginate
from server.orders import queries
from server.orders import service as orders
from server.orders.status import OrderStatus as _OrderStatus

# -- enums ---------------------------------------------------------------------------------------

OrderStatus = strawberry.enum(
    enum.Enum("OrderStatus", {s.value: s.value for s in _OrderStatus}),  # type: ignore[misc]
    description="Where an order is in its lifecycle: pending_payment → awaiting_review → ready → "
                "in_fulfillment → (partially_)shipped → delivered → completed, or on_hold (see "
                "`holdReasons`) / cancelled. Values are lower_snake, as stored.")
PaymentStatus = strawberry.enum(
    enum.Enum("PaymentStatus", {s.value: s.value for s in _PaymentStatus}),  # type: ignore[misc]
    description="Whether the buyer has paid: unpaid, paid, cod (cash on delivery, payable on receipt), "
                "partially_refunded, refunded. Values are lower_snake, as stored.")


# -- types ---------------------------------------------------------------------------------------


@strawberry.type(description="The channel (shop) an order came from; `channel(id:)` has the rest.")
class ChannelRef:
    id: strawberry.ID
    platform: str
    name: str


@strawberry.type(description="Who receives the parcel. `phone` and `address` are masked (`138****5678`, "
                             "`***`) for roles without `orders.view_pii`; `masked` says the platform "
                             "itself masked or encrypted them.")
class Receiver:
    name: str
    phone: str
    country_code: str
    province: str
    city: str
    district: str
    town: str
    address: str
    postcode: str
    masked: bool


@strawberry.type(description="One line of an order. `sku` is the merchant SKU code (null while the "
                             "platform SKU matches none: the order is then on hold with `unmatched_sku`); "
                             "`platformSku` is the platform's SKU id.")
class OrderLine:
    id: strawberry.ID
    line_no: int
    sku: str | None
    sku_id: strawberry.ID | None
    platform_sku: str
    platform_product_id: str
    title: str
    spec: str
    quantity: int
    unit_price: Money
    discount: Money = strawberry.field(description="Discount on the whole line.")
    tax: Money
    refunded_quantity: int
    refund_status: str

    @classmethod
    def from_row(cls, row: dict, currency: str) -> OrderLine:
        return cls(id=encode_id(row["id"]), line_no=row["line_no"], sku=row["sku_code"] if row["sku_id"] else None,
                   sku_id=encode_id(row["sku_id"]) if row["sku_id"] else None,
                   platform_sku=row["platform_sku_id"], platform_product_id=row["platform_product_id"],
                   title=row["title"], spec=row["spec"], quantity=row["quantity"],
                   unit_price=Money.of(row["unit_price"], currency), discount=Money.of(row["discount"], currency),
                   tax=Money.of(row["tax"], currency), refunded_quantity=row["refunded_quantity"],
                   refund_status=row["refund_status"])


@strawberry.type(description="One entry of the order's timeline (created, status changes, address "
                             "changes, platform updates, …).")
class OrderEvent:
    at: datetime
    kind: str
    from_status: str | None
    to_status: str | None
    actor: str = strawberry.field(description="Who did it: a staff email, `key:<name>`, `system:<job>` "
                                              "or the platform.")
    message: str

    @classmethod
    def from_row(cls, row: dict) -> OrderEvent:
        return cls(at=row["at"], kind=row["kind"], from_status=row["from_status"] or None,
                   to_status=row["to_status"] or None, actor=row["actor_label"], message=row["message"])


@strawberry.type(description="A staff comment on an order.")
class OrderNote:
    id: strawberry.ID
    at: datetime
    author: str
    body: str

    @classmethod
    def from_row(cls, row: dict) -> OrderNote:
        return cls(id=encode_id(row["id"]), at=row["created_at"], author=row["author_label"], body=row["body"])


def _parts_loader(info: Info, actor: Actor, part: str) -> DataLoader[int, list[dict]]:
    """One DataLoader per request and part: a page of orders asks for its lines in one query."""
    key = f"orders.{part}"
    loader = info.context.get(key)
    if loader is None:
        async def load(ids: list[int]) -> list[list[dict]]:
            found = await queries.order_parts(actor, ids, part)
            return [found[i] for i in ids]

        loader = info.context[key] = DataLoader(load_fn=load)
    return loader


@strawberry.type(description="An order from any channel.")
class Order:
    id: strawberry.ID
    order_number: str = strawberry.field(description="What people call the order (the platform's number).")
    external_id: str = strawberry.field(description="The order's id on its platform (or in your system, "
                                                    "for orders created through `orderCreate`).")
    channel: ChannelRef
    status: OrderStatus  # type: ignore[valid-type]
    payment_status: PaymentStatus  # type: ignore[valid-type]
    platform_status: str = strawberry.field(description="The platform's own status, verbatim.")
    hold_reasons: list[str]
    tags: list[str]
    buyer_name: str
    buyer_note: str
    seller_note: str
    is_returning: bool = strawberry.field(description="The buyer had ordered before.")
    placed_at: datetime
    paid_at: datetime | None
    cancelled_at: datetime | None
    ship_by: datetime | None
    updated_at: datetime
    currency: str
    total: Money = strawberry.field(description="What the buyer pays: items − discounts + shipping + tax.")
    items_total: Money
    shipping_fee: Money
    discount_total: Money
    tax_total: Money
    refunded_total: Money
    receiver: Receiver
    row: strawberry.Private[dict]

    @strawberry.field(description="The order's lines, in order.")
    async def lines(self, info: Info) -> list[OrderLine]:
        rows = self.row.get("lines")
        if rows is None:
            rows = await _parts_loader(info, get_actor(info), "lines").load(self.row["id"])
        return [OrderLine.from_row(r, self.currency) for r in rows]

    @strawberry.field(description="The timeline, oldest first.")
    async def events(self, info: Info) -> list[OrderEvent]:
        rows = self.row.get("events")
        if rows is None:
            rows = await _parts_loader(info, get_actor(info), "events").load(self.row["id"])
        return [OrderEvent.from_row(r) for r in rows]

    @strawberry.field(description="Staff notes, oldest first.")
    async def notes(self, info: Info) -> list[OrderNote]:
        rows = self.row.get("notes")
        if rows is None:
            rows = await _parts_loader(info, get_actor(info), "notes").load(self.row["id"])
        return [OrderNote.from_row(r) for r in rows]

    @classmethod
    def from_row(cls, row: dict) -> Order:
        cur = row["currency"].strip()
        return cls(
            id=encode_id(row["id"]), order_number=row["order_number"], external_id=row["external_id"],
            channel=ChannelRef(id=encode_id(row["channel_id"]), platform=row["platform"], name=row["channel_name"]),
            status=row["status"], payment_status=row["payment_status"], platform_status=row["platform_status"],
            hold_reasons=list(row["hold_reasons"]), tags=list(row["tags"]), buyer_name=row["buyer_name"],
            buyer_note=row["buyer_note"], seller_note=row["seller_note"], is_returning=row["is_returning"],
            placed_at=row["placed_at"], paid_at=row["paid_at"], cancelled_at=row["cancelled_at"],
            ship_by=row["ship_by"], updated_at=row["updated_at"], currency=cur,
            total=Money.of(row["total"], cur), items_total=Money.of(row["items_total"], cur),
            shipping_fee=Money.of(row["shipping_fee"], cur), discount_total=Money.of(row["discount_total"], cur),
            tax_total=Money.of(row["tax_total"], cur), refunded_total=Money.of(row["refunded_total"], cur),
            receiver=Receiver(name=row["receiver_name"], phone=row["receiver_phone"],
                              country_code=row["country_code"], province=row["province"], city=row["city"],
                              district=row["district"], town=row["town"], address=row["address"],
                              postcode=row["postcode"], masked=row["receiver_masked"]),
            row=row)


@strawberry.type(description="How many orders match a filter in one status.")
class OrderStatusCount:
    status: OrderStatus  # type: ignore[valid-type]
    count: int


@strawberry.type(description="A failed item of a bulk action.")
class BulkFailure:
    id: strawberry.ID
    order_number: str | None
    code: str
    message: str


# -- inputs --------------------------------------------------------------------------------------


@strawberry.input(description="Order filters; all given ones must match. Lists match any of their values.")
class OrderFilterInput:
    status: list[OrderStatus] | None = None  # type: ignore[valid-type]
    channel: list[strawberry.ID] | None = strawberry.field(default=None, description="Channel ids.")
    platform: list[str] | None = strawberry.field(default=None, description="Platform names (`taobao`, "
                                                                            "`shopify`, `website`, …).")
    search: str | None = strawberry.field(default=None, description="Part of the order number, external id, "
                                                                    "buyer or receiver name; four digits "
                                                                    "match the receiver's phone tail.")
    placed_from: datetime | None = strawberry.field(default=None, description="Placed at or after.")
    placed_to: datetime | None = strawberry.field(default=None, description="Placed before.")
    sku: str | None = strawberry.field(default=None, description="Has a line of this merchant SKU code.")
    tag: str | None = None
    hold_reason: str | None = strawberry.field(default=None, description="On hold for this reason "
                                                                         "(e.g. `unmatched_sku`).")
    province: str | None = None
    city: str | None = None
    buyer: str | None = strawberry.field(default=None, description="Part of the buyer's or receiver's name.")
    amount_min: str | None = strawberry.field(default=None, description="Total at least this (a decimal "
                                                                         "string in the merchant's currency).")
    amount_max: str | None = strawberry.field(default=None, description="Total at most this.")
    returning: bool | None = strawberry.field(default=None, description="true: returning buyers only; "
                                                                        "false: first orders only.")
    ids: list[strawberry.ID] | None = None


@strawberry.input(description="Who receives the parcel.")
class ReceiverInput:
    name: str = ""
    phone: str = ""
    country_code: str = strawberry.field(default="CN", description="ISO-3166 alpha-2.")
    province: str = ""
    city: str = ""
    district: str = ""
    address: str = strawberry.field(default="", description="Street and number, building, room.")
    postcode: str = ""

    def to_service(self) -> orders.ReceiverInput:
        return orders.ReceiverInput(name=self.name, phone=self.phone, country_code=self.country_code,
                                    province=self.province, city=self.city, district=self.district,
                                    address=self.address, postcode=self.postcode)


@strawberry.input
class OrderLineCreateInput:
    sku: str = strawberry.field(description="The merchant SKU code or the SKU's id.")
    quantity: int
    unit_price: str | None = strawberry.field(default=None, description="Decimal string (\"12.50\"); the "
                                                                        "SKU's list price when omitted.")
    discount: str | None = strawberry.field(default=None, description="Discount on the whole line.")


@strawberry.input(description="An order from your website, POS or ERP. Send an `idempotencyKey` to make "
                              "retries safe: the same key again returns the first order (`created: false`).")
class OrderCreateInput:
    channel: strawberry.ID = strawberry.field(description="The channel's id (or its name).")
    external_id: str = strawberry.field(description="Your system's order id, unique per channel.")
    lines: list[OrderLineCreateInput]
    receiver: ReceiverInput | None = None
    idempotency_key: str | None = None
    currency: str | None = strawberry.field(default=None, description="ISO-4217; the merchant's currency "
                                                                      "when omitted.")
    paid: bool = strawberry.field(default=True, description="false: the order waits for payment.")
    placed_at: datetime | None = strawberry.field(default=None, description="Now when omitted.")
    shipping_fee: str | None = strawberry.field(default=None, description="Decimal string.")
    buyer_note: str = ""
    buyer_name: str = strawberry.field(default="", description="The receiver's name when omitted.")
    buyer_email: str = ""


# -- payloads ------------------------------------------------------------------------------------


@strawberry.type
class OrderCreatePayload:
    order: Order | None = None
    created: bool | None = strawberry.field(default=None, description="false when the idempotency key "
                                                                      "had already created this order.")
    errors: list[Error] = strawberry.field(default_factory=list)


@strawberry.type
class OrderPayload:
    order: Order | None = None
    errors: list[Error] = strawberry.field(default_factory=list)


@strawberry.type
class OrderAddNotePayload:
    order: Order | None = None
    note: OrderNote | None = None
    errors: list[Error] = strawberry.field(default_factory=list)


@strawberry.type
class OrderBulkPayload:
    count: int = strawberry.field(default=0, description="How many orders were changed.")
    failed: list[BulkFailure] = strawberry.field(default_factory=list)
    errors: list[Error] = strawberry.field(default_factory=list)


# -- helpers -------------------------------------------------------------------------------------


def _ids(values: Iterable[Any] | None, field: str) -> list[int] | None:
    return [decode_id(v, field=field) for v in values] if values else None


async def _minor(actor: Actor, value: str | None, field: str) -> int | None:
    if value in (None, ""):
        return None
    merchant = await auth_service.current_merchant(actor)
    currency = (merchant or {}).get("currency", "CNY").strip()
    try:
        return to_minor(value, currency)
    except ValidationError as exc:
        raise ValidationError(f"{field} must be an amount like 100.00", code="invalid_amount",
                              field=f"filter.{field}") from exc


async def order_filter(actor: Actor, f: OrderFilterInput | None) -> queries.OrderFilter:
    """The GraphQL filter as the read side's OrderFilter (ids decoded, amounts in minor units)."""
    if f is None:
        return queries.OrderFilter()
    return queries.OrderFilter.from_dict({
        "status": [s.value for s in f.status] if f.status else None,
        "channel_ids": _ids(f.channel, "filter.channel"), "platform": f.platform,
        "placed_from": f.placed_from, "placed_to": f.placed_to, "province": f.province, "city": f.city,
        "sku": f.sku, "buyer": f.buyer, "tag": f.tag, "hold_reason": f.hold_reason, "returning": f.returning,
        "amount_min": await _minor(actor, f.amount_min, "amountMin"),
        "amount_max": await _minor(actor, f.amount_max, "amountMax"),
        "search": (f.search or "").strip() or None, "ids": _ids(f.ids, "filter.ids"),
    })


def _selects(info: Info, name: str) -> bool:
    """Whether the query asks for `name` directly under this field (fragments included)."""
    def walk(selections: list[Any]) -> bool:
        for s in selections:
            if getattr(s, "name", None) == name:
                return True
            if not hasattr(s, "arguments") and walk(getattr(s, "selections", []) or []):
                return True
        return False

    return any(walk(field.selections) for field in info.selected_fields)


async def _order(actor: Actor, order_id: int) -> Order:
    return Order.from_row(await queries.get_order(actor, order_id))


# -- root fields ---------------------------------------------------------------------------------


@strawberry.type
class Query:
    @strawberry.field(description="Orders from every channel, newest first (keyset pages). Needs "
                                  "`orders.view`. `totalCount` is counted only when asked for.")
    async def orders(self, info: Info, filter: OrderFilterInput | None = None, first: First = DEFAULT_FIRST,
                     after: After = None) -> Connection[Order] | None:
        actor = get_actor(info)
        return await paginate(queries.list_orders, Order.from_row, actor, first=first, after=after,
                              f=await order_filter(actor, filter), with_total=_selects(info, "totalCount"))

    @strawberry.field(description="One order by its numeric id or its order number; null when there is "
                                  "none in this merchant. Needs `orders.view`.")
    async def order(self, info: Info, id: strawberry.ID) -> Order | None:
        ref = str(id).strip()
        if not ref:
            return None
        try:
            return Order.from_row(await queries.get_order(get_actor(info), ref))
        except NotFound:
            return None

    @strawberry.field(description="How many orders match the filter in each status (the filter's own "
                                  "`status` is ignored). Needs `orders.view`.")
    async def order_status_counts(self, info: Info, filter: OrderFilterInput | None = None
                                  ) -> list[OrderStatusCount] | None:
        actor = get_actor(info)
        counts = await queries.status_counts(actor, await order_filter(actor, filter))
        return [OrderStatusCount(status=status, count=n) for status, n in counts.items()]


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Create an order on a channel (your website, POS, ERP). Needs "
                                     "`orders.create`. Retrying with the same `idempotencyKey` returns the "
                                     "first order with `created: false`.")
    @payload(OrderCreatePayload)
    async def order_create(self, info: Info, input: OrderCreateInput) -> OrderCreatePayload:
        data = orders.OrderInput(
            channel=str(input.channel), external_id=input.external_id,
            lines=[orders.LineInput(sku=ln.sku, quantity=ln.quantity, unit_price=ln.unit_price,
                                    discount=ln.discount) for ln in input.lines],
            receiver=(input.receiver or ReceiverInput()).to_service(), idempotency_key=input.idempotency_key,
            currency=input.currency, paid=input.paid, placed_at=input.placed_at, shipping_fee=input.shipping_fee,
            buyer_note=input.buyer_note, buyer_name=input.buyer_name, buyer_email=input.buyer_email)
        order, created = await orders.create_order(get_actor(info), data)
        return OrderCreatePayload(order=Order.from_row(order), created=created)

    @strawberry.mutation(description="Cancel an order that has not shipped. Needs `orders.manage`.")
    @payload(OrderPayload)
    async def order_cancel(self, info: Info, id: strawberry.ID, reason: str = "") -> OrderPayload:
        actor = get_actor(info)
        row = await orders.cancel_order(actor, decode_id(id), reason)
        return OrderPayload(order=await _order(actor, row["id"]))

    @strawberry.mutation(description="Change the receiver before fulfilment starts (audited; later "
                                     "platform updates keep the change). Needs `orders.manage`.")
    @payload(OrderPayload)
    async def order_update_address(self, info: Info, id: strawberry.ID, receiver: ReceiverInput) -> OrderPayload:
        actor = get_actor(info)
        row = await orders.update_address(actor, decode_id(id), receiver.to_service())
        return OrderPayload(order=await _order(actor, row["id"]))

    @strawberry.mutation(description="Add a staff note to an order. Needs `orders.manage`.")
    @payload(OrderAddNotePayload)
    async def order_add_note(self, info: Info, id: strawberry.ID, body: str) -> OrderAddNotePayload:
        actor = get_actor(info)
        note = await orders.add_note(actor, decode_id(id), body)
        return OrderAddNotePayload(order=await _order(actor, note["order_id"]), note=OrderNote.from_row(note))

    @strawberry.mutation(description="Add tags to (or with `remove: true` take them off) the given orders, "
                                     "or every order matching `filter`. Needs `orders.manage`.")
    @payload(OrderBulkPayload)
    async def order_bulk_tag(self, info: Info, tags: list[str], ids: list[strawberry.ID] | None = None,
                             filter: OrderFilterInput | None = None, remove: bool = False) -> OrderBulkPayload:
        actor = get_actor(info)
        result = await orders.bulk_tag(actor, tags, ids=_ids(ids, "ids"),
                                       f=await order_filter(actor, filter) if filter else None, remove=remove)
        return OrderBulkPayload(count=result.done)

    @strawberry.mutation(description="Cancel the given orders, or every order matching `filter`; orders "
                                     "that cannot be cancelled are listed in `failed`. Needs `orders.manage`.")
    @payload(OrderBulkPayload)
    async def order_bulk_cancel(self, info: Info, ids: list[strawberry.ID] | None = None,
                                filter: OrderFilterInput | None = None, reason: str = "") -> OrderBulkPayload:
        actor = get_actor(info)
        result = await orders.bulk_cancel(actor, reason, ids=_ids(ids, "ids"),
                                          f=await order_filter(actor, filter) if filter else None)
        return OrderBulkPayload(count=result.done, failed=[
            BulkFailure(id=encode_id(f["id"]), order_number=f["order_number"], code=f["code"], message=f["message"])
            for f in result.failed])
