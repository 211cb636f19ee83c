"""Channel stock sync for partners: a channel's stock policy, each listing's sellable quantity and
push state, and "resync all". Every resolver is a call into server/inventory/channel_stock.py.

`channel` arguments accept the channel's id or its name; `warehouses` accept codes or ids.
"""
from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.types import Info

from server.graphql.context import get_actor
from server.graphql.errors import Error, payload
from server.graphql.orders import ChannelRef
from server.graphql.relay import After, Connection, First, decode_id, encode_id, paginate
from server.inventory import channel_stock as cs


@strawberry.enum(description="pool: all available; percent: a percentage of it; quota: at most a fixed number.")
class ChannelStockMode(Enum):
    POOL = "pool"
    PERCENT = "percent"
    QUOTA = "quota"


@strawberry.enum(description="A listing's push state.")
class ListingStockPushState(Enum):
    PENDING = "pending"
    OK = "ok"
    RETRYING = "retrying"
    FAILED = "failed"
    NEVER = "never"
    UNMATCHED = "unmatched"


@strawberry.type(description="A warehouse that may feed a channel.")
class StockWarehouseRef:
    id: strawberry.ID
    code: str
    name: str


@strawberry.type(description="How much of the stock a channel (or one listing, as an override) may sell. "
                             "sellable = 0 when available <= zeroAt; else mode applied to "
                             "(available - buffer), capped at maxListed.")
class ChannelStockPolicy:
    mode: ChannelStockMode
    percent: int
    quota: int
    buffer: int = strawberry.field(description="Units held back (safety stock).")
    max_listed: int | None = strawberry.field(description="Never list more than this (null: no maximum).")
    zero_at: int = strawberry.field(description="List zero when available is at or below this.")
    all_warehouses: bool = strawberry.field(description="Fed by every warehouse eligible for the channel.")
    warehouse_ids: list[strawberry.ID] | None = strawberry.field(
        description="The feeding warehouses when not all (null: all eligible).")

    @classmethod
    def of(cls, p: cs.Policy) -> ChannelStockPolicy:
        return cls(mode=ChannelStockMode(p.mode), percent=p.percent, quota=p.quota, buffer=p.buffer,
                   max_listed=p.max_listed, zero_at=p.zero_at, all_warehouses=p.warehouse_ids is None,
                   warehouse_ids=None if p.warehouse_ids is None else [encode_id(i) for i in p.warehouse_ids])


@strawberry.type(description="A channel's stock policy with the warehouses eligible to feed it.")
class ChannelStockSettings:
    channel: ChannelRef
    policy: ChannelStockPolicy
    saved: bool = strawberry.field(description="False while the channel uses the default (shared pool).")
    eligible_warehouses: list[StockWarehouseRef]
    override_count: int


@strawberry.type(description="One listing of a channel: its computed sellable quantity and what was last "
                             "pushed to the platform (quantity, time, result, error, attempts).")
class ListingStockPush:
    listing_id: strawberry.ID
    platform_product_id: str
    platform_sku_id: str
    platform_sku_code: str
    title: str
    sku: str | None = strawberry.field(description="The merchant SKU code (null while unmatched: not pushed).")
    available: int | None
    sellable: int | None
    override: ChannelStockPolicy | None = strawberry.field(description="This listing's own policy, if any.")
    state: ListingStockPushState
    desired_quantity: int | None
    last_pushed_quantity: int | None
    last_pushed_at: datetime | None
    last_attempt_at: datetime | None
    last_result: str
    last_error: str
    attempts: int
    next_attempt_at: datetime | None

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> ListingStockPush:
        return cls(listing_id=encode_id(r["id"]), platform_product_id=r["platform_product_id"],
                   platform_sku_id=r["platform_sku_id"], platform_sku_code=r["platform_sku_code"], title=r["title"],
                   sku=r["sku_code"], available=r["available"], sellable=r["sellable"],
                   override=ChannelStockPolicy.of(r["policy"]) if r["override"] else None,
                   state=ListingStockPushState(r["state"]), desired_quantity=r["desired_qty"],
                   last_pushed_quantity=r["last_pushed_qty"], last_pushed_at=r["last_pushed_at"],
                   last_attempt_at=r["last_attempt_at"], last_result=r["last_result"] or "",
                   last_error=r["last_error"] or "", attempts=r["attempts"] or 0, next_attempt_at=r["next_attempt_at"])


