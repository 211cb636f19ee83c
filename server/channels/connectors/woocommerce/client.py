"""WooCommerce connector: REST API v3 over the shared httpx client.

api_base_url convention: the *site root* (what WordPress calls home), without /wp-json. Requests go
to `{api_base_url}/wp-json/wc/v3/<resource>`. Unset, api_base_url is `site_url`; the local sandbox
is `http://<host>/sandbox/woocommerce`. Auth is the consumer key/secret as HTTP Basic (Woo accepts
it over HTTPS); `query_string_auth` sends them as query parameters instead, for hosts that strip
the Authorization header.
"""
from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any

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
from server.channels.connectors.woocommerce import webhooks
from server.channels.connectors.woocommerce.mapping import to_fetched
from server.core.clock import utc

MAX_PAGE_SIZE = 100
BATCH_SIZE = 100             # Woo's batch endpoints take at most 100 items
ATTEMPTS = 4
MAX_WAIT = 30.0
MAX_REWINDS = 10
_DEAD = {"cancelled", "refunded", "failed", "trash"}


def _gmt(dt: datetime) -> str:
    """dates_are_gmt=true: ISO-8601 without offset, in UTC."""
    return utc(dt).replace(tzinfo=None).isoformat(timespec="seconds")


def _decode(resp: httpx.Response) -> Any:
    """JSON body; tolerates the stray PHP notice or BOM some WordPress hosts print before it."""
    text = resp.text.lstrip("\ufeff")
    try:
        return json.loads(text)
    except ValueError:
        starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
        if starts:
            try:
                return json.loads(text[min(starts):])
            except ValueError:
                pass
    raise ConnectorError(f"WooCommerce answered {resp.url.path} with non-JSON ({resp.status_code})")


def _error_message(resp: httpx.Response) -> str:
    try:
        body = _decode(resp)
    except ConnectorError:
        return resp.text[:300] or resp.reason_phrase
    if isinstance(body, dict) and body.get("message"):
        return f"{body['message']} ({body.get('code', '')})".replace(" ()", "")
    return resp.reason_phrase


def _int_header(resp: httpx.Response, name: str) -> int | None:
    try:
        return int(resp.headers.get(name, ""))
    except ValueError:
        return None


