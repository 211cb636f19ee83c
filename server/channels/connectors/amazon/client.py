"""Amazon Selling Partner API connector: Orders v0 pulls, Listings Items stock pushes, shipment
confirmations. Every call carries an LWA access token in `x-amz-access-token`.

Limits honoured: `LastUpdatedBefore` at least 2 minutes before now (`safe_until`), a client-side
token bucket per seller account and operation (see ratelimit.py), 429 answers waited out
(Retry-After, else 1 / x-amzn-RateLimit-Limit) and retried a bounded number of times.
"""
from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from server.channels.connectors.amazon import auth, mapping, ratelimit
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
)
from server.core import clock

LISTINGS_VERSION = "2021-08-01"
# Common values of confirmShipment's CarrierCode; anything else is sent as "Other" with carrierName.
CARRIER_CODES = ("UPS", "USPS", "FedEx", "DHL", "OnTrac", "Royal Mail", "Parcelforce", "DPD", "GLS",
                 "Canada Post", "China Post", "SF Express", "Yanwen", "4PX", "Japan Post")
_CARRIERS = {c.replace(" ", "").lower(): c for c in CARRIER_CODES}


def iso(dt: datetime) -> str:
    return clock.utc(dt).strftime("%Y-%m-%dT%H:%M:%SZ")


def first_error(resp: httpx.Response) -> tuple[str, str]:
    """(code, message) of the first entry of SP-API's `{"errors": [{code, message, details}]}`."""
    try:
        errors = resp.json().get("errors") or []
        err = errors[0] if errors and isinstance(errors[0], Mapping) else {}
    except (ValueError, AttributeError):
        err = {}
    message = str(err.get("message") or resp.reason_phrase or "")
    if err.get("details"):
        message += f" ({err['details']})"
    return str(err.get("code") or f"HTTP{resp.status_code}"), message


