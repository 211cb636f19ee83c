"""The append-only audit trail: every change, with actor and request/job id, in the caller's
transaction (so an audit row exists exactly when its change does)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from server.auth import policy
from server.core import db
from server.core.actor import Actor
from server.core.pagination import Page, decode_cursor, encode_cursor


async def record(actor: Actor, action: str, object_type: str, object_id: Any = "", *,
                 before: dict | None = None, after: dict | None = None,
                 merchant_id: int | None = None) -> None:
    await db.execute(
        """INSERT INTO audit_entry (merchant_id, actor_type, actor_id, actor_label, action, object_type,
                                    object_id, before, after, request_id, job_id, ip)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10, $11, $12)""",
        merchant_id if merchant_id is not None else actor.merchant_id, actor.kind, actor.id, actor.label,
        action, object_type, str(object_id), None if before is None else db.dumps(before),
        None if after is None else db.dumps(after), actor.request_id, actor.job_id, actor.ip,
    )


async def record_many(actor: Actor, action: str, object_type: str, entries: list[tuple[Any, dict | None]]) -> None:
    """`record` for many objects in one round trip (batch writes): one (object id, after) per entry."""
    if not entries:
        return
    async with db.connection() as conn:   # the caller's transaction, when there is one
        await conn.executemany(
            """INSERT INTO audit_entry (merchant_id, actor_type, actor_id, actor_label, action, object_type,
                                        object_id, before, after, request_id, job_id, ip)
               VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8::jsonb, $9, $10, $11)""",
            [(actor.merchant_id, actor.kind, actor.id, actor.label, action, object_type, str(object_id),
              None if after is None else db.dumps(after), actor.request_id, actor.job_id, actor.ip)
             for object_id, after in entries])


def diff(before: dict, after: dict) -> tuple[dict, dict]:
    """Only the fields that changed, for compact before/after pairs."""
    keys = [k for k in after if before.get(k) != after.get(k) and k not in ("updated_at",)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


async def entries(actor: Actor, *, first: int = 50, after: str | None = None, actor_label: str | None = None,
                  action: str | None = None, object_type: str | None = None, object_id: str | None = None,
                  since: datetime | None = None, until: datetime | None = None) -> Page:
    """Newest first, keyset-paginated on (at, id)."""
    policy.authorize(actor, "audit.view")
    where, args = ["merchant_id = $1"], [policy.tenant(actor)]

    def add(sql: str, value: Any) -> None:
        args.append(value)
        where.append(sql.replace("?", f"${len(args)}"))

    if actor_label:
        add("actor_label ILIKE ?", f"%{actor_label}%")
    if action:
        add("action LIKE ?", action.replace("*", "%") if "*" in action else action)
    if object_type:
        add("object_type = ?", object_type)
    if object_id:
        add("object_id = ?", object_id)
    if since:
        add("at >= ?", since)
    if until:
        add("at < ?", until)
    if after:
        at, last_id = decode_cursor(after)
        args.extend([datetime.fromisoformat(at), int(last_id)])
        where.append(f"(at, id) < (${len(args) - 1}, ${len(args)})")
    first = max(1, min(first, 200))
    rows = await db.fetch(
        f"SELECT * FROM audit_entry WHERE {' AND '.join(where)} ORDER BY at DESC, id DESC LIMIT {first + 1}",  # noqa: S608 - built from fixed fragments
        *args)
    items = [dict(r) for r in rows[:first]]
    for item in items:
        item["before"] = db.loads(item["before"])
        item["after"] = db.loads(item["after"])
    return Page(items=items, has_next=len(rows) > first,
                cursor=lambda it: encode_cursor(it["at"].isoformat(), it["id"]))
