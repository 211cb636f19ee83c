"""Inventory for partners: warehouses, stock levels and the ledger, receipts and adjustments, and
transfers between warehouses with suggestions. Every resolver is a call into server/inventory/.

Wherever an input names a SKU or a warehouse (`sku`, `warehouse`, `fromWarehouse`, `toWarehouse`, and
the filters), the merchant's code works as well as the numeric id; a code that is all digits wins
over an id of the same digits. Errors a mutation can answer in `errors`: `unknown_sku`,
`unknown_warehouse`, `insufficient_stock` (its message names the SKU and the warehouse),
`negative_stock`, `kit_not_stocked`, `invalid_transition`, `required`, `invalid`.
"""
from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from server.core.errors import NotFound, ValidationError
from server.graphql.context import get_actor
from server.graphql.errors import Error, payload
from server.graphql.relay import DEFAULT_FIRST, After, Connection, First, encode_id, paginate
from server.inventory import movements, queries, stock, transfer_suggestions, transfers, warehouses
from server.inventory.transfers import SUGGESTION_DAYS
from server.inventory.transfers import TransferStatus as _TransferStatus

TransferStatus = strawberry.enum(
    enum.Enum("TransferStatus", {s.value: s.value for s in _TransferStatus}),  # type: ignore[misc]
    description="draft → shipped → partially_received → received, or cancelled (units still in transit "
                "go back to the source). Values are lower_snake, as stored.")


# -- types ---------------------------------------------------------------------------------------


@strawberry.type(description="A warehouse's postal address, with the region code and coordinates parsed "
                             "from it.")
class WarehouseAddress:
    country_code: str
    province: str
    city: str
    district: str
    address: str
    postcode: str
    region_code: str
    latitude: float | None
    longitude: float | None


@strawberry.type(description="Where stock is kept. Orders reserve in the highest-`priority` active "
                             "warehouse that serves their channel and can fill them.")
class Warehouse:
    id: strawberry.ID
    code: str
    name: str
    priority: int
    active: bool
    serves_all_channels: bool
    channels: list[strawberry.ID] = strawberry.field(description="The channels served when "
                                                                 "`servesAllChannels` is false.")
    address: WarehouseAddress
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: dict) -> Warehouse:
        return cls(id=encode_id(row["id"]), code=row["code"], name=row["name"], priority=row["priority"],
                   active=row["active"], serves_all_channels=row["serves_all_channels"],
                   channels=[encode_id(c) for c in row.get("channel_ids") or []],
                   address=WarehouseAddress(country_code=row["country_code"], province=row["province"],
                                            city=row["city"], district=row["district"], address=row["address"],
                                            postcode=row["postcode"], region_code=row["region_code"],
                                            latitude=row["latitude"], longitude=row["longitude"]),
                   created_at=row["created_at"], updated_at=row["updated_at"])


@strawberry.type(name="StockSku", description="The SKU a stock figure is about.")
class StockSku:
    id: strawberry.ID
    code: str
    name: str


@strawberry.type(name="StockWarehouse", description="The warehouse a stock figure is about.")
class StockWarehouse:
    id: strawberry.ID
    code: str
    name: str


def _sku(row: dict, prefix: str = "sku") -> StockSku:
    return StockSku(id=encode_id(row[f"{prefix}_id"]), code=row.get(f"{prefix}_code") or "",
                    name=row.get(f"{prefix}_name") or "")


def _wh(row: dict, prefix: str = "warehouse") -> StockWarehouse:
    return StockWarehouse(id=encode_id(row[f"{prefix}_id"]), code=row.get(f"{prefix}_code") or "",
                          name=row.get(f"{prefix}_name") or "")


@strawberry.type(description="One SKU in one warehouse: `available` = `onHand` − `reserved` (what orders "
                             "can still take); `incoming` = units on transfers in transit to it.")
class StockLevel:
    id: strawberry.ID | None
    sku: StockSku
    warehouse: StockWarehouse
    on_hand: int
    reserved: int
    available: int
    incoming: int
    updated_at: datetime | None

    @classmethod
    def from_row(cls, row: dict) -> StockLevel:
        return cls(id=encode_id(row["id"]) if row.get("id") else None, sku=_sku(row), warehouse=_wh(row),
                   on_hand=row["on_hand"], reserved=row["reserved"], available=row["on_hand"] - row["reserved"],
                   incoming=row.get("incoming") or 0, updated_at=row.get("updated_at"))


