"""Shopify connector: Admin REST API over the shared httpx client.

api_base_url convention: the *shop origin*, without the /admin/api part. Requests go to
`{api_base_url}/admin/api/{api_version}/<resource>.json`. Unset, api_base_url is
`https://{shop_domain}`; the local sandbox is `http://<host>/sandbox/shopify`.
"""
from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from server.channels.connectors.base import (
    Capability,
    ConfigField,
    ConnectionCheck,
    Connector,
    ConnectorAuthError,
    ConnectorError,
    ConnectorTransientError,
    FetchedOrder,
    FulfillmentUpdate,
    InventoryUpdate,
    PushResult,
    WebhookEvent,
)
from server.channels.connectors.shopify import webhooks
from server.channels.connectors.shopify.mapping import to_fetched
from server.core.clock import utc

DEFAULT_API_VERSION = "2025-01"
MAX_PAGE_SIZE = 250
ATTEMPTS = 4                 # one call plus three retries of a transient failure
MAX_WAIT = 30.0              # longer Retry-After: give up now, the job queue retries later
_INVENTORY_ITEMS: dict[tuple[str, str], str] = {}   # (api base url, variant id) -> inventory item id
LEAK_PER_SECOND = 2.0        # REST leaky bucket drains 2 calls/s (standard plans)
_NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')

# Our carrier codes -> the tracking company names Shopify recognises (it builds tracking URLs from them).
CARRIERS = {
    "ups": "UPS", "usps": "USPS", "fedex": "FedEx", "dhl": "DHL Express", "dhl_express": "DHL Express",
    "dhl_ecommerce": "DHL eCommerce", "dpd": "DPD", "gls": "GLS", "royal_mail": "Royal Mail",
    "canada_post": "Canada Post", "australia_post": "Australia Post", "japan_post": "Japan Post (EN)",
    "yamato": "Yamato (EN)", "sf": "SF Express", "sf_express": "SF Express", "yto": "YTO Express",
    "zto": "ZTO Express", "sto": "STO Express", "yunda": "Yunda Express", "ems": "China Post",
    "china_post": "China Post", "4px": "4PX", "yunexpress": "YunExpress", "deutsche_post": "Deutsche Post (DE)",
    "postnl": "PostNL International", "la_poste": "La Poste",
}


def next_page_info(link_header: str | None) -> str | None:
    """The page_info cursor of the Link header's rel="next" URL, if any."""
    if not link_header:
        return None
    match = _NEXT_LINK.search(link_header)
    if not match:
        return None
    values = parse_qs(urlsplit(match.group(1)).query).get("page_info")
    return values[0] if values else None


def _error_message(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:300] or resp.reason_phrase
    errors = body.get("errors", body.get("error")) if isinstance(body, dict) else body
    if isinstance(errors, dict):
        parts = [f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in errors.items()]
        return "; ".join(parts)
    if isinstance(errors, list):
        return "; ".join(map(str, errors))
    return str(errors) if errors else resp.reason_phrase


def _retry_after(resp: httpx.Response) -> float | None:
    try:
        return max(0.0, float(resp.headers.get("Retry-After", "")))
    except ValueError:
        return None


def _iso(dt: datetime) -> str:
    return utc(dt).isoformat(timespec="seconds")


