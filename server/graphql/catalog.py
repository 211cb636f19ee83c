"""The catalogue for partners: products, SKUs and channel listings (platform SKU ↔ merchant SKU).
Every resolver is a call into server/catalog/service.py.

Money inputs (`cost`, `listPrice`) are decimal strings in the SKU's currency; outputs are `Money`.
A SKU is found by its numeric id or by its code wherever one is asked for (`sku(id:)`, order lines,
`listingMatch(sku:)`); a code that is all digits wins over an id of the same digits.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from server.catalog import service as catalog
from server.core.errors import NotFound, ValidationError
from server.graphql.context import get_actor
from server.graphql.errors import Error, payload
from server.graphql.money import Money
from server.graphql.orders import ChannelRef
from server.graphql.relay import DEFAULT_FIRST, After, Connection, First, decode_id, encode_id, paginate

# -- types ---------------------------------------------------------------------------------------


@strawberry.type(description="A product: one or more SKUs (variants) under one name.")
class Product:
    id: strawberry.ID
    name: str
    category: str
    brand: str
    description: str
    active: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: dict) -> Product:
        return cls(id=encode_id(row["id"]), name=row["name"], category=row["category"], brand=row["brand"],
                   description=row["description"], active=row["active"], created_at=row["created_at"],
                   updated_at=row["updated_at"])


@strawberry.type(description="A merchant SKU: the unit stock is kept and orders are matched by.")
class Sku:
    id: strawberry.ID
    product_id: strawberry.ID
    code: str
    name: str
    barcode: str
    spec: str
    category: str
    weight_g: int = strawberry.field(name="weightG", description="Weight in grams.")
    cost: Money
    list_price: Money
    currency: str
    is_kit: bool
    active: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: dict) -> Sku:
        cur = row["currency"].strip()
        return cls(id=encode_id(row["id"]), product_id=encode_id(row["product_id"]), code=row["code"],
                   name=row["name"], barcode=row["barcode"], spec=row["spec"], category=row["category"],
                   weight_g=row["weight_g"], cost=Money.of(row["cost_minor"], cur),
                   list_price=Money.of(row["list_price_minor"], cur), currency=cur, is_kit=row["is_kit"],
                   active=row["active"], created_at=row["created_at"], updated_at=row["updated_at"])


@strawberry.type(description="A platform product/SKU on one channel and the merchant SKU it is matched "
                             "to (`sku` null while unmatched: its orders wait on hold with `unmatched_sku`).")
class Listing:
    id: strawberry.ID
    channel: ChannelRef
    platform_product_id: str
    platform_sku_id: str
    platform_sku_code: str = strawberry.field(description="The merchant code the platform carries "
                                                          "(outer id), used for automatic matching.")
    title: str
    sku_id: strawberry.ID | None
    sku: str | None = strawberry.field(description="The matched merchant SKU code.")
    match_method: str = strawberry.field(description="code (automatic), manual, or empty while unmatched.")
    waiting_orders: int = strawberry.field(description="Orders waiting on this listing to be matched.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: dict) -> Listing:
        return cls(id=encode_id(row["id"]),
                   channel=ChannelRef(id=encode_id(row["channel_id"]), platform=row["platform"],
                                      name=row["channel_name"]),
                   platform_product_id=row["platform_product_id"], platform_sku_id=row["platform_sku_id"],
                   platform_sku_code=row["platform_sku_code"], title=row["title"],
                   sku_id=encode_id(row["sku_id"]) if row["sku_id"] else None, sku=row["sku_code"],
                   match_method=row["match_method"], waiting_orders=int(row["waiting_orders"] or 0),
                   created_at=row["created_at"], updated_at=row["updated_at"])


# -- inputs --------------------------------------------------------------------------------------


@strawberry.input
class SkuFilterInput:
    search: str | None = strawberry.field(default=None, description="Part of the code, name or barcode.")
    category: str | None = None
    active: bool | None = None


@strawberry.input
class ListingFilterInput:
    channel: strawberry.ID | None = strawberry.field(default=None, description="A channel's id.")
    unmatched: bool | None = strawberry.field(default=None, description="true: only listings without a "
                                                                        "merchant SKU; false: only matched.")


@strawberry.input
class SkuCreateInput:
    code: str = strawberry.field(description="Your SKU code (no spaces, at most 64 characters), unique.")
    name: str
    barcode: str | None = None
    spec: str | None = strawberry.field(default=None, description="Variant, e.g. `250g / tin`.")
    category: str | None = None
    weight_g: int | None = strawberry.field(default=None, name="weightG")
    cost: str | None = strawberry.field(default=None, description="Decimal string in `currency`.")
    list_price: str | None = strawberry.field(default=None, description="Decimal string in `currency`; the "
                                                                        "default unit price of order lines.")
    currency: str | None = strawberry.field(default=None, description="ISO-4217; CNY when omitted.")
    product_id: strawberry.ID | None = strawberry.field(default=None, description="Add the SKU to this "
                                                                                  "product; a new product "
                                                                                  "named after the SKU "
                                                                                  "when omitted.")
    active: bool | None = None


@strawberry.input(description="The fields to change; omitted ones stay as they are.")
class SkuUpdateInput:
    code: str | None = None
    name: str | None = None
    barcode: str | None = None
    spec: str | None = None
    category: str | None = None
    weight_g: int | None = strawberry.field(default=None, name="weightG")
    cost: str | None = None
    list_price: str | None = None
    currency: str | None = None
    active: bool | None = None


# -- payloads ------------------------------------------------------------------------------------


@strawberry.type
class SkuPayload:
    sku: Sku | None = None
    errors: list[Error] = strawberry.field(default_factory=list)


@strawberry.type
class ListingMatchPayload:
    listing: Listing | None = None
    errors: list[Error] = strawberry.field(default_factory=list)


def _given(**kwargs: Any) -> dict[str, Any]:
    """Only the input fields the caller set (the service keeps its defaults for the rest)."""
    return {k: v for k, v in kwargs.items() if v is not None}


# -- root fields ---------------------------------------------------------------------------------


@strawberry.type
class Query:
    @strawberry.field(description="Products, oldest first. Needs `catalog.view`.")
    async def products(self, info: Info, search: str | None = None, first: First = DEFAULT_FIRST,
                       after: After = None) -> Connection[Product] | None:
        return await paginate(catalog.list_products, Product.from_row, get_actor(info), first=first, after=after,
                              search=(search or "").strip())

    @strawberry.field(description="SKUs, oldest first. Needs `catalog.view`.")
    async def skus(self, info: Info, filter: SkuFilterInput | None = None, first: First = DEFAULT_FIRST,
                   after: After = None) -> Connection[Sku] | None:
        f = filter or SkuFilterInput()
        return await paginate(catalog.list_skus, Sku.from_row, get_actor(info), first=first, after=after,
                              search=(f.search or "").strip(), category=(f.category or "").strip(), active=f.active)

    @strawberry.field(description="One SKU by its id or its code; null when there is none in this merchant. "
                                  "Needs `catalog.view`.")
    async def sku(self, info: Info, id: strawberry.ID | None = None, code: str | None = None) -> Sku | None:
        ref = (code if code is not None else str(id or "")).strip()
        if not ref:
            raise ValidationError("give the SKU's `id` or `code`", code="required", field="id")
        try:
            return Sku.from_row(await catalog.resolve_sku(get_actor(info), ref))
        except NotFound:
            return None

    @strawberry.field(description="Platform products/SKUs seen on the channels, oldest first. Needs "
                                  "`catalog.view`.")
    async def listings(self, info: Info, filter: ListingFilterInput | None = None, first: First = DEFAULT_FIRST,
                       after: After = None) -> Connection[Listing] | None:
        f = filter or ListingFilterInput()
        return await paginate(catalog.list_listings, Listing.from_row, get_actor(info), first=first, after=after,
                              channel_id=decode_id(f.channel, field="filter.channel") if f.channel else None,
                              unmatched=f.unmatched)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Create a SKU (and its product unless `productId` is given). A listing "
                                     "waiting with this code is matched at once and its orders released. "
                                     "Needs `catalog.manage`.")
    @payload(SkuPayload)
    async def sku_create(self, info: Info, input: SkuCreateInput) -> SkuPayload:
        data = _given(code=input.code, name=input.name, barcode=input.barcode, spec=input.spec,
                      category=input.category, weight_g=input.weight_g, cost=input.cost,
                      list_price=input.list_price, currency=input.currency, active=input.active)
        product_id = decode_id(input.product_id, field="productId") if input.product_id else None
        return SkuPayload(sku=Sku.from_row(await catalog.create_sku(get_actor(info), data, product_id=product_id)))

    @strawberry.mutation(description="Change a SKU. Needs `catalog.manage`.")
    @payload(SkuPayload)
    async def sku_update(self, info: Info, id: strawberry.ID, input: SkuUpdateInput) -> SkuPayload:
        data = _given(code=input.code, name=input.name, barcode=input.barcode, spec=input.spec,
                      category=input.category, weight_g=input.weight_g, cost=input.cost,
                      list_price=input.list_price, currency=input.currency, active=input.active)
        return SkuPayload(sku=Sku.from_row(await catalog.update_sku(get_actor(info), decode_id(id), data)))

    @strawberry.mutation(description="Match a platform listing to a merchant SKU (id or code) by hand; "
                                     "every order waiting on it is released. Needs `catalog.manage`.")
    @payload(ListingMatchPayload)
    async def listing_match(self, info: Info, id: strawberry.ID, sku: str) -> ListingMatchPayload:
        actor = get_actor(info)
        row = await catalog.match_listing(actor, decode_id(id), sku)
        page = await catalog.list_listings(actor, listing_id=row["id"], first=1)
        return ListingMatchPayload(listing=Listing.from_row(page.items[0]))
