from datetime import timedelta

import pytest

from server.auth import apikeys, service
from server.core import clock, db
from server.core.actor import system
from server.core.errors import (
    AuthenticationRequired,
    Conflict,
    NotFound,
    PermissionDenied,
    RateLimited,
    ValidationError,
)


async def test_login_and_session_roundtrip(users):
    u = await users.make("operations")
    result = await service.login(u["email"], u["password"], ip="1.2.3.4")
    actor = await service.actor_for_session(result.token)
    assert actor.user_id == u["id"] and actor.role == "operations" and "orders.manage" in actor.permissions
    stored = await db.fetchval("SELECT token_hash FROM user_session WHERE user_id = $1", u["id"])
    assert result.token not in stored  # only the hash is stored
    await service.logout(result.token)
    assert await service.actor_for_session(result.token) is None


async def test_wrong_password_and_unknown_email_look_the_same(users):
    u = await users.make()
    with pytest.raises(AuthenticationRequired) as wrong:
        await service.login(u["email"], "not-the-password1")
    with pytest.raises(AuthenticationRequired) as unknown:
        await service.login("nobody@example.com", "whatever-123")
    assert wrong.value.message == unknown.value.message


async def test_login_throttled_after_repeated_failures(users):
    u = await users.make()
    for _ in range(5):
        with pytest.raises(AuthenticationRequired):
            await service.login(u["email"], "wrong-password-1", ip="9.9.9.9")
    with pytest.raises(RateLimited) as exc:
        await service.login(u["email"], u["password"], ip="9.9.9.9")
    assert exc.value.retry_after > 0
    clock.freeze(clock.now() + timedelta(minutes=16))  # the window passes
    assert (await service.login(u["email"], u["password"], ip="9.9.9.9")).token


async def test_password_hash_is_argon2(users):
    u = await users.make()
    stored = await db.fetchval("SELECT password_hash FROM app_user WHERE id = $1", u["id"])
    assert stored.startswith("$argon2id$") and u["password"] not in stored


async def test_deactivated_user_loses_sessions_at_once(users):
    admin = await users.make("admin")
    other = await users.make("operations", merchant=admin["merchant"])
    token = (await service.login(other["email"], other["password"])).token
    await service.update_user(admin["actor"], other["id"], is_active=False)
    assert await service.actor_for_session(token) is None
    with pytest.raises(AuthenticationRequired):
        await service.login(other["email"], other["password"])


async def test_role_rules(users):
    admin = await users.make("admin")
    ops = await users.make("operations", merchant=admin["merchant"])
    with pytest.raises(PermissionDenied):
        await service.create_user(ops["actor"], email="x@example.com", role="admin")
    with pytest.raises(ValidationError):
        await service.create_user(admin["actor"], email="x@example.com", role="superuser")
    with pytest.raises(ValidationError):
        await service.update_user(admin["actor"], admin["id"], role="finance")
    with pytest.raises(Conflict):
        await service.create_user(admin["actor"], email=ops["email"].upper(), role="finance")


async def test_tenant_isolation_for_users(users):
    a = await users.make("admin")
    b = await users.make("admin")
    with pytest.raises(NotFound):
        await service.get_user(a["actor"], b["id"])
    with pytest.raises(NotFound):
        await service.update_user(a["actor"], b["id"], name="hijack")
    page = await service.list_users(a["actor"])
    assert {u["merchant_id"] for u in page.items} == {a["merchant"]["id"]}


async def test_api_key_hashed_shown_once_revocable(merchant):
    actor = system(merchant["id"], "test")
    record, key = await apikeys.create(actor, name="erp", role="partner_readonly")
    stored = await db.fetchrow("SELECT * FROM api_key WHERE id = $1", record["id"])
    assert key not in dict(stored).values() and stored["key_hash"] != key
    assert "key" not in record and "key_hash" not in record
    resolved = await apikeys.actor_for_key(key)
    assert resolved.api_key_id == record["id"] and resolved.role == "partner_readonly"
    used = await db.fetchval("SELECT last_used_at FROM api_key WHERE id = $1", record["id"])
    assert used is not None
    assert await apikeys.actor_for_key(key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    await apikeys.revoke(actor, record["id"])
    assert await apikeys.actor_for_key(key) is None


async def test_every_mutation_is_audited(users):
    admin = await users.make("admin")
    user, _ = await service.create_user(admin["actor"], email="new@example.com", role="warehouse")
    await service.update_user(admin["actor"], user["id"], role="finance")
    record, _ = await apikeys.create(admin["actor"], name="k", role="partner_readonly")
    await apikeys.revoke(admin["actor"], record["id"])
    actions = [r["action"] for r in await db.fetch(
        "SELECT action FROM audit_entry WHERE merchant_id = $1 ORDER BY id", admin["merchant"]["id"])]
    assert actions[-4:] == ["user.create", "user.update", "apikey.create", "apikey.revoke"]
    upd = await db.fetchrow("SELECT * FROM audit_entry WHERE action = 'user.update'")
    assert db.loads(upd["before"]) == {"role": "warehouse"} and db.loads(upd["after"]) == {"role": "finance"}
    assert upd["actor_label"] == admin["email"]
    with pytest.raises(Exception, match="append-only"):
        await db.execute("UPDATE audit_entry SET action = 'x'")
