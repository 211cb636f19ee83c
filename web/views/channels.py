"""Channels: the merchant's shops on each platform, their configuration and sync health.

Thin: every read and write goes through server/channels/service.py (which authorizes, encrypts
credentials and masks them). The route /channels/{id}/stock belongs to web/views/channel_stock.py.
"""
from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Stream

from server.channels import service as channels
from server.channels.connectors import registry
from server.channels.connectors.base import Capability
from server.core.csvimport import CsvWriter, safe_cell
from server.core.errors import DomainError, ErrorList
from web import nav
from web.access import can, request_language, require, translator
from web.messages import error_message
from web.nav import N_
from web.templating import flash, is_htmx, redirect, render
from web.views._common import form_data

nav.register("channels", N_("Channels"), "/channels", permission="channels.view", icon="channels", order=40,
             description=N_("Your shops on every platform and how their sync is doing"))

# The configuration each platform's form asks for, in this order (secrets come from the connector's
# declared fields). Website and POS orders arrive through the API and forms: nothing to configure.
FORM_KEYS: dict[str, list[str]] = {
    "shopify": ["shop_domain", "access_token", "api_version", "client_secret", "api_base_url"],
    "woocommerce": ["site_url", "consumer_key", "consumer_secret", "webhook_secret", "api_base_url"],
    "taobao": ["app_key", "app_secret", "session", "sign_method", "api_base_url"],
    "jd": ["app_key", "app_secret", "access_token", "api_base_url"],
    "pinduoduo": ["client_id", "client_secret", "access_token", "api_base_url"],
    "douyin": ["app_key", "app_secret", "access_token", "shop_id", "api_base_url"],
    "amazon": ["client_id", "client_secret", "refresh_token", "marketplace_ids", "lwa_url", "api_base_url"],
    "website": [],
    "pos": [],
}

FIELD_LABELS = {
    "shop_domain": N_("Shop domain"),
    "access_token": N_("Access token"),
    "api_version": N_("API version"),
    "client_secret": N_("Client secret"),
    "site_url": N_("Site URL"),
    "consumer_key": N_("Consumer key"),
    "consumer_secret": N_("Consumer secret"),
    "webhook_secret": N_("Webhook secret"),
    "app_key": N_("App key"),
    "app_secret": N_("App secret"),
    "session": N_("Session key"),
    "sign_method": N_("Sign method"),
    "client_id": N_("Client ID"),
    "shop_id": N_("Shop ID"),
    "refresh_token": N_("Refresh token"),
    "marketplace_ids": N_("Marketplace IDs"),
    "lwa_url": N_("LWA token URL"),
    "api_base_url": N_("API base URL"),
}

PLATFORM_NOTES = {
    "shopify": N_("Pulls orders and receives webhooks"),
    "woocommerce": N_("Pulls orders and receives webhooks"),
    "taobao": N_("Pulls orders through the TOP gateway"),
    "jd": N_("Pulls orders through JOS"),
    "pinduoduo": N_("Pulls orders through the POP gateway"),
    "douyin": N_("Pulls orders from the Douyin shop open platform"),
    "amazon": N_("Pulls orders through the Selling Partner API"),
    "website": N_("Orders arrive through the GraphQL API"),
    "pos": N_("Orders are entered in the staff form or imported"),
}

POLL_MINUTES = [1, 2, 5, 10, 15, 30, 60]

STATUS_LABELS = {"active": N_("Active"), "paused": N_("Paused"), "failing": N_("Failing")}


def platforms() -> list[dict]:
    """Every platform for the picker: key, display name, what it does."""
    out = []
    for key, cls in registry.all_connectors().items():
        out.append({"key": key, "name": cls.display_name, "note": PLATFORM_NOTES.get(key, ""),
                    "pulls": Capability.PULL_ORDERS in cls.capabilities,
                    "webhooks": Capability.WEBHOOKS in cls.capabilities})
    return out


def config_fields(platform: str) -> list[dict]:
    """The form fields of one platform, with what the connector says about each."""
    declared = {f.name: f for f in registry.get(platform).config_fields}
    out = []
    for key in FORM_KEYS.get(platform, []):
        f = declared.get(key)
        out.append({"key": key, "input": f"cfg_{key}", "label": FIELD_LABELS.get(key, key),
                    "secret": bool(f and f.secret), "required": bool(f and f.required),
                    "default": "" if f is None or f.default is None else str(f.default),
                    "help": f.help if f else ""})
    return out


