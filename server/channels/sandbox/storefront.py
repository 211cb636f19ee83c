"""What the Western storefront sandboxes (Shopify, WooCommerce) share: buyers and addresses from
Faker in the order currency's market, catalogue prices in that currency, a webhook outbox with
retries, and the sandbox-only control endpoints.
"""
from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
from faker import Faker
from litestar import Request, Response, route
from litestar.enums import HttpMethod
from litestar.params import FromPath

from server.channels.sandbox.base import DEMO_SKUS, UNLISTED_SKU, DemoSku
from server.core.money import exponent, from_minor, to_minor

# -- markets and buyers -------------------------------------------------------
MARKETS = {"USD": (("en_US", "US"),), "EUR": (("de_DE", "DE"), ("fr_FR", "FR"), ("nl_NL", "NL")),
           "GBP": (("en_GB", "GB"),), "JPY": (("ja_JP", "JP"),)}
USD_RATES = {"USD": Decimal("1"), "EUR": Decimal("0.92"), "GBP": Decimal("0.79"), "JPY": Decimal("150")}
COUNTRIES = {"US": "United States", "DE": "Germany", "FR": "France", "NL": "Netherlands",
             "GB": "United Kingdom", "JP": "Japan"}
US_STATES = (("California", "CA"), ("New York", "NY"), ("Texas", "TX"), ("Washington", "WA"),
             ("Illinois", "IL"), ("Massachusetts", "MA"), ("Oregon", "OR"), ("Florida", "FL"))
BUYER_NOTES = ("", "", "", "", "Please leave the parcel with the neighbour.",
               "It's a gift - no prices in the box, please.", "Ring twice, the bell is quiet.")
GIFT_CODES = ("FLT-SS-02", "CUP-CER-01")
CARRIERS = (("USPS", "9400 1000 0000 0000 %06d", "https://tools.usps.com/go/TrackConfirmAction?tLabels="),
            ("UPS", "1Z999AA1%010d", "https://www.ups.com/track?tracknum="),
            ("DHL Express", "JD0140%012d", "https://www.dhl.com/track?tracking-id="))


def pick_currency(rng, requested: str | None) -> str:
    if requested:
        if requested.upper() not in USD_RATES:
            raise ValueError(f"the sandbox sells in {', '.join(USD_RATES)}, not {requested}")
        return requested.upper()
    r = rng.random()
    return "USD" if r < 0.75 else "EUR" if r < 0.88 else "JPY" if r < 0.96 else "GBP"


def local_price(price_usd: str, currency: str) -> int:
    """Catalogue USD price in the order currency, minor units (yen rounded to 10)."""
    amount = Decimal(price_usd) * USD_RATES[currency]
    if currency == "JPY":
        return int((amount / 10).quantize(Decimal(1), rounding=ROUND_HALF_UP)) * 10
    return to_minor(amount, currency)


def money(minor: int, currency: str) -> str:
    return f"{from_minor(minor, currency):.{exponent(currency)}f}"


def pick_skus(rng, codes: list[str] | None) -> list[tuple[DemoSku, int, bool]]:
    """(sku, quantity, is_free_gift) lines: several catalogue SKUs, sometimes an unlisted one and a
    zero-priced gift."""
    by_code = {s.code: s for s in (*DEMO_SKUS, UNLISTED_SKU)}
    if codes:
        unknown = [c for c in codes if c not in by_code]
        if unknown:
            raise ValueError(f"unknown SKU codes {unknown}; the sandbox sells {sorted(by_code)}")
        return [(by_code[c], rng.randint(1, 2), False) for c in codes]
    lines = [(s, rng.choice((1, 1, 1, 2, 3)), False) for s in rng.sample(DEMO_SKUS, rng.randint(1, 3))]
    if rng.random() < 0.06:
        lines.append((UNLISTED_SKU, 1, False))
    if rng.random() < 0.15:
        lines.append((by_code[rng.choice(GIFT_CODES)], 1, True))
    return lines


@dataclass
class Person:
    first_name: str
    last_name: str
    email: str
    phone: str
    company: str
    address1: str
    address2: str
    city: str
    province: str
    province_code: str
    postcode: str
    country_code: str


class People:
    """Buyers and addresses from the currency's market (Faker locales), reproducible via the rng."""

    def __init__(self, rng):
        self.rng = rng
        self._fakers: dict[str, Faker] = {}

    def person(self, currency: str) -> Person:
        locale, cc = self.rng.choice(MARKETS[currency])
        fk = self._fakers.setdefault(locale, Faker(locale))
        fk.seed_instance(self.rng.getrandbits(32))
        address2, code = "", ""
        if cc == "US":
            province, code = self.rng.choice(US_STATES)
            postcode, street = fk.zipcode_in_state(code), fk.street_address()
            address2 = fk.secondary_address() if self.rng.random() < 0.3 else ""
        elif cc == "JP":
            province, postcode = fk.prefecture(), fk.zipcode()
            street = f"{fk.town()}{fk.chome()}{fk.ban()}{fk.gou()}"
            address2 = f"{fk.building_name()}{fk.building_number()}" if self.rng.random() < 0.4 else ""
        else:
            province = fk.administrative_unit() if cc in ("DE", "GB") else ""
            postcode, street = fk.postcode(), fk.street_address()
        return Person(fk.first_name(), fk.last_name(), fk.ascii_free_email(), fk.phone_number(),
                      fk.company() if self.rng.random() < 0.1 else "", street, address2, fk.city(),
                      province, code, postcode, cc)


