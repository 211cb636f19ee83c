"""Merchants, staff users, sessions and login throttling. The only writer of these tables."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from server.audit import service as audit
from server.auth import passwords, policy
from server.auth.roles import permissions_for
from server.core import clock, crypto, db
from server.core.actor import Actor
from server.core.errors import Conflict, NotFound, RateLimited, ValidationError
from server.core.pagination import Page, decode_cursor, encode_cursor
from server.settings import get_settings

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LANGUAGES = ("en", "zh")
USER_FIELDS = ("id", "merchant_id", "email", "name", "role", "language", "timezone", "is_active",
               "created_at", "updated_at", "last_login_at")


def public(user: dict) -> dict:
    return {k: user[k] for k in USER_FIELDS if k in user}


# -- merchants ----------------------------------------------------------------------------------

async def create_merchant(slug: str, name: str, *, timezone: str = "Asia/Shanghai", currency: str = "CNY") -> dict:
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,62}", slug):
        raise ValidationError("slug must be 2-63 lowercase letters, digits or dashes", field="slug",
                              code="invalid_slug")
    row = await db.fetchrow(
        """INSERT INTO merchant (slug, name, timezone, currency) VALUES ($1, $2, $3, $4)
           ON CONFLICT (slug) DO NOTHING RETURNING *""", slug, name, timezone, currency)
    if row is None:
        raise Conflict(f"a merchant with slug {slug!r} exists", code="duplicate", field="slug")
    return dict(row)


async def find_merchant(ref: str | int) -> dict:
    """A merchant by slug or id (every CLI --merchant option takes either)."""
    ref_s = str(ref)
    row = await db.fetchrow("SELECT * FROM merchant WHERE slug = $1 OR ($2::bigint IS NOT NULL AND id = $2)",
                            ref_s, int(ref_s) if ref_s.isdigit() else None)
    if row is None:
        raise NotFound(f"no merchant {ref_s!r}", field="merchant")
    return dict(row)


async def current_merchant(actor: Actor) -> dict | None:
    """The actor's own merchant (everyone may see the tenant they act for)."""
    if actor.merchant_id is None:
        return None
    row = await db.fetchrow("SELECT id, slug, name, timezone, currency FROM merchant WHERE id = $1",
                            actor.merchant_id)
    return dict(row) if row else None


# -- users --------------------------------------------------------------------------------------

def _clean_email(email: str) -> str:
    email = (email or "").strip()
    if not EMAIL_RE.match(email):
        raise ValidationError("enter a valid email address", code="invalid_email", field="email")
    return email


def _check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise ValidationError(f"language must be one of {', '.join(LANGUAGES)}", code="invalid_language",
                              field="language")
    return language


def _check_timezone(tz: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # noqa: PLC0415

    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"unknown timezone {tz!r}", code="invalid_timezone", field="timezone") from exc
    return tz


async def _insert_user(merchant_id: int, email: str, name: str, role: str, password: str,
                       language: str, timezone: str) -> dict:
    password_hash = await passwords.hash_password(password)
    row = await db.fetchrow(
        """INSERT INTO app_user (merchant_id, email, name, password_hash, role, language, timezone)
           VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING *""",
        merchant_id, email, name, password_hash, role, language, timezone)
    if row is None:
        raise Conflict("a user with this email exists", code="duplicate_email", field="email")
    return dict(row)


async def create_user(actor: Actor, *, email: str, role: str, name: str = "", password: str | None = None,
                      language: str = "en", timezone: str = "Asia/Shanghai") -> tuple[dict, str | None]:
    """Create a staff user in the actor's merchant. Returns (user, generated password or None)."""
    policy.authorize(actor, "users.manage")
    email = _clean_email(email)
    policy.may_grant(actor, role)
    generated = None
    if password is None:
        password = generated = passwords.generate()
    else:
        passwords.check_strength(password)
    async with db.transaction():
        user = await _insert_user(policy.tenant(actor), email, name.strip(), role, password,
                                  _check_language(language), _check_timezone(timezone))
        await audit.record(actor, "user.create", "user", user["id"], after=public(user))
    return public(user), generated


async def bootstrap_admin(merchant_id: int, email: str, password: str, name: str = "Admin") -> dict:
    """The first admin of a merchant (CLI / demo seed): no acting user exists yet."""
    from server.core.actor import system  # noqa: PLC0415

    actor = system(merchant_id, "bootstrap")
    async with db.transaction():
        user = await _insert_user(merchant_id, _clean_email(email), name, "admin", password, "en", "Asia/Shanghai")
        await audit.record(actor, "user.create", "user", user["id"], after=public(user))
    return public(user)


async def get_user(actor: Actor, user_id: int) -> dict:
    policy.authorize(actor, "users.view")
    row = await db.fetchrow("SELECT * FROM app_user WHERE id = $1 AND merchant_id = $2", user_id,
                            policy.tenant(actor))
    if row is None:
        raise NotFound("user not found", field="id")
    return public(dict(row))


