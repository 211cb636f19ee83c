"""Staff users, API keys, the viewer and the audit trail. Every resolver is a call into a service."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from server.audit import service as audit
from server.auth import apikeys
from server.auth import service as auth_service
from server.core.actor import Actor
from server.core.errors import NotFound
from server.graphql.context import get_actor
from server.graphql.errors import Error, payload
from server.graphql.relay import DEFAULT_FIRST, After, Connection, First, decode_id, encode_id, paginate

# -- types ---------------------------------------------------------------------------------------


@strawberry.type(description="A staff user of the merchant.")
class User:
    id: strawberry.ID
    email: str
    name: str
    role: str
    language: str
    timezone: str
    is_active: bool
    created_at: datetime
    updated_at: datetime | None
    last_login_at: datetime | None

    @classmethod
    def from_row(cls, row: dict) -> User:
        return cls(id=encode_id(row["id"]), email=row["email"], name=row["name"], role=row["role"],
                   language=row["language"], timezone=row["timezone"], is_active=row["is_active"],
                   created_at=row["created_at"], updated_at=row.get("updated_at"),
                   last_login_at=row.get("last_login_at"))


@strawberry.type(description="A partner API key. The secret is shown once, by `apiKeyCreate`; "
                             "`prefix` identifies the key afterwards.")
class ApiKey:
    id: strawberry.ID
    name: str
    role: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @strawberry.field(description="False once the key is revoked.")
    def is_active(self) -> bool:
        return self.revoked_at is None

    @classmethod
    def from_row(cls, row: dict) -> ApiKey:
        return cls(id=encode_id(row["id"]), name=row["name"], role=row["role"], prefix=row["prefix"],
                   created_at=row["created_at"], last_used_at=row["last_used_at"], revoked_at=row["revoked_at"])


@strawberry.type(description="The merchant (tenant) the caller acts for.")
class Merchant:
    id: strawberry.ID
    slug: str
    name: str
    timezone: str
    currency: str

    @classmethod
    def from_row(cls, row: dict) -> Merchant:
        return cls(id=encode_id(row["id"]), slug=row["slug"], name=row["name"], timezone=row["timezone"],
                   currency=row["currency"].strip())


@strawberry.type(description="Who is calling: a staff user (session) or an API key, its merchant and "
                             "what it may do.")
class Viewer:
    role: str
    permissions: list[str]
    actor: strawberry.Private[Actor]

    @strawberry.field(description="The signed-in staff user; null when an API key calls.")
    async def user(self) -> User | None:
        row = await auth_service.current_user(self.actor)
        return User.from_row(row) if row else None

    @strawberry.field(description="The API key making this request; null for staff sessions.")
    async def api_key(self) -> ApiKey | None:
        row = await apikeys.current(self.actor)
        return ApiKey.from_row(row) if row else None

    @strawberry.field
    async def merchant(self) -> Merchant | None:
        row = await auth_service.current_merchant(self.actor)
        return Merchant.from_row(row) if row else None


@strawberry.type(description="One change in the append-only audit trail.")
class AuditEntry:
    id: strawberry.ID
    at: datetime
    action: str
    object_type: str
    object_id: str
    actor_type: str
    actor_label: str
    before: JSON | None
    after: JSON | None
    request_id: str | None
    job_id: str | None

    @classmethod
    def from_row(cls, row: dict) -> AuditEntry:
        return cls(id=encode_id(row["id"]), at=row["at"], action=row["action"], object_type=row["object_type"],
                   object_id=row["object_id"], actor_type=row["actor_type"], actor_label=row["actor_label"],
                   before=row["before"], after=row["after"], request_id=row["request_id"] or None,
                   job_id=row["job_id"] or None)


# -- inputs --------------------------------------------------------------------------------------


@strawberry.input
class UserFilterInput:
    search: str | None = strawberry.field(default=None, description="Part of the email or name.")
    role: str | None = None
    is_active: bool | None = None


@strawberry.input
class AuditEntryFilterInput:
    actor: str | None = strawberry.field(default=None, description="Part of the actor's label "
                                                                     "(email, `key:<name>`, `system:<job>`).")
    action: str | None = strawberry.field(default=None, description="Exact action, or a pattern with `*` "
                                                                      "such as `user.*`.")
    object_type: str | None = None
    object_id: str | None = None
    from_: datetime | None = strawberry.field(default=None, name="from", description="At or after this time.")
    to: datetime | None = strawberry.field(default=None, description="Before this time.")


@strawberry.input
class UserCreateInput:
    email: str
    role: str
    name: str = ""
    password: str | None = strawberry.field(default=None, description="Omit to have a strong password "
                                                                        "generated and returned once.")
    language: str | None = None
    timezone: str | None = None


@strawberry.input
class UserUpdateInput:
    name: str | None = None
    role: str | None = None
    is_active: bool | None = None
    language: str | None = None
    timezone: str | None = None


@strawberry.input
class ApiKeyCreateInput:
    name: str = strawberry.field(description="Who uses the key (e.g. `ERP sync`).")
    role: str


# -- payloads ------------------------------------------------------------------------------------


@strawberry.type
class UserCreatePayload:
    user: User | None = None
    password: str | None = strawberry.field(default=None, description="The generated password: present "
                                                                        "only when none was given, shown only here.")
    errors: list[Error] = strawberry.field(default_factory=list)


@strawberry.type
class UserUpdatePayload:
    user: User | None = None
    errors: list[Error] = strawberry.field(default_factory=list)


@strawberry.type
class ApiKeyCreatePayload:
    api_key: ApiKey | None = None
    key: str | None = strawberry.field(default=None, description="The full secret key. Shown once: store it "
                                                                   "now, it cannot be retrieved again.")
    errors: list[Error] = strawberry.field(default_factory=list)


@strawberry.type
class ApiKeyRevokePayload:
    api_key: ApiKey | None = None
    errors: list[Error] = strawberry.field(default_factory=list)


def _given(**kwargs: Any) -> dict[str, Any]:
    """Only the input fields the caller set (the service keeps its defaults for the rest)."""
    return {k: v for k, v in kwargs.items() if v is not None}


# -- root fields ---------------------------------------------------------------------------------


@strawberry.type
class Query:
    @strawberry.field(description="Who is calling.")
    async def viewer(self, info: Info) -> Viewer:
        actor = get_actor(info)
        return Viewer(role=actor.role, permissions=sorted(actor.permissions), actor=actor)

    @strawberry.field(description="Staff users of the merchant, oldest first. Needs `users.view`.")
    async def users(self, info: Info, filter: UserFilterInput | None = None, first: First = DEFAULT_FIRST,
                    after: After = None) -> Connection[User] | None:
        f = filter or UserFilterInput()
        return await paginate(auth_service.list_users, User.from_row, get_actor(info), first=first, after=after,
                              search=(f.search or "").strip(), role=f.role, active=f.is_active)

    @strawberry.field(description="One staff user; null when there is no such user in this merchant. "
                                  "Needs `users.view`.")
    async def user(self, info: Info, id: strawberry.ID) -> User | None:
        actor = get_actor(info)
        user_id = decode_id(id)
        try:
            return User.from_row(await auth_service.get_user(actor, user_id))
        except NotFound:
            return None

    @strawberry.field(description="The merchant's API keys, newest first (revoked ones included). "
                                  "Needs `apikeys.manage`.")
    async def api_keys(self, info: Info, first: First = DEFAULT_FIRST, after: After = None) -> Connection[ApiKey] | None:
        return await paginate(apikeys.list_keys, ApiKey.from_row, get_actor(info), first=first, after=after)

    @strawberry.field(description="The audit trail, newest first. Needs `audit.view`.")
    async def audit_entries(self, info: Info, filter: AuditEntryFilterInput | None = None,
                            first: First = DEFAULT_FIRST, after: After = None) -> Connection[AuditEntry] | None:
        f = filter or AuditEntryFilterInput()
        return await paginate(audit.entries, AuditEntry.from_row, get_actor(info), first=first, after=after,
                              actor_label=f.actor or None, action=f.action or None,
                              object_type=f.object_type or None, object_id=f.object_id or None,
                              since=f.from_, until=f.to)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Create a staff user in the caller's merchant. Needs `users.manage`; "
                                     "the role may not exceed the caller's.")
    @payload(UserCreatePayload)
    async def user_create(self, info: Info, input: UserCreateInput) -> UserCreatePayload:
        user, generated = await auth_service.create_user(
            get_actor(info), email=input.email, role=input.role, name=input.name, password=input.password,
            **_given(language=input.language, timezone=input.timezone))
        return UserCreatePayload(user=User.from_row(user), password=generated)

    @strawberry.mutation(description="Change a user's name, role, active flag or preferences. Needs "
                                     "`users.manage` (one's own language, timezone and name need nothing).")
    @payload(UserUpdatePayload)
    async def user_update(self, info: Info, id: strawberry.ID, input: UserUpdateInput) -> UserUpdatePayload:
        user = await auth_service.update_user(
            get_actor(info), decode_id(id),
            **_given(name=input.name, role=input.role, is_active=input.is_active, language=input.language,
                     timezone=input.timezone))
        return UserUpdatePayload(user=User.from_row(user))

    @strawberry.mutation(description="Create an API key. Needs `apikeys.manage`; the key's role may not "
                                     "exceed the caller's. The secret is in `key`, shown once.")
    @payload(ApiKeyCreatePayload)
    async def api_key_create(self, info: Info, input: ApiKeyCreateInput) -> ApiKeyCreatePayload:
        record, key = await apikeys.create(get_actor(info), name=input.name, role=input.role)
        return ApiKeyCreatePayload(api_key=ApiKey.from_row(record), key=key)

    @strawberry.mutation(description="Revoke an API key at once. Needs `apikeys.manage`.")
    @payload(ApiKeyRevokePayload)
    async def api_key_revoke(self, info: Info, id: strawberry.ID) -> ApiKeyRevokePayload:
        return ApiKeyRevokePayload(api_key=ApiKey.from_row(await apikeys.revoke(get_actor(info), decode_id(id))))
