"""Small helpers shared by the area views (form reading, option lists). No business rules here."""
from __future__ import annotations

from litestar import Request

from server.auth import policy
from server.auth.roles import ROLES
from server.core.actor import Actor
from server.core.errors import DomainError, PermissionDenied

PAGE_SIZE = 25


async def form_data(request: Request) -> dict[str, str]:
    """The submitted form as plain strings (the CSRF field left out)."""
    form = await request.form()
    return {k: str(v).strip() if k not in ("password", "current", "new", "confirm") else str(v)
            for k, v in form.items() if k != "_csrf"}


def grantable_roles(actor: Actor) -> list[str]:
    """Roles this actor may hand out, as the policy decides (for the select's options)."""
    out = []
    for role in ROLES:
        try:
            policy.may_grant(actor, role)
        except PermissionDenied:
            continue
        out.append(role)
    return out


def field_errors(exc: DomainError, message: str) -> dict[str, str]:
    """{field: message} for a form; errors without a field go under "_form"."""
    return {exc.field or "_form": message}


def tristate(value: str | None) -> bool | None:
    """'1' / '0' / '' from a filter select -> True / False / None."""
    return {"1": True, "0": False}.get(value or "")