async def current_user(actor: Actor) -> dict | None:
    """The acting staff user's own record (seeing oneself needs no permission); None for keys and jobs."""
    if actor.user_id is None:
        return None
    row = await db.fetchrow("SELECT * FROM app_user WHERE id = $1 AND merchant_id = $2", actor.user_id,
                            actor.merchant_id)
    return public(dict(row)) if row else None


async def list_users(actor: Actor, *, first: int = 50, after: str | None = None, search: str = "",
                     role: str | None = None, active: bool | None = None) -> Page:
    policy.authorize(actor, "users.view")
    where, args = ["merchant_id = $1"], [policy.tenant(actor)]
    if search:
        args.append(f"%{search}%")
        where.append(f"(email ILIKE ${len(args)} OR name ILIKE ${len(args)})")
    if role:
        args.append(role)
        where.append(f"role = ${len(args)}")
    if active is not None:
        args.append(active)
        where.append(f"is_active = ${len(args)}")
    if after:
        (last_id,) = decode_cursor(after)
        args.append(int(last_id))
        where.append(f"id > ${len(args)}")
    first = max(1, min(first, 200))
    rows = await db.fetch(
        f"SELECT * FROM app_user WHERE {' AND '.join(where)} ORDER BY id LIMIT {first + 1}", *args)  # noqa: S608
    total = await db.fetchval(f"SELECT count(*) FROM app_user WHERE {' AND '.join(where[: len(where) - bool(after)])}",  # noqa: S608
                              *args[: len(args) - bool(after)])
    return Page(items=[public(dict(r)) for r in rows[:first]], has_next=len(rows) > first,
                cursor=lambda u: encode_cursor(u["id"]), total=total)


async def update_user(actor: Actor, user_id: int, *, name: str | None = None, role: str | None = None,
                      is_active: bool | None = None, language: str | None = None,
                      timezone: str | None = None) -> dict:
    """Change another user's role, name or active flag (admin), or one's own preferences."""
    own_prefs_only = actor.user_id == user_id and role is None and is_active is None
    if not own_prefs_only:
        policy.authorize(actor, "users.manage")
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = name.strip()
    if role is not None:
        policy.may_grant(actor, role)
        if user_id == actor.user_id:
            raise ValidationError("you cannot change your own role", code="self_role", field="role")
        changes["role"] = role
    if is_active is not None:
        if user_id == actor.user_id and not is_active:
            raise ValidationError("you cannot deactivate yourself", code="self_deactivate", field="isActive")
        changes["is_active"] = is_active
    if language is not None:
        changes["language"] = _check_language(language)
    if timezone is not None:
        changes["timezone"] = _check_timezone(timezone)
    async with db.transaction():
        row = await db.fetchrow("SELECT * FROM app_user WHERE id = $1 AND merchant_id = $2 FOR UPDATE",
                                user_id, policy.tenant(actor))
        if row is None:
            raise NotFound("user not found", field="id")
        before = public(dict(row))
        if not changes:
            return before
        sets = ", ".join(f"{k} = ${i + 2}" for i, k in enumerate(changes))
        updated = await db.fetchrow(
            f"UPDATE app_user SET {sets}, updated_at = now() WHERE id = $1 RETURNING *",  # noqa: S608 - keys are fixed names
            user_id, *changes.values())
        after = public(dict(updated))
        b, a = audit.diff(before, after)
        await audit.record(actor, "user.update", "user", user_id, before=b, after=a)
        if is_active is False or "role" in changes:
            # a deactivated user or a changed role takes effect now, not at the next login
            await db.execute("DELETE FROM user_session WHERE user_id = $1", user_id)
    return after


async def change_password(actor: Actor, *, current: str, new: str) -> None:
    if actor.user_id is None:
        raise ValidationError("only staff users have passwords", code="not_a_user")
    row = await db.fetchrow("SELECT password_hash FROM app_user WHERE id = $1", actor.user_id)
    if row is None or not await passwords.verify(row["password_hash"], current):
        raise ValidationError("current password is wrong", code="wrong_password", field="current")
    passwords.check_strength(new, field="new")
    new_hash = await passwords.hash_password(new)
    async with db.transaction():
        await db.execute("UPDATE app_user SET password_hash = $2, password_changed_at = now(), updated_at = now() "
                         "WHERE id = $1", actor.user_id, new_hash)
        await audit.record(actor, "user.password_change", "user", actor.user_id)


# -- login, sessions, throttling ----------------------------------------------------------------

@dataclass
class LoginResult:
    token: str              # goes in the session cookie; only its hash is stored
    user: dict