@strawberry.input
class ListingStockPushFilter:
    state: ListingStockPushState | None = None
    search: str | None = strawberry.field(default=None, description="Title, platform SKU id/code or SKU code.")
    overridden: bool | None = None


@strawberry.input(description="A stock policy. Omitted fields take the defaults (pool, 100 %, no buffer, "
                              "no maximum, zeroAt 0, all eligible warehouses).")
class ChannelStockPolicyInput:
    mode: ChannelStockMode = ChannelStockMode.POOL
    percent: int | None = None
    quota: int | None = None
    buffer: int | None = None
    max_listed: int | None = None
    zero_at: int | None = None
    warehouses: list[str] | None = strawberry.field(default=None, description="Codes or ids; null or empty: all.")


@strawberry.type
class ChannelStockPolicyUpdatePayload:
    settings: ChannelStockSettings | None = None
    listing: ListingStockPush | None = None
    errors: list[Error] = strawberry.field(default_factory=list)


@strawberry.type
class ChannelStockResyncPayload:
    queued: int | None = strawberry.field(default=None, description="Listings queued for a push.")
    errors: list[Error] = strawberry.field(default_factory=list)


async def _settings(actor: Any, channel: str | int) -> ChannelStockSettings:
    got = await cs.get_policy(actor, channel)
    ch = got["channel"]
    return ChannelStockSettings(
        channel=ChannelRef(id=encode_id(ch["id"]), platform=ch["platform"], name=ch["name"]),
        policy=ChannelStockPolicy.of(got["policy"]), saved=got["saved"], override_count=got["overrides"],
        eligible_warehouses=[StockWarehouseRef(id=encode_id(w["id"]), code=w["code"], name=w["name"])
                             for w in got["eligible_warehouses"]])


@strawberry.type
class Query:
    @strawberry.field(description="A channel's stock policy (id or name). Needs `inventory.view`.")
    async def channel_stock_policy(self, info: Info, channel: str) -> ChannelStockSettings:
        return await _settings(get_actor(info), channel)

    @strawberry.field(description="A channel's listings with sellable quantity and push state. Needs `inventory.view`.")
    async def listing_stock_pushes(self, info: Info, channel: str, filter: ListingStockPushFilter | None = None,
                                   first: First = None, after: After = None) -> Connection[ListingStockPush]:
        f = filter or ListingStockPushFilter()

        async def fetch(actor: Any, **kw: Any) -> Any:
            return await cs.list_listings(actor, channel, **kw)

        return await paginate(fetch, ListingStockPush.from_row, get_actor(info), first=first, after=after,
                              state=f.state.value if f.state else "", search=f.search or "", overridden=f.overridden)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Set a channel's stock policy, or with `listing` that listing's override; "
                                     "the affected listings are pushed again. Needs `inventory.manage`.")
    @payload(ChannelStockPolicyUpdatePayload)
    async def channel_stock_policy_update(self, info: Info, channel: str, input: ChannelStockPolicyInput,
                                          listing: strawberry.ID | None = None) -> ChannelStockPolicyUpdatePayload:
        actor = get_actor(info)
        data = {"mode": input.mode.value, "percent": input.percent, "quota": input.quota, "buffer": input.buffer,
                "max_listed": input.max_listed, "zero_at": input.zero_at, "warehouses": input.warehouses or None}
        listing_id = decode_id(listing, field="listing") if listing is not None else None
        saved = await cs.update_policy(actor, channel, data, listing_id=listing_id)
        if listing_id is None:
            return ChannelStockPolicyUpdatePayload(settings=await _settings(actor, saved["channel"]["id"]))
        page = await cs.list_listings(actor, saved["channel"]["id"], listing_ids=[listing_id], first=1)
        return ChannelStockPolicyUpdatePayload(listing=ListingStockPush.from_row(page.items[0]))

    @strawberry.mutation(description="Push every matched listing of the channel again. Needs `inventory.manage`.")
    @payload(ChannelStockResyncPayload)
    async def channel_stock_resync(self, info: Info, channel: str) -> ChannelStockResyncPayload:
        return ChannelStockResyncPayload(queued=await cs.resync(get_actor(info), channel))