@strawberry.type(description="One entry of the append-only stock ledger. Kinds: receipt, adjustment, "
                             "reservation, release, shipment, transfer_out, transfer_in, return.")
class StockMovement:
    id: strawberry.ID
    sku: StockSku
    warehouse: StockWarehouse
    kind: str
    on_hand_delta: int
    reserved_delta: int
    reason: str
    reference: str
    order_id: strawberry.ID | None
    order_number: str | None
    actor: str
    at: datetime

    @classmethod
    def from_row(cls, row: dict) -> StockMovement:
        return cls(id=encode_id(row["id"]), sku=_sku(row), warehouse=_wh(row), kind=row["kind"],
                   on_hand_delta=row["on_hand_delta"], reserved_delta=row["reserved_delta"], reason=row["reason"],
                   reference=row["reference"], order_id=encode_id(row["order_id"]) if row["order_id"] else None,
                   order_number=row.get("order_number"), actor=row["actor_label"], at=row["at"])


@strawberry.type(description="One SKU of a transfer: `inTransit` = shipped − received − returned.")
class TransferLine:
    id: strawberry.ID
    line_no: int
    sku: StockSku
    quantity: int
    shipped_quantity: int
    received_quantity: int
    returned_quantity: int = strawberry.field(description="Units that went back to the source when a "
                                                          "shipped transfer was cancelled.")
    in_transit: int


@strawberry.type(description="One entry of a transfer's timeline.")
class TransferEvent:
    at: datetime
    kind: str
    from_status: str | None
    to_status: str | None
    actor: str
    message: str


@strawberry.type(description="Stock moving between two of the merchant's warehouses (调拨).")
class Transfer:
    id: strawberry.ID
    number: str
    status: TransferStatus  # type: ignore[valid-type]
    from_warehouse: StockWarehouse
    to_warehouse: StockWarehouse
    reference: str
    note: str
    suggested: bool
    created_by: str
    units: int
    received_units: int
    in_transit_units: int
    lines: list[TransferLine]
    events: list[TransferEvent]
    shipped_at: datetime | None
    received_at: datetime | None
    cancelled_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: dict) -> Transfer:
        return cls(
            id=encode_id(row["id"]), number=row["number"], status=row["status"],
            from_warehouse=StockWarehouse(id=encode_id(row["from_warehouse_id"]), code=row["from_code"],
                                          name=row["from_name"]),
            to_warehouse=StockWarehouse(id=encode_id(row["to_warehouse_id"]), code=row["to_code"], name=row["to_name"]),
            reference=row["reference"], note=row["note"], suggested=row["suggested"], created_by=row["created_by"],
            units=row["units"], received_units=row["received_units"], in_transit_units=row["in_transit_units"],
            lines=[TransferLine(id=encode_id(ln["id"]), line_no=ln["line_no"], sku=_sku(ln), quantity=ln["quantity"],
                                shipped_quantity=ln["shipped_quantity"], received_quantity=ln["received_quantity"],
                                returned_quantity=ln["returned_quantity"], in_transit=ln["in_transit"])
                   for ln in row.get("lines", [])],
            events=[TransferEvent(at=e["at"], kind=e["kind"], from_status=e["from_status"] or None,
                                  to_status=e["to_status"] or None, actor=e["actor_label"], message=e["message"])
                    for e in row.get("events", [])],
            shipped_at=row["shipped_at"], received_at=row["received_at"], cancelled_at=row["cancelled_at"],
            created_at=row["created_at"], updated_at=row["updated_at"])


@strawberry.type(description="One SKU of a suggested transfer, with the figures behind it (demand over the "
                             "window, units).")
class TransferSuggestionLine:
    sku: StockSku
    quantity: int
    demand: int = strawberry.field(description="Units reserved or shipped from the destination in the window.")
    available: int = strawberry.field(description="Available at the destination now.")
    incoming: int = strawberry.field(description="Already in transit to the destination.")
    source_available: int
    source_demand: int


@strawberry.type(description="A transfer worth making: the destination's recent demand exceeds its stock and "
                             "the source has more than its own demand. `transferSuggestionAccept` creates it.")
class TransferSuggestion:
    from_warehouse: StockWarehouse
    to_warehouse: StockWarehouse
    units: int
    lines: list[TransferSuggestionLine]


# -- inputs --------------------------------------------------------------------------------------


