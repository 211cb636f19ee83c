"""Every built-in role, through an API key: queries need their view permission (denied -> null and a
top-level `permission_denied` error), mutations their manage permission (denied -> payload error
`permission_denied`, nothing written)."""
from __future__ import annotations

import pytest

from server.auth.roles import ROLES, permissions_for
from server.core import db
from tests.support.graphql import gql

ALL_ROLES = ["admin", "operations", "customer_service", "warehouse", "finance", "partner_readonly"]



def test_every_built_in_role_is_covered():
    assert sorted(ALL_ROLES) == sorted(ROLES)


def _denied(body: dict, field: str) -> bool:
    codes = [e["extensions"]["code"] for e in body.get("errors", []) if e.get("path") == [field]]
    return body["data"][field] is None and codes == ["permission_denied"]


@pytest.mark.parametrize("role", ALL_ROLES)
async def test_read_queries_follow_permissions(client, merchant, api_key, role):
    _, key = await api_key(merchant, role)
    body = await gql(client, """{
        users { totalCount edges { node { id } } }
        auditEntries { edges { node { id action } } }
        apiKeys { edges { node { id prefix } } }
        viewer { role }
    }""", key)
    perms = permissions_for(role)
    assert body["data"]["viewer"] == {"role": role}  # one refused field does not sink the others
    assert _denied(body, "users") is ("users.view" not in perms)
    assert _denied(body, "auditEntries") is ("audit.view" not in perms)
    assert _denied(body, "apiKeys") is ("apikeys.manage" not in perms)
    if "users.view" in perms:
        assert body["data"]["users"]["totalCount"] == 0
    if "apikeys.manage" in perms:
        assert len(body["data"]["apiKeys"]["edges"]) == 1  # the caller's own key
    denied_error = next((e for e in body.get("errors", []) if e["path"] == ["users"]), None)
    if denied_error:
        assert "users.view" in denied_error["message"]


def test_expected_permission_matrix():
    """The matrix the API tests rely on, spelled out: a change to roles.py shows up here."""
    view_users = {r for r in ALL_ROLES if "users.view" in permissions_for(r)}
    view_audit = {r for r in ALL_ROLES if "audit.view" in permissions_for(r)}
    manage = {r for r in ALL_ROLES if {"users.manage", "apikeys.manage"} & permissions_for(r)}
    assert view_users == {"admin"} and view_audit == {"admin", "finance"} and manage == {"admin"}


@pytest.mark.parametrize("role", ALL_ROLES)
async def test_user_get_follows_permissions(client, merchant, api_key, users, role):
    other = await users.make("warehouse", merchant)
    _, key = await api_key(merchant, role)
    body = await gql(client, "query($id: ID!) { user(id: $id) { email } }", key, {"id": str(other["id"])})
    if "users.view" in permissions_for(role):
        assert body["data"]["user"] == {"email": other["email"]}
    else:
        assert _denied(body, "user")


USER_CREATE = """mutation($input: UserCreateInput!) {
  userCreate(input: $input) { user { id email } password errors { code field message } } }"""
KEY_CREATE = """mutation($input: ApiKeyCreateInput!) {
  apiKeyCreate(input: $input) { apiKey { id } key errors { code field message } } }"""
USER_UPDATE = """mutation($id: ID!, $input: UserUpdateInput!) {
  userUpdate(id: $id, input: $input) { user { id name } errors { code field message } } }"""
KEY_REVOKE = """mutation($id: ID!) { apiKeyRevoke(id: $id) { apiKey { id revokedAt } errors { code field message } } }"""


async def _counts(merchant_id: int) -> tuple[int, int, int]:
    return (await db.fetchval("SELECT count(*) FROM app_user WHERE merchant_id = $1", merchant_id),
            await db.fetchval("SELECT count(*) FROM api_key WHERE merchant_id = $1", merchant_id),
            await db.fetchval("SELECT count(*) FROM audit_entry WHERE merchant_id = $1", merchant_id))


@pytest.mark.parametrize("role", ALL_ROLES)
async def test_mutations_follow_permissions(client, merchant, api_key, users, role):
    target = await users.make("warehouse", merchant)
    victim_key, _ = await api_key(merchant, "partner_readonly", name="victim")
    _, key = await api_key(merchant, role)
    perms = permissions_for(role)
    before = await _counts(merchant["id"])

    created = (await gql(client, USER_CREATE, key, {"input": {"email": f"new-{role}@example.com",
                                                               "role": "partner_readonly"}}))["data"]["userCreate"]
    new_key = (await gql(client, KEY_CREATE, key, {"input": {"name": "made by " + role,
                                                             "role": "partner_readonly"}}))["data"]["apiKeyCreate"]
    updated = (await gql(client, USER_UPDATE, key, {"id": str(target["id"]),
                                                    "input": {"name": "Renamed"}}))["data"]["userUpdate"]
    revoked = (await gql(client, KEY_REVOKE, key, {"id": str(victim_key["id"])}))["data"]["apiKeyRevoke"]

    if "users.manage" in perms:
        assert created["errors"] == [] and created["user"]["email"] == f"new-{role}@example.com"
        assert updated["errors"] == [] and updated["user"]["name"] == "Renamed"
    else:
        for result in (created, updated):
            assert [e["code"] for e in result["errors"]] == ["permission_denied"]
            assert result["errors"][0]["field"] is None and "users.manage" in result["errors"][0]["message"]
        assert created["user"] is None and created["password"] is None and updated["user"] is None
    if "apikeys.manage" in perms:
        assert new_key["errors"] == [] and new_key["key"].startswith("oms_")
        assert revoked["errors"] == [] and revoked["apiKey"]["revokedAt"]
    else:
        for result in (new_key, revoked):
            assert [e["code"] for e in result["errors"]] == ["permission_denied"]
        assert new_key["key"] is None and new_key["apiKey"] is None and revoked["apiKey"] is None

    if not {"users.manage", "apikeys.manage"} & perms:
        assert await _counts(merchant["id"]) == before  # nothing written, not even an audit entry
        assert await db.fetchval("SELECT name FROM app_user WHERE id = $1", target["id"]) == target["name"]
        assert await db.fetchval("SELECT revoked_at FROM api_key WHERE id = $1", victim_key["id"]) is None
