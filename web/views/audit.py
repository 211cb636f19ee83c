"""The audit log: who changed what, when, with before/after, filterable, newest first."""
from __future__ import annotations

from datetime import date, timedelta

from litestar import Request, Response, get
from litestar.params import FromQuery

from server.audit import service as audit
from server.core.errors import ValidationError
from web import nav
from web.access import require
from web.formatting import utc_day_start
from web.messages import AUDIT_ACTIONS, FIELD_LABELS, OBJECT_TYPES
from web.nav import N_
from web.templating import is_htmx, render
from web.views._common import PAGE_SIZE

nav.register("audit", N_("Audit log"), "/audit", permission="audit.view", icon="audit",
             order=30, section="admin", description=N_("Every change, with who made it and when"))


def _day(value: str, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError("enter dates as YYYY-MM-DD", code="invalid_date", field=field) from exc


# bookkeeping fields that say nothing to a reader of the log (the entry has its own time and object)
HIDDEN_FIELDS = {"id", "merchant_id", "created_at", "updated_at", "created_by_id"}


def changes(entry: dict) -> list[tuple[str, object, object]]:
    """[(field, before, after)] for display; a create has only `after`, a delete only `before`."""
    before, after = entry.get("before") or {}, entry.get("after") or {}
    if not isinstance(before, dict) or not isinstance(after, dict):
        return [("", before or None, after or None)]
    keys = [k for k in dict.fromkeys([*before.keys(), *after.keys()]) if k not in HIDDEN_FIELDS]
    if not before:  # a create: leave out the fields it left empty
        keys = [k for k in keys if after.get(k) not in (None, "")]
    return [(k, before.get(k), after.get(k)) for k in keys]


@get("/audit", name="audit")
async def audit_index(request: Request, actor_q: FromQuery[str] = "", action: FromQuery[str] = "",
                      object_type: FromQuery[str] = "", object_id: FromQuery[str] = "", since: FromQuery[str] = "",
                      until: FromQuery[str] = "", after: FromQuery[str | None] = None) -> Response:
    actor = require(request, "audit.view")
    since_day, until_day = _day(since, "since"), _day(until, "until")
    page = await audit.entries(
        actor, first=PAGE_SIZE, after=after or None, actor_label=actor_q or None, action=action or None,
        object_type=object_type or None, object_id=object_id or None,
        since=utc_day_start(since_day, actor.timezone) if since_day else None,
        until=utc_day_start(until_day + timedelta(days=1), actor.timezone) if until_day else None)
    context = {
        "page": page, "changes": changes, "actions": AUDIT_ACTIONS, "object_types": OBJECT_TYPES,
        "field_labels": FIELD_LABELS,
        "filters": {"actor_q": actor_q, "action": action, "object_type": object_type, "object_id": object_id,
                    "since": since, "until": until},
    }
    if is_htmx(request):
        return await render(request, "audit/_rows.html" if after else "audit/_list.html", context)
    context["nav_key"] = "audit"
    return await render(request, "audit/index.html", context)


ROUTES = [audit_index]