class ShopifyConnector(Connector):
    platform = "shopify"
    display_name = "Shopify"
    capabilities = frozenset({Capability.PULL_ORDERS, Capability.WEBHOOKS,
                              Capability.PUSH_INVENTORY, Capability.PUSH_FULFILLMENT})
    config_fields = [
        ConfigField("shop_domain", help="your-shop.myshopify.com"),
        ConfigField("access_token", secret=True, help="Admin API access token (shpat_...)"),
        ConfigField("api_version", required=False, default=DEFAULT_API_VERSION, help="Admin API version"),
        ConfigField("client_secret", secret=True, help="App client secret; Shopify signs webhooks with it"),
        ConfigField("location_id", required=False, help="Inventory location for stock pushes "
                    "(default: the first active location)"),
        ConfigField("page_size", required=False, default=MAX_PAGE_SIZE, help="Orders per page, at most 250"),
        ConfigField("api_base_url", required=False,
                    help="Shop origin override, e.g. the sandbox http://host/sandbox/shopify"),
    ]

    def __init__(self, config: Mapping[str, Any], credentials: Mapping[str, Any], http: httpx.AsyncClient):
        super().__init__(config, credentials, http)
        self._location: str | None = None
        self._sleep = asyncio.sleep          # tests may swap in a recorder

    # -- addressing ------------------------------------------------------------------------
    @property
    def shop_domain(self) -> str:
        domain = str(self.setting("shop_domain", "")).strip().lower()
        domain = domain.removeprefix("https://").removeprefix("http://").split("/")[0]
        if domain and "." not in domain:
            domain = f"{domain}.myshopify.com"
        return domain

    @property
    def api_base_url(self) -> str:
        configured = self.config.get("api_base_url")
        if configured:
            return str(configured).rstrip("/")
        if not self.shop_domain:
            raise ConnectorError("Shopify channel has no shop_domain", code="config_missing", field="shop_domain")
        return f"https://{self.shop_domain}"

    def _url(self, path: str) -> str:
        version = self.setting("api_version", DEFAULT_API_VERSION)
        return f"{self.api_base_url}/admin/api/{version}/{path}"

    @property
    def page_size(self) -> int:
        return max(1, min(MAX_PAGE_SIZE, int(self.setting("page_size", MAX_PAGE_SIZE))))

    # -- HTTP ------------------------------------------------------------------------------
    async def _request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                       json: Any = None) -> httpx.Response:
        headers = {"X-Shopify-Access-Token": str(self.setting("access_token", "")),
                   "Accept": "application/json"}
        error: ConnectorError | ConnectorTransientError
        for attempt in range(ATTEMPTS):
            try:
                resp = await self.http.request(method, self._url(path), params=params, json=json, headers=headers)
            except httpx.TransportError as exc:
                error = ConnectorTransientError(f"Shopify unreachable: {type(exc).__name__}: {exc}")
            else:
                await self._pace(resp)
                if resp.status_code < 400:
                    return resp
                error = self._error(resp)
                if not isinstance(error, ConnectorTransientError):
                    raise error
            wait = error.retry_after if error.retry_after is not None else min(0.5 * 2 ** attempt, 8.0)
            if attempt == ATTEMPTS - 1 or wait > MAX_WAIT:
                raise error
            await self._sleep(wait)
        raise AssertionError("unreachable")

    def _error(self, resp: httpx.Response) -> ConnectorError | ConnectorTransientError:
        status, message = resp.status_code, _error_message(resp)
        if status in (401, 403):
            return ConnectorAuthError(f"Shopify refused the access token ({status}): {message}")
        if status == 429 or status >= 500:
            return ConnectorTransientError(f"Shopify {status}: {message}", retry_after=_retry_after(resp))
        return ConnectorError(f"Shopify {status}: {message}", code=f"shopify_{status}", details={"status": status})

    async def _pace(self, resp: httpx.Response) -> None:
        """Slow down before the leaky bucket overflows instead of collecting 429s."""
        used, _, limit = (resp.headers.get("X-Shopify-Shop-Api-Call-Limit") or "").partition("/")
        try:
            used_n, limit_n = int(used), int(limit)
        except ValueError:
            return
        threshold = 0.8 * limit_n
        if limit_n > 0 and used_n >= threshold:
            await self._sleep(min((used_n - threshold + 1) / LEAK_PER_SECOND, 10.0))

    @staticmethod
    def _json(resp: httpx.Response) -> dict:
        try:
            body = resp.json()
        except ValueError as exc:
            raise ConnectorError(f"Shopify answered {resp.url.path} with non-JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise ConnectorError(f"Shopify answered {resp.url.path} with a non-object")
        return body

    # -- pulling ---------------------------------------------------------------------------
    async def fetch_orders(self, since: datetime, until: datetime) -> AsyncIterator[list[FetchedOrder]]:
        """Cursor paging (page_info) keyed on the immutable order id: an order changing during the
        pull cannot shift the others past a page boundary."""
        params: dict[str, Any] = {"status": "any", "updated_at_min": _iso(since),
                                  "updated_at_max": _iso(until), "limit": self.page_size}
        while True:
            resp = await self._request("GET", "orders.json", params=params)
            orders = self._json(resp).get("orders")
            if not isinstance(orders, list):
                raise ConnectorError("Shopify orders.json answered without an orders list")
            if orders:
                yield [to_fetched(o) for o in orders]
            page_info = next_page_info(resp.headers.get("Link"))
            if not page_info:
                return
            # With page_info only limit/fields may be sent; the cursor carries the filters. Only the
            # cursor is taken from the link, so the token never goes to a host we were not given.
            params = {"limit": self.page_size, "page_info": page_info}

    # -- webhooks --------------------------------------------------------------------------
    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        return webhooks.verify(headers, body, self.setting("client_secret"))

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        return webhooks.parse(headers, body)

    async def register_webhooks(self, address: str) -> list[str]:
        """Idempotent: topics already subscribed for this address are reused, not duplicated."""
        existing = await self._webhooks_for(address)
        ids: list[str] = []
        for topic in webhooks.ORDER_TOPICS:
            if topic not in existing:
                try:
                    resp = await self._request("POST", "webhooks.json", json={
                        "webhook": {"topic": topic, "address": address, "format": "json"}})
                    existing[topic] = str(self._json(resp)["webhook"]["id"])
                except ConnectorError as exc:
                    if "already been taken" not in exc.message:   # lost a race with a parallel call
                        raise
                    existing = await self._webhooks_for(address)
            if topic not in existing:
                raise ConnectorError(f"Shopify did not keep the {topic} webhook for {address}")
            ids.append(existing[topic])
        return ids

    async def _webhooks_for(self, address: str) -> dict[str, str]:
        resp = await self._request("GET", "webhooks.json", params={"address": address, "limit": 250})
        return {w["topic"]: str(w["id"]) for w in self._json(resp).get("webhooks") or []
                if w.get("address") == address}

    # -- writing back ----------------------------------------------------------------------
    async def _default_location(self) -> str:
        configured = self.setting("location_id")
        if configured:
            return str(configured)
        if self._location is None:
            resp = await self._request("GET", "locations.json")
            locations = [loc for loc in self._json(resp).get("locations") or [] if loc.get("active", True)]
            if not locations:
                raise ConnectorError("Shopify shop has no active location for inventory", code="no_location")
            self._location = str(locations[0]["id"])
        return self._location

    async def push_inventory(self, updates: list[InventoryUpdate]) -> list[PushResult]:
        """POST inventory_levels/set.json per item. `platform_sku_id` is the variant's
        inventory_item_id. One failed item does not stop the others; bad credentials raise."""
        results: list[PushResult] = []
        for update in updates:
            key = update.platform_sku_id
            try:
                if not key and update.variant_id:       # a listing knows its variant (from order lines)
                    key = await self._inventory_item(update.variant_id)
                location = update.location_id or await self._default_location()
                body = {"location_id": int(location), "inventory_item_id": int(key), "available": int(update.quantity)}
            except ValueError:
                results.append(PushResult(key, ok=False, error=f"not a Shopify inventory item/location id: {key!r}"))
                continue
            except ConnectorAuthError:
                raise
            except ConnectorTransientError as exc:
                results.append(PushResult(key, ok=False, error=exc.message, transient=True))
                continue
            except ConnectorError as exc:
                results.append(PushResult(key, ok=False, error=exc.message))
                continue
            results.append(await self._push_one(key, "POST", "inventory_levels/set.json", body))
        return results

    def listing_update(self, platform_product_id: str, platform_sku_id: str, sku_code: str,
                       quantity: int) -> InventoryUpdate:
        """Listings carry the variant id (order line items do); stock is set on its inventory item."""
        return InventoryUpdate(platform_product_id, "", quantity, sku_code=sku_code, variant_id=platform_sku_id)

    async def _inventory_item(self, variant_id: str) -> str:
        """GET variants/{id}.json -> inventory_item_id (immutable per variant: cached per shop)."""
        cache_key = (self.api_base_url, str(variant_id))
        if cache_key not in _INVENTORY_ITEMS:
            try:
                path = f"variants/{int(variant_id)}.json"
            except ValueError:
                raise ConnectorError(f"not a Shopify variant id: {variant_id!r}", code="invalid_variant") from None
            variant = self._json(await self._request("GET", path)).get("variant") or {}
            if not variant.get("inventory_item_id"):
                raise ConnectorError(f"Shopify variant {variant_id} has no inventory item", code="no_inventory_item")
            if len(_INVENTORY_ITEMS) > 100_000:
                _INVENTORY_ITEMS.clear()
            _INVENTORY_ITEMS[cache_key] = str(variant["inventory_item_id"])
        return _INVENTORY_ITEMS[cache_key]

    async def _push_one(self, key: str, method: str, path: str, body: dict) -> PushResult:
        try:
            await self._request(method, path, json=body)
        except ConnectorAuthError:
            raise
        except ConnectorTransientError as exc:
            return PushResult(key, ok=False, error=exc.message, transient=True)
        except ConnectorError as exc:
            return PushResult(key, ok=False, error=exc.message)
        return PushResult(key, ok=True)

    async def push_fulfillment(self, update: FulfillmentUpdate) -> PushResult:
        """Fulfil the order's open fulfillment orders (all lines, or only `external_line_ids`),
        one fulfillment per assigned location, with tracking number/company/url."""
        key = update.external_order_id
        try:
            resp = await self._request("GET", f"orders/{key}/fulfillment_orders.json")
            fulfillment_orders = self._json(resp).get("fulfillment_orders") or []
        except ConnectorAuthError:
            raise
        except ConnectorTransientError as exc:
            return PushResult(key, ok=False, error=exc.message, transient=True)
        except ConnectorError as exc:
            return PushResult(key, ok=False, error=exc.message)

        wanted = {str(x) for x in update.external_line_ids}
        by_location: dict[str, list[dict]] = {}
        for fo in fulfillment_orders:
            if fo.get("status") not in ("open", "in_progress"):
                continue
            items = [li for li in fo.get("line_items") or [] if int(li.get("fulfillable_quantity") or 0) > 0
                     and (not wanted or str(li.get("line_item_id")) in wanted)]
            if not items:
                continue
            entry: dict[str, Any] = {"fulfillment_order_id": fo["id"]}
            if wanted:   # blank line items = the whole fulfillment order
                entry["fulfillment_order_line_items"] = [
                    {"id": li["id"], "quantity": int(li["fulfillable_quantity"])} for li in items]
            by_location.setdefault(str(fo.get("assigned_location_id") or ""), []).append(entry)
        if not by_location:
            return PushResult(key, ok=False, error="Shopify order has no open fulfillment order to fulfil "
                                                   "(already fulfilled, cancelled or handled by a fulfilment service)")
        company = CARRIERS.get(update.carrier_code.lower(), update.carrier_code)
        tracking = {"number": update.tracking_number, "company": company}
        if update.tracking_url:
            tracking["url"] = update.tracking_url
        for entries in by_location.values():
            result = await self._push_one(key, "POST", "fulfillments.json", {"fulfillment": {
                "line_items_by_fulfillment_order": entries, "tracking_info": tracking, "notify_customer": True}})
            if not result.ok:
                return result
        return PushResult(key, ok=True)

    async def test_connection(self) -> ConnectionCheck:
        try:
            shop = self._json(await self._request("GET", "shop.json")).get("shop") or {}
        except (ConnectorError, ConnectorTransientError) as exc:
            return ConnectionCheck(ok=False, message=exc.message)
        name = shop.get("name") or self.shop_domain
        return ConnectionCheck(ok=True, message=f"Connected to {name} ({shop.get('myshopify_domain') or self.shop_domain})",
                               shop_name=name)
