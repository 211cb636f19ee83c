"""Amazon Selling Partner API sandbox: LWA, Orders v0, Listings Items and Sellers, served locally.

Under /sandbox/amazon: `POST /auth/o2/token` (LWA, refresh_token grant; the demo config points
`lwa_url` here), `GET /orders/v0/orders`, `GET /orders/v0/orders/{id}`, `GET …/{id}/orderItems`,
`POST …/{id}/shipmentConfirmation`, `PATCH /listings/2021-08-01/items/{sellerId}/{sku}`,
`GET /sellers/v1/marketplaceParticipations`. Like Amazon it requires a live `x-amz-access-token`,
rejects a LastUpdatedBefore/CreatedBefore later than two minutes ago (400 InvalidInput), wants
exactly one of CreatedAfter / LastUpdatedAfter, pages with NextToken (a keyset cursor here, so an
order that changes while someone pages never makes them skip another) and throttles every operation
with a token bucket, answering 429 QuotaExceeded with `x-amzn-RateLimit-Limit`. Rates default to
generous values for the demo; pass `rate_limits=REAL_RATES` to get Amazon's.
One sandbox serves the US, UK, DE and JP marketplaces at once (Amazon splits them by region).
"""
import base64
import copy
import json
import threading
import time
import uuid
import zlib
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from litestar import Request, Response, Router, route
from litestar.enums import HttpMethod
from litestar.params import FromPath

from server.channels.sandbox.base import DEMO_SKUS, UNLISTED_SKU, DemoSku, PlatformSandbox, SandboxOrder
from server.core.clock import parse_iso, utc

# id -> (country, currency, name, domain, language, order id prefix, exchange rate from USD)
MARKETPLACES = {
    "ATVPDKIKX0DER": ("US", "USD", "Amazon.com", "www.amazon.com", "en_US", "113", Decimal("1")),
    "A1F83G8C2ARO7P": ("GB", "GBP", "Amazon.co.uk", "www.amazon.co.uk", "en_GB", "202", Decimal("0.80")),
    "A1PA6795UKMFR9": ("DE", "EUR", "Amazon.de", "www.amazon.de", "de_DE", "304", Decimal("0.92")),
    "A1VC38T7YXB528": ("JP", "JPY", "Amazon.co.jp", "www.amazon.co.jp", "ja_JP", "503", Decimal("150")),
}
PEOPLE = {
    "US": (("Emily Johnson", "Michael Smith", "Sarah Miller", "David Brown"),
           (("1200 Pine St", "Seattle", "WA", "98101"), ("500 Congress Ave", "Austin", "TX", "78701"),
            ("77 Court St", "Brooklyn", "NY", "11201"), ("1600 Glenarm Pl", "Denver", "CO", "80202"))),
    "GB": (("Oliver Taylor", "Amelia Jones", "Harry Wilson"),
           (("221B Baker Street", "London", "", "NW1 6XE"), ("1 Piccadilly", "Manchester", "Greater Manchester", "M1 1RG"),
            ("12 Princes Street", "Edinburgh", "Midlothian", "EH2 2AN"))),
    "DE": (("Lukas Müller", "Anna Schmidt", "Jonas Weber"),
           (("Unter den Linden 7", "Berlin", "Berlin", "10117"), ("Marienplatz 1", "München", "Bayern", "80331"),
            ("Hohe Straße 52", "Köln", "Nordrhein-Westfalen", "50667"))),
    "JP": (("佐藤 花子", "鈴木 一郎", "高橋 美咲"),
           (("神南1-2-3", "渋谷区", "東京都", "150-0041"), ("梅田3-1-1", "大阪市北区", "大阪府", "530-0001"),
            ("北1条西2丁目", "札幌市中央区", "北海道", "060-0001"))),
}
OPS = ("getOrders", "getOrder", "getOrderItems", "confirmShipment", "patchListingsItem",
       "getMarketplaceParticipations")
