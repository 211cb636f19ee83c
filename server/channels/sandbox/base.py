"""What every platform sandbox shares: an in-memory order store with a clock and an order generator.

A sandbox is a local stand-in for a platform's API that speaks its documented wire format: the same
paths, parameters, signatures (bad signatures rejected) and payload shapes. Each platform module
exposes `SANDBOX` (a `PlatformSandbox` subclass instance factory) whose `router()` is a Litestar
Router mounted at `/sandbox/<platform>`.
"""
from __future__ import annotations

import abc
import random
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from litestar import Router


@dataclass
class SandboxOrder:
    """One platform order as the platform stores it: its native payload plus bookkeeping."""

    external_id: str
    payload: dict[str, Any]           # exactly what the platform API returns for this order
    updated_at: datetime              # aware UTC; the platform's modified time
    created_at: datetime
    items: list[dict] = field(default_factory=list)   # for platforms that serve lines separately (Amazon)


class PlatformSandbox(abc.ABC):
    """Base for one platform's sandbox. Subclasses implement `router()` and the generator hooks."""

    platform: ClassVar[str]
    # The credentials the sandbox accepts; demo channels and tests use them.
    credentials: ClassVar[dict[str, str]] = {}

    def __init__(self, *, seed: int | None = None):
        self.orders: dict[str, SandboxOrder] = {}
        self.rng = random.Random(seed)
        self.lock = threading.RLock()
        self.inventory: dict[str, int] = {}       # platform sku/variant/product id -> listed quantity
        self.inventory_log: list[dict] = []       # every stock push received, for tests and the UI
        self.fulfillments: list[dict] = []        # every shipment write-back received
        self.webhooks: list[dict] = []            # subscriptions (platforms that push)
        self.requests: list[dict] = []            # request log (method, path, params) for tests
        self.fail_next: list[tuple[int, dict]] = []   # queued error responses (status, body) for tests
        self._now: datetime | None = None

    # clock: tests may pin it
    def now(self) -> datetime:
        return self._now or datetime.now(UTC)

    def set_now(self, at: datetime | None) -> None:
        self._now = at

    def put(self, order: SandboxOrder) -> SandboxOrder:
        with self.lock:
            self.orders[order.external_id] = order
        return order

    def modified_between(self, start: datetime, end: datetime) -> list[SandboxOrder]:
        with self.lock:
            return [o for o in self.orders.values() if start <= o.updated_at <= end]

    @abc.abstractmethod
    def router(self) -> Router:
        """The platform's routes, mounted at `/sandbox/<platform>`."""

    # -- the generator ---------------------------------------------------------------------
    @abc.abstractmethod
    def generate(self, count: int = 1, **options: Any) -> list[SandboxOrder]:
        """Create `count` realistic orders (buyers and addresses in the platform's locale, several
        SKUs, a mix of paid/unpaid). Options a platform understands: status, skus, currency."""

    @abc.abstractmethod
    def advance(self, order_id: str, event: str) -> SandboxOrder:
        """Move an order along: 'pay', 'ship', 'deliver', 'complete', 'cancel', 'refund',
        'partial_refund'. Bumps its modified time. Raises ValueError for an impossible move."""

    def tick(self) -> None:
        """One step of life: a new order or two, and a random status change on an existing one."""
        self.generate(self.rng.randint(1, 2))
        with self.lock:
            candidates = list(self.orders)
        if candidates:
            event = self.rng.choice(["pay", "ship", "cancel", "deliver", "refund"])
            try:
                self.advance(self.rng.choice(candidates), event)
            except ValueError:
                pass  # that move is not possible from the order's current status


@dataclass(frozen=True)
class DemoSku:
    code: str          # the merchant SKU code (outer_sku_id / outer_id / code / sku / SellerSKU)
    title_zh: str
    title_en: str
    price_cny: str     # yuan, decimal string
    price_usd: str
    weight_g: int


# The demo merchant's catalogue: the seed creates these SKUs, and every sandbox sells them, so
# generated orders match. A sandbox may also sell an occasional code not in this list
# (UNLISTED_SKU) so that `unmatched_sku` holds show up in the demo.
DEMO_SKUS: tuple[DemoSku, ...] = (
    DemoSku("TEA-LJ-250", "西湖龙井 250g", "Longjing green tea 250g", "168.00", "24.90", 280),
    DemoSku("TEA-PE-357", "云南普洱饼 357g", "Pu-erh cake 357g", "99.00", "15.50", 400),
    DemoSku("CUP-CER-01", "景德镇陶瓷茶杯", "Jingdezhen ceramic cup", "45.50", "7.90", 220),
    DemoSku("POT-YX-300", "宜兴紫砂壶 300ml", "Yixing clay teapot 300ml", "388.00", "59.00", 520),
    DemoSku("KET-EL-1L", "电热水壶 1L", "Electric kettle 1L", "129.00", "25.00", 1100),
    DemoSku("SET-GIFT-01", "茶具礼盒", "Tea gift set", "258.00", "39.00", 1500),
    DemoSku("TRAY-BMB-L", "竹制茶盘 大号", "Bamboo tea tray L", "76.80", "12.00", 900),
    DemoSku("FLT-SS-02", "不锈钢茶滤", "Stainless tea strainer", "12.90", "2.50", 40),
)
UNLISTED_SKU = DemoSku("MYSTERY-01", "神秘赠品", "Mystery item", "0.00", "0.00", 10)
