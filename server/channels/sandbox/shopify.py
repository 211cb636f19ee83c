"""Shopify sandbox: the Admin REST API's wire format, served locally under /sandbox/shopify.

Connector config: api_base_url = http://<host>/sandbox/shopify (the shop origin), so calls land on
/sandbox/shopify/admin/api/{version}/orders.json and friends. Checked like the real API: the
X-Shopify-Access-Token header (401 {"errors": "[API] Invalid API key ..."}), cursor paging with an
opaque page_info that carries the filters (other filters next to page_info are a 400), limit <= 250,
the leaky-bucket call limit (X-Shopify-Shop-Api-Call-Limit, 429 + Retry-After on overflow).
Webhook subscriptions made through webhooks.json receive signed deliveries via `deliver_pending`.

Buyers, prices, the webhook outbox and the control endpoints come from storefront.py.
"""
from __future__ import annotations

import base64
import binascii
import copy
import json
import re
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from litestar import Request, Response, Router, route
from litestar.enums import HttpMethod
from litestar.params import FromPath

from server.channels.connectors._hmac import sign_base64
from server.channels.sandbox.base import DEMO_SKUS, UNLISTED_SKU, PlatformSandbox, SandboxOrder
from server.channels.sandbox.storefront import (
    BUYER_NOTES,
    CARRIERS,
    COUNTRIES,
    Delivery,
    People,
    Person,
    WebhookOutbox,
    control_routes,
    local_price,
    money,
    pick_currency,
    pick_skus,
    read_json,
)
from server.core.clock import parse_iso
from server.core.money import from_minor, to_minor

# -- Shopify ----------------------------------------------------------------------------------
TOPICS = {"orders/create", "orders/updated", "orders/cancelled", "orders/paid", "orders/fulfilled",
          "orders/partially_fulfilled", "orders/delete", "refunds/create", "fulfillments/create",
          "app/uninstalled", "shop/update", "products/update", "inventory_levels/update"}
FILTERS = ("status", "ids", "since_id", "created_at_min", "created_at_max", "updated_at_min",
           "updated_at_max", "financial_status", "fulfillment_status")
PAGING_ONLY = {"page_info", "limit", "fields"}
_VERSION = re.compile(r"\d{4}-\d{2}|unstable")
AUTH_ERROR = "[API] Invalid API key or access token (unrecognized login or wrong password)"
TAX = {"US": (Decimal("0.06"), False), "JP": (Decimal("0.10"), True), "GB": (Decimal("0.20"), True)}
EU_TAX = (Decimal("0.19"), True)
SHIPPING = {"USD": (599, 7500), "EUR": (490, 6000), "GBP": (399, 5000), "JPY": (800, 10000)}   # fee, free over


class ApiError(Exception):
    def __init__(self, status: int, errors: Any):
        super().__init__(str(errors))
        self.status, self.errors = status, errors


def _address(p: Person) -> dict:
    return {"first_name": p.first_name, "last_name": p.last_name, "name": f"{p.first_name} {p.last_name}",
            "company": p.company or None, "address1": p.address1, "address2": p.address2 or None,
            "city": p.city, "province": p.province or None, "province_code": p.province_code or None,
            "zip": p.postcode, "country": COUNTRIES[p.country_code], "country_code": p.country_code,
            "phone": p.phone}


