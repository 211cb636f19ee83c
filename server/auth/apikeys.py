"""Partner API keys: `oms_<prefix>_<secret>`, stored as prefix + SHA-256 (high-entropy random keys
need no slow hash), shown once, revocable, with a last-used time."""
from __future__ import annotations

import secrets

from server.audit import service as audit
from server.auth import policy
from server.auth.roles import permissions_for
from server.core import crypto, db
from server.core.actor import Actor
from server.core.errors import NotFound, ValidationError
from server.core.pagination import Page, decode_cursor, encode_cursor

FIELDS = ("id", "merchant_id", "name", "prefix", "role", "created_by_id", "created_at", "last_used_at",
          "revoked_at")


def public(row: dict) -> dict:
    return {k: row[k] for k in FIELDS}


def _new_key() -> tuple[str, str]:
    prefix = secrets.token_hex(6)
    return prefix, f"oms_{prefix}_{secrets.token_urlsafe(32)}"


async def create(actor: Actor, *, name: str, role: str) -> tuple[dict, str]:
    """Returns (key record, the full key). The full key is never retrievable again."""
    policy.authorize(actor, "apikeys.manage")
    name = (name or "").strip()
    if not name:
        raise ValidationError("give the key a name that says who uses it", code="required", field="name")
    policy.may_grant(actor, role)
    prefix, key = _new_key()
    async with db.transaction():
        row = await db.fetchrow(
            """INSERT INTO api_key (merchant_id, name, prefix, key_hash, role, created_by_id)
               VALUES ($1, $2, $3, $4, $5, $6) RETURNING *""",
            policy.tenant(actor), name, prefix, crypto.sha256_hex(key), role, actor.user_id)
        record = public(dict(row))
        await audit.record(actor, "apikey.create", "api_key", row["id"],
                           after={"name": name, "role": role, "prefix": prefix})
    return record, key


async def revoke(actor: Actor, key_id: int) -> dict:
    policy.authorize(actor, "apikeys.manage")
    async with db.transaction():
        row = await db.fetchrow(
            """UPDATE api_key SET revoked_at = COALESCE(revoked_at, now())
               WHERE id = $1 AND merchant_id = $2 RETURNING *""", key_id, policy.tenant(actor))
        if row is None:
            raise NotFound("API key not found", field="id")
        await audit.record(actor, "apikey.revoke", "api_key", key_id, after={"revoked_at": row["revoked_at"]})
    return public(dict(row))


async def list_keys(actor: Actor, *, first: int = 50, after: str | None = None,
                    include_revoked: bool = True) -> Page:
    policy.authorize(actor, "apikeys.manage")
    args: list = [policy.tenant(actor)]
    where = ["merchant_id = $1"]
    if not include_revoked:
        where.append("revoked_at IS NULL")
    if after:
        args.append(int(decode_cursor(after)[0]))
        where.append(f"id < ${len(args)}")
    rows = await db.fetch(f"SELECT * FROM api_key WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT {first + 1}",  # noqa: S608
                          *args)
    return Page(items=[public(dict(r)) for r in rows[:first]], has_next=len(rows) > first,
                cursor=lambda k: encode_cursor(k["id"]))


async def current(actor: Actor) -> dict | None:
    """The API key the actor authenticated with (a key may always see itself); None for users and jobs."""
    if actor.api_key_id is None:
        return None
    row = await db.fetchrow("SELECT * FROM api_key WHERE id = $1 AND merchant_id = $2", actor.api_key_id,
                            actor.merchant_id)
    return public(dict(row)) if row else None


async def actor_for_key(key: str) -> Actor | None:
    """Authenticate a bearer key. Constant-time hash comparison; revoked keys are refused."""
    parts = (key or "").split("_", 2)
    if len(parts) != 3 or parts[0] != "oms":
        return None
    row = await db.fetchrow("SELECT * FROM api_key WHERE prefix = $1", parts[1])
    if row is None or not crypto.equal(row["key_hash"], crypto.sha256_hex(key)) or row["revoked_at"]:
        return None
    await db.execute(
        "UPDATE api_key SET last_used_at = now() WHERE id = $1 "
        "AND (last_used_at IS NULL OR last_used_at < now() - interval '30 seconds')", row["id"])
    return Actor(kind="api_key", merchant_id=row["merchant_id"], role=row["role"],
                 permissions=permissions_for(row["role"]), api_key_id=row["id"], label=f"key:{row['name']}")
