"""Merchant A's staff never see or touch merchant B's users, keys or audit entries through pages."""
from __future__ import annotations

import pytest

from server.core import db
from tests.web.conftest import form, hx, sign_in


@pytest.fixture
async def two_shops(users, merchant, other_merchant, api_key):
    a_admin = await users.make("admin", merchant=merchant, email="boss@shop-a.example")
    a_staff = await users.make("warehouse", merchant=merchant, email="packer@shop-a.example")
    b_admin = await users.make("admin", merchant=other_merchant, email="boss@shop-b.example")
    b_staff = await users.make("operations", merchant=other_merchant, email="ops@shop-b.example")
    b_key, _ = await api_key(other_merchant, "partner_readonly", name="Shop B ERP")
    a_key, _ = await api_key(merchant, "partner_readonly", name="Shop A website")
    return {"a_admin": a_admin, "a_staff": a_staff, "b_admin": b_admin, "b_staff": b_staff,
            "a_key": a_key, "b_key": b_key}


async def test_other_merchants_user_is_404_everywhere(client, two_shops):
    b_staff = two_shops["b_staff"]
    await sign_in(client, two_shops["a_admin"])
    assert (await client.get(f"/users/{b_staff['id']}")).status_code == 404
    for path, fields in ((f"/users/{b_staff['id']}", {"name": "Hijacked", "role": "admin"}),
                         (f"/users/{b_staff['id']}/role", {"role": "admin"}),
                         (f"/users/{b_staff['id']}/deactivate", {}),
                         (f"/users/{b_staff['id']}/activate", {})):
        response = await client.post(path, data=form(client, **fields))
        assert response.status_code == 404, path
        assert "We could not find that" in response.text
        htmx = await client.post(path, headers=hx(client), data=fields)
        assert htmx.status_code == 404 and "<html" not in htmx.text, path
    row = await db.fetchrow("SELECT name, role, is_active FROM app_user WHERE id = $1", b_staff["id"])
    assert (row["name"], row["role"], row["is_active"]) == (b_staff["name"], "operations", True)


async def test_other_merchants_api_key_cannot_be_revoked(client, two_shops):
    await sign_in(client, two_shops["a_admin"])
    b_key = two_shops["b_key"]
    response = await client.post(f"/api-keys/{b_key['id']}/revoke", data=form(client))
    assert response.status_code == 404
    htmx = await client.post(f"/api-keys/{b_key['id']}/revoke", headers=hx(client))
    assert htmx.status_code == 404
    assert await db.fetchval("SELECT revoked_at FROM api_key WHERE id = $1", b_key["id"]) is None


async def test_lists_show_only_the_own_merchant(client, two_shops):
    await sign_in(client, two_shops["a_admin"])
    users_page = (await client.get("/users")).text
    assert "packer@shop-a.example" in users_page
    assert "boss@shop-b.example" not in users_page and "ops@shop-b.example" not in users_page
    search = (await client.get("/users?q=shop-b", headers=hx(client))).text
    assert "shop-b.example" not in search

    keys_page = (await client.get("/api-keys")).text
    assert "Shop A website" in keys_page and "Shop B ERP" not in keys_page
    assert two_shops["b_key"]["prefix"] not in keys_page

    audit_page = (await client.get("/audit")).text
    assert "packer@shop-a.example" in audit_page
    assert "shop-b.example" not in audit_page and "Shop B ERP" not in audit_page
    by_id = (await client.get(f"/audit?object_type=user&object_id={two_shops['b_staff']['id']}")).text
    assert "ops@shop-b.example" not in by_id and "Nothing recorded matches these filters." in by_id


async def test_other_merchant_sees_its_own_side(client, two_shops):
    await sign_in(client, two_shops["b_admin"])
    page = (await client.get("/users")).text
    assert "ops@shop-b.example" in page and "shop-a.example" not in page
    assert (await client.get(f"/users/{two_shops['a_staff']['id']}")).status_code == 404