class ShopifySandbox(PlatformSandbox):
    platform = "shopify"
    credentials = {"shop_domain": "oms-demo.myshopify.com",
                   "access_token": "shpat_sandbox_5f2b9c0e7d41a8b3c6e9f0a1b2c3d4e5",
                   "client_secret": "shpss_sandbox_8c1f4e2a9b7d6c5e", "api_version": "2025-01"}
    shop_name = "OMS Demo Tea House"
    timezone = ZoneInfo("America/New_York")
    bucket_size, leak_per_second = 40, 2.0
    retry_after = "2.0"           # what a throttled call is told; tests may shorten it

    def __init__(self, *, seed: int | None = None):
        super().__init__(seed=seed)
        self.outbox = WebhookOutbox()
        self.people = People(self.rng)
        self.locations = [
            {"id": 61_000_000_001, "name": "Old market stall", "active": False, "country_code": "US"},
            {"id": 61_000_000_002, "name": "Main warehouse", "active": True, "address1": "1 Harbor Way",
             "city": "Boston", "province": "Massachusetts", "country_code": "US", "zip": "02110"},
        ]
        # Stable ids per SKU code, so stock pushes can target them.
        self.products: dict[str, dict] = {}
        for i, sku in enumerate((*DEMO_SKUS, UNLISTED_SKU)):
            ids = {"product_id": 8_100_000_000 + 10 * i, "variant_id": 44_100_000_000 + i,
                   "inventory_item_id": 46_100_000_000 + i}
            self.products[sku.code] = ids
            self.inventory[str(ids["inventory_item_id"])] = 100
        self._last_id = 5_600_000_000_000
        self._number = 1000
        self._fo: dict[str, dict] = {}          # order id -> {"id": fulfillment order id, "lines": {line id: fo line id}}
        self._bucket = (0.0, time.monotonic())

    # -- ids and time ----------------------------------------------------------------------
    def _new_id(self) -> int:
        self._last_id += self.rng.randint(1, 97)
        return self._last_id

    def _ts(self, at: datetime) -> str:
        return at.astimezone(self.timezone).isoformat(timespec="seconds")

    def _stamp(self) -> tuple[datetime, str]:
        at = self.now().replace(microsecond=0)
        return at, self._ts(at)

    # -- the generator ---------------------------------------------------------------------
    def generate(self, count: int = 1, **options: Any) -> list[SandboxOrder]:
        status = options.get("status") or None
        if status not in (None, "paid", "pending", "authorized", "cod"):
            raise ValueError(f"status must be paid, pending, authorized or cod, not {status!r}")
        made = []
        with self.lock:
            for _ in range(int(count)):
                order = self.put(self._build(status, options.get("skus"), options.get("currency"),
                                             bool(options.get("pickup")) or self.rng.random() < 0.05))
                made.append(order)
                self._emit(order.payload, "orders/create")
                if order.payload["financial_status"] == "paid":
                    self._emit(order.payload, "orders/paid")
        return made

    def _build(self, status: str | None, codes: list[str] | None, currency: str | None, pickup: bool) -> SandboxOrder:
        rng = self.rng
        cur = pick_currency(rng, currency)
        buyer = self.people.person(cur)
        status = status or rng.choices(("paid", "pending", "authorized", "cod"), (70, 12, 6, 12))[0]
        at, ts = self._stamp()
        rate, included = TAX.get(buyer.country_code, EU_TAX)
        pct = Decimal("0.10") if rng.random() < 0.2 else Decimal(0)
        order_id, lines, fo_lines = self._new_id(), [], {}
        for sku, qty, gift in pick_skus(rng, codes):
            unit = 0 if gift else local_price(sku.price_usd, cur)
            disc = int(unit * qty * pct)
            net = unit * qty - disc
            tax = int((net * rate / (1 + rate) if included else net * rate).quantize(Decimal(1), ROUND_HALF_UP))
            ids, line_id = self.products[sku.code], self._new_id()
            fo_lines[str(line_id)] = self._new_id()
            title = sku.title_en + (" (free gift)" if gift else "")
            lines.append({
                "id": line_id, "admin_graphql_api_id": f"gid://shopify/LineItem/{line_id}",
                "product_id": ids["product_id"], "variant_id": ids["variant_id"], "sku": sku.code,
                "title": title, "name": title, "variant_title": None, "vendor": self.shop_name,
                "quantity": qty, "price": money(unit, cur), "grams": sku.weight_g,
                "price_set": {"shop_money": {"amount": money(unit, cur), "currency_code": cur}},
                "total_discount": "0.00", "fulfillable_quantity": qty, "fulfillment_status": None,
                "fulfillment_service": "manual", "requires_shipping": True, "taxable": True, "gift_card": False,
                "product_exists": True, "properties": [],
                "discount_allocations": [{"amount": money(disc, cur), "discount_application_index": 0}] if disc else [],
                "tax_lines": [{"title": "Tax", "rate": float(rate), "price": money(tax, cur)}] if tax else [],
            })
        items = sum(to_minor(li["price"], cur) * li["quantity"] for li in lines)
        discounts = sum(to_minor(a["amount"], cur) for li in lines for a in li["discount_allocations"])
        tax_total = sum(to_minor(t["price"], cur) for li in lines for t in li["tax_lines"])
        fee, free_over = SHIPPING[cur]
        shipping = 0 if pickup or items - discounts >= free_over else fee
        total = items - discounts + shipping + (0 if included else tax_total)
        gateway = {"paid": rng.choice(("shopify_payments", "paypal")), "authorized": "shopify_payments",
                   "pending": "Bank Deposit", "cod": "Cash on Delivery (COD)"}[status]
        address = _address(buyer)
        guest = rng.random() < 0.1
        self._number += 1
        payload = {
            "id": order_id, "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
            "name": f"#{self._number}", "order_number": self._number, "number": self._number - 1000,
            "email": buyer.email, "contact_email": buyer.email, "phone": None,
            "created_at": ts, "updated_at": ts, "processed_at": ts,
            "cancelled_at": None, "cancel_reason": None, "closed_at": None,
            "currency": cur, "presentment_currency": cur, "confirmed": True, "test": False,
            "financial_status": "paid" if status == "paid" else "authorized" if status == "authorized" else "pending",
            "fulfillment_status": None, "gateway": gateway, "payment_gateway_names": [gateway],
            "processing_method": "manual" if status in ("pending", "cod") else "direct",
            "source_name": "web", "tags": "", "note": rng.choice(BUYER_NOTES) or None, "note_attributes": [],
            "taxes_included": included, "total_weight": sum(li["grams"] * li["quantity"] for li in lines),
            "total_line_items_price": money(items, cur), "subtotal_price": money(items - discounts, cur),
            "total_discounts": money(discounts, cur), "total_tax": money(tax_total, cur),
            "total_price": money(total, cur),
            "total_shipping_price_set": {"shop_money": {"amount": money(shipping, cur), "currency_code": cur},
                                         "presentment_money": {"amount": money(shipping, cur), "currency_code": cur}},
            "discount_codes": [{"code": "WELCOME10", "amount": money(discounts, cur), "type": "percentage"}] if discounts else [],
            "discount_applications": [{"type": "discount_code", "code": "WELCOME10", "value": "10.0",
                                       "value_type": "percentage", "allocation_method": "across",
                                       "target_selection": "all", "target_type": "line_item"}] if discounts else [],
            "customer": None if guest else {
                "id": self._new_id(), "email": buyer.email, "first_name": buyer.first_name,
                "last_name": buyer.last_name, "phone": buyer.phone, "state": "enabled", "currency": cur,
                "verified_email": True, "created_at": ts, "updated_at": ts, "default_address": address},
            "billing_address": address, "shipping_address": None if pickup else address,
            "shipping_lines": [] if pickup else [{"id": self._new_id(), "title": "Standard", "code": "Standard",
                                                  "price": money(shipping, cur), "source": "shopify",
                                                  "discount_allocations": [], "tax_lines": []}],
            "line_items": lines, "fulfillments": [], "refunds": [],
        }
        self._fo[str(order_id)] = {"id": self._new_id(), "lines": fo_lines}
        return SandboxOrder(external_id=str(order_id), payload=payload, updated_at=at, created_at=at)

    # -- moving orders along ---------------------------------------------------------------
    def advance(self, order_id: str, event: str) -> SandboxOrder:
        with self.lock:
            order = self.orders[order_id]
            p = order.payload
            fin, ful, cancelled = p["financial_status"], p["fulfillment_status"], bool(p["cancelled_at"])
            topics = ["orders/updated"]
            if event == "pay":
                if cancelled or fin not in ("pending", "authorized", "partially_paid"):
                    raise ValueError(f"cannot pay an order that is {fin}{' and cancelled' if cancelled else ''}")
                p["financial_status"] = "paid"
                topics.insert(0, "orders/paid")
            elif event == "ship":
                shippable = fin in ("paid", "partially_refunded", "authorized") or "COD" in p["gateway"]
                remaining = {str(li["id"]): li["fulfillable_quantity"] for li in p["line_items"] if li["fulfillable_quantity"]}
                if cancelled or not shippable or not remaining:
                    raise ValueError(f"cannot ship an order that is {fin}/{ful or 'unfulfilled'}")
                carrier, pattern, url = self.rng.choice(CARRIERS)
                number = pattern % self.rng.randrange(10**6)
                self._fulfil(order, remaining, {"company": carrier, "number": number, "url": url + number})
                topics.insert(0, "orders/fulfilled")
            elif event == "deliver":
                live = [f for f in p["fulfillments"] if f["status"] == "success"]
                if ful != "fulfilled" or all(f["shipment_status"] == "delivered" for f in live):
                    raise ValueError("only a fulfilled order that is not yet delivered can be delivered")
                for f in live:
                    f["shipment_status"] = "delivered"
            elif event == "complete":
                if ful != "fulfilled" or p["closed_at"]:
                    raise ValueError("only a fulfilled, open order can be closed")
                p["closed_at"] = self._stamp()[1]
            elif event == "cancel":
                if cancelled or ful in ("fulfilled", "partial"):
                    raise ValueError("cannot cancel an order that is cancelled or (partly) fulfilled")
                p["cancelled_at"], p["cancel_reason"] = self._stamp()[1], "customer"
                if fin in ("paid", "partially_refunded"):
                    self._refund(order, full=True)
                elif fin == "authorized":
                    p["financial_status"] = "voided"
                for li in p["line_items"]:
                    li["fulfillable_quantity"] = 0
                topics.insert(0, "orders/cancelled")
            elif event in ("refund", "partial_refund"):
                if fin not in ("paid", "partially_refunded"):
                    raise ValueError(f"cannot refund an order that is {fin}")
                self._refund(order, full=event == "refund")
            else:
                raise ValueError(f"unknown event {event!r}")
            self._touch(order)
            for topic in topics:
                self._emit(p, topic)
            return order

    def _touch(self, order: SandboxOrder) -> None:
        order.updated_at, order.payload["updated_at"] = self._stamp()

    def _refund(self, order: SandboxOrder, *, full: bool) -> None:
        p, cur = order.payload, order.payload["currency"]
        done = sum(to_minor(t["amount"], cur) for r in p["refunds"] for t in r["transactions"])
        refunded_qty: dict[int, int] = {}
        for r in p["refunds"]:
            for rli in r["refund_line_items"]:
                refunded_qty[rli["line_item_id"]] = refunded_qty.get(rli["line_item_id"], 0) + rli["quantity"]
        open_lines = [li for li in p["line_items"] if li["quantity"] > refunded_qty.get(li["id"], 0)]
        if full:
            amount, take = to_minor(p["total_price"], cur) - done, {li["id"]: li["quantity"] - refunded_qty.get(li["id"], 0)
                                                                    for li in open_lines}
        else:
            priced = [li for li in open_lines if to_minor(li["price"], cur) > 0]
            if not priced:
                raise ValueError("nothing left to refund partially")
            line = self.rng.choice(priced)
            amount, take = to_minor(line["price"], cur), {line["id"]: 1}
            if amount >= to_minor(p["total_price"], cur) - done:
                raise ValueError("a partial refund would refund everything; use refund")
        if amount <= 0:
            raise ValueError("nothing left to refund")
        at = self._stamp()[1]
        refund_id = self._new_id()
        by_id = {li["id"]: li for li in p["line_items"]}
        for line_id, qty in take.items():
            li = by_id[line_id]
            li["fulfillable_quantity"] = max(0, li["fulfillable_quantity"] - qty)
        refund = {
            "id": refund_id, "order_id": p["id"], "created_at": at, "processed_at": at, "note": "Customer request",
            "restock": False, "order_adjustments": [], "duties": [],
            "refund_line_items": [{"id": self._new_id(), "line_item_id": lid, "quantity": q, "restock_type": "no_restock",
                                   "subtotal": float(from_minor(to_minor(by_id[lid]["price"], cur) * q, cur)),
                                   "total_tax": 0.0, "line_item": copy.deepcopy(by_id[lid])} for lid, q in take.items()],
            "transactions": [{"id": self._new_id(), "order_id": p["id"], "kind": "refund", "status": "success",
                              "gateway": p["gateway"], "amount": money(amount, cur), "currency": cur,
                              "created_at": at, "parent_id": None}],
        }
        p["refunds"].append(refund)
        p["financial_status"] = "refunded" if done + amount >= to_minor(p["total_price"], cur) else "partially_refunded"
        self._emit(refund, "refunds/create")

    def _fulfil(self, order: SandboxOrder, quantities: dict[str, int], tracking: dict) -> dict:
        p = order.payload
        at = self._stamp()[1]
        fulfillment_id = self._new_id()
        shipped = []
        for li in p["line_items"]:
            qty = quantities.get(str(li["id"]), 0)
            if qty:
                li["fulfillable_quantity"] -= qty
                li["fulfillment_status"] = "fulfilled" if li["fulfillable_quantity"] == 0 else "partial"
                shipped.append({**copy.deepcopy(li), "quantity": qty})
        number = tracking.get("number")
        fulfillment = {
            "id": fulfillment_id, "order_id": p["id"], "status": "success", "service": "manual",
            "name": f"{p['name']}.{len(p['fulfillments']) + 1}", "created_at": at, "updated_at": at,
            "location_id": self.locations[1]["id"], "shipment_status": None,
            "tracking_company": tracking.get("company"), "tracking_number": number,
            "tracking_numbers": [number] if number else [], "tracking_url": tracking.get("url"),
            "tracking_urls": [tracking["url"]] if tracking.get("url") else [], "line_items": shipped,
        }
        p["fulfillments"].append(fulfillment)
        p["fulfillment_status"] = "partial" if any(li["fulfillable_quantity"] for li in p["line_items"]) else "fulfilled"
        self.fulfillments.append({"order_id": str(p["id"]), "fulfillment_id": fulfillment_id,
                                  "tracking_company": fulfillment["tracking_company"], "tracking_number": number,
                                  "tracking_url": fulfillment["tracking_url"],
                                  "line_items": {str(li["id"]): li["quantity"] for li in shipped}})
        return fulfillment

    def _fulfillment_order(self, order: SandboxOrder) -> dict:
        p, fo = order.payload, self._fo[order.external_id]
        lines = [{"id": fo["lines"][str(li["id"])], "shop_id": 60_000_000_001, "fulfillment_order_id": fo["id"],
                  "line_item_id": li["id"], "inventory_item_id": self.products[li["sku"]]["inventory_item_id"],
                  "variant_id": li["variant_id"], "quantity": li["quantity"],
                  "fulfillable_quantity": li["fulfillable_quantity"]} for li in p["line_items"]]
        left = any(li["fulfillable_quantity"] for li in lines)
        status = ("cancelled" if p["cancelled_at"] else "open" if left and not p["fulfillments"]
                  else "in_progress" if left else "closed")
        return {"id": fo["id"], "order_id": p["id"], "shop_id": 60_000_000_001, "status": status,
                "request_status": "unsubmitted", "assigned_location_id": self.locations[1]["id"],
                "supported_actions": ["create_fulfillment"] if status in ("open", "in_progress") else [],
                "destination": p["shipping_address"], "line_items": lines,
                "created_at": p["created_at"], "updated_at": p["updated_at"]}

    # -- webhooks --------------------------------------------------------------------------
    def _emit(self, body: dict, topic: str) -> None:
        """Queue `body` for every subscription to `topic`, signed like Shopify signs it."""
        raw = json.dumps(body, separators=(",", ":")).encode()
        event_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        for sub in self.webhooks:
            if sub["topic"] != topic:
                continue
            self.outbox.add(Delivery(url=sub["address"], body=raw, topic=topic, subscription_id=sub["id"], headers={
                "Content-Type": "application/json", "User-Agent": "Shopify-Captain-Hook",
                "X-Shopify-Topic": topic, "X-Shopify-Hmac-Sha256": sign_base64(self.credentials["client_secret"], raw),
                "X-Shopify-Shop-Domain": self.credentials["shop_domain"], "X-Shopify-API-Version": sub["api_version"],
                "X-Shopify-Webhook-Id": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
                "X-Shopify-Event-Id": event_id, "X-Shopify-Triggered-At": self.now().isoformat()}))

    async def deliver_pending(self, client: httpx.AsyncClient) -> int:
        return await self.outbox.deliver(client)

    # -- the REST API ----------------------------------------------------------------------
    def _throttled(self) -> tuple[bool, int]:
        with self.lock:
            level, at = self._bucket
            now = time.monotonic()
            level = max(0.0, level - (now - at) * self.leak_per_second)
            if level + 1 > self.bucket_size:
                self._bucket = (level, now)
                return True, self.bucket_size
            self._bucket = (level + 1, now)
            return False, int(level + 1)

    async def handle(self, request: Request, version: str, fn: Callable[..., tuple[int, Any, dict]],
                     *args: Any) -> Response:
        raw = await request.body()
        with self.lock:
            self.requests.append({"method": request.method, "path": request.url.path,
                                  "params": dict(request.query_params)})
            failure = self.fail_next.pop(0) if self.fail_next else None
        if failure is not None:
            headers = {"Retry-After": self.retry_after} if failure[0] == 429 else {}
            return Response(content=failure[1], status_code=failure[0], headers=headers)
        if request.headers.get("X-Shopify-Access-Token") != self.credentials["access_token"]:
            return Response(content={"errors": AUTH_ERROR}, status_code=401)
        throttled, used = self._throttled()
        limit = {"X-Shopify-Shop-Api-Call-Limit": f"{used}/{self.bucket_size}"}
        if throttled:
            return Response(content={"errors": "Exceeded 2 calls per second for api client. Reduce request rates "
                                     "to resume uninterrupted service."}, status_code=429,
                            headers={**limit, "Retry-After": self.retry_after})
        if not _VERSION.fullmatch(version):
            return Response(content={"errors": "Not Found"}, status_code=404, headers=limit)
        try:
            body = read_json(raw)
            with self.lock:
                status, content, headers = fn(request, body, *args)
        except ValueError as exc:
            status, content, headers = 400, {"errors": f"Bad Request: {exc}"}, {}
        except ApiError as exc:
            status, content, headers = exc.status, {"errors": exc.errors}, {}
        return Response(content=content, status_code=status, headers={**limit, **headers})

    def _matching(self, f: dict) -> list[dict]:
        def when(name: str) -> datetime | None:
            try:
                return parse_iso(f.get(name))
            except ValueError as exc:
                raise ApiError(400, {name: f"{name} is not a valid ISO 8601 time"}) from exc
        bounds = {n: when(n) for n in FILTERS if n.endswith(("_min", "_max"))}
        status = f.get("status") or "open"
        ids = {int(x) for x in str(f.get("ids") or "").split(",") if x.strip().isdigit()}
        rows = []
        for o in self.orders.values():
            p = o.payload
            if (status == "open" and (p["cancelled_at"] or p["closed_at"])) or (status == "closed" and not p["closed_at"]) \
                    or (status == "cancelled" and not p["cancelled_at"]):
                continue
            if (ids and p["id"] not in ids) or (f.get("since_id") and p["id"] <= int(f["since_id"])):
                continue
            if f.get("financial_status") not in (None, "any", p["financial_status"]):
                continue
            for name, bound in bounds.items():
                value = o.updated_at if name.startswith("updated") else o.created_at
                if bound and (value < bound if name.endswith("_min") else value > bound):
                    break
            else:
                rows.append(p)
        return sorted(rows, key=lambda p: p["id"], reverse=True)     # newest first, like Shopify

    @staticmethod
    def _cursor(filters: dict, anchor: int, direction: str) -> str:
        raw = json.dumps({"f": filters, "a": anchor, "d": direction}, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def _orders_index(self, request: Request, _body: Any) -> tuple[int, Any, dict]:
        q = {k: v for k, v in request.query_params.items()}
        try:
            limit = int(q.get("limit", 50))
        except ValueError as exc:
            raise ApiError(400, {"limit": "Limit must be a number"}) from exc
        if not 1 <= limit <= 250:
            raise ApiError(400, {"limit": "Limit must be between 1 and 250"})
        anchor, direction = None, "next"
        if "page_info" in q:
            extra = sorted(set(q) - PAGING_ONLY)
            if extra:
                raise ApiError(400, {k: f"{k} cannot be passed when page_info is present. See "
                                        "https://shopify.dev/api/usage/pagination-rest for more information."
                                     for k in extra})
            try:
                cursor = json.loads(base64.urlsafe_b64decode(q["page_info"] + "=" * (-len(q["page_info"]) % 4)))
                filters, anchor, direction = cursor["f"], int(cursor["a"]), cursor["d"]
            except (ValueError, KeyError, TypeError, binascii.Error) as exc:
                raise ApiError(400, {"page_info": "Invalid value."}) from exc
        else:
            filters = {k: q[k] for k in FILTERS if k in q}
        rows = self._matching(filters)
        if anchor is None:
            page = rows[:limit]
        elif direction == "next":
            page = [p for p in rows if p["id"] < anchor][:limit]
        else:
            page = [p for p in rows if p["id"] > anchor][-limit:]
        links = []
        base = str(request.url).split("?")[0]
        if page and rows[0]["id"] > page[0]["id"]:
            links.append(f'<{base}?limit={limit}&page_info={self._cursor(filters, page[0]["id"], "prev")}>; rel="previous"')
        if page and rows[-1]["id"] < page[-1]["id"]:
            links.append(f'<{base}?limit={limit}&page_info={self._cursor(filters, page[-1]["id"], "next")}>; rel="next"')
        fields = [f for f in (q.get("fields") or "").split(",") if f]
        out = [{k: v for k, v in p.items() if k in fields} if fields else p for p in page]
        return 200, {"orders": copy.deepcopy(out)}, ({"Link": ", ".join(links)} if links else {})

    def _order(self, order_id: str) -> SandboxOrder:
        order = self.orders.get(order_id.removesuffix(".json"))
        if order is None:
            raise ApiError(404, "Not Found")
        return order

    def _order_show(self, _request: Request, _body: Any, order_file: str) -> tuple[int, Any, dict]:
        return 200, {"order": copy.deepcopy(self._order(order_file).payload)}, {}

    def _fulfillment_orders(self, _request: Request, _body: Any, order_id: str) -> tuple[int, Any, dict]:
        return 200, {"fulfillment_orders": [self._fulfillment_order(self._order(order_id))]}, {}

    def _fulfillments_create(self, _request: Request, body: Any) -> tuple[int, Any, dict]:
        f = body.get("fulfillment") if isinstance(body, dict) else None
        groups = f.get("line_items_by_fulfillment_order") if isinstance(f, dict) else None
        if not groups or not isinstance(groups, list):
            raise ApiError(400, {"fulfillment": "Required parameter missing or invalid"})
        by_fo = {v["id"]: k for k, v in self._fo.items()}
        order_ids = {by_fo.get(g.get("fulfillment_order_id")) for g in groups if isinstance(g, dict)}
        if None in order_ids or len(order_ids) != 1:
            raise ApiError(404 if None in order_ids else 422, "Not Found" if None in order_ids
                           else ["All fulfillment orders must belong to the same order."])
        order = self.orders[order_ids.pop()]
        fo = self._fulfillment_order(order)
        if fo["status"] not in ("open", "in_progress"):
            raise ApiError(422, [f"Fulfillment order {fo['id']} has an unfulfillable status= {fo['status']}."])
        by_fo_line = {li["id"]: li for li in fo["line_items"]}
        quantities: dict[str, int] = {}
        for g in groups:
            wanted = g.get("fulfillment_order_line_items") or [
                {"id": li["id"], "quantity": li["fulfillable_quantity"]} for li in fo["line_items"]]
            for item in wanted:
                li = by_fo_line.get(item.get("id"))
                qty = item.get("quantity")
                if li is None or not isinstance(qty, int) or qty < 0 or qty > li["fulfillable_quantity"]:
                    raise ApiError(422, ["Invalid fulfillment order line item quantity requested."])
                if qty:
                    quantities[str(li["line_item_id"])] = qty
        if not quantities:
            raise ApiError(422, ["Invalid fulfillment order line item quantity requested."])
        tracking = f.get("tracking_info") or {}
        fulfillment = self._fulfil(order, quantities, tracking)
        self._touch(order)
        self._emit(fulfillment, "fulfillments/create")
        whole = order.payload["fulfillment_status"] == "fulfilled"
        for topic in ("orders/fulfilled" if whole else "orders/partially_fulfilled", "orders/updated"):
            self._emit(order.payload, topic)
        return 201, {"fulfillment": copy.deepcopy(fulfillment)}, {}

    def _inventory_set(self, _request: Request, body: Any) -> tuple[int, Any, dict]:
        body = body if isinstance(body, dict) else {}
        values = {k: body.get(k) for k in ("location_id", "inventory_item_id", "available")}
        bad = [k for k, v in values.items() if not isinstance(v, int) or isinstance(v, bool)]
        if bad:
            raise ApiError(422, {k: ["must be an integer"] for k in bad})
        if not any(loc["id"] == values["location_id"] and loc["active"] for loc in self.locations):
            raise ApiError(422, ["Location does not exist or is not active"])
        key = str(values["inventory_item_id"])
        if key not in self.inventory:
            raise ApiError(422, ["Inventory item does not exist"])
        self.inventory[key] = values["available"]
        at = self._stamp()[1]
        self.inventory_log.append({"platform_sku_id": key, "location_id": values["location_id"],
                                   "quantity": values["available"], "at": at})
        return 200, {"inventory_level": {**values, "updated_at": at,
                                         "admin_graphql_api_id": f"gid://shopify/InventoryLevel/{key}"}}, {}

    def _variant_show(self, _request: Request, _body: Any, variant_file: str) -> tuple[int, Any, dict]:
        wanted = variant_file.removesuffix(".json")
        for code, ids in self.products.items():
            if str(ids["variant_id"]) == wanted:
                return 200, {"variant": {"id": ids["variant_id"], "product_id": ids["product_id"], "sku": code,
                                         "inventory_item_id": ids["inventory_item_id"],
                                         "inventory_management": "shopify",
                                         "inventory_quantity": self.inventory.get(str(ids["inventory_item_id"]), 0),
                                         "admin_graphql_api_id": f"gid://shopify/ProductVariant/{wanted}"}}, {}
        raise ApiError(404, "Not Found")

    def _shop(self, _request: Request, _body: Any) -> tuple[int, Any, dict]:
        domain = self.credentials["shop_domain"]
        return 200, {"shop": {"id": 60_000_000_001, "name": self.shop_name, "email": "owner@oms-demo.example",
                              "domain": domain, "myshopify_domain": domain, "country_code": "US", "currency": "USD",
                              "iana_timezone": str(self.timezone), "plan_name": "basic",
                              "money_format": "${{amount}}", "created_at": "2023-03-01T09:00:00-05:00"}}, {}

    def _locations(self, _request: Request, _body: Any) -> tuple[int, Any, dict]:
        return 200, {"locations": copy.deepcopy(self.locations)}, {}

    def _webhooks_index(self, request: Request, _body: Any) -> tuple[int, Any, dict]:
        q = request.query_params
        rows = [w for w in self.webhooks if q.get("address") in (None, w["address"])
                and q.get("topic") in (None, w["topic"])]
        return 200, {"webhooks": copy.deepcopy(rows)}, {}

    def _webhooks_create(self, request: Request, body: Any) -> tuple[int, Any, dict]:
        w = body.get("webhook") if isinstance(body, dict) else None
        if not isinstance(w, dict):
            raise ApiError(400, {"webhook": "Required parameter missing or invalid"})
        errors = {}
        if w.get("topic") not in TOPICS:
            errors["topic"] = [f"Invalid topic specified: {w.get('topic')}. Topics allowed: {', '.join(sorted(TOPICS))}"]
        if not str(w.get("address") or "").startswith(("http://", "https://")):
            errors["address"] = ["can't be blank" if not w.get("address") else "is invalid"]
        elif any(s["topic"] == w.get("topic") and s["address"] == w["address"] for s in self.webhooks):
            errors["address"] = ["for this topic has already been taken"]
        if errors:
            raise ApiError(422, errors)
        at = self._stamp()[1]
        version = request.url.path.split("/admin/api/")[1].split("/")[0]
        sub = {"id": self._new_id(), "address": w["address"], "topic": w["topic"], "format": w.get("format", "json"),
               "fields": [], "metafield_namespaces": [], "api_version": version, "created_at": at, "updated_at": at}
        self.webhooks.append(sub)
        return 201, {"webhook": copy.deepcopy(sub)}, {}

    def _webhooks_delete(self, _request: Request, _body: Any, webhook_file: str) -> tuple[int, Any, dict]:
        before = len(self.webhooks)
        self.webhooks[:] = [w for w in self.webhooks if str(w["id"]) != webhook_file.removesuffix(".json")]
        if len(self.webhooks) == before:
            raise ApiError(404, "Not Found")
        return 200, {}, {}

    def router(self) -> Router:
        api = "/admin/api/{version:str}"
        table = [
            ("GET", f"{api}/orders.json", self._orders_index), ("GET", f"{api}/orders/{{order_file:str}}", self._order_show),
            ("GET", f"{api}/orders/{{order_id:str}}/fulfillment_orders.json", self._fulfillment_orders),
            ("POST", f"{api}/fulfillments.json", self._fulfillments_create),
            ("POST", f"{api}/inventory_levels/set.json", self._inventory_set),
            ("GET", f"{api}/variants/{{variant_file:str}}", self._variant_show),
            ("GET", f"{api}/locations.json", self._locations), ("GET", f"{api}/shop.json", self._shop),
            ("GET", f"{api}/webhooks.json", self._webhooks_index), ("POST", f"{api}/webhooks.json", self._webhooks_create),
            ("DELETE", f"{api}/webhooks/{{webhook_file:str}}", self._webhooks_delete),
        ]
        handlers = [self._route(method, path, fn) for method, path, fn in table]
        return Router(path="/sandbox/shopify", route_handlers=[*handlers, *control_routes(self, "shopify")],
                      include_in_schema=False)

    def _route(self, method: str, path: str, fn: Callable[..., tuple[int, Any, dict]]) -> Any:
        params = re.findall(r"{(\w+):str}", path)[1:]       # path parameters after {version}

        async def endpoint(request: Request, version: FromPath[str]) -> Response:
            return await self.handle(request, version, fn, *(request.path_params[p] for p in params))
        name = f"shopify_{method.lower()}_{fn.__name__.strip('_')}"
        return route(path, http_method=[HttpMethod(method)], name=name, status_code=200)(endpoint)


Sandbox = ShopifySandbox
SANDBOX = ShopifySandbox
