"""WooCommerce sandbox: the REST API v3 wire format, served locally under /sandbox/woocommerce.

Connector config: api_base_url = http://<host>/sandbox/woocommerce (the site root), so calls land on
/sandbox/woocommerce/wp-json/wc/v3/orders and friends. Checked like the real API: consumer key and
secret as HTTP Basic or query parameters (401 {code, message, data{status}} otherwise), per_page
1..100 with X-WP-Total / X-WP-TotalPages, `modified_after`/`modified_before` exclusive like
WP_Date_Query, batch endpoints capped at 100 items with per-item errors. Webhooks created through
the API get the unsigned `webhook_id=N` ping first, then signed deliveries (body encoded like
wp_json_encode, slashes escaped); a subscription is disabled after more than 5 failures in a row.
"""
from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import math
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import httpx
from litestar import Request, Response, Router, route
from litestar.enums import HttpMethod

from server.channels.connectors._hmac import sign_base64
from server.channels.sandbox.base import DEMO_SKUS, UNLISTED_SKU, PlatformSandbox, SandboxOrder
from server.channels.sandbox.storefront import (
    BUYER_NOTES,
    CARRIERS,
    Delivery,
    People,
    WebhookOutbox,
    control_routes,
    local_price,
    money,
    pick_currency,
    pick_skus,
    read_json,
)
from server.core.money import to_minor

STATUSES = ("pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed", "trash")
TOPICS = {f"{r}.{e}" for r in ("order", "product", "customer", "coupon") for e in ("created", "updated", "deleted", "restored")}
ORDERBY = {"date", "id", "include", "title", "slug", "modified"}
GATEWAYS = {"stripe": "Credit Card (Stripe)", "paypal": "PayPal", "bacs": "Direct bank transfer", "cod": "Cash on delivery"}
VARIABLE_PARENT = 101                      # "Chinese tea", sold by weight as variations
VARIATIONS = {"TEA-LJ-250": (111, "Longjing 250g"), "TEA-PE-357": (112, "Pu-erh 357g")}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **data: Any):
        super().__init__(message)
        self.status, self.body = status, {"code": code, "message": message, "data": {"status": status, **data}}


def _invalid_id(kind: str = "shop_order") -> ApiError:
    return ApiError(404, f"woocommerce_rest_{kind}_invalid_id", "Invalid ID.")


def _invalid_param(name: str, why: str) -> ApiError:
    return ApiError(400, "rest_invalid_param", f"Invalid parameter(s): {name}", params={name: why})


