"""The connector interface and the normalized DTOs every platform maps onto.

Connectors do I/O and mapping only: no database, no permissions (DESIGN §4.11). Mapping from a
platform payload to `NormalizedOrder` is a pure function in each platform's `mapping.py`.
All I/O goes through the one shared `httpx.AsyncClient` handed in by the caller.
"""
from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

import httpx

from server.core.errors import DomainError, TransientError


class Capability(enum.StrEnum):
    PULL_ORDERS = "pull_orders"
    WEBHOOKS = "webhooks"
    PUSH_INVENTORY = "push_inventory"
    PUSH_FULFILLMENT = "push_fulfillment"


class NormalizedStatus(enum.StrEnum):
    """Our order lifecycle (DESIGN §5) as seen from the platform. The order service decides the rest."""

    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"                        # paid / cash on delivery, awaiting shipment -> awaiting_review
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class PaymentStatus(enum.StrEnum):
    UNPAID = "unpaid"
    PAID = "paid"
    COD = "cod"                          # cash on delivery: payable, not yet paid
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


@dataclass(slots=True)
class ConfigField:
    name: str
    secret: bool = False
    required: bool = True
    default: Any = None
    help: str = ""


@dataclass(slots=True)
class NormalizedAddress:
    name: str = ""
    phone: str = ""              # as given (may be masked); normalized to E.164 by the ingest pipeline
    country_code: str = ""       # ISO-3166 alpha-2
    province: str = ""           # state / region
    city: str = ""
    district: str = ""
    town: str = ""               # street / township where the platform gives one
    address: str = ""            # the detail line(s)
    postcode: str = ""
    masked: bool = False         # the platform masked or encrypted PII (Taobao OAID, PDD, JD, Douyin)


@dataclass(slots=True)
class NormalizedBuyer:
    platform_buyer_id: str = ""  # stable platform id or nick
    name: str = ""
    email: str = ""
    phone: str = ""


@dataclass(slots=True)
class NormalizedLine:
    external_line_id: str                # platform line id (oid, line_item id, OrderItemId, ...)
    title: str
    quantity: int
    unit_price: int                      # minor units, before line discount
    discount: int = 0                    # minor units, whole line
    platform_product_id: str = ""
    platform_sku_id: str = ""
    sku_code: str = ""                   # merchant SKU code (outer_sku_id, outer_id, code, sku, SellerSKU)
    spec: str = ""
    refunded_quantity: int = 0
    refund_status: str = ""              # the platform's raw refund status for the line, if any
    tax: int = 0

    @property
    def total(self) -> int:
        return self.unit_price * self.quantity - self.discount


@dataclass(slots=True)
class NormalizedOrder:
    external_id: str
    order_number: str                    # what the platform shows people ("#1001", tid, order_sn)
    platform_status: str                 # raw status, kept verbatim
    status: NormalizedStatus
    payment_status: PaymentStatus
    currency: str
    items_total: int                     # minor units, sum of line unit_price*qty
    shipping_fee: int
    discount_total: int
    tax_total: int
    paid_total: int                      # what the buyer paid / owes
    placed_at: datetime                  # aware UTC
    updated_at: datetime                 # platform's modified time, aware UTC: newer wins
    paid_at: datetime | None = None
    cancelled_at: datetime | None = None
    ship_by: datetime | None = None
    refunded_total: int = 0
    buyer: NormalizedBuyer = field(default_factory=NormalizedBuyer)
    receiver: NormalizedAddress = field(default_factory=NormalizedAddress)
    buyer_note: str = ""
    seller_note: str = ""
    lines: list[NormalizedLine] = field(default_factory=list)
    fulfilled_by_platform: bool = False  # e.g. Amazon AFN: not ours to ship
    tracking_numbers: list[str] = field(default_factory=list)


@dataclass(slots=True)
class FetchedOrder:
    """One order as pulled or pushed: the raw payload always, the mapping when it succeeded."""

    external_id: str
    raw: dict
    order: NormalizedOrder | None = None
    error: str | None = None             # why mapping failed; the raw payload is still kept


@dataclass(slots=True)
class WebhookEvent:
    event_id: str                        # platform delivery/webhook id, for de-duplication
    topic: str
    orders: list[FetchedOrder] = field(default_factory=list)