@dataclass
class Delivery:
    url: str
    headers: dict[str, str]
    body: bytes
    topic: str
    subscription_id: int
    attempts: int = 0
    due: float = 0.0            # time.monotonic() of the next attempt


class WebhookOutbox:
    """Queued deliveries: generation stays synchronous, the caller awaits `deliver`. A failed
    delivery is retried later (Shopify: 8 retries over 4 hours; the delays here are shorter)."""

    RETRY_DELAYS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0)

    def __init__(self) -> None:
        self.pending: list[Delivery] = []
        self.log: list[dict] = []            # every attempt with the receiver's status
        self.dropped: list[Delivery] = []    # out of retries
        self._lock = threading.Lock()

    def add(self, delivery: Delivery) -> None:
        with self._lock:
            self.pending.append(delivery)

    async def deliver(self, client: httpx.AsyncClient, *, hold: Callable[[Delivery], bool] | None = None,
                      on_result: Callable[[Delivery, bool], None] | None = None) -> int:
        """Send what is due; returns how many were accepted (2xx)."""
        now = time.monotonic()
        with self._lock:
            due = [d for d in self.pending if d.due <= now and not (hold and hold(d))]
            self.pending = [d for d in self.pending if d not in due]
        accepted, retry = 0, []
        for d in due:
            d.attempts += 1
            status, error = None, None
            try:
                status = (await client.post(d.url, content=d.body, headers=d.headers, timeout=10.0)).status_code
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            ok = status is not None and 200 <= status < 300
            self.log.append({"topic": d.topic, "url": d.url, "subscription_id": d.subscription_id,
                             "attempt": d.attempts, "status": status, "error": error})
            if on_result:
                on_result(d, ok)
            if ok:
                accepted += 1
            elif d.attempts <= len(self.RETRY_DELAYS):
                d.due = time.monotonic() + self.RETRY_DELAYS[d.attempts - 1]
                retry.append(d)
            else:
                self.dropped.append(d)
        with self._lock:
            self.pending.extend(retry)
        return accepted


def read_json(raw: bytes) -> Any:
    """Request body as JSON; None when empty. Raises ValueError when malformed."""
    return json.loads(raw) if raw.strip() else None


# -- control endpoints ------------------------------------
def control_routes(sandbox: Any, platform: str) -> list:
    """Sandbox-only endpoints for the demo UI and tests: make orders, move them, look inside."""

    async def deliver() -> int:
        async with httpx.AsyncClient(timeout=10.0) as client:
            return await sandbox.deliver_pending(client)

    @route("/_sandbox/generate", http_method=[HttpMethod.POST], name=f"{platform}_sandbox_generate")
    async def generate(request: Request) -> Response:
        try:
            body = read_json(await request.body()) or {}
            orders = sandbox.generate(int(body.get("count", 1)), status=body.get("status"), skus=body.get("skus"),
                                      currency=body.get("currency"), pickup=body.get("pickup", False))
        except (ValueError, TypeError, AttributeError) as exc:
            return Response(content={"error": str(exc)}, status_code=400)
        return Response(content={"ids": [o.external_id for o in orders], "delivered": await deliver()},
                        status_code=201)

    @route("/_sandbox/orders/{order_id:str}/{event:str}", http_method=[HttpMethod.POST],
           name=f"{platform}_sandbox_event")
    async def event(order_id: FromPath[str], event: FromPath[str]) -> Response:
        try:
            order = sandbox.advance(order_id, event)
        except KeyError:
            return Response(content={"error": f"no order {order_id}"}, status_code=404)
        except ValueError as exc:
            return Response(content={"error": str(exc)}, status_code=409)
        return Response(content={"order": copy.deepcopy(order.payload), "delivered": await deliver()}, status_code=200)

    @route("/_sandbox/inventory", http_method=[HttpMethod.GET], name=f"{platform}_sandbox_inventory")
    async def inventory() -> Response:
        with sandbox.lock:
            return Response(content={"inventory": dict(sandbox.inventory), "log": list(sandbox.inventory_log)},
                            status_code=200)

    @route("/_sandbox/orders", http_method=[HttpMethod.GET], name=f"{platform}_sandbox_orders")
    async def orders() -> Response:
        with sandbox.lock:
            rows = sorted(sandbox.orders.values(), key=lambda o: o.updated_at, reverse=True)
            return Response(content={"orders": copy.deepcopy([o.payload for o in rows])}, status_code=200)

    @route("/_sandbox/fail_next", http_method=[HttpMethod.POST], name=f"{platform}_sandbox_fail_next")
    async def fail_next(request: Request) -> Response:
        body = read_json(await request.body()) or {}
        with sandbox.lock:
            sandbox.fail_next.append((int(body.get("status", 500)), body.get("body") or {}))
            return Response(content={"queued": len(sandbox.fail_next)}, status_code=201)

    @route("/_sandbox/webhooks", http_method=[HttpMethod.GET, HttpMethod.POST], name=f"{platform}_sandbox_webhooks")
    async def webhooks(request: Request) -> Response:
        delivered = await deliver() if request.method == "POST" else 0
        return Response(content={"subscriptions": copy.deepcopy(sandbox.webhooks), "delivered": delivered,
                                 "pending": len(sandbox.outbox.pending), "log": list(sandbox.outbox.log)},
                        status_code=200)

    return [generate, event, inventory, orders, fail_next, webhooks]