class WooCommerceConnector(Connector):
    platform = "woocommerce"
    display_name = "WooCommerce"
    capabilities = frozenset({Capability.PULL_ORDERS, Capability.WEBHOOKS,
                              Capability.PUSH_INVENTORY, Capability.PUSH_FULFILLMENT})
    config_fields = [
        ConfigField("site_url", help="https://shop.example.com (the WordPress site root)"),
        ConfigField("consumer_key", secret=True, help="REST API consumer key (ck_...)"),
        ConfigField("consumer_secret", secret=True, help="REST API consumer secret (cs_...)"),
        ConfigField("webhook_secret", secret=True, help="Secret the webhooks we register are signed with"),
        ConfigField("page_size", required=False, default=MAX_PAGE_SIZE, help="Orders per page, at most 100"),
        ConfigField("query_string_auth", required=False, default=False,
                    help="Send the keys as query parameters (hosts that drop the Authorization header)"),
        ConfigField("api_base_url", required=False,
                    help="Site root override, e.g. the sandbox http://host/sandbox/woocommerce"),
    ]

    def __init__(self, config: Mapping[str, Any], credentials: Mapping[str, Any], http: httpx.AsyncClient):
        super().__init__(config, credentials, http)
        self._sleep = asyncio.sleep

    @property
    def api_base_url(self) -> str:
        root = self.config.get("api_base_url") or self.setting("site_url")
        if not root:
            raise ConnectorError("WooCommerce channel has no site_url", code="config_missing", field="site_url")
        return str(root).rstrip("/")

    @property
    def page_size(self) -> int:
        return max(1, min(MAX_PAGE_SIZE, int(self.setting("page_size", MAX_PAGE_SIZE))))

    # -- HTTP ------------------------------------------------------------------------------
    async def _request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                       json: Any = None) -> httpx.Response:
        key, secret = str(self.setting("consumer_key", "")), str(self.setting("consumer_secret", ""))
        query = dict(params or {})
        auth: httpx.BasicAuth | None = httpx.BasicAuth(key, secret)
        if str(self.setting("query_string_auth", "")).lower() in {"1", "true", "yes"}:
            query.update(consumer_key=key, consumer_secret=secret)
            auth = None
        url = f"{self.api_base_url}/wp-json/wc/v3/{path}"
        error: ConnectorError | ConnectorTransientError
        for attempt in range(ATTEMPTS):
            try:
                resp = await self.http.request(method, url, params=query, json=json, auth=auth,
                                               headers={"Accept": "application/json"})
            except httpx.TransportError as exc:
                error = ConnectorTransientError(f"WooCommerce unreachable: {type(exc).__name__}: {exc}")
            else:
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
            return ConnectorAuthError(f"WooCommerce refused the API keys ({status}): {message}")
        if status == 429 or status >= 500:
            try:
                retry_after = float(resp.headers.get("Retry-After", ""))
            except ValueError:
                retry_after = None
            return ConnectorTransientError(f"WooCommerce {status}: {message}", retry_after=retry_after)
        return ConnectorError(f"WooCommerce {status}: {message}", code=f"woocommerce_{status}",
                              details={"status": status})

    async def _get(self, path: str, **params: Any) -> Any:
        return _decode(await self._request("GET", path, params=params))

    # -- pulling ---------------------------------------------------------------------------
    async def fetch_orders(self, since: datetime, until: datetime) -> AsyncIterator[list[FetchedOrder]]:
        """Page numbers over orders sorted by modified time. Offset paging can skip an order when
        one before it changes mid-pull (it leaves the window or jumps to the end and the rest slide
        up a slot), so: a drop in X-WP-Total, or an order coming back with a newer modified time,
        rewinds to the page where the slide began; re-read orders are de-duplicated."""
        size = self.page_size
        params = {"modified_after": _gmt(since), "modified_before": _gmt(until), "dates_are_gmt": "true",
                  "orderby": "modified", "order": "asc", "per_page": size}
        seen: dict[str, tuple[str, int]] = {}
        page, prev_total, rewinds = 1, None, 0
        while True:
            resp = await self._request("GET", "orders", params={**params, "page": page})
            orders = _decode(resp)
            if not isinstance(orders, list):
                raise ConnectorError("WooCommerce orders endpoint answered without a list")
            total, pages = _int_header(resp, "X-WP-Total"), _int_header(resp, "X-WP-TotalPages") or 1
            rewind_to = None
            if total is not None and prev_total is not None and total < prev_total:
                rewind_to = page - math.ceil((prev_total - total) / size)
            batch = []
            for index, payload in enumerate(orders):
                oid = str(payload.get("id") or f"?{page}:{index}") if isinstance(payload, dict) else f"?{page}:{index}"
                modified = str(payload.get("date_modified_gmt") or "") if isinstance(payload, dict) else ""
                before = seen.get(oid)
                if before and before[0] == modified:
                    continue
                if before:
                    rewind_to = before[1] if rewind_to is None else min(rewind_to, before[1])
                seen[oid] = (modified, page)
                batch.append(to_fetched(payload))
            if batch:
                yield batch
            prev_total = total if total is not None else prev_total
            if rewind_to is not None and rewinds < MAX_REWINDS:
                rewinds += 1
                page = max(1, rewind_to)
                continue
            if page >= pages:
                return
            page += 1

    # -- webhooks --------------------------------------------------------------------------
    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        return webhooks.verify(headers, body, self.setting("webhook_secret"))

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        return webhooks.parse(headers, body)

    async def register_webhooks(self, address: str) -> list[str]:
        """One active webhook per order topic for `address`, signed with webhook_secret. Existing
        ones are re-armed (active again after Woo disabled them, secret refreshed), not duplicated."""
        secret = self.setting("webhook_secret")
        if not secret:
            raise ConnectorError("set webhook_secret before registering WooCommerce webhooks",
                                 code="config_missing", field="webhook_secret")
        existing: dict[str, str] = {}
        page, pages = 1, 1
        while page <= pages:
            resp = await self._request("GET", "webhooks", params={"per_page": 100, "page": page})
            for hook in _decode(resp) or []:
                if hook.get("delivery_url") == address and hook.get("topic") in webhooks.ORDER_TOPICS:
                    existing.setdefault(hook["topic"], str(hook["id"]))
            pages, page = _int_header(resp, "X-WP-TotalPages") or 1, page + 1
        ids = []
        for topic in webhooks.ORDER_TOPICS:
            if topic in existing:
                await self._request("PUT", f"webhooks/{existing[topic]}", json={"status": "active", "secret": secret})
                ids.append(existing[topic])
                continue
            created = _decode(await self._request("POST", "webhooks", json={
                "name": f"OMS {topic}", "topic": topic, "delivery_url": address, "secret": secret,
                "status": "active"}))
            ids.append(str(created["id"]))
        return ids

    # -- writing back ----------------------------------------------------------------------
    async def push_inventory(self, updates: list[InventoryUpdate]) -> list[PushResult]:
        """Batch updates {id, manage_stock: true, stock_quantity}: simple products through
        products/batch, variations through products/{parent}/variations/batch."""
        results: list[PushResult | None] = [None] * len(updates)
        groups: dict[str, list[tuple[int, int]]] = {}        # batch path -> [(update index, id)]
        for i, u in enumerate(updates):
            is_variation = bool(u.platform_sku_id) and u.platform_sku_id != u.platform_product_id
            try:
                target = int(u.platform_sku_id if is_variation else (u.platform_product_id or u.platform_sku_id))
                path = f"products/{int(u.platform_product_id)}/variations/batch" if is_variation else "products/batch"
            except ValueError:
                results[i] = PushResult(u.platform_sku_id, ok=False, error="not a WooCommerce product/variation id")
                continue
            groups.setdefault(path, []).append((i, target))
        for path, members in groups.items():
            for start in range(0, len(members), BATCH_SIZE):
                chunk = members[start:start + BATCH_SIZE]
                for i, result in zip([m[0] for m in chunk], await self._batch(path, chunk, updates), strict=True):
                    results[i] = result
        return [r for r in results if r is not None]

    async def _batch(self, path: str, chunk: list[tuple[int, int]], updates: list[InventoryUpdate]) -> list[PushResult]:
        keys = [updates[i].platform_sku_id or str(target) for i, target in chunk]
        body = {"update": [{"id": target, "manage_stock": True, "stock_quantity": int(updates[i].quantity)}
                           for i, target in chunk]}
        try:
            answer = _decode(await self._request("POST", path, json=body))
        except ConnectorAuthError:
            raise
        except ConnectorTransientError as exc:
            return [PushResult(k, ok=False, error=exc.message, transient=True) for k in keys]
        except ConnectorError as exc:
            return [PushResult(k, ok=False, error=exc.message) for k in keys]
        # Woo answers item by item in request order: the saved object, or {id, error{code,message,data}}
        items = answer.get("update") if isinstance(answer, dict) else None
        results = []
        for n, key in enumerate(keys):
            item = items[n] if isinstance(items, list) and n < len(items) else None
            if not isinstance(item, dict):
                results.append(PushResult(key, ok=False, error="WooCommerce batch answer is missing this item"))
            elif item.get("error"):
                err = item["error"]
                status = int((err.get("data") or {}).get("status") or 400)
                results.append(PushResult(key, ok=False, error=f"{err.get('message')} ({err.get('code')})",
                                          transient=status >= 500 or status == 429))
            else:
                results.append(PushResult(key, ok=True))
        return results

    async def push_fulfillment(self, update: FulfillmentUpdate) -> PushResult:
        """Order note to the customer with carrier + tracking, then status completed. When only some
        lines shipped the note is added and the order stays processing (Woo has no partial state)."""
        key = update.external_order_id
        try:
            order = await self._get(f"orders/{key}")
            status = (order.get("status") or "").lower()
            if status in _DEAD:
                return PushResult(key, ok=False, error=f"WooCommerce order is {status}; not marking it shipped")
            all_lines = {str(li.get("id")) for li in order.get("line_items") or []}
            whole = not update.external_line_ids or all_lines <= {str(x) for x in update.external_line_ids}
            notes = await self._get(f"orders/{key}/notes")
            if not any(update.tracking_number in (n.get("note") or "") for n in notes or []):
                text = f"Shipped with {update.carrier_code.upper()}, tracking number {update.tracking_number}"
                if update.tracking_url:
                    text += f": {update.tracking_url}"
                await self._request("POST", f"orders/{key}/notes", json={"note": text, "customer_note": True})
            if whole and status != "completed":
                await self._request("PUT", f"orders/{key}", json={"status": "completed"})
        except ConnectorAuthError:
            raise
        except ConnectorTransientError as exc:
            return PushResult(key, ok=False, error=exc.message, transient=True)
        except ConnectorError as exc:
            return PushResult(key, ok=False, error=exc.message)
        return PushResult(key, ok=True)

    async def test_connection(self) -> ConnectionCheck:
        try:
            status = await self._get("system_status")
        except (ConnectorError, ConnectorTransientError) as exc:
            return ConnectionCheck(ok=False, message=exc.message)
        env = status.get("environment") or {} if isinstance(status, dict) else {}
        name = ""
        try:   # the WordPress index carries the site title; not worth failing the check over
            index = await self.http.get(f"{self.api_base_url}/wp-json/")
            name = (_decode(index) or {}).get("name") or "" if index.status_code == 200 else ""
        except (httpx.HTTPError, ConnectorError, AttributeError):
            name = ""
        name = name or env.get("site_url") or self.api_base_url
        version = env.get("version") or "?"
        return ConnectionCheck(ok=True, message=f"Connected to {name} (WooCommerce {version})", shop_name=name)