@strawberry.input
class WarehouseAddressInput:
    country_code: str | None = strawberry.field(default=None, description="ISO 3166 alpha-2; CN when omitted.")
    province: str | None = None
    city: str | None = None
    district: str | None = None
    address: str | None = None
    postcode: str | None = None


@strawberry.input
class WarehouseCreateInput:
    code: str = strawberry.field(description="Unique per merchant, no spaces, at most 32 characters.")
    name: str
    priority: int | None = strawberry.field(default=None, description="Higher is preferred; 0 when omitted.")
    active: bool | None = None
    address: WarehouseAddressInput | None = None
    channels: list[str] | None = strawberry.field(default=None, description="Channel ids or names it serves; "
                                                                            "all channels when omitted.")


@strawberry.input(description="The fields to change; omitted ones stay as they are. `channels: []` serves "
                              "every channel again.")
class WarehouseUpdateInput:
    code: str | None = None
    name: str | None = None
    priority: int | None = None
    active: bool | None = None
    address: WarehouseAddressInput | None = None
    channels: list[str] | None = None


@strawberry.input
class WarehouseFilterInput:
    search: str | None = None
    active: bool | None = None


@strawberry.input
class StockFilterInput:
    sku: str | None = strawberry.field(default=None, description="SKU code or id.")
    warehouse: str | None = strawberry.field(default=None, description="Warehouse code or id.")


@strawberry.input
class StockMovementFilterInput:
    sku: str | None = None
    warehouse: str | None = None
    kind: str | None = None


@strawberry.input
class StockReceiveInput:
    warehouse: str
    sku: str
    quantity: int
    reference: str | None = strawberry.field(default=None, description="e.g. the purchase order number.")


@strawberry.input(description="Give exactly one of `delta` (units to add, negative to remove) and "
                              "`countedQuantity` (a stocktake: the difference becomes the adjustment).")
class StockAdjustInput:
    warehouse: str
    sku: str
    delta: int | None = None
    counted_quantity: int | None = None
    reason: str


@strawberry.input
class TransferLineInput:
    sku: str
    quantity: int


@strawberry.input(description="A draft transfer. Send an `idempotencyKey` to make retries safe: the same key "
                              "again returns the first transfer (`created: false`); the same key with other "
                              "content is refused (`idempotency_conflict`).")
class TransferCreateInput:
    from_warehouse: str
    to_warehouse: str
    lines: list[TransferLineInput]
    reference: str | None = None
    note: str | None = None
    idempotency_key: str | None = None


@strawberry.input
class TransferFilterInput:
    status: TransferStatus | None = None  # type: ignore[valid-type]
    warehouse: str | None = strawberry.field(default=None, description="From or to this warehouse.")
    sku: str | None = None


# -- payloads ------------------------------------------------------------------------------------


@strawberry.type
class WarehousePayload:
    warehouse: Warehouse | None = None
    errors: list[Error] = strawberry.field(default_factory=list)


@strawberry.type
class StockLevelPayload:
    stock_level: StockLevel | None = None
    released_orders: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Orders waiting for this stock (out_of_stock) that it now reserves.")
    errors: list[Error] = strawberry.field(default_factory=list)


@strawberry.type
class TransferCreatePayload:
    transfer: Transfer | None = None
    created: bool | None = strawberry.field(default=None, description="false when the idempotency key "
                                                                      "had already created this transfer.")
    errors: list[Error] = strawberry.field(default_factory=list)


@strawberry.type
class TransferPayload:
    transfer: Transfer | None = None
    released_orders: list[strawberry.ID] = strawberry.field(default_factory=list)
    errors: list[Error] = strawberry.field(default_factory=list)


def _address(value: WarehouseAddressInput | None) -> dict | None:
    if value is None:
        return None
    return {"country_code": value.country_code, "province": value.province, "city": value.city,
            "district": value.district, "address": value.address, "postcode": value.postcode}


def _warehouse_data(i: WarehouseCreateInput | WarehouseUpdateInput) -> dict[str, Any]:
    data = {"code": i.code, "name": i.name, "priority": i.priority, "active": i.active, "address": _address(i.address),
            "channels": i.channels}
    return {k: v for k, v in data.items() if v is not None}


async def _level(info: Info, result: dict) -> StockLevelPayload:
    page = await stock.list_levels(get_actor(info), sku=str(result["sku_id"]), warehouse=str(result["warehouse_id"]),
                                   first=1)
    rows = [r for r in page.items if r["sku_id"] == result["sku_id"]]
    row = rows[0] if rows else result | {"sku_name": "", "warehouse_name": ""}
    return StockLevelPayload(stock_level=StockLevel.from_row(row),
                             released_orders=[encode_id(i) for i in result.get("released_orders", [])])