class AmazonConnector(Connector):
    platform = "amazon"
    display_name = "Amazon (Selling Partner API)"
    capabilities = frozenset({Capability.PULL_ORDERS, Capability.PUSH_INVENTORY, Capability.PUSH_FULFILLMENT})
    default_api_base_url = "https://sellingpartnerapi-na.amazon.com"
    config_fields: ClassVar[list[ConfigField]] = [
        ConfigField("client_id", help="LWA client id of the SP-API app (amzn1.application-oa2-client.…)"),
        ConfigField("client_secret", secret=True, help="LWA client secret"),
        ConfigField("refresh_token", secret=True, help="The seller's LWA refresh token (Atzr|…)"),
        ConfigField("marketplace_ids", help="Comma-separated marketplace ids, e.g. ATVPDKIKX0DER"),
        ConfigField("seller_id", required=False, help="Merchant token (seller id); needed for stock pushes"),
        ConfigField("lwa_url", required=False, default=auth.DEFAULT_LWA_URL, help="LWA token endpoint"),
        ConfigField("api_base_url", required=False, default="https://sellingpartnerapi-na.amazon.com",
                    help="Regional SP-API endpoint (-na, -eu, -fe); /sandbox/amazon for the sandbox"),
    ]

    # getOrders: LastUpdatedBefore must be no later than two minutes before the request.
    settle: ClassVar[timedelta] = timedelta(minutes=2)
    rates: ClassVar[dict[str, tuple[float, int]]] = ratelimit.DEFAULT_RATES
    page_size: int = 100               # getOrders MaxResultsPerPage (1..100)
    max_attempts: int = 5
    retry_base: float = 0.5            # seconds, doubled per attempt for 5xx / network errors
    max_retry_wait: float = 120.0      # a 429 asking for longer than this is handed back to the job

    # -- settings -----------------------------------------------------------------------------
    @property
    def marketplace_ids(self) -> list[str]:
        raw = self.setting("marketplace_ids") or []
        ids = raw.split(",") if isinstance(raw, str) else list(raw)
        return [str(i).strip() for i in ids if str(i).strip()]

    def _creds(self) -> tuple[str, str, str]:
        values = (self.setting("client_id"), self.setting("client_secret"), self.setting("refresh_token"))
        if not all(values):
            raise ConnectorAuthError("client_id, client_secret and refresh_token are required", field="client_id")
        return str(values[0]), str(values[1]), str(values[2])

    async def _token(self) -> str:
        client_id, secret, refresh = self._creds()
        return await auth.access_token(self.http, lwa_url=self.setting("lwa_url", auth.DEFAULT_LWA_URL),
                                       client_id=client_id, client_secret=secret, refresh_token=refresh)

    # -- transport ----------------------------------------------------------------------------
    async def request(self, operation: str, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                      json: Any = None) -> httpx.Response:
        """One SP-API operation: rate-limited, token refreshed once on 401/403, transient failures
        retried with backoff, 429 waited out. Returns the 2xx response."""
        client_id, _, refresh = self._creds()
        bucket = ratelimit.bucket(self.api_base_url, client_id, refresh, operation, self.rates)
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            await bucket.acquire()
            token = await self._token()
            try:
                resp = await self.http.request(method, self.api_base_url + path, params=params, json=json,
                                               headers={"x-amz-access-token": token, "Accept": "application/json"})
            except httpx.TransportError as exc:
                error = ConnectorTransientError(f"amazon {operation}: {exc.__class__.__name__}")
                if attempt >= self.max_attempts:
                    raise error from exc
                await asyncio.sleep(self.retry_base * 2 ** (attempt - 1))
                continue
            limit = resp.headers.get("x-amzn-RateLimit-Limit")
            if limit:
                try:
                    bucket.set_rate(float(limit))
                except ValueError:
                    pass
            if resp.status_code < 300:
                return resp
            code, message = first_error(resp)
            text = f"amazon {operation}: {code}: {message}"
            if resp.status_code in (401, 403):
                if not refreshed:
                    refreshed = True
                    auth.forget(self.setting("lwa_url", auth.DEFAULT_LWA_URL), client_id, refresh, stale=token)
                    continue
                raise ConnectorAuthError(text, code="amazon_auth", details={"amazon_code": code})
            if resp.status_code == 429 or resp.status_code >= 500:
                wait = self._retry_after(resp, attempt)
                if attempt >= self.max_attempts or wait > self.max_retry_wait:
                    raise ConnectorTransientError(text, retry_after=wait, details={"amazon_code": code})
                await asyncio.sleep(wait)
                continue
            raise ConnectorError(text, code="amazon_error", details={"amazon_code": code, "status": resp.status_code})

    def _retry_after(self, resp: httpx.Response, attempt: int) -> float:
        for header, invert in (("Retry-After", False), ("x-amzn-RateLimit-Limit", True)):
            try:
                value = float(resp.headers.get(header) or 0)
            except ValueError:
                continue
            if value > 0:
                return 1.0 / value if invert else value
        return self.retry_base * 2 ** (attempt - 1)

    # -- pulling ------------------------------------------------------------------------------
    def safe_until(self, now: datetime) -> datetime:
        return now - self.settle

    def fetch_orders(self, since: datetime, until: datetime) -> AsyncIterator[list[FetchedOrder]]:
        return self._fetch(since, until)

    async def _fetch(self, since: datetime, until: datetime) -> AsyncIterator[list[FetchedOrder]]:
        since, until = clock.utc(since), min(clock.utc(until), self.safe_until(clock.now()))
        if since >= until:   # never ask for the unsettled last two minutes
            return
        ids = ",".join(self.marketplace_ids)
        if not ids:
            raise ConnectorError("marketplace_ids is not configured", field="marketplace_ids")
        params: dict[str, Any] = {"MarketplaceIds": ids, "LastUpdatedAfter": iso(since),
                                  "LastUpdatedBefore": iso(until), "MaxResultsPerPage": self.page_size}
        seen: set[tuple[str, str]] = set()
        while True:
            payload = (await self.request("getOrders", "GET", "/orders/v0/orders", params=params)).json()
            payload = payload.get("payload") or {}
            batch = []
            for order in payload.get("Orders") or []:
                key = (str(order.get("AmazonOrderId")), str(order.get("LastUpdateDate")))
                if key in seen:
                    continue
                seen.add(key)
                batch.append(await self._with_items(order))
            if batch:
                yield batch
            next_token = payload.get("NextToken")
            if not next_token:
                return
            # with NextToken, the other filters must not be repeated
            params = {"MarketplaceIds": ids, "NextToken": next_token}

    async def order_items(self, order_id: str) -> list[dict]:
        path = f"/orders/v0/orders/{quote(order_id, safe='')}/orderItems"
        items: list[dict] = []
        params: dict[str, Any] | None = None
        while True:
            payload = (await self.request("getOrderItems", "GET", path, params=params)).json().get("payload") or {}
            items.extend(payload.get("OrderItems") or [])
            if not payload.get("NextToken"):
                return items
            params = {"NextToken": payload["NextToken"]}

    async def _with_items(self, order: Mapping[str, Any]) -> FetchedOrder:
        order_id = str(order.get("AmazonOrderId") or "")
        raw: dict[str, Any] = {"order": dict(order), "items": []}
        try:
            raw["items"] = await self.order_items(order_id)
        except ConnectorError as exc:
            if isinstance(exc, ConnectorAuthError):
                raise
            return FetchedOrder(external_id=order_id, raw=raw, error=f"order items: {exc.message}")
        return to_fetched(raw)

    # -- writing back -------------------------------------------------------------------------
    async def push_inventory(self, updates: list[InventoryUpdate]) -> list[PushResult]:
        """Set each SKU's merchant-fulfilled quantity with patchListingsItem (fulfillment_availability,
        channel DEFAULT) in the first configured marketplace. Negative quantities are sent as 0."""
        seller_id = self.setting("seller_id")
        if not seller_id:
            raise ConnectorError("seller_id (merchant token) is required to push stock to Amazon",
                                 code="missing_seller_id", field="seller_id")
        marketplace = (self.marketplace_ids or [""])[0]
        results = []
        for up in updates:
            sku = up.sku_code or up.platform_sku_id
            body = {"productType": "PRODUCT", "patches": [{
                "op": "replace", "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": max(0, up.quantity)}],
            }]}
            path = f"/listings/{LISTINGS_VERSION}/items/{quote(str(seller_id), safe='')}/{quote(sku, safe='')}"
            try:
                resp = await self.request("patchListingsItem", "PATCH", path,
                                          params={"marketplaceIds": marketplace}, json=body)
            except ConnectorAuthError:
                raise
            except ConnectorTransientError as exc:
                results.append(PushResult(key=sku, ok=False, error=exc.message, transient=True))
                continue
            except ConnectorError as exc:
                results.append(PushResult(key=sku, ok=False, error=exc.message))
                continue
            answer = resp.json()
            if answer.get("status") == "ACCEPTED":
                results.append(PushResult(key=sku, ok=True))
            else:
                issues = [f"{i.get('code')}: {i.get('message')}" for i in answer.get("issues") or []
                          if i.get("severity", "ERROR") == "ERROR"]
                results.append(PushResult(key=sku, ok=False,
                                          error="; ".join(issues) or f"listing {answer.get('status')}"))
        return results

    async def push_fulfillment(self, update: FulfillmentUpdate) -> PushResult:
        """confirmShipment for an MFN order. Amazon wants the items and quantities in the package, so
        the order's items are read first; `packageReferenceId` is derived from the tracking number,
        so sending the same shipment again edits it rather than adding a second package."""
        key = update.external_order_id
        order_path = f"/orders/v0/orders/{quote(key, safe='')}"
        try:
            order = (await self.request("getOrder", "GET", order_path)).json().get("payload") or {}
            items = await self.order_items(key)
            wanted = set(update.external_line_ids)
            lines = [{"orderItemId": str(i["OrderItemId"]),
                      "quantity": int(i.get("QuantityOrdered") or 0) - int(i.get("QuantityShipped") or 0)}
                     for i in items if not wanted or str(i.get("OrderItemId")) in wanted]
            lines = [ln for ln in lines if ln["quantity"] > 0]
            if not lines:
                return PushResult(key=key, ok=False, error="nothing left to ship on this order")
            reference = int(hashlib.sha256(update.tracking_number.encode()).hexdigest()[:8], 16) % 10**9 + 1
            carrier = _CARRIERS.get(update.carrier_code.replace(" ", "").lower(), "Other")
            package: dict[str, Any] = {
                "packageReferenceId": str(reference), "carrierCode": carrier,
                "trackingNumber": update.tracking_number, "shipDate": iso(clock.now()), "orderItems": lines,
            }
            if carrier == "Other":
                package["carrierName"] = update.carrier_code
            body = {"marketplaceId": order.get("MarketplaceId") or (self.marketplace_ids or [""])[0],
                    "packageDetail": package}
            await self.request("confirmShipment", "POST", order_path + "/shipmentConfirmation", json=body)
        except ConnectorAuthError:
            raise
        except ConnectorTransientError as exc:
            return PushResult(key=key, ok=False, error=exc.message, transient=True)
        except ConnectorError as exc:
            return PushResult(key=key, ok=False, error=exc.message)
        return PushResult(key=key, ok=True)

    async def test_connection(self) -> ConnectionCheck:
        try:
            resp = await self.request("getMarketplaceParticipations", "GET", "/sellers/v1/marketplaceParticipations")
        except ConnectorError as exc:
            return ConnectionCheck(ok=False, message=exc.message)
        except ConnectorTransientError as exc:
            return ConnectionCheck(ok=False, message=f"temporarily unavailable: {exc.message}")
        rows = resp.json().get("payload") or []
        joined = [r for r in rows if (r.get("participation") or {}).get("isParticipating")]
        names = ", ".join(str((r.get("marketplace") or {}).get("name") or "") for r in joined)
        store = next((str(r["storeName"]) for r in joined if r.get("storeName")), "")
        return ConnectionCheck(ok=True, message=f"connected; selling in {names or 'no marketplace'}",
                               shop_name=store)


def to_fetched(raw: Mapping[str, Any]) -> FetchedOrder:
    """Map {"order": …, "items": […]}, keeping the payload raw when it cannot be read."""
    order = raw.get("order") or {}
    external_id = str(order.get("AmazonOrderId") or "") if isinstance(order, Mapping) else ""
    try:
        return FetchedOrder(external_id=external_id, raw=dict(raw),
                            order=mapping.map_order(order, list(raw.get("items") or [])))
    except (mapping.MappingError, TypeError, ValueError, KeyError, AttributeError) as exc:
        return FetchedOrder(external_id=external_id, raw=dict(raw), error=str(exc) or exc.__class__.__name__)
