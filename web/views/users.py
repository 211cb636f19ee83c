"""Users & roles: the merchant's staff, their roles, and what each built-in role may do."""
from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery

from server.audit import service as audit
from server.auth import policy
from server.auth import service as auth_service
from server.auth.roles import PERMISSIONS, ROLES
from server.core.errors import DomainError
from web import nav
from web.access import request_language, require, safe_next, translator
from web.messages import AUDIT_ACTIONS, PERMISSION_GROUPS, error_message
from web.nav import N_
from web.templating import flash, is_htmx, redirect, render
from web.views._common import PAGE_SIZE, field_errors, form_data, grantable_roles, tristate

nav.register("users", N_("Users & roles"), "/users", permission="users.view", icon="users",
             order=10, section="admin", description=N_("Staff accounts, roles and permissions"))


def roles_matrix() -> list[tuple[str, list[str]]]:
    """[(group msgid, [permission, …])] in the order PERMISSIONS lists them."""
    groups: dict[str, list[str]] = {}
    for permission in PERMISSIONS:
        label = PERMISSION_GROUPS.get(permission.split(".")[0], permission.split(".")[0])
        groups.setdefault(label, []).append(permission)
    return list(groups.items())


async def _list_context(request: Request, q: str, role: str, active: str, after: str | None) -> dict:
    actor = require(request, "users.view")
    page = await auth_service.list_users(actor, first=PAGE_SIZE, after=after or None, search=q,
                                         role=role if role in ROLES else None, active=tristate(active))
    return {"page": page, "filters": {"q": q, "role": role, "active": active},
            "grantable": grantable_roles(actor) if policy.can(actor, "users.manage") else []}


@get("/users", name="users")
async def users_index(request: Request, q: FromQuery[str] = "", role: FromQuery[str] = "",
                      active: FromQuery[str] = "", after: FromQuery[str | None] = None) -> Response:
    context = await _list_context(request, q, role, active, after)
    if is_htmx(request):
        return await render(request, "users/_rows.html" if after else "users/_list.html", context)
    context.update({"nav_key": "users", "matrix": roles_matrix(), "form": {"role": "operations"}})
    return await render(request, "users/index.html", context)


@post("/users", name="users_create")
async def users_create(request: Request) -> Response:
    actor = require(request, "users.manage")
    data = await form_data(request)
    context: dict = {"form": data, "grantable": grantable_roles(actor)}
    status = 200
    try:
        user, generated = await auth_service.create_user(
            actor, email=data.get("email", ""), name=data.get("name", ""), role=data.get("role", ""),
            password=data.get("password") or None, language=request_language(request), timezone=actor.timezone)
        context.update({"created": user, "generated": generated, "form": {"role": data.get("role", "")}})
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        context["errors"] = field_errors(exc, error_message(exc, request_language(request)))
        status = 422
    if is_htmx(request):
        headers = {"HX-Trigger": "users-changed"} if status == 200 else None
        return await render(request, "users/_create.html", context, status=status, headers=headers)
    context.update(await _list_context(request, "", "", "", None))
    context.update({"nav_key": "users", "matrix": roles_matrix()})
    return await render(request, "users/index.html", context, status=status)


@get("/users/{user_id:int}", name="user_edit")
async def user_edit(request: Request, user_id: FromPath[int]) -> Response:
    actor = require(request, "users.view")
    user = await auth_service.get_user(actor, user_id)
    history = None
    if policy.can(actor, "audit.view"):
        history = await audit.entries(actor, first=10, object_type="user", object_id=str(user_id))
    return await render(request, "users/edit.html", {
        "nav_key": "users", "user": user, "history": history, "form": user, "actions": AUDIT_ACTIONS,
        "grantable": grantable_roles(actor) if policy.can(actor, "users.manage") else []})


@post("/users/{user_id:int}", name="user_update")
async def user_update(request: Request, user_id: FromPath[int]) -> Response:
    actor = require(request, "users.manage")
    data = await form_data(request)
    _ = translator(request)
    current = await auth_service.get_user(actor, user_id)
    role = data.get("role") or None
    try:
        await auth_service.update_user(actor, user_id, name=data.get("name", current["name"]),
                                       role=role if role != current["role"] else None)
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        return await render(request, "users/edit.html", {
            "nav_key": "users", "user": current, "history": None, "form": {**current, **data},
            "grantable": grantable_roles(actor),
            "errors": field_errors(exc, error_message(exc, request_language(request)))}, status=422)
    flash(request, _("Changes saved."))
    return redirect(request, f"/users/{user_id}")


async def _row_or_redirect(request: Request, user: dict, message: str) -> Response:
    actor = require(request, "users.view")
    if is_htmx(request):
        return await render(request, "users/_row.html", {"user": user, "grantable": grantable_roles(actor),
                                                          "just_saved": True})
    flash(request, message)
    form = await request.form()
    return redirect(request, safe_next(str(form.get("next", "")) or None, "/users"))


@post("/users/{user_id:int}/role", name="user_role")
async def user_role(request: Request, user_id: FromPath[int]) -> Response:
    actor = require(request, "users.manage")
    data = await form_data(request)
    _ = translator(request)
    user = await auth_service.update_user(actor, user_id, role=data.get("role", ""))
    return await _row_or_redirect(request, user, _("Role changed."))


@post("/users/{user_id:int}/deactivate", name="user_deactivate")
async def user_deactivate(request: Request, user_id: FromPath[int]) -> Response:
    actor = require(request, "users.manage")
    _ = translator(request)
    user = await auth_service.update_user(actor, user_id, is_active=False)
    return await _row_or_redirect(request, user, _("User deactivated. Their sessions have ended."))


@post("/users/{user_id:int}/activate", name="user_activate")
async def user_activate(request: Request, user_id: FromPath[int]) -> Response:
    actor = require(request, "users.manage")
    _ = translator(request)
    user = await auth_service.update_user(actor, user_id, is_active=True)
    return await _row_or_redirect(request, user, _("User reactivated."))


ROUTES = [users_index, users_create, user_edit, user_update, user_role, user_deactivate, user_activate]