REAL_RATES = {"getOrders": (0.0167, 20), "getOrder": (0.5, 30), "getOrderItems": (0.5, 30),
              "confirmShipment": (2.0, 10), "patchListingsItem": (5.0, 10),
              "getMarketplaceParticipations": (0.016, 15)}
DEV_RATES = dict.fromkeys(OPS, (100.0, 200))
SETTLE = timedelta(minutes=2)
OPEN = ("Pending", "PendingAvailability", "Unshipped")


def _iso(dt: datetime) -> str:
    return utc(dt).strftime("%Y-%m-%dT%H:%M:%SZ")


def _errors(status: int, code: str, message: str, details: str = "", headers: dict | None = None) -> Response:
    return Response(content={"errors": [{"code": code, "message": message, "details": details}]},
                    status_code=status, headers=headers, media_type="application/json")


class Rejected(Exception):
    def __init__(self, status: int, code: str, message: str, details: str = ""):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def _invalid(message: str) -> Rejected:
    return Rejected(400, "InvalidInput", message)


def _sku(code: str) -> DemoSku:
    for sku in (*DEMO_SKUS, UNLISTED_SKU):
        if sku.code == code:
            return sku
    raise ValueError(f"unknown SKU code {code!r}")


def _csv(value: str | None) -> list[str]:
    return [v for v in (value or "").split(",") if v]


def _token(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()


def _untoken(token: str) -> dict:
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode()))
    except ValueError as exc:
        raise _invalid("Invalid NextToken.") from exc


