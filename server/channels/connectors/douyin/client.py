"""Douyin shop (抖店) connector: pulls orders with order.searchList, pushes stock with sku.syncStock
and shipments with order.logisticsAdd.

Every call is `POST {api_base_url}/{method with dots as slashes}` with the system parameters (app_key,
method, v, timestamp, sign_method, sign, access_token) in the query string and `param_json` as the
JSON body. Answers are `{code, msg, sub_code, sub_msg, data, log_id}`; code 10000 is success.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar

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
)
from server.channels.connectors.douyin import mapping, signing
from server.core import clock

SUCCESS = 10000
# Platform error codes (平台基础错误码): what each means for us.
TRANSIENT_CODES = {20000, 20001, 50000, 50001, 60000}   # unavailable, timeout, server error, throttled
AUTH_CODES = {30001, 30002}                              # no permission / authorization gone, IP not allowed
AUTH_SUB_PREFIXES = ("isv.access-token", "isv.app-id", "isv.signature", "isv.authorization",
                     "dop.authorization", "dop.app-forbidden", "dop.token-generate-failed",
                     "isv.app-permissions")


def classify(code: int, sub_code: str) -> type[ConnectorError] | type[ConnectorTransientError]:
    if code in AUTH_CODES or sub_code.startswith(AUTH_SUB_PREFIXES):
        return ConnectorAuthError
    if code in TRANSIENT_CODES:
        return ConnectorTransientError
    return ConnectorError


def _id_value(value: str) -> int | str:
    """Douyin ids are int64 in the API (product_id, sku_id); send numbers when they are numbers."""
    return int(value) if value.isdigit() else value


class DouyinConnector(Connector):
    platform = "douyin"
    display_name = "Douyin shop (抖店)"
    capabilities = frozenset({Capability.PULL_ORDERS, Capability.PUSH_INVENTORY, Capability.PUSH_FULFILLMENT})
    default_api_base_url = "https://openapi-fxg.jinritemai.com"
    config_fields: ClassVar[list[ConfigField]] = [
        ConfigField("app_key", help="App key of the Douyin open-platform app"),
        ConfigField("app_secret", secret=True, help="App secret; signs every request"),
        ConfigField("access_token", secret=True, help="Shop access token (token.create)"),
        ConfigField("shop_id", help="Douyin shop id"),
        ConfigField("api_base_url", required=False, default="https://openapi-fxg.jinritemai.com",
                    help="Gateway; point it at /sandbox/douyin for the local sandbox"),
    ]

    page_size: ClassVar[int] = 100              # searchList `size` is limited to 100
    # No documented cap on the update_time range; a day keeps each query small, and a busy window
    # is bisected (max_window_results) so paging never goes deep.
    window: ClassVar[timedelta] = timedelta(days=1)
    max_window_results: ClassVar[int] = 5000
    sign_method: ClassVar[str] = "hmac-sha256"
    max_attempts: int = 4
    retry_base: float = 0.5                     # seconds; doubled per attempt
    max_retry_wait: float = 30.0

    # -- transport ----------------------------------------------------------------------------
    def _credentials(self) -> tuple[str, str, str]:
        app_key, secret, token = (self.setting("app_key"), self.setting("app_secret"),
                                  self.setting("access_token"))
        if not (app_key and secret and token):
            raise ConnectorAuthError("app_key, app_secret and access_token are required", field="app_key")
        return str(app_key), str(secret), str(token)

    async def call(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        """One API call with bounded retries on transient failures. Returns the envelope's `data`."""
        app_key, secret, token = self._credentials()
        pj = signing.param_json(params)
        url = self.api_base_url + signing.method_path(method)
        last: ConnectorTransientError | None = None
        for attempt in range(self.max_attempts):
            if last is not None:
                await asyncio.sleep(min(self.max_retry_wait, last.retry_after or self.retry_base * 2 ** (attempt - 1)))
            query = signing.signed_query(app_key=app_key, app_secret=secret, access_token=token, method=method,
                                         pj=pj, timestamp=str(clock.to_unix(clock.now())),
                                         sign_method=self.sign_method)
            try:
                return await self._once(url, query, pj, method)
            except ConnectorTransientError as exc:
                last = exc
        raise last or ConnectorTransientError(f"douyin {method}: no attempt made")

    async def _once(self, url: str, query: dict[str, str], pj: str, method: str) -> Any:
        try:
            resp = await self.http.post(url, params=query, content=pj.encode("utf-8"),
                                        headers={"Content-Type": "application/json"})
        except httpx.TransportError as exc:
            raise ConnectorTransientError(f"douyin {method}: {exc.__class__.__name__}") from exc
        if resp.status_code >= 500 or resp.status_code == 429:
            raise ConnectorTransientError(f"douyin {method}: HTTP {resp.status_code}")
        try:
            body = resp.json()
        except ValueError as exc:
            raise ConnectorError(f"douyin {method}: HTTP {resp.status_code}, not JSON") from exc
        if not isinstance(body, dict) or "code" not in body:
            raise ConnectorError(f"douyin {method}: HTTP {resp.status_code}, unexpected answer")
        code = int(body.get("code") or 0)
        if code == SUCCESS:
            return body.get("data")
        sub_code = str(body.get("sub_code") or "")
        message = f"douyin {method}: {code} {body.get('msg') or ''}"
        if sub_code or body.get("sub_msg"):
            message += f" ({sub_code} {body.get('sub_msg') or ''})".rstrip()
        details = {"code": code, "sub_code": sub_code, "log_id": body.get("log_id")}
        kind = classify(code, sub_code)
        if kind is ConnectorTransientError:
            raise ConnectorTransientError(message, details=details)
        raise kind(message, code="douyin_auth" if kind is ConnectorAuthError else "douyin_error",
                   details=details)

    # -- pulling ------------------------------------------------------------------------------
    def _windows(self, since: datetime, until: datetime) -> list[tuple[int, int]]:
        start, end = clock.to_unix(since), clock.to_unix(until)
        step = int(self.window.total_seconds())
        out = []
        while start <= end:
            out.append((start, min(end, start + step)))
            start += step   # both ends are inclusive: neighbouring windows share one second
        return out

    async def _search(self, start: int, end: int, page: int, size: int) -> tuple[int, list[dict]]:
        data = await self.call("order.searchList", {
            "update_time_start": start, "update_time_end": end, "order_by": "update_time",
            "order_asc": True, "page": page, "size": size,
        }) or {}
        return int(data.get("total") or 0), list(data.get("shop_order_list") or [])

    async def _window_pages(self, start: int, end: int) -> AsyncIterator[list[dict]]:
        """Pages of one window, read from the last page back to the first.

        Within [start, end] an order that changes during the pull leaves the window (its new
        update_time is later than `end`), which shifts every later order one place towards the
        front. Reading the last page first means such a shift only ever repeats an order, never
        skips one; page 0 is read last. The order that changed is seen at its new version by the
        next run, which re-reads an overlap behind its cursor.
        """
        total, first = await self._search(start, end, 0, self.page_size)
        if total <= self.page_size:
            if first:
                yield first
            return
        if total > self.max_window_results and end > start:
            middle = (start + end) // 2
            async for page in self._window_pages(start, middle):
                yield page
            async for page in self._window_pages(middle + 1, end):
                yield page
            return
        for page in range((total - 1) // self.page_size, -1, -1):
            _, orders = await self._search(start, end, page, self.page_size)
            if orders:
                yield orders

    def fetch_orders(self, since: datetime, until: datetime) -> AsyncIterator[list[FetchedOrder]]:
        return self._fetch(since, until)

    async def _fetch(self, since: datetime, until: datetime) -> AsyncIterator[list[FetchedOrder]]:
        seen: set[tuple[str, str]] = set()
        for start, end in self._windows(since, until):
            async for page in self._window_pages(start, end):
                batch = []
                for raw in page:
                    key = (str(raw.get("order_id")), str(raw.get("update_time")))
                    if key in seen:
                        continue
                    seen.add(key)
                    batch.append(to_fetched(raw))
                if batch:
                    yield batch

    async def get_order(self, order_id: str) -> FetchedOrder:
        data = await self.call("order.orderDetail", {"shop_order_id": order_id}) or {}
        return to_fetched(data.get("shop_order_detail") or {})

    # -- writing back -------------------------------------------------------------------------
    async def push_inventory(self, updates: list[InventoryUpdate]) -> list[PushResult]:
        results = []
        for up in updates:
            key = up.platform_sku_id or up.sku_code or up.platform_product_id
            params: dict[str, Any] = {"stock_num": max(0, up.quantity), "incremental": False}
            if up.platform_product_id:
                params["product_id"] = _id_value(up.platform_product_id)
            if up.platform_sku_id:
                params["sku_id"] = _id_value(up.platform_sku_id)
            elif up.sku_code:
                params["code"] = up.sku_code
            if up.location_id:
                params["out_warehouse_id"] = up.location_id
            try:
                await self.call("sku.syncStock", params)
                results.append(PushResult(key=key, ok=True))
            except ConnectorAuthError:
                raise
            except ConnectorTransientError as exc:
                results.append(PushResult(key=key, ok=False, error=exc.message, transient=True))
            except ConnectorError as exc:
                results.append(PushResult(key=key, ok=False, error=exc.message))
        return results

    async def push_fulfillment(self, update: FulfillmentUpdate) -> PushResult:
        # order.logisticsAdd ships the whole shop order (the platform moves every sku order to
        # shipped); line-level splits need logisticsAddMultiPack, which we do not use.
        key = update.external_order_id
        try:
            await self.call("order.logisticsAdd", {
                "order_id": update.external_order_id,
                "company_code": update.carrier_code,
                "logistics_code": update.tracking_number,
            })
        except ConnectorAuthError:
            raise
        except ConnectorTransientError as exc:
            return PushResult(key=key, ok=False, error=exc.message, transient=True)
        except ConnectorError as exc:
            return PushResult(key=key, ok=False, error=exc.message)
        return PushResult(key=key, ok=True)

    async def test_connection(self) -> ConnectionCheck:
        try:
            data = await self.call("shop.getShopCategory", {"cid": 0})
        except ConnectorError as exc:
            return ConnectionCheck(ok=False, message=exc.message)
        except ConnectorTransientError as exc:
            return ConnectionCheck(ok=False, message=f"temporarily unavailable: {exc.message}")
        count = len(data) if isinstance(data, list) else 0
        shop = str(self.setting("shop_id") or "")
        return ConnectionCheck(ok=True, message=f"connected; {count} shop categories", shop_name=shop)


def to_fetched(raw: Mapping[str, Any]) -> FetchedOrder:
    """Map one payload, keeping it raw when it cannot be read."""
    external_id = str(raw.get("order_id") or "") if isinstance(raw, Mapping) else ""
    payload = dict(raw) if isinstance(raw, Mapping) else {"value": raw}
    try:
        return FetchedOrder(external_id=external_id, raw=payload, order=mapping.map_order(raw))
    except (mapping.MappingError, TypeError, ValueError, KeyError, AttributeError) as exc:
        return FetchedOrder(external_id=external_id, raw=payload, error=str(exc) or exc.__class__.__name__)