def _transfer(result: dict) -> TransferPayload:
    return TransferPayload(transfer=Transfer.from_row(result),
                           released_orders=[encode_id(i) for i in result.get("released_orders", [])])


# -- root fields ---------------------------------------------------------------------------------


@strawberry.type
class Query:
    @strawberry.field(description="Warehouses, most preferred first. Needs `inventory.view`.")
    async def warehouses(self, info: Info, filter: WarehouseFilterInput | None = None, first: First = DEFAULT_FIRST,
                         after: After = None) -> Connection[Warehouse] | None:
        f = filter or WarehouseFilterInput()
        return await paginate(queries.warehouses_page, Warehouse.from_row, get_actor(info), first=first, after=after,
                              search=(f.search or "").strip(), active=f.active)

    @strawberry.field(description="One warehouse by id or code; null when there is none. Needs `inventory.view`.")
    async def warehouse(self, info: Info, id: strawberry.ID) -> Warehouse | None:
        try:
            return Warehouse.from_row(await warehouses.resolve_warehouse(get_actor(info), str(id)))
        except NotFound:
            return None

    @strawberry.field(description="Stock per SKU × warehouse, by SKU code. Needs `inventory.view`.")
    async def stock_levels(self, info: Info, filter: StockFilterInput | None = None, first: First = DEFAULT_FIRST,
                           after: After = None) -> Connection[StockLevel] | None:
        f = filter or StockFilterInput()
        return await paginate(stock.list_levels, StockLevel.from_row, get_actor(info), first=first, after=after,
                              sku=f.sku or None, warehouse=f.warehouse or None)

    @strawberry.field(description="The stock ledger, newest first. Needs `inventory.view`.")
    async def stock_movements(self, info: Info, filter: StockMovementFilterInput | None = None,
                              first: First = DEFAULT_FIRST, after: After = None) -> Connection[StockMovement] | None:
        f = filter or StockMovementFilterInput()
        return await paginate(movements.list_ledger, StockMovement.from_row, get_actor(info), first=first,
                              after=after, sku=f.sku or None, warehouse=f.warehouse or None, kind=f.kind or None)

    @strawberry.field(description="Transfers, newest first. Needs `inventory.view`.")
    async def transfers(self, info: Info, filter: TransferFilterInput | None = None, first: First = DEFAULT_FIRST,
                        after: After = None) -> Connection[Transfer] | None:
        f = filter or TransferFilterInput()
        actor = get_actor(info)

        async def fetch(actor: Any, **kw: Any) -> Any:
            page = await transfers.list_transfers(actor, **kw)
            await transfers.attach_details(page.items)
            return page

        status = f.status.value if f.status is not None else None
        return await paginate(fetch, Transfer.from_row, actor, first=first, after=after, status=status,
                              warehouse=f.warehouse or None, sku=f.sku or None)

    @strawberry.field(description="One transfer by id or number (`TR-000042`); null when there is none.")
    async def transfer(self, info: Info, id: strawberry.ID) -> Transfer | None:
        try:
            return Transfer.from_row(await transfers.get_transfer(get_actor(info), str(id)))
        except NotFound:
            return None

    @strawberry.field(description="Transfers worth making now, from the demand of the last `days` days "
                                  "(14 by default). Needs `inventory.view`.")
    async def transfer_suggestions(self, info: Info, days: int = SUGGESTION_DAYS
                                   ) -> list[TransferSuggestion]:
        if days < 1 or days > 365:
            raise ValidationError("days must be between 1 and 365", code="invalid_argument", field="days")
        out = []
        for s in await transfer_suggestions.suggestions(get_actor(info), days=days):
            out.append(TransferSuggestion(
                from_warehouse=StockWarehouse(id=encode_id(s["from_warehouse"]["id"]), code=s["from_warehouse"]["code"],
                                              name=s["from_warehouse"]["name"]),
                to_warehouse=StockWarehouse(id=encode_id(s["to_warehouse"]["id"]), code=s["to_warehouse"]["code"],
                                            name=s["to_warehouse"]["name"]),
                units=s["units"],
                lines=[TransferSuggestionLine(sku=_sku(ln), quantity=ln["quantity"], demand=ln["demand"],
                                              available=ln["available"], incoming=ln["incoming"],
                                              source_available=ln["source_available"],
                                              source_demand=ln["source_demand"]) for ln in s["lines"]]))
        return out


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Create a warehouse. Needs `inventory.manage`.")
    @payload(WarehousePayload)
    async def warehouse_create(self, info: Info, input: WarehouseCreateInput) -> WarehousePayload:
        return WarehousePayload(warehouse=Warehouse.from_row(
            await warehouses.create_warehouse(get_actor(info), _warehouse_data(input))))

    @strawberry.mutation(description="Change a warehouse (by id or code). Needs `inventory.manage`.")
    @payload(WarehousePayload)
    async def warehouse_update(self, info: Info, id: strawberry.ID, input: WarehouseUpdateInput) -> WarehousePayload:
        return WarehousePayload(warehouse=Warehouse.from_row(
            await warehouses.update_warehouse(get_actor(info), str(id), _warehouse_data(input))))

    @strawberry.mutation(description="Units arrive in a warehouse (a purchase receipt); orders waiting for "
                                     "them are reserved at once. Needs `inventory.adjust`.")
    @payload(StockLevelPayload)
    async def stock_receive(self, info: Info, input: StockReceiveInput) -> StockLevelPayload:
        result = await stock.receive(get_actor(info), input.warehouse, input.sku, input.quantity,
                                     input.reference or "")
        return await _level(info, result)

    @strawberry.mutation(description="Correct stock by `delta`, or set it to a `countedQuantity` (stocktake). "
                                     "A reason is required. Needs `inventory.adjust`.")
    @payload(StockLevelPayload)
    async def stock_adjust(self, info: Info, input: StockAdjustInput) -> StockLevelPayload:
        result = await stock.adjust(get_actor(info), input.warehouse, input.sku, delta=input.delta,
                                    counted_quantity=input.counted_quantity, reason=input.reason)
        return await _level(info, result)

    @strawberry.mutation(description="A draft transfer between two warehouses; nothing moves until "
                                     "`transferShip`. Needs `inventory.manage`. Retrying with the same "
                                     "`idempotencyKey` returns the first transfer with `created: false`.")
    @payload(TransferCreatePayload)
    async def transfer_create(self, info: Info, input: TransferCreateInput) -> TransferCreatePayload:
        made = await transfers.create_transfer(
            get_actor(info), input.from_warehouse, input.to_warehouse,
            [{"sku": ln.sku, "quantity": ln.quantity} for ln in input.lines],
            reference=input.reference or "", note=input.note or "", idempotency_key=input.idempotency_key)
        return TransferCreatePayload(transfer=Transfer.from_row(made), created=made["created"])

    @strawberry.mutation(description="Ship a draft: the units leave the source (never units reserved for "
                                     "orders: `insufficient_stock`) and are incoming at the destination. "
                                     "Needs `inventory.manage`.")
    @payload(TransferPayload)
    async def transfer_ship(self, info: Info, id: strawberry.ID) -> TransferPayload:
        return _transfer(await transfers.ship_transfer(get_actor(info), str(id)))

    @strawberry.mutation(description="Units of a shipped transfer arrive; `lines` for a partial receipt, "
                                     "everything in transit when omitted. Needs `inventory.adjust`.")
    @payload(TransferPayload)
    async def transfer_receive(self, info: Info, id: strawberry.ID,
                               lines: list[TransferLineInput] | None = None) -> TransferPayload:
        quantities = None if lines is None else {ln.sku: ln.quantity for ln in lines}
        return _transfer(await transfers.receive_transfer(get_actor(info), str(id), quantities))

    @strawberry.mutation(description="Cancel a transfer; units still in transit go back to the source. "
                                     "Needs `inventory.manage`.")
    @payload(TransferPayload)
    async def transfer_cancel(self, info: Info, id: strawberry.ID, reason: str | None = None) -> TransferPayload:
        return _transfer(await transfers.cancel_transfer(get_actor(info), str(id), reason or ""))

    @strawberry.mutation(description="Create the suggested transfer between these two warehouses as a draft. "
                                     "Needs `inventory.manage`.")
    @payload(TransferPayload)
    async def transfer_suggestion_accept(self, info: Info, from_warehouse: str, to_warehouse: str,
                                         days: int = SUGGESTION_DAYS) -> TransferPayload:
        return _transfer(await transfer_suggestions.create_suggested(get_actor(info), from_warehouse, to_warehouse,
                                                                     days=days))