async def _check_throttle(email: str, ip: str) -> None:
    s = get_settings()
    since = clock.now() - timedelta(seconds=s.login_window)
    row = await db.fetchrow(
        """SELECT count(*) FILTER (WHERE email = $1) AS by_email,
                  count(*) FILTER (WHERE ip = $2) AS by_ip,
                  max(at) AS last
           FROM login_attempt WHERE (email = $1 OR ip = $2) AND NOT success AND at > $3""",
        email, ip, since)
    if row["by_email"] >= s.login_max_failures or row["by_ip"] >= s.login_max_failures * 4:
        wait = max(1, int((row["last"] + timedelta(seconds=s.login_window) - clock.now()).total_seconds()))
        raise RateLimited(f"too many failed sign-ins; try again in {max(1, wait // 60)} minute(s)",
                          retry_after=wait, code="login_throttled")


async def login(email: str, password: str, *, ip: str = "", user_agent: str = "") -> LoginResult:
    from server.core.actor import Actor as _Actor  # noqa: PLC0415
    from server.core.errors import AuthenticationRequired  # noqa: PLC0415

    email_key = (email or "").strip().lower()
    await _check_throttle(email_key, ip)
    row = await db.fetchrow("SELECT * FROM app_user WHERE lower(email) = $1", email_key)
    ok = await passwords.verify(row["password_hash"] if row else None, password or "")
    if not ok or not row["is_active"]:
        await db.execute("INSERT INTO login_attempt (email, ip, success) VALUES ($1, $2, false)", email_key, ip)
        raise AuthenticationRequired("wrong email or password", code="invalid_credentials")
    token = crypto.token(32)
    expires = clock.now() + timedelta(seconds=get_settings().session_max_age)
    user = dict(row)
    async with db.transaction():
        await db.execute("INSERT INTO login_attempt (email, ip, success) VALUES ($1, $2, true)", email_key, ip)
        await db.execute(
            "INSERT INTO user_session (token_hash, user_id, expires_at, ip, user_agent) VALUES ($1, $2, $3, $4, $5)",
            crypto.sha256_hex(token), user["id"], expires, ip, user_agent[:300])
        await db.execute("UPDATE app_user SET last_login_at = now() WHERE id = $1", user["id"])
        actor = _Actor(kind="user", merchant_id=user["merchant_id"], role=user["role"], user_id=user["id"],
                       label=user["email"], ip=ip)
        await audit.record(actor, "user.login", "user", user["id"])
    return LoginResult(token=token, user=public(user))


async def logout(token: str, actor: Actor | None = None) -> None:
    async with db.transaction():
        row = await db.fetchrow("DELETE FROM user_session WHERE token_hash = $1 RETURNING user_id",
                                crypto.sha256_hex(token))
        if row and actor:
            await audit.record(actor, "user.logout", "user", row["user_id"])


async def actor_for_session(token: str) -> Actor | None:
    """The staff actor behind a session cookie, or None if expired/revoked/deactivated."""
    token_hash = crypto.sha256_hex(token)
    row = await db.fetchrow(
        """SELECT u.id, u.merchant_id, u.email, u.role, u.language, u.timezone, s.last_seen_at
           FROM user_session s JOIN app_user u ON u.id = s.user_id
           WHERE s.token_hash = $1 AND s.expires_at > now() AND u.is_active""", token_hash)
    if row is not None and clock.now() - row["last_seen_at"] > timedelta(minutes=1):
        # sliding activity stamp, written at most once a minute per session
        await db.execute("UPDATE user_session SET last_seen_at = now() WHERE token_hash = $1", token_hash)
    if row is None:
        return None
    return Actor(kind="user", merchant_id=row["merchant_id"], role=row["role"],
                 permissions=permissions_for(row["role"]), user_id=row["id"], label=row["email"],
                 language=row["language"], timezone=row["timezone"])


async def purge_expired() -> int:
    """Periodic housekeeping: expired sessions and old login attempts."""
    status = await db.execute("DELETE FROM user_session WHERE expires_at < now()")
    await db.execute("DELETE FROM login_attempt WHERE at < now() - interval '7 days'")
    return int(status.split()[-1])


def session_expiry() -> datetime:
    return clock.now() + timedelta(seconds=get_settings().session_max_age)


async def reset_password(email: str, password: str | None = None) -> str:
    """Operator reset from the CLI (no acting user): returns the new password."""
    from server.core.actor import system  # noqa: PLC0415

    new = password or passwords.generate()
    if password:
        passwords.check_strength(password)
    new_hash = await passwords.hash_password(new)
    async with db.transaction():
        row = await db.fetchrow("UPDATE app_user SET password_hash = $2, password_changed_at = now(), "
                                "updated_at = now() WHERE lower(email) = lower($1) RETURNING id, merchant_id",
                                email, new_hash)
        if row is None:
            raise NotFound(f"no user with email {email}", field="email")
        await db.execute("DELETE FROM user_session WHERE user_id = $1", row["id"])
        await audit.record(system(row["merchant_id"], "cli"), "user.password_reset", "user", row["id"])
    return new
