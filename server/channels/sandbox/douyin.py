"""Douyin shop (抖店) sandbox: the open-platform gateway's wire format, served locally.

Paths are the real ones (method with dots as slashes) under /sandbox/douyin; system parameters come in
the query string, `param_json` as the JSON body (or, as the legacy GET form, in the query string).
Every call is checked like the real gateway does: app_key, access_token, v=2, timestamp within 10
minutes (unix seconds or "yyyy-MM-dd HH:mm:ss" Beijing time) and the sign, recomputed over the
re-serialized body (keys sorted at every depth, no spaces). Answers use the real envelope
{code, msg, sub_code, sub_msg, data, log_id} with the platform's error codes.
"""
import copy
import hashlib
import hmac
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Request, Response, Router, route
from litestar.enums import HttpMethod
from litestar.params import FromPath

from server.channels.sandbox.base import DEMO_SKUS, UNLISTED_SKU, DemoSku, PlatformSandbox, SandboxOrder
from server.core.clock import BEIJING, from_unix, to_unix
from server.core.money import to_minor

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高梁宋郑谢韩唐冯于董萧"
GIVEN = ("伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明",
         "超", "秀英", "霞", "平", "刚", "桂英", "子涵", "浩然", "欣怡", "雨轩")
# (province, city, district ("town" in Douyin), street ("street"), road)
PLACES = (
    ("浙江省", "杭州市", "西湖区", "文新街道", "文三路"), ("浙江省", "杭州市", "余杭区", "五常街道", "文一西路"),
    ("广东省", "深圳市", "南山区", "粤海街道", "科技南路"), ("广东省", "广州市", "天河区", "石牌街道", "天河路"),
    ("北京市", "北京市", "朝阳区", "建外街道", "建国路"), ("上海市", "上海市", "浦东新区", "陆家嘴街道", "世纪大道"),
    ("四川省", "成都市", "武侯区", "浆洗街街道", "武侯祠大街"), ("江苏省", "南京市", "鼓楼区", "湖南路街道", "中山北路"),
    ("湖北省", "武汉市", "洪山区", "珞南街道", "珞喻路"), ("福建省", "厦门市", "思明区", "鹭江街道", "中山路"),
    ("云南省", "昆明市", "五华区", "华山街道", "南屏街"), ("海南省", "海口市", "美兰区", "海甸街道", "人民大道"),
)
NOTES = ("", "", "", "请尽快发货", "送人的，不要放价格单", "麻烦包装结实一点")
CARRIERS = (("shunfeng", "顺丰速运"), ("zhongtong", "中通快递"), ("yuantong", "圆通速递"), ("yunda", "韵达快递"))
STATUS_DESC = {1: "待支付", 105: "已支付", 2: "备货中", 101: "部分发货", 3: "已发货", 4: "已取消", 5: "已完成"}
SHIPPABLE = {2, 105, 101}
PAID = {2, 105, 101, 3, 5}


class ApiError(Exception):
    def __init__(self, code: int, msg: str, sub_code: str = "", sub_msg: str = ""):
        super().__init__(sub_msg or msg)
        self.code, self.msg, self.sub_code, self.sub_msg = code, msg, sub_code, sub_msg


def _bad_param(sub_code: str, sub_msg: str) -> ApiError:
    return ApiError(40003, "非法的参数", sub_code, sub_msg)


def _business(sub_msg: str) -> ApiError:
    return ApiError(40004, "非法的参数（业务校验）", "isv.business-failed", sub_msg)


