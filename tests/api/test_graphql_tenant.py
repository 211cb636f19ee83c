"""Merchant A's key never sees or changes merchant B's users, keys or audit trail."""
from __future__ import annotations

from server.core import db
from tests.support.graphql import gql


async def _two_tenants(users, api_key, merchant, other_merchant):
    a_user = await users.make("warehouse", merchant)
    b_user = await users.make("finance", other_merchant)
    b_key, _ = await api_key(other_merchant, "partner_readonly", name="B's partner")
    _, a_admin_key = await api_key(merchant, "admin", name="A admin")
    return a_user, b_user, b_key, a_admin_key


async def test_lists_are_confined_to_the_callers_merchant(client, users, api_key, merchant, other_merchant):
    a_user, b_user, b_key, a_key = await _two_tenants(users, api_key, merchant, other_merchant)
    body = await gql(client, """{
      users { totalCount edges { node { id email } } }
      apiKeys { edges { node { id name } } }
      auditEntries(first: 200) { edges { node { objectType objectId actorLabel } } }
      viewer { merchant { id } }
    }""", a_key)
    assert "errors" not in body, body
    data = body["data"]
    assert data["viewer"]["merchant"]["id"] == str(merchant["id"])
    assert [e["node"]["email"] for e in data["users"]["edges"]] == [a_user["email"]]
    assert data["users"]["totalCount"] == 1
    assert [e["node"]["name"] for e in data["apiKeys"]["edges"]] == ["A admin"]
    audited = {(e["node"]["objectType"], e["node"]["objectId"]) for e in data["auditEntries"]["edges"]}
    assert ("user", str(a_user["id"])) in audited
    assert ("user", str(b_user["id"])) not in audited and ("api_key", str(b_key["id"])) not in audited
    b_entries = await db.fetchval("SELECT count(*) FROM audit_entry WHERE merchant_id = $1", other_merchant["id"])
    assert b_entries >= 2 and len(audited) == await db.fetchval(
        "SELECT count(*) FROM audit_entry WHERE merchant_id = $1", merchant["id"])


async def test_filters_cannot_reach_another_merchant(client, users, api_key, merchant, other_merchant):
    _, b_user, _, a_key = await _two_tenants(users, api_key, merchant, other_merchant)
    body = await gql(client, """query($email: String, $oid: String) {
      users(filter: {search: $email}) { totalCount edges { node { id } } }
      auditEntries(filter: {objectType: "user", objectId: $oid}) { edges { node { id } } }
    }""", a_key, {"email": b_user["email"], "oid": str(b_user["id"])})
    assert body["data"]["users"] == {"totalCount": 0, "edges": []}
    assert body["data"]["auditEntries"]["edges"] == []


async def test_user_by_id_of_another_merchant_is_null(client, users, api_key, merchant, other_merchant):
    _, b_user, _, a_key = await _two_tenants(users, api_key, merchant, other_merchant)
    body = await gql(client, "query($id: ID!) { user(id: $id) { id email } }", a_key, {"id": str(b_user["id"])})
    assert body == {"data": {"user": None}}


async def test_user_update_of_another_merchant_is_not_found(client, users, api_key, merchant, other_merchant):
    _, b_user, _, a_key = await _two_tenants(users, api_key, merchant, other_merchant)
    before = dict(await db.fetchrow("SELECT * FROM app_user WHERE id = $1", b_user["id"]))
    body = await gql(client, """mutation($id: ID!) {
      userUpdate(id: $id, input: {name: "Hijacked", isActive: false, role: "admin"}) {
        user { id } errors { code field message } } }""", a_key, {"id": str(b_user["id"])})
    result = body["data"]["userUpdate"]
    assert result["user"] is None
    assert [(e["code"], e["field"]) for e in result["errors"]] == [("not_found", "id")]
    assert dict(await db.fetchrow("SELECT * FROM app_user WHERE id = $1", b_user["id"])) == before
    assert await db.fetchval("SELECT count(*) FROM audit_entry WHERE action = 'user.update'") == 0


async def test_api_key_revoke_of_another_merchant_is_not_found(client, users, api_key, merchant, other_merchant):
    _, _, b_key, a_key = await _two_tenants(users, api_key, merchant, other_merchant)
    body = await gql(client, """mutation($id: ID!) {
      apiKeyRevoke(id: $id) { apiKey { id } errors { code field } } }""", a_key, {"id": str(b_key["id"])})
    assert body["data"]["apiKeyRevoke"] == {"apiKey": None, "errors": [{"code": "not_found", "field": "id"}]}
    assert await db.fetchval("SELECT revoked_at FROM api_key WHERE id = $1", b_key["id"]) is None


async def test_b_key_sees_only_b(client, users, api_key, merchant, other_merchant):
    a_user, b_user, _, _ = await _two_tenants(users, api_key, merchant, other_merchant)
    _, b_admin = await api_key(other_merchant, "admin", name="B admin")
    body = await gql(client, "query($id: ID!) { users { edges { node { email } } } user(id: $id) { id } }",
                     b_admin, {"id": str(a_user["id"])})
    assert [e["node"]["email"] for e in body["data"]["users"]["edges"]] == [b_user["email"]]
    assert body["data"]["user"] is None