def poll_choices(current_s: int | None = None) -> list[tuple[int, int]]:
    minutes = list(POLL_MINUTES)
    if current_s and current_s % 60 == 0 and current_s // 60 not in minutes:
        minutes = sorted([*minutes, current_s // 60])
    return [(m * 60, m) for m in minutes]


def _form_errors(exc: DomainError, lang: str) -> dict[str, str]:
    """{form field: message} from a service error (config.<key> -> cfg_<key>)."""
    errors = exc.errors if isinstance(exc, ErrorList) and exc.errors else [exc]
    out: dict[str, str] = {}
    for e in errors:
        field = e.field or "_form"
        if field.startswith("config."):
            field = "cfg_" + field.removeprefix("config.")
        elif field == "pollIntervalS":
            field = "poll_interval_s"
        elif field not in ("name", "platform"):
            field = "_form"
        out.setdefault(field, error_message(e, lang))
    return out


def _config_from(data: dict[str, str], platform: str) -> dict[str, str]:
    return {f["key"]: data.get(f["input"], "") for f in config_fields(platform)}


def _int(value: str | None, default: int) -> int:
    try:
        return int(value or default)
    except ValueError:
        return default


# -- list -----------------------------------------------------------------------------------------

def _filters(q: str, platform: str, status: str) -> dict:
    return {"q": q.strip(), "platform": platform if platform in registry.PLATFORMS else "",
            "status": status if status in STATUS_LABELS else ""}


@get("/channels", name="channels")
async def channels_index(request: Request, q: FromQuery[str] = "", platform: FromQuery[str] = "",
                         status: FromQuery[str] = "") -> Response:
    actor = require(request, "channels.view")
    filters = _filters(q, platform, status)
    rows = await channels.list_channels(actor, search=filters["q"], platform=filters["platform"],
                                        status=filters["status"])
    context = {"channels": rows, "status_labels": STATUS_LABELS, "filters": filters,
               "can_manage": can(request, "channels.manage")}
    if is_htmx(request):
        return await render(request, "channels/_list.html", context)
    context.update({"nav_key": "channels", "platforms": platforms()})
    return await render(request, "channels/index.html", context)


EXPORT_COLUMNS = ["id", "name", "platform", "status", "poll_interval_min", "last_sync_at", "last_sync_ok", "fetched",
                  "created", "updated", "failed", "consecutive_failures", "next_sync_at", "last_error", "webhook_url"]


async def _export_rows(rows: list[dict]):
    out = CsvWriter(EXPORT_COLUMNS)
    for c in rows:
        n = c.get("last_sync_counts") or {}
        out.add([c["id"], safe_cell(c["name"]), c["platform"], c["status"], c["poll_interval_s"] // 60,
                 c["last_sync_at"].isoformat() if c["last_sync_at"] else "",
                 "" if c["last_sync_ok"] is None else str(bool(c["last_sync_ok"])).lower(),
                 n.get("fetched", ""), n.get("created", ""), n.get("updated", ""), n.get("failed", ""),
                 c["consecutive_failures"], c["next_sync_at"].isoformat() if c["next_sync_at"] else "",
                 safe_cell(c["last_error"]), c["webhook_url"]])
    yield out.take()


@get("/channels/export.csv", name="channels_export")
async def channels_export(request: Request, q: FromQuery[str] = "", platform: FromQuery[str] = "",
                          status: FromQuery[str] = "", ids: FromQuery[list[str] | None] = None) -> Stream:
    """The channels (matching the filters, or the selected ones) with their sync state, as CSV.
    Credentials are never in it: the service's public() view leaves them out."""
    actor = require(request, "channels.view")
    filters = _filters(q, platform, status)
    picked = [int(i) for i in ids or [] if str(i).isdigit() and len(str(i)) < 19] or None
    rows = await channels.list_channels(actor, search=filters["q"], platform=filters["platform"],
                                        status=filters["status"], ids=picked)
    return Stream(content=_export_rows(rows), media_type="text/csv; charset=utf-8",
                  headers={"Content-Disposition": 'attachment; filename="channels.csv"'})


@post("/channels/sync", name="channels_sync_selected")
async def channels_sync_selected(request: Request) -> Response:
    """Bulk "sync now": queue a pull for every selected channel that pulls orders (runs in the worker)."""
    actor = require(request, "channels.manage")
    form = await request.form()
    _ = translator(request)
    ids = [int(v) for v in form.getall("ids", []) if str(v).isdigit() and len(str(v)) < 19]
    queued, skipped = [], []
    for row in await channels.list_channels(actor, ids=ids) if ids else []:
        if "pull_orders" not in row["capabilities"]:
            skipped.append(row["name"])
            continue
        await channels.request_sync(actor, row["id"])
        queued.append(row["name"])
    context = {"queued": queued, "skipped": skipped, "nothing": not ids}
    if is_htmx(request):
        return await render(request, "channels/_bulk_result.html", context)
    if queued:
        flash(request, _("Sync queued for %(names)s.") % {"names": ", ".join(queued)})
    else:
        flash(request, _("Select channels that pull orders first."), "info")
    return redirect(request, "/channels")


# -- create ---------------------------------------------------------------------------------------

def _new_context(platform: str, form: dict | None = None, errors: dict | None = None) -> dict:
    known = platform in registry.PLATFORMS
    return {"nav_key": "channels", "platforms": platforms(), "platform": platform if known else "",
            "platform_name": registry.get(platform).display_name if known else "",
            "fields": config_fields(platform) if known else [], "form": form or {"poll_interval_s": 300},
            "errors": errors or {}, "poll_choices": poll_choices(), "field_labels": FIELD_LABELS,
            "platform_notes": PLATFORM_NOTES}


@get("/channels/new", name="channel_new")
async def channel_new(request: Request, platform: FromQuery[str] = "") -> Response:
    require(request, "channels.manage")
    context = _new_context(platform)
    if is_htmx(request) and context["platform"]:
        return await render(request, "channels/_create_form.html", context)
    return await render(request, "channels/new.html", context)


@post("/channels", name="channel_create")
async def channel_create(request: Request) -> Response:
    actor = require(request, "channels.manage")
    data = await form_data(request)
    _ = translator(request)
    platform = data.get("platform", "")
    try:
        if platform not in registry.PLATFORMS:
            registry.get(platform)  # raises the service's unknown_platform error
        row = await channels.create_channel(
            actor, platform=platform, name=data.get("name", ""), config=_config_from(data, platform),
            poll_interval_s=_int(data.get("poll_interval_s"), 300))
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        context = _new_context(platform, data, _form_errors(exc, request_language(request)))
        template = "channels/_create_form.html" if is_htmx(request) and context["platform"] else "channels/new.html"
        return await render(request, template, context, status=422)
    flash(request, _("Channel %(name)s created.") % {"name": row["name"]})
    return redirect(request, f"/channels/{row['id']}")


# -- one channel ----------------------------------------------------------------------------------

async def _detail_context(request: Request, channel_id: int) -> dict:
    actor = require(request, "channels.view")
    row = await channels.get_channel(actor, channel_id)
    runs = await channels.sync_runs(actor, channel_id, limit=15)
    return {"nav_key": "channels", "channel": row, "runs": runs, "fields": config_fields(row["platform"]),
            "form": {"name": row["name"], "poll_interval_s": row["poll_interval_s"], **{
                f"cfg_{k}": v for k, v in (row["config"] or {}).items()}},
            "errors": {}, "poll_choices": poll_choices(row["poll_interval_s"]), "status_labels": STATUS_LABELS,
            "can_manage": can(request, "channels.manage"),
            "pulls": "pull_orders" in row["capabilities"], "pushes": "webhooks" in row["capabilities"]}


@get("/channels/{channel_id:int}", name="channel_detail")
async def channel_detail(request: Request, channel_id: FromPath[int]) -> Response:
    context = await _detail_context(request, channel_id)
    if is_htmx(request):
        return await render(request, "channels/_health.html", context)
    return await render(request, "channels/detail.html", context)


@post("/channels/{channel_id:int}", name="channel_update")
async def channel_update(request: Request, channel_id: FromPath[int]) -> Response:
    actor = require(request, "channels.manage")
    data = await form_data(request)
    _ = translator(request)
    current = await channels.get_channel(actor, channel_id)
    try:
        await channels.update_channel(actor, channel_id, name=data.get("name", current["name"]),
                                      config=_config_from(data, current["platform"]),
                                      poll_interval_s=_int(data.get("poll_interval_s"), current["poll_interval_s"]))
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        context = await _detail_context(request, channel_id)
        context["form"] = {**context["form"], **{k: v for k, v in data.items()
                                                 if not k.startswith("cfg_") or not _is_secret(current, k)}}
        context["errors"] = _form_errors(exc, request_language(request))
        template = "channels/_settings.html" if is_htmx(request) else "channels/detail.html"
        return await render(request, template, context, status=422)
    flash(request, _("Changes saved."))
    return redirect(request, f"/channels/{channel_id}")


def _is_secret(row: dict, field: str) -> bool:
    return any(f["secret"] for f in config_fields(row["platform"]) if f["input"] == field)


@post("/channels/{channel_id:int}/status", name="channel_status")
async def channel_status(request: Request, channel_id: FromPath[int]) -> Response:
    actor = require(request, "channels.manage")
    data = await form_data(request)
    _ = translator(request)
    row = await channels.update_channel(actor, channel_id, status=data.get("status", ""))
    flash(request, _("Channel paused.") if row["status"] == "paused" else _("Channel resumed."))
    return redirect(request, f"/channels/{channel_id}")


@post("/channels/{channel_id:int}/test", name="channel_test")
async def channel_test(request: Request, channel_id: FromPath[int]) -> Response:
    actor = require(request, "channels.manage")
    result = await channels.test_connection(actor, channel_id)
    context = {"result": result, "channel_id": channel_id}
    if is_htmx(request):
        return await render(request, "channels/_test_result.html", context)
    _ = translator(request)
    if result["ok"]:
        flash(request, _("Connection works.") + (f" {result['shop_name']}" if result["shop_name"] else ""))
    else:
        flash(request, _("Connection failed: %(reason)s") % {"reason": result["message"]}, "error")
    return redirect(request, f"/channels/{channel_id}")


@post("/channels/{channel_id:int}/sync", name="channel_sync")
async def channel_sync(request: Request, channel_id: FromPath[int]) -> Response:
    """Sync now: one pull, run while the page waits, answering its counts."""
    actor = require(request, "channels.manage")
    data = await form_data(request)
    _ = translator(request)
    try:
        counts = await channels.sync_now(actor, channel_id)
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        counts = {"error": error_message(exc, request_language(request))}
    if is_htmx(request):
        context = {"counts": counts, "channel_id": channel_id}
        if data.get("from") == "list":  # the list's row answers with the refreshed row
            context.update({"c": await channels.get_channel(actor, channel_id), "status_labels": STATUS_LABELS,
                            "can_manage": True, "just_synced": counts})
            return await render(request, "channels/_row.html", context)
        return await render(request, "channels/_sync_result.html", context,
                            headers={"HX-Trigger": "channel-synced"})
    if counts.get("error"):
        flash(request, _("Sync failed: %(reason)s") % {"reason": counts["error"]}, "error")
    elif counts.get("skipped"):
        flash(request, _("A sync of this channel is already running."), "info")
    else:
        flash(request, _("Sync finished: %(fetched)s fetched, %(created)s created, %(updated)s updated, "
                         "%(failed)s failed.") % counts)
    return redirect(request, "/channels" if data.get("from") == "list" else f"/channels/{channel_id}")


@post("/channels/{channel_id:int}/webhooks", name="channel_webhooks")
async def channel_webhooks(request: Request, channel_id: FromPath[int]) -> Response:
    actor = require(request, "channels.manage")
    _ = translator(request)
    try:
        ids = await channels.register_webhooks(actor, channel_id)
        result = {"ok": True, "ids": ids}
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        result = {"ok": False, "message": error_message(exc, request_language(request))}
    if is_htmx(request):
        return await render(request, "channels/_webhooks_result.html", {"result": result})
    if result["ok"]:
        flash(request, _("Webhooks registered: %(n)d topics.") % {"n": len(result["ids"])})
    else:
        flash(request, _("Webhooks could not be registered: %(reason)s") % {"reason": result["message"]}, "error")
    return redirect(request, f"/channels/{channel_id}")


ROUTES = [channels_index, channels_export, channels_sync_selected, channel_new, channel_create, channel_detail,
          channel_update, channel_status, channel_test, channel_sync, channel_webhooks]