class WooCommerceSandbox(PlatformSandbox):
    platform = "woocommerce"
    credentials = {"site_url": "https://tea.oms-demo.example",
                   "consumer_key": "ck_sandbox_3f9a1c7e5b2d4f6a8c0e1b3d5f7a9c1e",
                   "consumer_secret": "cs_sandbox_7d2e4f6a8b0c1d3e5f7a9b1c3d5e7f9a",
                   "webhook_secret": "wc_webhook_sandbox_secret_2f8e"}
    site_name = "OMS Demo Tea Shop"
    timezone = ZoneInfo("Europe/London")
    wc_version = "9.4.2"
    max_failures = 5
    retry_after = "2"

    def __init__(self, *, seed: int | None = None):
        super().__init__(seed=seed)
        self.outbox = WebhookOutbox()
        self.people = People(self.rng)
        self.notes: dict[str, list[dict]] = {}
        self.products: dict[int, dict] = {VARIABLE_PARENT: {
            "id": VARIABLE_PARENT, "name": "Chinese tea", "type": "variable", "sku": "TEA", "status": "publish",
            "manage_stock": False, "stock_quantity": None, "variations": [v[0] for v in VARIATIONS.values()]}}
        self.variations: dict[int, dict] = {}
        self.sku_ids: dict[str, tuple[int, int]] = {}     # SKU code -> (product id, variation id or 0)
        for i, sku in enumerate((*DEMO_SKUS, UNLISTED_SKU)):
            if sku.code in VARIATIONS:
                vid, name = VARIATIONS[sku.code]
                self.variations[vid] = {"id": vid, "parent_id": VARIABLE_PARENT, "sku": sku.code, "name": name,
                                        "price": sku.price_usd, "regular_price": sku.price_usd,
                                        "manage_stock": True, "stock_quantity": 100, "stock_status": "instock",
                                        "attributes": [{"id": 1, "name": "Weight", "option": name.split()[-1]}]}
                self.sku_ids[sku.code] = (VARIABLE_PARENT, vid)
                self.inventory[str(vid)] = 100
            else:
                pid = 120 + i
                self.products[pid] = {"id": pid, "name": sku.title_en, "type": "simple", "sku": sku.code,
                                      "status": "publish", "price": sku.price_usd, "regular_price": sku.price_usd,
                                      "manage_stock": True, "stock_quantity": 100, "stock_status": "instock",
                                      "variations": []}
                self.sku_ids[sku.code] = (pid, 0)
                self.inventory[str(pid)] = 100
        self._last_id = 1000

    # -- ids and time ----------------------------------------------------------------------
    def _new_id(self) -> int:
        self._last_id += self.rng.randint(1, 3)      # post ids are shared with other post types
        return self._last_id

    def _dates(self, name: str, at: datetime | None) -> dict:
        if at is None:
            return {name: None, f"{name}_gmt": None}
        local = at.astimezone(self.timezone).replace(tzinfo=None)
        return {name: local.isoformat(timespec="seconds"),
                f"{name}_gmt": at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")}

    def _at(self) -> datetime:
        return self.now().replace(microsecond=0)

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
                self._emit(order.payload, "order.created")
        return made

    def _build(self, status: str | None, codes: list[str] | None, currency: str | None, pickup: bool) -> SandboxOrder:
        rng = self.rng
        cur = pick_currency(rng, currency)
        buyer = self.people.person(cur)
        status = status or rng.choices(("paid", "pending", "authorized", "cod"), (70, 12, 6, 12))[0]
        method = {"paid": rng.choice(("stripe", "paypal")), "authorized": "stripe",
                  "pending": rng.choice(("bacs", "paypal")), "cod": "cod"}[status]
        wc_status = {"paid": "processing", "authorized": "on-hold", "cod": "processing",
                     "pending": "on-hold" if method == "bacs" else "pending"}[status]
        at = self._at()
        rate = Decimal("0.2") if buyer.country_code == "GB" else Decimal(0)
        pct = Decimal("0.10") if rng.random() < 0.2 else Decimal(0)
        lines = []
        for sku, qty, gift in pick_skus(rng, codes):
            unit = 0 if gift else local_price(sku.price_usd, cur)
            pid, vid = self.sku_ids[sku.code]
            subtotal, disc = unit * qty, int(unit * qty * pct)
            tax = int(((subtotal - disc) * rate).quantize(Decimal(1), ROUND_HALF_UP))
            meta = [{"id": self._new_id(), "key": "pa_weight", "value": VARIATIONS[sku.code][1].split()[-1],
                     "display_key": "Weight", "display_value": VARIATIONS[sku.code][1].split()[-1]}] if vid else []
            lines.append({"id": self._new_id(), "name": sku.title_en, "product_id": pid, "variation_id": vid,
                          "quantity": qty, "tax_class": "", "subtotal": money(subtotal, cur),
                          "subtotal_tax": money(int(subtotal * rate), cur), "total": money(subtotal - disc, cur),
                          "total_tax": money(tax, cur), "taxes": [{"id": 1, "total": money(tax, cur)}] if tax else [],
                          "meta_data": meta, "sku": sku.code, "parent_name": "Chinese tea" if vid else None,
                          "price": float(Decimal(money(subtotal - disc, cur)) / qty)})
        items = sum(to_minor(li["subtotal"], cur) for li in lines)
        discount = sum(to_minor(li["subtotal"], cur) - to_minor(li["total"], cur) for li in lines)
        tax = sum(to_minor(li["total_tax"], cur) for li in lines)
        shipping = 0 if pickup else {"USD": 599, "EUR": 490, "GBP": 399, "JPY": 800}[cur]
        address = {"first_name": buyer.first_name, "last_name": buyer.last_name, "company": buyer.company,
                   "address_1": buyer.address1, "address_2": buyer.address2, "city": buyer.city,
                   "state": buyer.province_code or buyer.province, "postcode": buyer.postcode,
                   "country": buyer.country_code}
        order_id = self._new_id()
        paid = at if status == "paid" else None
        payload = {
            "id": order_id, "parent_id": 0, "number": str(order_id), "status": wc_status, "currency": cur,
            "version": self.wc_version, "prices_include_tax": False, "created_via": "checkout",
            **self._dates("date_created", at), **self._dates("date_modified", at),
            "discount_total": money(discount, cur), "discount_tax": "0.00", "shipping_total": money(shipping, cur),
            "shipping_tax": "0.00", "cart_tax": money(tax, cur), "total": money(items - discount + shipping + tax, cur),
            "total_tax": money(tax, cur), "customer_id": 0 if rng.random() < 0.3 else rng.randint(2, 900),
            "order_key": f"wc_order_{rng.getrandbits(48):012x}",
            "billing": {**address, "email": buyer.email, "phone": buyer.phone},
            "shipping": ({k: "" for k in address} | {"phone": ""}) if pickup else {**address, "phone": buyer.phone},
            "payment_method": method, "payment_method_title": GATEWAYS[method],
            "transaction_id": f"ch_{rng.getrandbits(64):016x}" if paid else "",
            "customer_ip_address": f"203.0.113.{rng.randint(1, 254)}", "customer_user_agent": "Mozilla/5.0",
            "customer_note": rng.choice(BUYER_NOTES), "cart_hash": f"{rng.getrandbits(128):032x}",
            **self._dates("date_paid", paid), **self._dates("date_completed", None),
            "meta_data": [], "line_items": lines,
            "tax_lines": [{"id": self._new_id(), "rate_code": "GB-VAT-1", "rate_id": 1, "label": "VAT",
                           "compound": False, "tax_total": money(tax, cur), "shipping_tax_total": "0.00",
                           "rate_percent": 20}] if tax else [],
            "shipping_lines": [{"id": self._new_id(), "method_title": "Local pickup" if pickup else "Flat rate",
                                "method_id": "local_pickup" if pickup else "flat_rate", "instance_id": "1",
                                "total": money(shipping, cur), "total_tax": "0.00", "taxes": []}],
            "fee_lines": [],
            "coupon_lines": [{"id": self._new_id(), "code": "welcome10", "discount": money(discount, cur),
                              "discount_tax": "0.00"}] if discount else [],
            "refunds": [],
        }
        return SandboxOrder(external_id=str(order_id), payload=payload, updated_at=at, created_at=at)

    # -- moving orders along ---------------------------------------------------------------
    def advance(self, order_id: str, event: str) -> SandboxOrder:
        with self.lock:
            order = self.orders[order_id]
            p = order.payload
            status, cod_unpaid = p["status"], p["payment_method"] == "cod" and not p["date_paid_gmt"]
            if event == "pay":
                if status in ("pending", "on-hold", "failed"):
                    self._set_status(order, "processing")
                elif status == "processing" and cod_unpaid:   # the courier collected the cash
                    p.update(self._dates("date_paid", self._at()))
                else:
                    raise ValueError(f"cannot pay an order that is {status}")
            elif event in ("ship", "complete"):
                if status != "processing":
                    raise ValueError(f"only a processing order can be {event}ped/completed, not {status}")
                if event == "ship":
                    carrier, pattern, url = self.rng.choice(CARRIERS)
                    number = pattern % self.rng.randrange(10**6)
                    p["meta_data"].append({"id": self._new_id(), "key": "_wc_shipment_tracking_items", "value": [
                        {"tracking_provider": carrier, "tracking_number": number, "tracking_link": url + number,
                         "date_shipped": str(int(self._at().timestamp()))}]})
                self._set_status(order, "completed")
            elif event == "deliver":
                raise ValueError("WooCommerce has no delivered status")
            elif event == "cancel":
                if status not in ("pending", "on-hold", "failed", "processing"):
                    raise ValueError(f"cannot cancel an order that is {status}")
                self._set_status(order, "cancelled")
            elif event in ("refund", "partial_refund"):
                self._refund(order, full=event == "refund")
            else:
                raise ValueError(f"unknown event {event!r}")
            self._touch(order)
            self._emit(p, "order.updated")
            return order

    def _set_status(self, order: SandboxOrder, status: str) -> None:
        p, at = order.payload, self._at()
        p["status"] = status
        # payment_complete() stamps the paid date; a COD order counts as paid once completed
        cod_waits = p["payment_method"] == "cod" and status == "processing"
        if status in ("processing", "completed") and not p["date_paid_gmt"] and not cod_waits:
            p.update(self._dates("date_paid", at))
        if status == "completed":
            p.update(self._dates("date_completed", at))

    def _touch(self, order: SandboxOrder) -> None:
        order.updated_at = self._at()
        order.payload.update(self._dates("date_modified", order.updated_at))

    def _refund(self, order: SandboxOrder, *, full: bool) -> None:
        p, cur = order.payload, order.payload["currency"]
        if p["status"] not in ("processing", "completed") or not p["date_paid_gmt"]:
            raise ValueError(f"cannot refund an order that is {p['status']} and unpaid")
        done = sum(abs(to_minor(r["total"], cur)) for r in p["refunds"])
        left = to_minor(p["total"], cur) - done
        priced = [li for li in p["line_items"] if to_minor(li["total"], cur) > 0]
        amount = left if full else min((to_minor(li["total"], cur) // li["quantity"] for li in priced), default=0)
        if amount <= 0 or (not full and amount >= left):
            raise ValueError("nothing (partial) left to refund")
        p["refunds"].append({"id": self._new_id(), "reason": "Customer request", "total": f"-{money(amount, cur)}"})
        if full:
            p["status"] = "refunded"

    # -- webhooks --------------------------------------------------------------------------
    def _emit(self, payload: dict, topic: str) -> None:
        # wp_json_encode escapes slashes; the signature covers exactly these bytes
        raw = json.dumps(payload, separators=(",", ":")).replace("/", "\\/").encode()
        resource, event = topic.split(".")
        for sub in self.webhooks:
            if sub["topic"] != topic:
                continue
            delivery_id = hashlib.md5(f"{sub['id']}{int(self.now().timestamp())}".encode(),
                                      usedforsecurity=False).hexdigest()
            self.outbox.add(Delivery(url=sub["delivery_url"], body=raw, topic=topic, subscription_id=sub["id"], headers={
                "Content-Type": "application/json", "User-Agent": self._agent(),
                "X-WC-Webhook-Source": self.credentials["site_url"] + "/", "X-WC-Webhook-Topic": topic,
                "X-WC-Webhook-Resource": resource, "X-WC-Webhook-Event": event,
                "X-WC-Webhook-Signature": sign_base64(sub["secret"], raw), "X-WC-Webhook-ID": str(sub["id"]),
                "X-WC-Webhook-Delivery-ID": delivery_id}))

    def _agent(self) -> str:
        return f"WooCommerce/{self.wc_version} Hookshot (WordPress/6.7.1)"

    async def deliver_pending(self, client: httpx.AsyncClient) -> int:
        subs = {s["id"]: s for s in self.webhooks}

        def hold(d: Delivery) -> bool:        # kept, not lost, while its webhook is paused/disabled
            return d.topic != "ping" and subs.get(d.subscription_id, {}).get("status") != "active"

        def on_result(d: Delivery, ok: bool) -> None:
            sub = subs.get(d.subscription_id)
            if sub is None or d.topic == "ping":
                return
            sub["failure_count"] = 0 if ok else sub["failure_count"] + 1
            if sub["failure_count"] > self.max_failures:
                sub["status"] = "disabled"
        return await self.outbox.deliver(client, hold=hold, on_result=on_result)

    # -- the REST API ----------------------------------------------------------------------
    def _authenticate(self, request: Request) -> None:
        key, secret = request.query_params.get("consumer_key"), request.query_params.get("consumer_secret")
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("basic "):
            try:
                key, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                key = secret = None
        if not key:
            raise ApiError(401, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
        if key != self.credentials["consumer_key"]:
            raise ApiError(401, "woocommerce_rest_authentication_error", "Consumer key is invalid.")
        if secret != self.credentials["consumer_secret"]:
            raise ApiError(401, "woocommerce_rest_authentication_error", "Consumer secret is invalid.")

    async def handle(self, request: Request, fn: Callable[..., tuple[int, Any, dict]], *args: Any) -> Response:
        raw = await request.body()
        with self.lock:
            self.requests.append({"method": request.method, "path": request.url.path,
                                  "params": dict(request.query_params)})
            failure = self.fail_next.pop(0) if self.fail_next else None
        if failure is not None:
            headers = {"Retry-After": self.retry_after} if failure[0] == 429 else {}
            return Response(content=failure[1], status_code=failure[0], headers=headers)
        try:
            self._authenticate(request)
            try:
                body = read_json(raw)
            except ValueError as exc:
                raise ApiError(400, "rest_invalid_json", "Invalid JSON body passed.") from exc
            with self.lock:
                status, content, headers = fn(request, body if isinstance(body, dict) else {}, *args)
        except ApiError as exc:
            status, content, headers = exc.status, exc.body, {}
        return Response(content=content, status_code=status, headers=headers)

    def _order(self, order_id: str) -> SandboxOrder:
        order = self.orders.get(order_id)
        if order is None:
            raise _invalid_id()
        return order

    def _orders_index(self, request: Request, _body: dict) -> tuple[int, Any, dict]:
        q = request.query_params
        try:
            page, per_page = int(q.get("page", 1)), int(q.get("per_page", 10))
        except ValueError as exc:
            raise _invalid_param("per_page", "per_page is not of type integer.") from exc
        if not 1 <= per_page <= 100:
            raise _invalid_param("per_page", "per_page must be between 1 (inclusive) and 100 (inclusive)")
        if page < 1:
            raise _invalid_param("page", "page must be greater than or equal to 1")
        orderby, order = q.get("orderby", "date"), q.get("order", "desc")
        if orderby not in ORDERBY or order not in ("asc", "desc"):
            raise _invalid_param("orderby" if orderby not in ORDERBY else "order", "not one of the allowed values")
        gmt = str(q.get("dates_are_gmt", "")).lower() in ("1", "true")
        statuses = set(str(q.get("status", "any")).split(","))

        def bound(name: str) -> datetime | None:
            if not q.get(name):
                return None
            try:
                naive = datetime.fromisoformat(q[name].replace("Z", ""))
            except ValueError as exc:
                raise _invalid_param(name, f"{name} is not a valid date.") from exc
            return naive.replace(tzinfo=UTC if gmt else self.timezone).astimezone(UTC)
        limits = {n: bound(n) for n in ("after", "before", "modified_after", "modified_before")}
        rows = []
        for o in self.orders.values():
            if not (("any" in statuses and o.payload["status"] != "trash") or o.payload["status"] in statuses):
                continue
            checks = ((limits["after"], o.created_at, 1), (limits["before"], o.created_at, -1),
                      (limits["modified_after"], o.updated_at, 1), (limits["modified_before"], o.updated_at, -1))
            # exclusive bounds, as WP_Date_Query's after/before without `inclusive`
            if all(b is None or (v > b if sign > 0 else v < b) for b, v, sign in checks):
                rows.append(o)
        key = {"modified": lambda o: (o.updated_at, int(o.external_id)),
               "id": lambda o: (int(o.external_id),)}.get(orderby, lambda o: (o.created_at, int(o.external_id)))
        rows.sort(key=key, reverse=order == "desc")
        total, pages = len(rows), math.ceil(len(rows) / per_page)
        chunk = rows[(page - 1) * per_page: page * per_page]
        base = str(request.url).split("?")[0]
        others = {k: v for k, v in q.items() if k not in ("page", "consumer_key", "consumer_secret")}

        def link(n: int, rel: str) -> str:
            return f'<{base}?{urlencode({**others, "page": n})}>; rel="{rel}"'
        links = [link(page - 1, "prev")] if 1 < page <= pages + 1 else []
        links += [link(page + 1, "next")] if page < pages else []
        headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)} | ({"Link": ", ".join(links)} if links else {})
        return 200, copy.deepcopy([o.payload for o in chunk]), headers

    def _order_show(self, _request: Request, _body: dict, order_id: str) -> tuple[int, Any, dict]:
        return 200, copy.deepcopy(self._order(order_id).payload), {}

    def _order_update(self, _request: Request, body: dict, order_id: str) -> tuple[int, Any, dict]:
        order = self._order(order_id)
        status = body.get("status")
        if status is not None and status not in STATUSES:
            raise _invalid_param("status", f"status is not one of {', '.join(STATUSES)}.")
        if status and status != order.payload["status"]:
            self._set_status(order, status)
            if status == "completed":
                self.fulfillments.append({"order_id": order_id, "status": "completed",
                                          "notes": [n["note"] for n in self.notes.get(order_id, [])]})
        if "customer_note" in body:
            order.payload["customer_note"] = str(body["customer_note"])
        self._touch(order)
        self._emit(order.payload, "order.updated")
        return 200, copy.deepcopy(order.payload), {}

    def _notes(self, request: Request, body: dict, order_id: str) -> tuple[int, Any, dict]:
        self._order(order_id)
        notes = self.notes.setdefault(order_id, [])
        if request.method == "GET":
            return 200, copy.deepcopy(notes[::-1]), {}
        if not body.get("note"):
            raise ApiError(400, "rest_missing_callback_param", "Missing parameter(s): note", params=["note"])
        note = {"id": self._new_id(), "author": "WooCommerce", **self._dates("date_created", self._at()),
                "note": str(body["note"]), "customer_note": bool(body.get("customer_note")), "added_by_user": False}
        notes.append(note)
        return 201, copy.deepcopy(note), {}

    def _set_stock(self, item: dict, body: dict) -> dict:
        if "stock_quantity" in body:
            qty = body["stock_quantity"]
            if not isinstance(qty, int) or isinstance(qty, bool):
                raise _invalid_param("stock_quantity", "stock_quantity is not of type integer.")
            item["manage_stock"] = bool(body.get("manage_stock", item["manage_stock"]))
            if item["manage_stock"]:
                item["stock_quantity"], item["stock_status"] = qty, "instock" if qty > 0 else "outofstock"
                self.inventory[str(item["id"])] = qty
                self.inventory_log.append({"platform_sku_id": str(item["id"]), "quantity": qty,
                                           "at": self._at().isoformat()})
        return copy.deepcopy(item)

    def _item(self, product_id: str, variation_id: str | None = None) -> dict:
        """The product, or the variation when it belongs to that product; 404 otherwise."""
        pid = int(product_id) if product_id.isdigit() else -1
        if variation_id is None:
            if pid not in self.products:
                raise _invalid_id("product")
            return self.products[pid]
        vid = int(variation_id) if variation_id.isdigit() else -1
        if pid not in self.products or vid not in self.products[pid]["variations"]:
            raise _invalid_id("product_variation")
        return self.variations[vid]

    def _product(self, request: Request, body: dict, product_id: str, variation_id: str | None = None):
        item = self._item(product_id, variation_id)
        return 200, (self._set_stock(item, body) if request.method == "PUT" else copy.deepcopy(item)), {}

    def _variation(self, request: Request, body: dict, product_id: str, variation_id: str):
        return self._product(request, body, product_id, variation_id)

    def _batch(self, _request: Request, body: dict, product_id: str | None = None) -> tuple[int, Any, dict]:
        updates = body.get("update") or []
        if len(updates) + len(body.get("create") or []) + len(body.get("delete") or []) > 100:
            raise ApiError(413, "rest_request_entity_too_large", "Unable to accept more than 100 items for this request.")
        if product_id is not None:
            self._item(product_id)
        out = []
        for u in updates:
            try:
                item = self._item(product_id, str(u.get("id"))) if product_id else self._item(str(u.get("id")))
                out.append(self._set_stock(item, u))
            except ApiError as exc:
                out.append({"id": u.get("id"), "error": {**exc.body, "data": {"status": 400}}})
        return 200, {"update": out}, {}

    def _variation_batch(self, request: Request, body: dict, product_id: str):
        return self._batch(request, body, product_id)

    def _webhooks(self, request: Request, body: dict, webhook_id: str | None = None) -> tuple[int, Any, dict]:
        def public(w: dict) -> dict:
            return {k: v for k, v in w.items() if k not in ("secret", "failure_count")}
        if webhook_id is None and request.method == "GET":
            return 200, [public(w) for w in self.webhooks], {"X-WP-Total": str(len(self.webhooks)), "X-WP-TotalPages": "1"}
        if webhook_id is None:     # POST: create, then ping the delivery URL like WC_Webhook::deliver_ping
            if not body.get("topic") or not body.get("delivery_url"):
                raise ApiError(400, "rest_missing_callback_param", "Missing parameter(s): topic, delivery_url")
            if body["topic"] not in TOPICS:
                raise ApiError(400, "woocommerce_rest_webhook_invalid_topic", "Webhook topic is required and must be valid.")
            at = self._at()
            hook = {"id": self._new_id(), "name": body.get("name") or f"Webhook created on {at:%b %d, %Y @ %I:%M %p}",
                    "status": body.get("status", "active"), "topic": body["topic"],
                    "resource": body["topic"].split(".")[0], "event": body["topic"].split(".")[1],
                    "hooks": [f"woocommerce_new_{body['topic'].split('.')[0]}"], "delivery_url": body["delivery_url"],
                    **self._dates("date_created", at), **self._dates("date_modified", at),
                    "secret": body.get("secret") or hashlib.sha256(str(at).encode()).hexdigest(), "failure_count": 0}
            self.webhooks.append(hook)
            self.outbox.add(Delivery(url=hook["delivery_url"], body=f"webhook_id={hook['id']}".encode(), topic="ping",
                                     subscription_id=hook["id"], headers={"User-Agent": self._agent(),
                                     "Content-Type": "application/x-www-form-urlencoded"}))
            return 201, public(hook), {}
        hook = next((w for w in self.webhooks if str(w["id"]) == webhook_id), None)
        if hook is None:
            raise ApiError(404, "woocommerce_rest_webhook_invalid_id", "Invalid ID.")
        if request.method == "DELETE":
            self.webhooks.remove(hook)
        elif request.method == "PUT":
            hook.update({k: body[k] for k in ("name", "status", "delivery_url", "secret") if k in body})
            if body.get("status") == "active":
                hook["failure_count"] = 0
        return 200, public(hook), {}

    def _system_status(self, _request: Request, _body: dict) -> tuple[int, Any, dict]:
        site = self.credentials["site_url"]
        return 200, {"environment": {"home_url": site, "site_url": site, "version": self.wc_version,
                                     "wp_version": "6.7.1", "default_timezone": "UTC"},
                     "settings": {"currency": "USD", "currency_symbol": "&#36;", "api_enabled": True},
                     "security": {"secure_connection": True}, "active_plugins": []}, {}

    def router(self) -> Router:
        api = "/wp-json/wc/v3"
        table = [
            ("GET", "/orders", self._orders_index), ("GET", "/orders/{order_id:str}", self._order_show),
            ("PUT", "/orders/{order_id:str}", self._order_update),
            ("GET,POST", "/orders/{order_id:str}/notes", self._notes),
            ("GET,PUT", "/products/{product_id:str}", self._product),
            ("GET,PUT", "/products/{product_id:str}/variations/{variation_id:str}", self._variation),
            ("POST", "/products/batch", self._batch),
            ("POST", "/products/{product_id:str}/variations/batch", self._variation_batch),
            ("GET,POST", "/webhooks", self._webhooks), ("GET,PUT,DELETE", "/webhooks/{webhook_id:str}", self._webhooks),
            ("GET", "/system_status", self._system_status),
        ]
        handlers = [self._route(methods, api + path, fn) for methods, path, fn in table]

        @route("/wp-json", http_method=[HttpMethod.GET], name="woocommerce_wp_index")
        async def index() -> Response:      # the public WordPress REST index: site title and namespaces
            return Response(content={"name": self.site_name, "description": "Fine tea, shipped worldwide",
                                     "url": self.credentials["site_url"], "home": self.credentials["site_url"],
                                     "namespaces": ["oembed/1.0", "wc/v3", "wp/v2"]}, status_code=200)
        return Router(path="/sandbox/woocommerce", route_handlers=[*handlers, index, *control_routes(self, "woocommerce")],
                      include_in_schema=False)

    def _route(self, methods: str, path: str, fn: Callable[..., tuple[int, Any, dict]]) -> Any:
        params = [p.split(":")[0] for p in path.split("{")[1:]]

        async def endpoint(request: Request) -> Response:
            return await self.handle(request, fn, *(request.path_params[p] for p in params))
        name = f"woocommerce_{fn.__name__.strip('_')}_{methods.replace(',', '_').lower()}_{len(params)}"
        return route(path, http_method=[HttpMethod(m) for m in methods.split(",")], name=name, status_code=200)(endpoint)


Sandbox = WooCommerceSandbox
SANDBOX = WooCommerceSandbox