class AmazonSandbox(PlatformSandbox):
    platform = "amazon"
    credentials = {
        "client_id": "amzn1.application-oa2-client.sandbox",
        "client_secret": "sandbox-amazon-client-secret",
        "refresh_token": "Atzr|sandbox-amazon-refresh-token",
        "marketplace_ids": ",".join(MARKETPLACES),
        "seller_id": "A1SANDBOXSELLER",
    }

    def __init__(self, *, seed: int | None = None, rate_limits: dict[str, tuple[float, int]] | None = None,
                 token_ttl: int = 3600, items_page_size: int = 100):
        super().__init__(seed=seed)
        self.rates = {**DEV_RATES, **(rate_limits or {})}
        self._buckets = {op: [float(self.rates[op][1]), time.monotonic()] for op in OPS}
        self._bucket_lock = threading.Lock()
        self.token_ttl = token_ttl
        self.items_page_size = items_page_size
        self.tokens: dict[str, datetime] = {}          # issued access token -> expiry
        self.inventory.update({sku.code: 100 for sku in DEMO_SKUS})
        self.store_name = "OMS Demo Tea Co."

    # -- generator ----------------------------------------------------------------------------
    def _money(self, amount: Decimal, currency: str) -> dict:
        places = Decimal(1) if currency == "JPY" else Decimal("0.01")
        return {"CurrencyCode": currency, "Amount": str(amount.quantize(places, rounding=ROUND_HALF_UP))}

    def _items(self, order_id: str, marketplace: str, codes: list[str] | None) -> list[dict]:
        rng = self.rng
        _, currency, *_, fx = MARKETPLACES[marketplace]
        places = Decimal(1) if currency == "JPY" else Decimal("0.01")
        skus = [_sku(c) for c in codes] if codes else rng.sample(DEMO_SKUS, rng.randint(1, 3))
        lines: list[tuple[DemoSku, int, bool]] = [(s, rng.randint(1, 3), False) for s in skus]
        if not codes and rng.random() < 0.10:    # zero-priced promotional gift
            lines.append((_sku("FLT-SS-02"), 1, True))
        if not codes and rng.random() < 0.08:    # an item the merchant never listed in OMS
            lines.append((UNLISTED_SKU, 1, False))
        items = []
        for n, (sku, qty, gift) in enumerate(lines):
            unit = Decimal(0) if gift else (Decimal(sku.price_usd) * fx).quantize(places, rounding=ROUND_HALF_UP)
            total = unit * qty
            if qty > 1 and total and rng.random() < 0.15:   # quantity pricing: a total that does not divide
                total -= places
            promo = (total / 10).quantize(places) if total and rng.random() < 0.2 else Decimal(0)
            tax = (total * Decimal("0.0825")).quantize(places) if currency == "USD" else Decimal(0)
            shipping = Decimal("4.99") if (currency == "USD" and n == 0 and rng.random() < 0.4) else Decimal(0)
            items.append({
                "ASIN": f"B0{zlib.crc32(sku.code.encode()) % 10**8:08d}", "SellerSKU": sku.code,
                "OrderItemId": f"{rng.randrange(10**13, 10**14)}", "Title": sku.title_en,
                "QuantityOrdered": qty, "QuantityShipped": 0,
                "ItemPrice": self._money(total, currency), "ItemTax": self._money(tax, currency),
                "ShippingPrice": self._money(shipping, currency), "ShippingTax": self._money(Decimal(0), currency),
                "ShippingDiscount": self._money(Decimal(0), currency),
                "PromotionDiscount": self._money(promo, currency),
                "PromotionDiscountTax": self._money(Decimal(0), currency),
                "PromotionIds": ["GIFT-WITH-PURCHASE"] if gift else (["SPRING10"] if promo else []),
                "IsGift": "false", "ConditionId": "New", "IsTransparency": False,
                "ProductInfo": {"NumberOfItems": "1"}, "SerialNumberRequired": False,
            })
        return items

    def _total(self, items: list[dict], currency: str) -> dict:
        amount = sum(Decimal(i["ItemPrice"]["Amount"]) + Decimal(i["ShippingPrice"]["Amount"])
                     - Decimal(i["PromotionDiscount"]["Amount"]) - Decimal(i["ShippingDiscount"]["Amount"])
                     + (Decimal(i["ItemTax"]["Amount"]) if currency == "USD" else 0) for i in items)
        return self._money(Decimal(amount), currency)

    def _address(self, country: str, full: bool) -> dict:
        names, places = PEOPLE[country]
        line1, city, region, postcode = self.rng.choice(places)
        addr = {"City": city, "StateOrRegion": region, "PostalCode": postcode, "CountryCode": country}
        if full:   # only with a Restricted Data Token
            addr.update({"Name": self.rng.choice(names), "AddressLine1": line1, "AddressType": "Residential",
                         "Phone": "+1 206-555-0100" if country == "US" else ""})
        return addr

    def generate(self, count: int = 1, **options: Any) -> list[SandboxOrder]:
        """Options: status ("unpaid" | "paid" | "shipped" | "cancelled"), skus (codes), marketplace
        (id), channel ("MFN" | "AFN"), at (the orders' LastUpdateDate; default now)."""
        status = options.get("status")
        if status not in (None, "unpaid", "paid", "shipped", "completed", "cancelled"):
            raise ValueError(f"unknown status {status!r}")
        rng, out = self.rng, []
        with self.lock:
            for _ in range(count):
                at = options.get("at") or self.now()
                marketplace = options.get("marketplace") or rng.choices(list(MARKETPLACES), (55, 15, 15, 15))[0]
                country, currency, channel_name, *_rest, prefix, _fx = MARKETPLACES[marketplace]
                order_id = f"{prefix}-{rng.randrange(10**7):07d}-{rng.randrange(10**7):07d}"
                items = self._items(order_id, marketplace, options.get("skus"))
                pending = status == "unpaid" or (status is None and rng.random() < 0.2)
                purchased = at - timedelta(seconds=rng.randint(60, 3600))
                channel = options.get("channel") or ("AFN" if rng.random() < 0.15 else "MFN")
                order: dict[str, Any] = {
                    "AmazonOrderId": order_id, "SellerOrderId": order_id, "PurchaseDate": _iso(purchased),
                    "LastUpdateDate": _iso(at), "OrderStatus": "Pending" if pending else "Unshipped",
                    "FulfillmentChannel": channel, "SalesChannel": channel_name,
                    "ShipServiceLevel": "Std Dom", "ShipmentServiceLevelCategory": "Standard",
                    "OrderType": "StandardOrder", "MarketplaceId": marketplace,
                    "NumberOfItemsShipped": 0, "NumberOfItemsUnshipped": sum(i["QuantityOrdered"] for i in items),
                    "PaymentMethod": "COD" if (country == "JP" and rng.random() < 0.1) else "Other",
                    "PaymentMethodDetails": ["Standard"], "EarliestShipDate": _iso(purchased),
                    "LatestShipDate": _iso(purchased + timedelta(days=2)), "IsBusinessOrder": False,
                    "IsPrime": False, "IsPremiumOrder": False, "IsGlobalExpressEnabled": False,
                    "IsReplacementOrder": False, "IsSoldByAB": False, "IsISPU": False,
                    "IsAccessPointOrder": False, "HasRegulatedItems": False,
                }
                if not pending or rng.random() < 0.5:   # Pending orders often come without a total
                    order["OrderTotal"] = self._total(items, currency)
                if not pending and rng.random() < 0.85:
                    full = rng.random() < 0.4
                    order["ShippingAddress"] = self._address(country, full)
                    if full:
                        order["BuyerInfo"] = {"BuyerEmail": f"{uuid.uuid4().hex[:16]}@marketplace.amazon.com"}
                created = self.put(SandboxOrder(order_id, order, utc(at), utc(purchased), items))
                for event in {"shipped": ["ship"], "completed": ["ship"], "cancelled": ["cancel"]}.get(status or "", []):
                    self.advance(order_id, event, at=at)
                out.append(created)
        return out

    # -- life of an order ---------------------------------------------------------------------
    def _touch(self, order: SandboxOrder, status: str | None = None, at: datetime | None = None) -> None:
        when = max(utc(at or self.now()), order.updated_at)
        if status:
            order.payload["OrderStatus"] = status
        order.payload["LastUpdateDate"] = _iso(when)
        order.updated_at = parse_iso(_iso(when)) or when

    def _ship_items(self, order: SandboxOrder, quantities: dict[str, int], at: datetime | None = None) -> None:
        for item in order.items:
            item["QuantityShipped"] = min(item["QuantityOrdered"],
                                          item["QuantityShipped"] + quantities.get(item["OrderItemId"], 0))
        shipped = sum(i["QuantityShipped"] for i in order.items)
        order.payload["NumberOfItemsShipped"] = shipped
        order.payload["NumberOfItemsUnshipped"] = sum(i["QuantityOrdered"] for i in order.items) - shipped
        done = all(i["QuantityShipped"] >= i["QuantityOrdered"] for i in order.items)
        self._touch(order, "Shipped" if done else "PartiallyShipped", at)

    def advance(self, order_id: str, event: str, at: datetime | None = None) -> SandboxOrder:
        with self.lock:
            order = self.orders.get(order_id)
            if order is None:
                raise KeyError(order_id)
            p, status = order.payload, order.payload["OrderStatus"]
            if event == "pay" and status in ("Pending", "PendingAvailability"):
                p.setdefault("OrderTotal", self._total(order.items, MARKETPLACES[p["MarketplaceId"]][1]))
                p.setdefault("ShippingAddress", self._address(MARKETPLACES[p["MarketplaceId"]][0], False))
                self._touch(order, "Unshipped", at)
            elif event == "ship" and status in ("Unshipped", "PartiallyShipped"):
                self._ship_items(order, {i["OrderItemId"]: i["QuantityOrdered"] for i in order.items}, at)
            elif event == "cancel" and status in OPEN:
                self._touch(order, "Canceled", at)
            elif event in ("deliver", "complete", "refund", "partial_refund"):
                raise ValueError(f"Amazon orders end at Shipped; {event} is not an order status change "
                                 "(refunds show in the Finances API)")
            else:
                raise ValueError(f"cannot {event} an order in status {status}")
            return order

    # -- access control -----------------------------------------------------------------------
    def expire_tokens(self) -> None:
        """Make every issued access token expired (tests: the connector must refresh)."""
        with self.lock:
            past = self.now() - timedelta(seconds=1)
            self.tokens = dict.fromkeys(self.tokens, past)

    def drain(self, operation: str) -> None:
        """Empty an operation's bucket, as if someone else had just used the whole burst."""
        with self._bucket_lock:
            self._buckets[operation] = [0.0, time.monotonic()]

    def _take(self, operation: str) -> bool:
        rate, burst = self.rates[operation]
        with self._bucket_lock:
            tokens, at = self._buckets[operation]
            now = time.monotonic()
            tokens = min(float(burst), tokens + (now - at) * rate)
            ok = tokens >= 1
            self._buckets[operation] = [tokens - 1 if ok else tokens, now]
            return ok

    def _check_token(self, request: Request) -> None:
        token = request.headers.get("x-amz-access-token", "")
        expires = self.tokens.get(token)
        denied = "Access to requested resource is denied."
        if not token:
            raise Rejected(403, "Unauthorized", denied, "The access token is missing.")
        if expires is None:
            raise Rejected(403, "Unauthorized", denied, "The access token you provided is revoked, malformed or invalid.")
        if expires <= self.now():
            raise Rejected(403, "Unauthorized", denied, "The access token you provided has expired.")

    async def handle(self, request: Request, operation: str, **args: Any) -> Response:
        rate_header = {"x-amzn-RateLimit-Limit": str(self.rates[operation][0])}
        with self.lock:
            self.requests.append({"operation": operation, "path": request.url.path,
                                  "params": dict(request.query_params)})
            failure = self.fail_next.pop(0) if self.fail_next else None
        if failure is not None:
            return Response(content=failure[1], status_code=failure[0], media_type="application/json",
                            headers=rate_header if failure[0] == 429 else None)
        try:
            self._check_token(request)
            if not self._take(operation):
                return _errors(429, "QuotaExceeded", "You exceeded your quota for the requested resource.",
                               headers=rate_header)
            raw = await request.body() if request.method in ("POST", "PATCH") else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError as exc:
                raise _invalid("The request body is not valid JSON.") from exc
            status, content = getattr(self, "_op_" + operation)(dict(request.query_params), body, **args)
        except Rejected as exc:
            return _errors(exc.status, exc.code, exc.message, exc.details, headers=rate_header)
        if status == 204:
            return Response(content=b"", status_code=204, headers=rate_header)
        return Response(content=content, status_code=status, headers=rate_header, media_type="application/json")

    # -- operations: (query, json body, path args) -> (status, content) --------------------------
    def _op_getOrders(self, q: dict, body: Any) -> tuple[int, dict]:
        marketplaces = [m for m in (q.get("MarketplaceIds") or "").split(",") if m]
        if not marketplaces:
            raise _invalid("Missing required parameter MarketplaceIds.")
        if any(m not in MARKETPLACES for m in marketplaces):
            raise _invalid("Invalid MarketplaceIds.")
        if q.get("NextToken"):
            state = _untoken(q["NextToken"])
            query, cursor = state["q"], tuple(state["k"])
            if sorted(query["mp"]) != sorted(marketplaces):
                raise _invalid("MarketplaceIds must match the request that returned the NextToken.")
        else:
            query, cursor = self._orders_query(q, marketplaces), None
        field = "updated_at" if query["field"] == "LastUpdateDate" else "created_at"
        after, before = parse_iso(query["after"]), parse_iso(query["before"])
        with self.lock:
            rows = sorted(((getattr(o, field), o.external_id, o) for o in self.orders.values()
                           if after <= getattr(o, field) <= before and o.payload["MarketplaceId"] in query["mp"]
                           and (not query["statuses"] or o.payload["OrderStatus"] in query["statuses"])
                           and (not query["channels"] or o.payload["FulfillmentChannel"] in query["channels"])),
                          key=lambda r: (r[0], r[1]))
            if cursor:
                rows = [r for r in rows if (_iso(r[0]), r[1]) > cursor]
            page = rows[:query["size"]]
            payload: dict[str, Any] = {"Orders": [copy.deepcopy(r[2].payload) for r in page]}
        payload["CreatedBefore" if field == "created_at" else "LastUpdatedBefore"] = query["before"]
        if len(rows) > len(page):
            payload["NextToken"] = _token({"q": query, "k": [_iso(page[-1][0]), page[-1][1]]})
        return 200, {"payload": payload}

    def _orders_query(self, q: dict, marketplaces: list[str]) -> dict:
        created, updated = q.get("CreatedAfter"), q.get("LastUpdatedAfter")
        if bool(created) == bool(updated):
            raise _invalid("Exactly one of CreatedAfter and LastUpdatedAfter must be specified.")
        field = "PurchaseDate" if created else "LastUpdateDate"
        before_name, other = ("CreatedBefore", "LastUpdatedBefore") if created else ("LastUpdatedBefore", "CreatedBefore")
        if q.get(other):
            raise _invalid(f"{other} cannot be combined with {'CreatedAfter' if created else 'LastUpdatedAfter'}.")
        latest = self.now() - SETTLE
        try:
            after = parse_iso(created or updated)
            before = parse_iso(q[before_name]) if q.get(before_name) else latest
        except ValueError as exc:
            raise _invalid("Dates must be in ISO 8601 format.") from exc
        assert after is not None and before is not None
        if before > latest:
            raise _invalid(f"{before_name} must be a date at least 2 minutes before the time the request is made.")
        if after > before:
            raise _invalid(f"{'CreatedAfter' if created else 'LastUpdatedAfter'} must be before {before_name}.")
        try:
            size = int(q.get("MaxResultsPerPage") or 100)
        except ValueError as exc:
            raise _invalid("MaxResultsPerPage must be an integer.") from exc
        if not 1 <= size <= 100:
            raise _invalid("MaxResultsPerPage must be between 1 and 100.")
        return {"field": field, "after": _iso(after), "before": _iso(before), "mp": marketplaces,
                "statuses": _csv(q.get("OrderStatuses")), "channels": _csv(q.get("FulfillmentChannels")),
                "size": size}

    def _order(self, order_id: str) -> SandboxOrder:
        order = self.orders.get(order_id)
        if order is None:
            raise Rejected(404, "NotFound", f"Order {order_id} was not found.")
        return order

    def _op_getOrder(self, q: dict, body: Any, order_id: str) -> tuple[int, dict]:
        with self.lock:
            return 200, {"payload": copy.deepcopy(self._order(order_id).payload)}

    def _op_getOrderItems(self, q: dict, body: Any, order_id: str) -> tuple[int, dict]:
        start = int(_untoken(q["NextToken"]).get("i", 0)) if q.get("NextToken") else 0
        with self.lock:
            items = self._order(order_id).items
            page = copy.deepcopy(items[start:start + self.items_page_size])
        payload: dict[str, Any] = {"AmazonOrderId": order_id, "OrderItems": page}
        if start + self.items_page_size < len(items):
            payload["NextToken"] = _token({"o": order_id, "i": start + self.items_page_size})
        return 200, {"payload": payload}

    def _op_confirmShipment(self, q: dict, body: Any, order_id: str) -> tuple[int, None]:
        body = body if isinstance(body, dict) else {}
        package = body.get("packageDetail") or {}
        missing = [k for k in ("packageReferenceId", "carrierCode", "trackingNumber", "shipDate", "orderItems")
                   if not package.get(k)]
        if not body.get("marketplaceId") or missing:
            raise _invalid("Missing required field(s): " + ", ".join(missing or ["marketplaceId"]))
        if not str(package["packageReferenceId"]).isdigit() or int(package["packageReferenceId"]) < 1:
            raise _invalid("packageReferenceId must be a positive number.")
        if package["carrierCode"] == "Other" and not package.get("carrierName"):
            raise _invalid("carrierName is required when carrierCode is Other.")
        with self.lock:
            order = self._order(order_id)
            p = order.payload
            if body["marketplaceId"] != p["MarketplaceId"]:
                raise _invalid("marketplaceId does not match the order.")
            if p["FulfillmentChannel"] != "MFN" or p["OrderStatus"] not in ("Unshipped", "PartiallyShipped"):
                raise _invalid(f"The order cannot be confirmed: it is {p['FulfillmentChannel']} {p['OrderStatus']}.")
            known = {i["OrderItemId"]: i for i in order.items}
            quantities: dict[str, int] = {}
            for line in package["orderItems"]:
                item = known.get(str(line.get("orderItemId")))
                qty = int(line.get("quantity") or 0)
                if item is None or qty < 1 or qty > item["QuantityOrdered"] - item["QuantityShipped"]:
                    raise _invalid(f"Invalid orderItemId or quantity: {line!r}")
                quantities[item["OrderItemId"]] = qty
            self._ship_items(order, quantities)
            self.fulfillments.append({"order_id": order_id, "carrier": package["carrierCode"],
                                      "carrier_name": package.get("carrierName", ""),
                                      "tracking_number": package["trackingNumber"],
                                      "package_reference_id": str(package["packageReferenceId"]),
                                      "items": quantities, "at": _iso(self.now())})
        return 204, None

    def _op_patchListingsItem(self, q: dict, body: Any, seller_id: str, sku: str) -> tuple[int, dict]:
        if seller_id != self.credentials["seller_id"]:
            raise Rejected(403, "Unauthorized", "Access to requested resource is denied.",
                           "The sellerId does not match the authorized selling partner.")
        if not q.get("marketplaceIds"):
            raise _invalid("Missing required parameter marketplaceIds.")
        body = body if isinstance(body, dict) else {}
        if not body.get("productType") or not isinstance(body.get("patches"), list) or not body["patches"]:
            raise _invalid("productType and patches are required.")
        quantity = None
        for patch in body["patches"]:
            if patch.get("path") == "/attributes/fulfillment_availability" and patch.get("op") in ("replace", "merge"):
                value = (patch.get("value") or [{}])[0]
                quantity = value.get("quantity")
        submission = uuid.uuid4().hex
        if sku not in self.inventory:
            return 200, {"sku": sku, "status": "INVALID", "submissionId": submission, "issues": [
                {"code": "90000900", "message": f"The SKU {sku} does not exist for this seller.",
                 "severity": "ERROR", "attributeNames": []}]}
        if not isinstance(quantity, int) or quantity < 0:
            return 200, {"sku": sku, "status": "INVALID", "submissionId": submission, "issues": [
                {"code": "4000001", "message": "fulfillment_availability.quantity must be a whole number >= 0.",
                 "severity": "ERROR", "attributeNames": ["fulfillment_availability"]}]}
        with self.lock:
            self.inventory[sku] = quantity
            self.inventory_log.append({"sku": sku, "quantity": quantity, "marketplace_ids": q["marketplaceIds"],
                                       "submission_id": submission, "at": _iso(self.now())})
        return 200, {"sku": sku, "status": "ACCEPTED", "submissionId": submission, "issues": []}

    def _op_getMarketplaceParticipations(self, q: dict, body: Any) -> tuple[int, dict]:
        return 200, {"payload": [{
            "marketplace": {"id": mid, "countryCode": m[0], "name": m[2], "defaultCurrencyCode": m[1],
                            "defaultLanguageCode": m[4], "domainName": m[3]},
            "participation": {"isParticipating": True, "hasSuspendedListings": False},
            "storeName": self.store_name,
        } for mid, m in MARKETPLACES.items()]}

    # -- LWA ----------------------------------------------------------------------------------
    async def lwa(self, request: Request) -> Response:
        form = await request.form()
        c = self.credentials
        if form.get("client_id") != c["client_id"] or form.get("client_secret") != c["client_secret"]:
            return Response(content={"error": "invalid_client", "error_description": "Client authentication failed"},
                            status_code=401)
        if form.get("grant_type") != "refresh_token":
            return Response(content={"error": "unsupported_grant_type",
                                     "error_description": "The authorization grant type is not supported"},
                            status_code=400)
        if form.get("refresh_token") != c["refresh_token"]:
            return Response(content={"error": "invalid_grant", "error_description":
                                     "The request has an invalid grant parameter : refresh_token"}, status_code=400)
        token = "Atza|" + base64.urlsafe_b64encode(uuid.uuid4().bytes + uuid.uuid4().bytes).decode().rstrip("=")
        with self.lock:
            self.tokens[token] = self.now() + timedelta(seconds=self.token_ttl)
        return Response(content={"access_token": token, "refresh_token": c["refresh_token"],
                                 "token_type": "bearer", "expires_in": self.token_ttl}, status_code=200)

    ROUTES = (
        (HttpMethod.GET, "/orders/v0/orders", "getOrders"),
        (HttpMethod.GET, "/orders/v0/orders/{order_id:str}", "getOrder"),
        (HttpMethod.GET, "/orders/v0/orders/{order_id:str}/orderItems", "getOrderItems"),
        (HttpMethod.POST, "/orders/v0/orders/{order_id:str}/shipmentConfirmation", "confirmShipment"),
        (HttpMethod.PATCH, "/listings/2021-08-01/items/{seller_id:str}/{sku:str}", "patchListingsItem"),
        (HttpMethod.GET, "/sellers/v1/marketplaceParticipations", "getMarketplaceParticipations"),
    )

    def _route(self, method: HttpMethod, path: str, operation: str) -> Any:
        async def api(request: Request) -> Response:
            return await self.handle(request, operation, **request.path_params)
        return route(path, http_method=[method], name=f"amazon_{operation}")(api)

    def router(self) -> Router:
        @route("/auth/o2/token", http_method=[HttpMethod.POST], name="amazon_lwa")
        async def token(request: Request) -> Response:
            return await self.lwa(request)

        handlers = [token, *(self._route(*r) for r in self.ROUTES), *_control_routes(self)]
        return Router(path="/sandbox/amazon", route_handlers=handlers, include_in_schema=False)


