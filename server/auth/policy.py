"""THE permission gate. Services call `authorize`; list queries go through `scope`.

No other module decides who may see or do what.
"""
from __future__ import annotations

from typing import Any

from server.auth.roles import ROLES
from server.core.actor import Actor
from server.core.errors import AuthenticationRequired, NotFound, PermissionDenied, ValidationError


def authorize(actor: Actor | None, permission: str, merchant_id: int | None = None) -> Actor:
    """Raise unless `actor` holds `permission` (and, when given, belongs to `merchant_id`).

    A merchant mismatch answers NotFound, not PermissionDenied: another tenant's objects do not
    exist as far as this actor can tell (no probing by guessing ids).
    """
    if actor is None:
        raise AuthenticationRequired("sign in or send an API key")
    if permission not in actor.permissions:
        raise PermissionDenied(f"your role ({actor.role}) does not allow {permission}",
                               details={"permission": permission})
    if merchant_id is not None and actor.merchant_id is not None and merchant_id != actor.merchant_id:
        raise NotFound("not found")
    return actor


def can(actor: Actor | None, permission: str) -> bool:
    return actor is not None and permission in actor.permissions


def tenant(actor: Actor) -> int:
    """The merchant every query of this actor is confined to."""
    if actor.merchant_id is None:
        raise PermissionDenied("this actor is not bound to a merchant")
    return actor.merchant_id


def scope(actor: Actor, query: Any, permission: str | None = None) -> Any:
    """Confine a Piccolo query on a table with `merchant_id` to the actor's merchant."""
    if permission:
        authorize(actor, permission)
    table = query.table
    return query.where(table.merchant_id == tenant(actor))


def check_role(role: str, *, field: str = "role") -> str:
    if role not in ROLES:
        raise ValidationError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}",
                              code="invalid_role", field=field)
    return role


def may_grant(actor: Actor, role: str) -> None:
    """Nobody hands out more than they hold: a role is grantable only if it is a subset."""
    if not ROLES[check_role(role)] <= actor.permissions:
        raise PermissionDenied(f"you cannot grant the role {role}, it has permissions you lack")