def canonical_json(value: Any) -> str:
    """How the gateway re-serializes param_json before checking the sign (written independently of
    the connector's signing module so a mistake there shows up here)."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


class DouyinSandbox(PlatformSandbox):
    platform = "douyin"
    credentials = {
        "app_key": "sandbox-douyin-key",
        "app_secret": "sandbox-douyin-secret",
        "access_token": "sandbox-douyin-token",
        "shop_id": "100001",
    }
    timestamp_tolerance = timedelta(minutes=10)

    def __init__(self, *, seed: int | None = None, rate_limit: tuple[float, int] | None = None):
        super().__init__(seed=seed)
        self.rate_limit = rate_limit          # (requests/s, burst) like the platform's per-app QPS; None = off
        self._bucket = (float(rate_limit[1]) if rate_limit else 0.0, time.monotonic())
        self._bucket_lock = threading.Lock()
        # every SKU the shop lists, with the ids the platform gave it
        self.catalogue: dict[str, dict[str, Any]] = {}
        for i, sku in enumerate((*DEMO_SKUS, UNLISTED_SKU)):
            product_id, sku_id = str(3_658_000_000_000_000_000 + i * 7_919), str(1_737_398_770_240_000 + i)
            self.catalogue[sku_id] = {"sku_id": sku_id, "product_id": product_id, "code": sku.code, "sku": sku}
            self.inventory[sku_id] = 100
        self._seq = 0

    # -- generator ----------------------------------------------------------------------------
    def _id(self, prefix: int) -> str:
        self._seq += 1
        return str(prefix * 10**17 + self.rng.randrange(10**12) * 10**5 + self._seq % 10**5)

    def _sku_by_code(self, code: str) -> dict[str, Any]:
        for entry in self.catalogue.values():
            if entry["code"] == code:
                return entry
        raise ValueError(f"unknown SKU code {code!r}")

    def _sku_order(self, parent: str, entry: dict, qty: int, *, gift: bool, ts: dict[str, int]) -> dict:
        sku: DemoSku = entry["sku"]
        price = 0 if gift else to_minor(sku.price_cny, "CNY")
        promotion = (price * qty // 10) if (price and self.rng.random() < 0.25) else 0
        return {
            "order_id": self._id(69), "parent_order_id": parent, "order_level": 3,
            "product_id": int(entry["product_id"]), "product_id_str": entry["product_id"],
            "sku_id": int(entry["sku_id"]), "code": sku.code, "out_sku_id": "",
            "product_name": sku.title_zh, "spec": [{"name": "规格", "value": "默认"}],
            "item_num": qty, "goods_price": price, "origin_amount": price, "sum_amount": price * qty,
            "promotion_amount": promotion, "pay_amount": price * qty - promotion, "post_amount": 0,
            "given_product_type": "FREE" if gift else "", "goods_type": 0,
            "order_status": ts["status"], "main_status": ts["status"],
            "order_status_desc": STATUS_DESC[ts["status"]], "create_time": ts["create"],
            "pay_time": ts["pay"], "update_time": ts["update"], "after_sale_info": {
                "after_sale_status": 0, "after_sale_type": 0, "refund_status": 0},
        }

    def _build(self, at: datetime, paid: bool, codes: list[str] | None) -> dict:
        rng = self.rng
        update = to_unix(at)
        create = update - rng.randint(120, 3600)
        cod = paid and rng.random() < 0.05
        pay = create + rng.randint(10, 100) if paid and not cod else 0
        status = 2 if paid else 1
        ts = {"status": status, "create": create, "pay": pay, "update": update}
        order_id = self._id(69)
        picks = [self._sku_by_code(c) for c in codes] if codes else [
            self._sku_by_code(s.code) for s in rng.sample(DEMO_SKUS, rng.randint(1, 3))]
        skus = [self._sku_order(order_id, e, rng.randint(1, 3), gift=False, ts=ts) for e in picks]
        if not codes and rng.random() < 0.15:   # a free gift attached to the first item
            gift = self._sku_order(order_id, self._sku_by_code("FLT-SS-02"), 1, gift=True, ts=ts)
            gift["master_sku_order_id_list"] = [skus[0]["order_id"]]
            skus.append(gift)
        if not codes and rng.random() < 0.10:   # something the merchant never listed in OMS
            skus.append(self._sku_order(order_id, self._sku_by_code(UNLISTED_SKU.code), 1, gift=True, ts=ts))
        post = rng.choice((0, 0, 0, 600, 800, 1000))
        skus[0]["post_amount"] = post
        skus[0]["pay_amount"] += post
        province, city, district, street, road = rng.choice(PLACES)
        given = rng.choice(GIVEN)
        phone = "1" + rng.choice("3578") + "".join(rng.choice("0123456789") for _ in range(9))
        amount = sum(s["sum_amount"] for s in skus)
        promotion = sum(s["promotion_amount"] for s in skus)
        return {
            "order_id": order_id, "order_level": 2, "shop_id": int(self.credentials["shop_id"]),
            "shop_name": "OMS 演示茶具旗舰店", "order_status": status, "main_status": status,
            "order_status_desc": STATUS_DESC[status], "main_status_desc": STATUS_DESC[status],
            "order_type": 0, "biz": 2, "b_type": 2, "b_type_desc": "抖音",
            "pay_type": 0 if cod else rng.choice((1, 2)), "create_time": create, "pay_time": pay,
            "update_time": update, "finish_time": 0, "exp_ship_time": (pay or create) + 48 * 3600,
            "order_amount": amount + post, "pay_amount": amount + post - promotion, "post_amount": post,
            "post_origin_amount": post, "post_promotion_amount": 0, "promotion_amount": promotion,
            "promotion_shop_amount": promotion, "promotion_platform_amount": 0, "modify_amount": 0,
            "tax_amount": 0, "buyer_words": rng.choice(NOTES), "seller_words": "",
            "doudian_open_id": "#" + hashlib.sha256(order_id.encode()).hexdigest()[:40],
            "mask_post_receiver": rng.choice(SURNAMES) + "*" * len(given),
            "mask_post_tel": phone[0] + "*" * 8 + phone[-2:],
            "mask_post_addr": {
                "province": {"name": province, "id": ""}, "city": {"name": city, "id": ""},
                "town": {"name": district, "id": ""}, "street": {"name": street, "id": ""},
                "detail": f"{road}***",
            },
            "logistics_info": [], "sku_order_list": skus,
        }

    def generate(self, count: int = 1, **options: Any) -> list[SandboxOrder]:
        """Options: status ("unpaid" | "paid" | "shipped" | "completed" | "cancelled"), skus (codes,
        one line each), at (the orders' update time; default now)."""
        status = options.get("status")
        if status not in (None, "unpaid", "paid", "shipped", "completed", "cancelled"):
            raise ValueError(f"unknown status {status!r}")
        out = []
        with self.lock:
            for _ in range(count):
                paid = status in ("paid", "shipped", "completed") or (status is None and self.rng.random() < 0.75)
                payload = self._build(options.get("at") or self.now(), paid, options.get("skus"))
                order = self.put(SandboxOrder(payload["order_id"], payload, from_unix(payload["update_time"]),
                                              from_unix(payload["create_time"])))
                steps = {"shipped": ["ship"], "completed": ["ship", "complete"], "cancelled": ["cancel"]}
                for event in steps.get(status or "", []):
                    self.advance(order.external_id, event)
                out.append(order)
        return out

    # -- life of an order ---------------------------------------------------------------------
    def _touch(self, order: SandboxOrder, status: int | None = None, main_status: int | None = None) -> None:
        p = order.payload
        # update_time has one-second resolution: keep it strictly increasing per order
        p["update_time"] = max(to_unix(self.now()), int(p["update_time"]) + 1)
        if status is not None:
            p["order_status"], p["order_status_desc"] = status, STATUS_DESC[status]
            p["main_status"], p["main_status_desc"] = main_status or status, STATUS_DESC.get(main_status or status, "")
        for sku in p["sku_order_list"]:
            sku["update_time"] = p["update_time"]
            if status is not None:
                sku["order_status"], sku["main_status"] = status, main_status or status
        order.updated_at = from_unix(p["update_time"])

    def _ship(self, order: SandboxOrder, company: str, company_name: str, tracking: str) -> None:
        p = order.payload
        now = to_unix(self.now())
        p["ship_time"] = now
        p["logistics_info"].append({
            "tracking_no": tracking, "company": company, "company_name": company_name, "ship_time": now,
            "delivery_id": self._id(71), "product_info": [
                {"sku_order_id": s["order_id"], "product_count": s["item_num"]} for s in p["sku_order_list"]],
        })
        self._touch(order, 3)

    def _refund_lines(self, order: SandboxOrder, skus: list[dict], shipped: bool) -> None:
        for sku in skus:
            sku["after_sale_info"] = {"after_sale_status": 12, "after_sale_type": 1 if shipped else 2,
                                      "refund_status": 3, "after_sale_status_desc": "售后成功"}

    def advance(self, order_id: str, event: str) -> SandboxOrder:
        with self.lock:
            order = self.orders.get(order_id)
            if order is None:
                raise KeyError(order_id)
            p = order.payload
            status = int(p["order_status"])
            refundable = [s for s in p["sku_order_list"] if s["after_sale_info"].get("refund_status") != 3]
            if event == "pay" and status == 1:
                p["pay_time"] = to_unix(self.now())
                self._touch(order, 2)
            elif event == "ship" and status in SHIPPABLE:
                company, name = self.rng.choice(CARRIERS)
                self._ship(order, company, name, f"SF{self.rng.randrange(10**12):012d}")
            elif event == "deliver" and status == 3:
                p["logistics_receipt_time"] = to_unix(self.now())
                self._touch(order)
            elif event == "complete" and status == 3:
                p["finish_time"] = to_unix(self.now())
                self._touch(order, 5)
            elif event == "cancel" and status in (1, 2, 105):
                if status != 1:   # a paid order is cancelled through a refund before shipment
                    self._refund_lines(order, p["sku_order_list"], shipped=False)
                p["cancel_reason"] = "不想要了"
                self._touch(order, 4, 21 if status != 1 else 4)
            elif event == "refund" and status in PAID:
                self._refund_lines(order, refundable, shipped=status in (3, 5))
                self._touch(order, 4, {3: 22, 5: 39}.get(status, 21))
            elif event == "partial_refund" and status in PAID and len(refundable) >= 2:
                self._refund_lines(order, refundable[-1:], shipped=status in (3, 5))
                self._touch(order)
            else:
                raise ValueError(f"cannot {event} an order in status {status} ({STATUS_DESC.get(status)})")
            return order

    # -- the API ------------------------------------------------------------------------------
    def _find_sku(self, params: dict) -> dict[str, Any]:
        sku_id, code, product_id = params.get("sku_id"), params.get("code"), params.get("product_id")
        entry = self.catalogue.get(str(sku_id)) if sku_id not in (None, "") else None
        if entry is None and code:
            entry = next((e for e in self.catalogue.values() if e["code"] == code), None)
        if entry is None or (product_id not in (None, "") and str(product_id) != entry["product_id"]):
            raise _business("商品或SKU不存在")
        return entry

    def _api_search_list(self, params: dict) -> dict:
        try:
            page, size = int(params.get("page", 0)), int(params.get("size", 10))
        except (TypeError, ValueError) as exc:
            raise _business("page/size 必须为整数") from exc
        if not 1 <= size <= 100 or page < 0:
            raise _business("size 需在 1-100 之间，page 从 0 开始")
        field = params.get("order_by") or "create_time"
        if field not in ("create_time", "update_time"):
            raise _business("order_by 仅支持 create_time / update_time")
        bounds = {k: int(params[k]) for k in ("create_time_start", "create_time_end", "update_time_start",
                                               "update_time_end") if params.get(k) not in (None, "")}
        with self.lock:
            rows = [o.payload for o in self.orders.values()
                    if bounds.get("create_time_start", 0) <= o.payload["create_time"] <= bounds.get("create_time_end", 2**40)
                    and bounds.get("update_time_start", 0) <= o.payload["update_time"] <= bounds.get("update_time_end", 2**40)]
            rows.sort(key=lambda p: (p[field], p["order_id"]), reverse=not params.get("order_asc", False))
            chunk = copy.deepcopy(rows[page * size:(page + 1) * size])
        return {"shop_order_list": chunk, "page": page, "size": size, "total": len(rows)}

    def _api_order_detail(self, params: dict) -> dict:
        with self.lock:
            order = self.orders.get(str(params.get("shop_order_id") or ""))
            if order is None:
                raise _business("订单不存在")
            return {"shop_order_detail": copy.deepcopy(order.payload)}

    def _api_sync_stock(self, params: dict) -> dict:
        entry = self._find_sku(params)
        incremental = bool(params.get("incremental"))
        try:
            num = int(params["stock_num"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ApiError(40002, "缺少必选参数（业务校验）", "isv.business-failed", "stock_num 必填") from exc
        if incremental and not params.get("idempotent_id"):
            raise _business("incremental=true 时 idempotent_id 必填")
        with self.lock:
            new = self.inventory.get(entry["sku_id"], 0) + num if incremental else num
            if new < 0:
                raise ApiError(50002, "业务处理失败", "isv.business-failed", "更新库存数失败: 库存不足")
            self.inventory[entry["sku_id"]] = new
            self.inventory_log.append({"sku_id": entry["sku_id"], "product_id": entry["product_id"],
                                       "code": entry["code"], "stock_num": num, "incremental": incremental,
                                       "quantity": new, "at": self.now().isoformat()})
        return {}

    def _api_logistics_add(self, params: dict) -> dict:
        order_id, tracking = str(params.get("order_id") or ""), str(params.get("logistics_code") or "")
        company = str(params.get("company_code") or params.get("logistics_id") or "")
        if not (order_id and tracking and company):
            raise ApiError(40002, "缺少必选参数（业务校验）", "isv.business-failed",
                           "order_id、company_code、logistics_code 必填")
        with self.lock:
            order = self.orders.get(order_id)
            if order is None:
                raise _business("订单不存在")
            if int(order.payload["order_status"]) not in SHIPPABLE:
                raise ApiError(50002, "业务处理失败", "isv.business-failed", "当前订单状态不允许发货")
            self._ship(order, company, dict(CARRIERS).get(company, company), tracking)
            self.fulfillments.append({"order_id": order_id, "company_code": company, "logistics_code": tracking,
                                      "at": self.now().isoformat()})
        return {}

    def _api_shop_category(self, params: dict) -> list:
        if int(params.get("cid") or 0) != 0:
            return []
        return [{"id": 20005, "name": "茶", "level": 1, "parent_id": 0, "is_leaf": False, "enable": True},
                {"id": 20117, "name": "茶具", "level": 1, "parent_id": 0, "is_leaf": False, "enable": True}]

    APIS = {"order.searchList": "_api_search_list", "order.orderDetail": "_api_order_detail",
            "sku.syncStock": "_api_sync_stock", "order.logisticsAdd": "_api_logistics_add",
            "shop.getShopCategory": "_api_shop_category"}

    # -- the gateway --------------------------------------------------------------------------
    def _throttled(self) -> bool:
        if not self.rate_limit:
            return False
        rate, burst = self.rate_limit
        with self._bucket_lock:
            tokens, at = self._bucket
            now = time.monotonic()
            tokens = min(float(burst), tokens + (now - at) * rate)
            if tokens < 1:
                self._bucket = (tokens, now)
                return True
            self._bucket = (tokens - 1, now)
            return False

    def _check_timestamp(self, raw: str) -> None:
        try:
            at = (datetime.fromtimestamp(int(raw), UTC) if raw.isdigit() else
                  datetime.strptime(raw, "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING))
        except (ValueError, OverflowError) as exc:
            raise _bad_param("isv.timestamp-format-error", "时间戳格式错误") from exc
        if abs(self.now() - at) > self.timestamp_tolerance:
            raise _bad_param("isv.timestamp-invalid", "时间戳不合法，与服务器时间相差超过10分钟")

    def _authenticate(self, method: str, q: dict[str, str], pj: str) -> Any:
        """System parameters and sign, as the gateway checks them. Returns the parsed param_json."""
        creds = self.credentials
        if q.get("method") != method:
            raise _bad_param("isv.method-invalid", "method 与请求路径不一致")
        if not q.get("app_key"):
            raise ApiError(40001, "缺少必选参数", "isv.app-id-missing", "认证失败，app_key不存在")
        if q["app_key"] != creds["app_key"]:
            raise _bad_param("isv.app-id-invalid", "认证失败，app_key无效")
        if not q.get("access_token"):
            raise ApiError(40001, "缺少必选参数", "isv.access-token-missing", "认证失败，access_token不能为空")
        if q["access_token"] != creds["access_token"]:
            raise _bad_param("isv.access-token-no-existed", "access_token不存在，请使用最新的access_token访问")
        if q.get("v") != "2":
            raise _bad_param("isv.version-invalid", "v 仅支持 2")
        self._check_timestamp(q.get("timestamp") or "")
        if not q.get("sign"):
            raise ApiError(40001, "缺少必选参数", "isv.signature-missing", "获取签名失败，请根据文档确保参数拼装正确")
        try:
            params = json.loads(pj or "{}")
        except ValueError as exc:
            raise _bad_param("isv.parameter-format-invalid", "业务参数json解析失败") from exc
        if not isinstance(params, dict):
            raise _bad_param("isv.parameter-format-invalid", "业务参数json解析失败")
        secret = creds["app_secret"]
        pattern = (f"{secret}app_key{q['app_key']}method{method}param_json{canonical_json(params)}"
                   f"timestamp{q['timestamp']}v2{secret}").encode()
        sign_method = q.get("sign_method") or "md5"
        if sign_method == "md5":
            expected = hashlib.md5(pattern, usedforsecurity=False).hexdigest()
        elif sign_method == "hmac-sha256":
            expected = hmac.new(secret.encode("utf-8"), pattern, hashlib.sha256).hexdigest()
        else:
            raise _bad_param("isv.signature-invalid", "sign_method 仅支持 md5 / hmac-sha256")
        if not hmac.compare_digest(expected, q["sign"]):
            raise _bad_param("isv.signature-invalid", "签名校验失败")
        return params

    def _envelope(self, data: Any = None, error: ApiError | None = None) -> Response:
        log_id = self.now().strftime("%Y%m%d%H%M%S") + f"{self.rng.randrange(16**20):020X}"
        if error is None:
            body = {"code": 10000, "msg": "success", "sub_code": "", "sub_msg": "", "data": data, "log_id": log_id}
        else:
            body = {"code": error.code, "msg": error.msg, "sub_code": error.sub_code, "sub_msg": error.sub_msg,
                    "data": None, "log_id": log_id}
        return Response(content=body, status_code=200, media_type="application/json")

    async def handle(self, request: Request, method: str) -> Response:
        q = dict(request.query_params)
        body = (await request.body()).decode("utf-8", "replace").strip()
        pj = body or q.get("param_json", "")
        with self.lock:
            self.requests.append({"method": method, "query": q, "param_json": pj})
            failure = self.fail_next.pop(0) if self.fail_next else None
        if failure is not None:
            return Response(content=failure[1], status_code=failure[0], media_type="application/json")
        try:
            params = self._authenticate(method, q, pj)
            if self._throttled():
                raise ApiError(60000, "触发限流，请稍后重试", "isv.flow-limit", "接口调用频率超限")
            return self._envelope(getattr(self, self.APIS[method])(params))
        except ApiError as exc:
            return self._envelope(error=exc)

    def router(self) -> Router:
        handlers = []
        for method in self.APIS:
            handlers.append(self._api_route(method))
        handlers.extend(_control_routes(self))
        return Router(path="/sandbox/douyin", route_handlers=handlers, include_in_schema=False)

    def _api_route(self, method: str) -> Any:
        async def api(request: Request) -> Response:
            return await self.handle(request, method)
        api.__name__ = "douyin_" + method.replace(".", "_")
        return route("/" + method.replace(".", "/"), http_method=[HttpMethod.GET, HttpMethod.POST],
                     name=api.__name__)(api)


def _control_routes(sandbox: DouyinSandbox) -> list:
    """Sandbox-only endpoints the demo UI and tests use to drive the fake platform."""

    @route("/_sandbox/generate", http_method=[HttpMethod.POST], name="douyin_sandbox_generate")
    async def generate(request: Request) -> Response:
        body = await request.json() if (await request.body()) else {}
        try:
            orders = sandbox.generate(int(body.get("count", 1)), status=body.get("status"), skus=body.get("skus"))
        except ValueError as exc:
            return Response(content={"error": str(exc)}, status_code=400)
        return Response(content={"ids": [o.external_id for o in orders]}, status_code=201)

    @route("/_sandbox/orders/{order_id:str}/{event:str}", http_method=[HttpMethod.POST],
           name="douyin_sandbox_event")
    async def event(order_id: FromPath[str], event: FromPath[str]) -> Response:
        try:
            order = sandbox.advance(order_id, event)
        except KeyError:
            return Response(content={"error": f"no order {order_id}"}, status_code=404)
        except ValueError as exc:
            return Response(content={"error": str(exc)}, status_code=409)
        return Response(content={"order_id": order_id, "order_status": order.payload["order_status"]},
                        status_code=200)

    @route("/_sandbox/inventory", http_method=[HttpMethod.GET], name="douyin_sandbox_inventory")
    async def inventory() -> Response:
        with sandbox.lock:
            rows = [{"sku_id": k, "product_id": e["product_id"], "code": e["code"],
                     "quantity": sandbox.inventory.get(k, 0)} for k, e in sandbox.catalogue.items()]
            return Response(content={"inventory": rows, "log": list(sandbox.inventory_log)}, status_code=200)

    @route("/_sandbox/orders", http_method=[HttpMethod.GET], name="douyin_sandbox_orders")
    async def orders() -> Response:
        with sandbox.lock:
            rows = sorted(sandbox.orders.values(), key=lambda o: o.updated_at, reverse=True)
            return Response(content={"orders": copy.deepcopy([o.payload for o in rows])}, status_code=200)

    return [generate, event, inventory, orders]


Sandbox = DouyinSandbox