def _control_routes(sandbox: AmazonSandbox) -> list:
    """Sandbox-only endpoints the demo UI and tests use to drive the fake platform."""

    @route("/_sandbox/generate", http_method=[HttpMethod.POST], name="amazon_sandbox_generate")
    async def generate(request: Request) -> Response:
        body = await request.json() if (await request.body()) else {}
        try:
            orders = sandbox.generate(int(body.get("count", 1)), status=body.get("status"), skus=body.get("skus"))
        except ValueError as exc:
            return Response(content={"error": str(exc)}, status_code=400)
        return Response(content={"ids": [o.external_id for o in orders]}, status_code=201)

    @route("/_sandbox/orders/{order_id:str}/{event:str}", http_method=[HttpMethod.POST],
           name="amazon_sandbox_event")
    async def event(order_id: FromPath[str], event: FromPath[str]) -> Response:
        try:
            order = sandbox.advance(order_id, event)
        except KeyError:
            return Response(content={"error": f"no order {order_id}"}, status_code=404)
        except ValueError as exc:
            return Response(content={"error": str(exc)}, status_code=409)
        return Response(content={"order_id": order_id, "order_status": order.payload["OrderStatus"]}, status_code=200)

    @route("/_sandbox/inventory", http_method=[HttpMethod.GET], name="amazon_sandbox_inventory")
    async def inventory() -> Response:
        with sandbox.lock:
            rows = [{"sku": k, "quantity": v} for k, v in sorted(sandbox.inventory.items())]
            return Response(content={"inventory": rows, "log": list(sandbox.inventory_log)}, status_code=200)

    @route("/_sandbox/orders", http_method=[HttpMethod.GET], name="amazon_sandbox_orders")
    async def orders() -> Response:
        with sandbox.lock:
            rows = sorted(sandbox.orders.values(), key=lambda o: o.updated_at, reverse=True)
            return Response(content={"orders": copy.deepcopy([{"order": o.payload, "items": o.items} for o in rows])},
                            status_code=200)

    return [generate, event, inventory, orders]


Sandbox = AmazonSandbox