@dataclass(slots=True)
class InventoryUpdate:
    """Set the listed quantity of one platform SKU."""

    platform_product_id: str
    platform_sku_id: str
    quantity: int
    sku_code: str = ""
    location_id: str = ""                # Shopify inventory location, when relevant
    variant_id: str = ""                 # Shopify: the listing's variant, when its inventory item is not known


@dataclass(slots=True)
class PushResult:
    key: str                             # platform_sku_id (or product id) the result is for
    ok: bool
    error: str | None = None
    transient: bool = False              # worth retrying


@dataclass(slots=True)
class FulfillmentUpdate:
    external_order_id: str
    carrier_code: str
    tracking_number: str
    external_line_ids: list[str] = field(default_factory=list)   # empty = whole order
    tracking_url: str = ""


@dataclass(slots=True)
class ConnectionCheck:
    ok: bool
    message: str
    shop_name: str = ""


class ConnectorError(DomainError):
    code = "connector_error"
    status = 502


class ConnectorAuthError(ConnectorError):
    """Bad or expired credentials: not retried until someone fixes the channel."""

    code = "connector_auth"


class ConnectorTransientError(TransientError):
    """Network failures, 5xx, throttling. Retried with backoff."""

    code = "connector_unavailable"

    def __init__(self, message: str, *, retry_after: float | None = None, **kw):
        super().__init__(message, **kw)
        self.retry_after = retry_after


class Connector:
    """Base class. A subclass per platform; constructed per call with config, credentials and the client.

    `config` holds the non-secret settings (always including `api_base_url`), `credentials` the
    decrypted secrets. Both are plain dicts keyed by the names in `config_fields`.
    """

    platform: ClassVar[str]
    display_name: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    config_fields: ClassVar[list[ConfigField]] = []
    default_api_base_url: ClassVar[str] = ""
    # incremental pulls re-read this much behind the saved cursor (platform clocks, late writes)
    overlap: ClassVar[timedelta] = timedelta(minutes=2)

    def __init__(self, config: Mapping[str, Any], credentials: Mapping[str, Any], http: httpx.AsyncClient):
        self.config = dict(config)
        self.credentials = dict(credentials)
        self.http = http

    @property
    def api_base_url(self) -> str:
        return (self.config.get("api_base_url") or self.default_api_base_url).rstrip("/")

    def setting(self, name: str, default: Any = None) -> Any:
        if name in self.credentials and self.credentials[name] not in (None, ""):
            return self.credentials[name]
        value = self.config.get(name)
        return default if value in (None, "") else value

    # -- pulling ---------------------------------------------------------------------------
    def safe_until(self, now: datetime) -> datetime:
        """The latest `until` a pull may ask for now (Amazon: 2 minutes behind)."""
        return now

    def fetch_orders(self, since: datetime, until: datetime) -> AsyncIterator[list[FetchedOrder]]:
        """Yield batches of orders modified in [since, until]. Splits into the platform's windows
        and pages in the direction that never skips an order changing during the pull."""
        raise ConnectorError(f"{self.platform} does not support pulling orders", code="unsupported")

    # -- webhooks --------------------------------------------------------------------------
    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Constant-time signature check over the raw body."""
        return False

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        raise ConnectorError(f"{self.platform} does not push webhooks", code="unsupported")

    async def register_webhooks(self, address: str) -> list[str]:
        """Subscribe the platform's order topics to `address`. Returns subscription ids."""
        return []

    # -- writing back ----------------------------------------------------------------------
    async def push_inventory(self, updates: list[InventoryUpdate]) -> list[PushResult]:
        raise ConnectorError(f"{self.platform} does not accept stock pushes", code="unsupported")

    def listing_update(self, platform_product_id: str, platform_sku_id: str, sku_code: str,
                       quantity: int) -> InventoryUpdate:
        """The stock update for one channel listing, from the ids its order lines carried."""
        return InventoryUpdate(platform_product_id, platform_sku_id, quantity, sku_code=sku_code)

    async def push_fulfillment(self, update: FulfillmentUpdate) -> PushResult:
        raise ConnectorError(f"{self.platform} does not accept fulfilments", code="unsupported")

    async def test_connection(self) -> ConnectionCheck:
        return ConnectionCheck(ok=True, message="no remote API")
