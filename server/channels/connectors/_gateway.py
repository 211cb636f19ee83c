"""Plumbing shared by the Chinese "router" gateways: Taobao TOP, JD JOS and Pinduoduo POP.

All three sign `MD5(secret + concat(sorted k+v) + secret)`, speak Beijing time, wrap errors in
`error_response`, and list orders by modified time with page numbers. `GatewayConnector` holds the
pull algorithm (windows, backward paging, de-duplication), the retry loop and the write-back
bookkeeping once; each platform supplies how to call its gateway and how to read its answers.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

import httpx
from faker import Faker
from litestar import Request, Response, Router, get, post, route
from litestar.enums import HttpMethod, MediaType
from litestar.exceptions import ClientException, HTTPException, NotFoundException
from litestar.params import FromPath, JSONBody

from server.channels.connectors.base import (
    ConnectionCheck,
    Connector,
    ConnectorAuthError,
    ConnectorError,
    ConnectorTransientError,
    FetchedOrder,
    FulfillmentUpdate,
    InventoryUpdate,
    NormalizedAddress,
    PushResult,
)
from server.channels.sandbox.base import DEMO_SKUS, UNLISTED_SKU, DemoSku, PlatformSandbox, SandboxOrder
from server.core import clock
from server.core.clock import parse_beijing, utc
from server.core.money import to_minor

# ---------------------------------------------------------------------------------------------
# signing


def clean_params(params: Mapping[str, Any]) -> dict[str, str]:
    """What goes on the wire and into the signature: every value as a string, empty ones dropped
    (the official SDKs neither send nor sign empty values)."""
    out: dict[str, str] = {}
    for key, value in params.items():
        if value is None or value == "":
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, dict | list):
            out[key] = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        else:
            out[key] = str(value)
    return out


def sign_base(params: Mapping[str, str], exclude: frozenset[str] = frozenset({"sign"})) -> str:
    """concat(sorted k+v): keys in byte order, `sign` itself never signed."""
    return "".join(f"{k}{params[k]}" for k in sorted(params) if k not in exclude)


def md5_sign(secret: str, params: Mapping[str, str], exclude: frozenset[str] = frozenset({"sign"})) -> str:
    """MD5(secret + concat(sorted k+v) + secret), upper-case hex: Taobao md5, JD and PDD."""
    text = f"{secret}{sign_base(params, exclude)}{secret}"
    return hashlib.md5(text.encode("utf-8")).hexdigest().upper()  # noqa: S324 - the platforms' protocol


def hmac_md5_sign(secret: str, params: Mapping[str, str]) -> str:
    """Taobao sign_method=hmac: HMAC-MD5 keyed by the secret over the bare concatenation."""
    digest = hmac.new(secret.encode("utf-8"), sign_base(params).encode("utf-8"), hashlib.md5)
    return digest.hexdigest().upper()


def same_sign(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.upper(), (given or "").upper())


# ---------------------------------------------------------------------------------------------
# windows, paging, de-duplication


def time_windows(since: datetime, until: datetime, size: timedelta) -> list[tuple[datetime, datetime]]:
    """Split [since, until] into windows of at most `size`, whole seconds (the platforms' grain).
    Adjacent windows share their edge second; the de-duplication absorbs the overlap."""
    start, end = utc(since).replace(microsecond=0), utc(until).replace(microsecond=0)
    windows = []
    while start < end:
        stop = min(start + size, end)
        windows.append((start, stop))
        start = stop
    return windows


def backward_pages(total: int, page_size: int) -> list[int]:
    """Last page first: with results sorted by modified desc, an order that changes during the
    pull leaves the window and the rows behind it move up into pages already read (read twice,
    never skipped)."""
    return list(range(math.ceil(total / page_size), 0, -1)) if total > 0 else []


class SeenVersions:
    """(external id, platform modified time) pairs already yielded in this pull."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, str]] = set()

    def fresh(self, external_id: str, modified: Any) -> bool:
        key = (str(external_id), str(modified))
        if key in self._seen:
            return False
        self._seen.add(key)
        return True


# ---------------------------------------------------------------------------------------------
# mapping helpers (pure)


class MappingError(ValueError):
    """The payload does not have what a NormalizedOrder needs."""


def cny(value: Any) -> int:
    """Yuan (string or JSON double) -> fen, exactly: Decimal(str(x))."""
    return to_minor(value, "CNY")


def beijing(value: Any, field: str = "", required: bool = False) -> datetime | None:
    """'yyyy-MM-dd HH:mm:ss' Beijing -> aware UTC."""
    text = str(value).strip() if value not in (None, "") else ""
    if not text:
        if required:
            raise MappingError(f"missing {field}")
        return None
    try:
        return parse_beijing(text)
    except ValueError as exc:
        raise MappingError(f"bad time in {field}: {text!r}") from exc


def looks_masked(*values: Any) -> bool:
    """Asterisk desensitisation (Taobao, PDD, JD `desen_*`) or `~...~` ciphertext (JD, PDD)."""
    for value in values:
        text = str(value or "")
        if "*" in text or (len(text) > 2 and text.startswith("~") and text.rstrip("~").count("~") >= 1):
            return True
    return False


def cn_address(*, name: str, phone: str, province: str, city: str, district: str, town: str = "",
               address: str = "", postcode: str = "", masked: bool = False) -> NormalizedAddress:
    """A mainland-China receiver. Province-level counties (湖北省 仙桃市, 河南省 济源市, 海南省
    琼海市, ...) have no prefecture-level city; the platforms then send the county in the district
    slot with an empty city. We copy it into `city` as well: carriers' e-waybill APIs and label
    layouts require a city, and that is how JD and PDD report these places anyway. The district
    keeps the county so nothing is lost."""
    province, city, district = (province or "").strip(), (city or "").strip(), (district or "").strip()
    if not city and district:
        city = district
    return NormalizedAddress(
        name=(name or "").strip(), phone=(phone or "").strip(), country_code="CN", province=province,
        city=city, district=district, town=(town or "").strip(), address=(address or "").strip(),
        postcode=(postcode or "").strip(), masked=masked,
    )


def strip_region_prefix(address: str, *parts: str) -> str:
    """'浙江省杭州市西湖区文三路 1 号' -> '文三路 1 号' when the platform only gives a full address."""
    text = (address or "").strip()
    for part in parts:
        if part and text.startswith(part):
            text = text[len(part):].lstrip()
    return text


def mapped(external_id: str, payload: dict, mapper: Callable[[dict], Any]) -> FetchedOrder:
    """Map one payload; a payload that fails to map is kept with the reason, never dropped."""
    try:
        return FetchedOrder(external_id=external_id, raw=payload, order=mapper(payload))
    except Exception as exc:  # any malformed shape must surface as an error row, not a crash
        return FetchedOrder(external_id=external_id, raw=payload, error=f"{type(exc).__name__}: {exc}")


# ---------------------------------------------------------------------------------------------
# HTTP


async def send(http: httpx.AsyncClient, url: str, *, form: dict | None = None,
               json_body: dict | None = None) -> dict:
    """POST to a gateway. Network trouble, 429 and 5xx are transient; the body must be a JSON object
    (the gateways answer errors with HTTP 200 and `error_response`, which the caller reads)."""
    try:
        if json_body is not None:
            response = await http.post(url, json=json_body)
        else:
            response = await http.post(url, data=form or {})
    except httpx.TransportError as exc:
        raise ConnectorTransientError(f"gateway unreachable: {type(exc).__name__}") from exc
    if response.status_code == 429 or response.status_code >= 500:
        raise ConnectorTransientError(f"gateway answered HTTP {response.status_code}",
                                      retry_after=_retry_after(response.headers.get("Retry-After")))
    try:
        body = response.json()
    except ValueError as exc:
        raise ConnectorError(f"gateway answered HTTP {response.status_code} with a non-JSON body",
                             code="bad_response") from exc
    if not isinstance(body, dict):
        raise ConnectorError("gateway answered with a JSON value that is not an object", code="bad_response")
    if response.status_code >= 400 and "error_response" not in body:
        raise ConnectorError(f"gateway answered HTTP {response.status_code}", code="bad_response")
    return body


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------
# the connector skeleton


class GatewayConnector(Connector):
    """Pull/push/check written once; subclasses implement the `_`-prefixed platform hooks."""

    window: ClassVar[timedelta] = timedelta(minutes=30)
    page_size: ClassVar[int] = 100
    lag: ClassVar[timedelta] = timedelta(minutes=1)      # stay behind the platform's clock (late writes)
    retry_delays: ClassVar[tuple[float, ...]] = (0.3, 1.0)
    max_retry_after: ClassVar[float] = 3.0               # cap on a platform-requested wait inside one call
    expand_concurrency: ClassVar[int] = 5

    # -- platform hooks ------------------------------------------------------------------------
    async def _call_once(self, method: str, params: dict[str, Any]) -> dict:
        """One signed gateway call; returns the method's result object or raises a Connector*Error."""
        raise NotImplementedError

    async def _list_page(self, start: datetime, end: datetime, page: int) -> tuple[int, list[dict]]:
        """One page of the modified-time listing: (total across pages, rows)."""
        raise NotImplementedError

    def _row_key(self, row: dict) -> tuple[str, str]:
        """(external id, modified) of a listing row."""
        raise NotImplementedError

    async def _expand(self, row: dict) -> dict:
        """The full order payload for a listing row (Taobao fetches it; JD and PDD already have it)."""
        return row

    def _map(self, payload: dict) -> Any:
        raise NotImplementedError

    async def _push_stock(self, update: InventoryUpdate) -> None:
        raise NotImplementedError

    async def _ship(self, update: FulfillmentUpdate) -> None:
        raise NotImplementedError

    async def _whoami(self) -> str:
        """A cheap authenticated call; returns the shop name."""
        raise NotImplementedError

    # -- shared behaviour ------------------------------------------------------------------------
    def safe_until(self, now: datetime) -> datetime:
        return now - self.lag

    async def call(self, method: str, **params: Any) -> dict:
        """A gateway call with a few bounded retries of transient failures."""
        attempt = 0
        while True:
            try:
                return await self._call_once(method, params)
            except ConnectorTransientError as exc:
                if attempt >= len(self.retry_delays):
                    raise
                wait = self.retry_delays[attempt]
                if exc.retry_after:
                    wait = max(wait, min(exc.retry_after, self.max_retry_after))
                attempt += 1
                await asyncio.sleep(wait)

    async def fetch_orders(self, since: datetime, until: datetime) -> AsyncIterator[list[FetchedOrder]]:
        seen = SeenVersions()
        for start, end in time_windows(since, until, self.window):
            # Rows entering the window while we page (a window ending in the future) could slip
            # past; when the total grew during a pass, scan the window again (dedup makes it cheap).
            for _pass in range(3):
                total, first_rows = await self._list_page(start, end, 1)
                pages = backward_pages(total, self.page_size)
                last_total = total
                for page in pages:
                    if page == 1 and len(pages) == 1:
                        rows = first_rows
                    else:
                        last_total, rows = await self._list_page(start, end, page)
                    batch = await self._expand_rows([r for r in rows if seen.fresh(*self._row_key(r))], seen)
                    if batch:
                        yield batch
                if last_total <= total:
                    break

    async def _expand_rows(self, rows: list[dict], seen: SeenVersions) -> list[FetchedOrder]:
        gate = asyncio.Semaphore(self.expand_concurrency)

        async def one(row: dict) -> FetchedOrder | None:
            external_id, listed_modified = self._row_key(row)
            async with gate:
                try:
                    payload = await self._expand(row)
                except ConnectorError as exc:
                    if isinstance(exc, ConnectorAuthError):
                        raise
                    return FetchedOrder(external_id=external_id, raw=row, error=exc.message)
            if payload is not row:
                full_id, modified = self._row_key(payload)
                if modified != listed_modified and not seen.fresh(full_id, modified):
                    return None      # this newer version was already yielded earlier in the pull
            return mapped(external_id, payload, self._map)

        tasks = [asyncio.ensure_future(one(r)) for r in rows]
        try:
            results = await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:           # one call failed the pull: stop the others' requests too
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        return [r for r in results if r is not None]

    async def push_inventory(self, updates: list[InventoryUpdate]) -> list[PushResult]:
        results = []
        for update in updates:
            key = update.platform_sku_id or update.platform_product_id
            results.append(await self._attempt(key, self._push_stock(update)))
        return results

    async def push_fulfillment(self, update: FulfillmentUpdate) -> PushResult:
        return await self._attempt(update.external_order_id, self._ship(update))

    async def _attempt(self, key: str, work: Awaitable[None]) -> PushResult:
        """One write-back: its own result, so one failing SKU never fails the rest. Credentials
        problems still raise: every other write would fail the same way."""
        try:
            await work
        except ConnectorAuthError:
            raise
        except ConnectorTransientError as exc:
            return PushResult(key=key, ok=False, error=exc.message, transient=True)
        except ConnectorError as exc:
            return PushResult(key=key, ok=False, error=exc.message)
        return PushResult(key=key, ok=True)

    async def test_connection(self) -> ConnectionCheck:
        try:
            shop = await self._whoami()
        except (ConnectorError, ConnectorTransientError) as exc:
            return ConnectionCheck(ok=False, message=exc.message)
        return ConnectionCheck(ok=True, message=f"connected to {self.display_name}", shop_name=shop)

    def require(self, *names: str) -> dict[str, str]:
        values = {}
        for name in names:
            value = self.setting(name)
            if value in (None, ""):
                raise ConnectorAuthError(f"{self.platform}: {name} is not configured", code="missing_credentials")
            values[name] = str(value)
        return values


# ---------------------------------------------------------------------------------------------
# sandbox side: what the three gateway sandboxes share (they verify with the same signing code)

# Real places (GB/T 2260 names) with a real street each: two municipalities and two
# province-level counties, which have no prefecture-level city.
CN_PLACES: tuple[tuple[str, str, str, str, str, tuple[str, ...]], ...] = (
    # province, city, district, town (street), postcode, roads
    ("北京市", "北京市", "朝阳区", "建外街道", "100022", ("建国路", "光华路")),
    ("北京市", "北京市", "海淀区", "中关村街道", "100080", ("中关村大街", "海淀大街")),
    ("上海市", "上海市", "浦东新区", "陆家嘴街道", "200120", ("世纪大道", "东方路")),
    ("上海市", "上海市", "徐汇区", "徐家汇街道", "200030", ("漕溪北路", "虹桥路")),
    ("浙江省", "杭州市", "西湖区", "西溪街道", "310013", ("文三路", "教工路")),
    ("浙江省", "杭州市", "余杭区", "五常街道", "311121", ("文一西路", "五常大道")),
    ("广东省", "深圳市", "南山区", "粤海街道", "518057", ("科技南路", "深南大道")),
    ("广东省", "广州市", "天河区", "石牌街道", "510630", ("天河路", "五山路")),
    ("江苏省", "苏州市", "姑苏区", "平江街道", "215005", ("干将东路", "白塔东路")),
    ("四川省", "成都市", "武侯区", "玉林街道", "610041", ("人民南路", "玉林北路")),
    ("湖北省", "武汉市", "洪山区", "珞南街道", "430070", ("珞喻路", "鲁磨路")),
    ("云南省", "昆明市", "五华区", "华山街道", "650032", ("东风西路", "青年路")),
    ("湖北省", "", "仙桃市", "干河街道", "433000", ("钱沟路", "仙桃大道")),
    ("河南省", "", "济源市", "沁园街道", "459000", ("济源大道", "沁园路")),
)

# status a generated order should reach -> the events that take a new unpaid order there
STATUS_CHAINS: dict[str, tuple[str, ...]] = {
    "unpaid": (), "paid": ("pay",), "shipped": ("pay", "ship"), "delivered": ("pay", "ship", "deliver"),
    "completed": ("pay", "ship", "deliver", "complete"), "cancelled": ("cancel",),
    "refunded": ("pay", "refund"), "partially_refunded": ("pay", "partial_refund"),
}
_DEFAULT_MIX = (("unpaid", 15), ("paid", 60), ("shipped", 15), ("completed", 10))
GIFT_SKU = next(s for s in DEMO_SKUS if s.code == "FLT-SS-02")   # the zero-priced gift some orders carry


@dataclass
class Receiver:
    name: str
    mobile: str
    province: str
    city: str
    district: str
    town: str
    detail: str
    postcode: str

    def masked(self) -> Receiver:
        """Asterisk desensitisation as the platforms show it once PII is hidden."""
        return Receiver(self.name[:1] + "*" * max(len(self.name) - 1, 1), self.mobile[:3] + "****" + self.mobile[-4:],
                        self.province, self.city, self.district, self.town, self.detail[:3] + "******",
                        self.postcode)


@dataclass
class Picked:
    sku: DemoSku
    quantity: int
    unit_price: str          # yuan
    gift: bool = False


class GatewayReject(Exception):
    """Raised inside a sandbox method: answer the caller with this platform error body."""

    def __init__(self, body: dict):
        super().__init__(str(body))
        self.body = body


class GatewaySandbox(PlatformSandbox):
    """A gateway sandbox: one signed endpoint plus the `_sandbox` control routes."""

    gateway_path: ClassVar[str]
    timestamp_tolerance: ClassVar[timedelta] = timedelta(minutes=10)
    product_base: ClassVar[int]
    sku_base: ClassVar[int]
    status_chains: ClassVar[dict[str, tuple[str, ...]]] = STATUS_CHAINS

    def __init__(self, *, seed: int | None = None):
        super().__init__(seed=seed)
        self.faker = Faker("zh_CN")
        self.faker.seed_instance(self.rng.randint(0, 2**31))
        # called with (sandbox, params) before each gateway call is answered: tests mutate orders here
        self.on_request: Callable[[GatewaySandbox, dict[str, str]], None] | None = None
        self.inventory = {self.catalog_ids(s)[1]: 100 for s in DEMO_SKUS}

    # -- platform hooks ------------------------------------------------------------------------
    def authenticate(self, params: dict[str, str]) -> dict | None:
        """The platform's error body for bad credentials/timestamp/signature, or None."""
        raise NotImplementedError

    def dispatch(self, params: dict[str, str]) -> dict:
        """Answer one authenticated call (raise GatewayReject for a platform error)."""
        raise NotImplementedError

    def build(self, at: datetime, created: datetime, lines: list[Picked], receiver: Receiver,
              masked: bool | None) -> SandboxOrder:
        """A new unpaid (or COD / not yet confirmed) order in the platform's native shape."""
        raise NotImplementedError

    def transition(self, order: SandboxOrder, event: str, at: datetime) -> None:
        """Apply one event to the native payload, stamping `at`; ValueError if impossible."""
        raise NotImplementedError

    def status_of(self, order: SandboxOrder) -> str:
        raise NotImplementedError

    # -- catalogue, people -----------------------------------------------------------------------
    def catalog_ids(self, sku: DemoSku) -> tuple[str, str]:
        """(platform product id, platform sku id) of a demo SKU: one listing per SKU."""
        index = DEMO_SKUS.index(sku) if sku in DEMO_SKUS else 99
        return str(self.product_base + index * 7919), str(self.sku_base + index * 104729)

    def sku_by_id(self, sku_id: str) -> DemoSku | None:
        return next((s for s in (*DEMO_SKUS, UNLISTED_SKU) if self.catalog_ids(s)[1] == str(sku_id)), None)

    def receiver(self) -> Receiver:
        province, city, district, town, postcode, roads = self.rng.choice(CN_PLACES)
        r = self.rng
        detail = (f"{r.choice(roads)}{r.randint(1, 999)}号{r.randint(1, 30)}栋{r.randint(1, 3)}单元"
                  f"{r.randint(1, 33)}0{r.randint(1, 4)}室")
        return Receiver(self.faker.name(), self.faker.phone_number(), province, city, district, town,
                        detail, postcode)

    def pick_lines(self, skus: list[str] | None = None, lines: int | None = None,
                   gift: bool | None = None) -> list[Picked]:
        by_code = {s.code: s for s in (*DEMO_SKUS, UNLISTED_SKU)}
        if skus:
            unknown = [c for c in skus if c not in by_code]
            if unknown:
                raise ValueError(f"unknown sku codes: {', '.join(unknown)}")
            chosen = [by_code[c] for c in skus]
        else:
            count = lines or self.rng.choices((1, 2, 3), weights=(50, 30, 20))[0]
            chosen = self.rng.sample(DEMO_SKUS, min(count, len(DEMO_SKUS)))
            if self.rng.random() < 0.08:     # now and then a code the merchant's catalogue lacks
                chosen.append(UNLISTED_SKU)
        picked = [Picked(s, self.rng.randint(1, 3), s.price_cny) for s in chosen]
        if gift or (gift is None and self.rng.random() < 0.15):
            picked.append(Picked(GIFT_SKU, 1, "0.00", gift=True))
        return picked

    # -- life of an order ------------------------------------------------------------------------
    def generate(self, count: int = 1, **options: Any) -> list[SandboxOrder]:
        """Options: status (a key of `status_chains`; default a mix, mostly paid), skus (codes),
        lines (how many), gift (add a zero-priced gift line; default sometimes), masked (default:
        as the platform shows PII), at (the orders' modified time; default the sandbox clock)."""
        status = options.get("status")
        if status is not None and status not in self.status_chains:
            raise ValueError(f"unknown status {status!r}; expected one of {', '.join(self.status_chains)}")
        at = utc(options.get("at") or self.now()).replace(microsecond=0)
        created_orders = []
        for _ in range(count):
            with self.lock:      # the rng and the store are shared with the ticker and the handlers
                target = status or self.rng.choices([m for m, _ in _DEFAULT_MIX], [w for _, w in _DEFAULT_MIX])[0]
                lines = self.pick_lines(options.get("skus"), options.get("lines"), options.get("gift"))
                chain = self.status_chains[target]
                created = at - timedelta(minutes=self.rng.randint(1, 90)) if chain else at
                order = self.build(at, created, lines, self.receiver(), options.get("masked"))
                for event in chain:
                    self.transition(order, event, at)
                order.updated_at = at
                self.put(order)
            created_orders.append(order)
        return created_orders

    def advance(self, order_id: str, event: str) -> SandboxOrder:
        with self.lock:
            order = self.orders.get(order_id)
            if order is None:
                raise KeyError(order_id)
            at = self.next_stamp(order)
            self.transition(order, event, at)
            order.updated_at = at
            return order

    def next_stamp(self, order: SandboxOrder) -> datetime:
        """The modified time of an order's next change: now, but always later than the last one."""
        return max(utc(self.now()).replace(microsecond=0), order.updated_at + timedelta(seconds=1))

    def listing(self, start: datetime, end: datetime, *, by_created: bool = False, descending: bool = True,
                keep: Callable[[SandboxOrder], bool] | None = None) -> list[SandboxOrder]:
        """Orders whose modified (or created) time is in [start, end], sorted the platform's way."""
        with self.lock:
            rows = [o for o in self.orders.values()
                    if start <= (o.created_at if by_created else o.updated_at) <= end and (keep is None or keep(o))]
        rows.sort(key=lambda o: (o.created_at if by_created else o.updated_at, o.external_id), reverse=descending)
        return rows

    def fresh(self, at: datetime | None) -> bool:
        return at is not None and abs(clock.now() - at) <= self.timestamp_tolerance

    def log_stock(self, product_id: str, sku_id: str, quantity: int, mode: str) -> None:
        self.inventory[sku_id] = quantity
        self.inventory_log.append({"at": clock.now().isoformat(), "platform_product_id": product_id,
                                   "platform_sku_id": sku_id, "quantity": quantity, "mode": mode})

    def log_shipment(self, order_id: str, carrier: str, tracking: str, lines: list[str] | None = None) -> None:
        self.fulfillments.append({"at": clock.now().isoformat(), "order_id": order_id, "carrier": carrier,
                                  "tracking_number": tracking, "lines": lines or []})

    # -- HTTP ------------------------------------------------------------------------------------
    async def serve(self, request: Request) -> Response:
        params = await read_params(request)
        with self.lock:
            self.requests.append({"path": request.url.path, "params": dict(params)})
        if self.on_request is not None:
            self.on_request(self, params)
        with self.lock:
            failure = self.fail_next.pop(0) if self.fail_next else None
        if failure is not None:
            return Response(content=failure[1], status_code=failure[0], media_type=MediaType.JSON)
        body = self.authenticate(params)
        if body is None:
            try:
                with self.lock:
                    body = self.dispatch(params)
            except GatewayReject as reject:
                body = reject.body
        return Response(content=body, status_code=200, media_type=MediaType.JSON)

    def router(self) -> Router:
        sandbox = self

        @route(self.gateway_path, http_method=[HttpMethod.GET, HttpMethod.POST])
        async def gateway(request: Request) -> Response:
            return await sandbox.serve(request)

        @post("/_sandbox/generate", status_code=200, sync_to_thread=False)
        def generate(data: JSONBody[dict[str, Any] | None] = None) -> dict:
            data = data or {}
            try:
                orders = sandbox.generate(int(data.get("count", 1)), status=data.get("status"),
                                          skus=data.get("skus"), lines=data.get("lines"),
                                          masked=data.get("masked"), gift=data.get("gift"))
            except ValueError as exc:
                raise ClientException(str(exc)) from exc
            return {"ids": [o.external_id for o in orders]}

        @post("/_sandbox/orders/{order_id:str}/{event:str}", status_code=200, sync_to_thread=False)
        def advance(order_id: FromPath[str], event: FromPath[str]) -> dict:
            try:
                order = sandbox.advance(order_id, event)
            except KeyError as exc:
                raise NotFoundException(f"no order {order_id}") from exc
            except ValueError as exc:
                raise HTTPException(status_code=409, detail=str(exc)) from exc
            return {"id": order.external_id, "status": sandbox.status_of(order),
                    "updated_at": order.updated_at.isoformat()}

        @get("/_sandbox/inventory", sync_to_thread=False)
        def inventory() -> dict:
            with sandbox.lock:
                return {"inventory": dict(sandbox.inventory), "log": list(sandbox.inventory_log),
                        "fulfillments": list(sandbox.fulfillments)}

        @get("/_sandbox/orders", sync_to_thread=False)
        def orders() -> dict:
            with sandbox.lock:
                rows = sorted(sandbox.orders.values(), key=lambda o: o.updated_at, reverse=True)
                return {"orders": [{"id": o.external_id, "status": sandbox.status_of(o),
                                    "updated_at": o.updated_at.isoformat()} for o in rows]}

        return Router(path=f"/sandbox/{self.platform}",
                      route_handlers=[gateway, generate, advance, inventory, orders])


async def read_params(request: Request) -> dict[str, str]:
    """Query string plus form or JSON body, as strings (how the gateways read them)."""
    params = dict(request.query_params.items())
    if request.method == "POST":
        if "application/json" in request.headers.get("content-type", ""):
            body = await request.json()
            if isinstance(body, dict):
                params.update(clean_params(body))
        else:
            form = await request.form()
            params.update({k: str(v) for k, v in form.items()})
    return params
