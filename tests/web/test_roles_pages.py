"""Which pages each built-in role may open, and that denied actions change nothing."""
from __future__ import annotations

import pytest

from server.auth.roles import ROLES
from server.core import db
from tests.web.conftest import form, hx, sign_in

ALLOWED, DENIED = 200, 403

# page -> status for each role (written out, not derived from roles.py, so a change shows up here)
EXPECTED = {
    "admin":            {"/": ALLOWED, "/profile": ALLOWED, "/users": ALLOWED, "/api-keys": ALLOWED, "/audit": ALLOWED},
    "operations":       {"/": ALLOWED, "/profile": ALLOWED, "/users": DENIED, "/api-keys": DENIED, "/audit": DENIED},
    "customer_service": {"/": ALLOWED, "/profile": ALLOWED, "/users": DENIED, "/api-keys": DENIED, "/audit": DENIED},
    "warehouse":        {"/": ALLOWED, "/profile": ALLOWED, "/users": DENIED, "/api-keys": DENIED, "/audit": DENIED},
    "finance":          {"/": ALLOWED, "/profile": ALLOWED, "/users": DENIED, "/api-keys": DENIED, "/audit": ALLOWED},
    "partner_readonly": {"/": ALLOWED, "/profile": ALLOWED, "/users": DENIED, "/api-keys": DENIED, "/audit": DENIED},
}
NAV_LINKS = {"/users": 'href="/users"', "/api-keys": 'href="/api-keys"', "/audit": 'href="/audit"'}


def test_every_built_in_role_is_covered():
    assert set(EXPECTED) == set(ROLES)


@pytest.mark.parametrize("role", list(EXPECTED))
async def test_pages_allowed_and_denied_per_role(client, users, role):
    user = await users.make(role)
    await sign_in(client, user)
    dashboard = await client.get("/")
    for path, status in EXPECTED[role].items():
        response = await client.get(path)
        assert response.status_code == status, (role, path, response.status_code)
        if status == DENIED:
            assert "Access denied" in response.text and "<html" in response.text
            assert "Your role (" in response.text  # says which role lacks which permission
        if path in NAV_LINKS:  # the sidebar offers exactly the pages the role may open
            assert (NAV_LINKS[path] in dashboard.text) == (status == ALLOWED), (role, path)


@pytest.mark.parametrize("role", ["operations", "finance", "warehouse"])
async def test_user_detail_follows_users_view(client, users, role):
    user = await users.make(role)
    await sign_in(client, user)
    response = await client.get(f"/users/{user['id']}")
    assert response.status_code == DENIED


async def test_denied_htmx_request_gets_a_403_fragment(client, users):
    user = await users.make("warehouse")
    await sign_in(client, user)
    response = await client.get("/users", headers=hx(client))
    assert response.status_code == DENIED
    assert "<html" not in response.text and "Access denied" in response.text
    assert response.headers["hx-retarget"] == "#flashes"


async def test_operations_cannot_create_a_user(client, users):
    user = await users.make("operations")
    await sign_in(client, user)
    before = await db.fetchval("SELECT count(*) FROM app_user")
    response = await client.post("/users", data=form(client, email="sneaky@example.com", role="admin", name="x"))
    assert response.status_code == DENIED
    htmx = await client.post("/users", headers=hx(client), data={"email": "sneaky@example.com", "role": "admin"})
    assert htmx.status_code == DENIED
    assert await db.fetchval("SELECT count(*) FROM app_user") == before
    assert await db.fetchval("SELECT count(*) FROM audit_entry WHERE action = 'user.create' "
                             "AND actor_label = $1", user["email"]) == 0


async def test_finance_cannot_change_or_deactivate_users(client, users):
    finance = await users.make("finance")
    colleague = await users.make("warehouse", merchant=finance["merchant"])
    await sign_in(client, finance)
    for path, fields in ((f"/users/{colleague['id']}/deactivate", {}),
                         (f"/users/{colleague['id']}/role", {"role": "admin"}),
                         (f"/users/{colleague['id']}", {"name": "Renamed", "role": "admin"})):
        response = await client.post(path, data=form(client, **fields))
        assert response.status_code == DENIED, path
    row = await db.fetchrow("SELECT role, is_active, name FROM app_user WHERE id = $1", colleague["id"])
    assert (row["role"], row["is_active"], row["name"]) == ("warehouse", True, colleague["name"])


async def test_only_apikeys_manage_creates_and_revokes_keys(client, users, api_key):
    finance = await users.make("finance")
    record, _ = await api_key(finance["merchant"], "partner_readonly")
    await sign_in(client, finance)
    assert (await client.post("/api-keys", data=form(client, name="x", role="partner_readonly"))).status_code == DENIED
    assert (await client.post(f"/api-keys/{record['id']}/revoke", data=form(client))).status_code == DENIED
    assert await db.fetchval("SELECT count(*) FROM api_key") == 1
    assert await db.fetchval("SELECT revoked_at FROM api_key WHERE id = $1", record["id"]) is None


async def test_api_key_is_not_a_page_login(client, users, api_key):
    """A partner's bearer key opens GraphQL, not the staff pages."""
    admin = await users.make("admin")
    _, key = await api_key(admin["merchant"], "admin")
    response = await client.get("/users", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
