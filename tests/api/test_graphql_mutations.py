"""Mutations end to end (payload errors with field names, audit trail) and keyset pagination."""
from __future__ import annotations

from server.auth import service as auth_service
from server.core import db

USER_CREATE = """mutation($input: UserCreateInput!) {
  userCreate(input: $input) {
    user { id email name role language timezone isActive }
    password
    errors { code field message } } }"""
USER_UPDATE = """mutation($id: ID!, $input: UserUpdateInput!) {
  userUpdate(id: $id, input: $input) { user { id name role isActive language timezone } errors { code field message } } }"""
KEY_CREATE = """mutation($input: ApiKeyCreateInput!) {
  apiKeyCreate(input: $input) { apiKey { id name role prefix isActive revokedAt } key errors { code field message } } }"""
KEY_REVOKE = """mutation($id: ID!) {
  apiKeyRevoke(id: $id) { apiKey { id isActive revokedAt } errors { code field message } } }"""
AUDIT = """query($filter: AuditEntryFilterInput) {
  auditEntries(filter: $filter) { edges { node {
    id at action objectType objectId actorType actorLabel before after requestId } } } }"""


async def post(client, query: str, key: str, variables: dict | None = None):
    return await client.post("/graphql", json={"query": query, "variables": variables or {}},
                             headers={"Authorization": f"Bearer {key}"})


async def gql(client, query: str, key: str, variables: dict | None = None) -> dict:
    r = await post(client, query, key, variables)
    assert r.status_code == 200, r.text
    return r.json()


async def test_user_create_with_generated_password(client, merchant, api_key):
    _, key = await api_key(merchant, "admin", name="HR system")
    r = await post(client, USER_CREATE, key, {"input": {"email": "li.na@example.com", "name": " Li Na ",
                                                         "role": "customer_service", "language": "zh",
                                                         "timezone": "Asia/Shanghai"}})
    body = r.json()
    result = body["data"]["userCreate"]
    assert result["errors"] == []
    user = result["user"]
    assert user["email"] == "li.na@example.com" and user["name"] == "Li Na" and user["role"] == "customer_service"
    assert user["language"] == "zh" and user["isActive"] is True and user["id"].isdigit()
    password = result["password"]
    assert password and len(password) >= 10
    login = await auth_service.login("li.na@example.com", password)  # the generated password works
    assert login.user["id"] == int(user["id"])
    stored = await db.fetchval("SELECT password_hash FROM app_user WHERE id = $1", int(user["id"]))
    assert password not in stored

    audit = (await gql(client, AUDIT, key, {"filter": {"action": "user.create", "objectId": user["id"]}}))
    entry = audit["data"]["auditEntries"]["edges"][0]["node"]
    assert entry["objectType"] == "user" and entry["actorType"] == "api_key" and entry["actorLabel"] == "key:HR system"
    assert entry["after"]["email"] == "li.na@example.com" and "password_hash" not in entry["after"]
    assert entry["requestId"] == r.headers["x-request-id"]


async def test_user_create_with_given_password_returns_none(client, merchant, api_key):
    _, key = await api_key(merchant)
    result = (await gql(client, USER_CREATE, key, {"input": {"email": "ops@example.com", "role": "operations",
                                                              "password": "a-Good-passw0rd"}}))["data"]["userCreate"]
    assert result["errors"] == [] and result["password"] is None
    assert (await auth_service.login("ops@example.com", "a-Good-passw0rd")).user["role"] == "operations"


async def test_user_create_validation_errors_name_their_fields(client, merchant, api_key, users):
    existing = await users.make("warehouse", merchant)
    _, key = await api_key(merchant)
    cases = [
        ({"email": "not-an-email", "role": "warehouse"}, "invalid_email", "email"),
        ({"email": "weak@example.com", "role": "warehouse", "password": "short1"}, "weak_password", "password"),
        ({"email": "weak2@example.com", "role": "warehouse", "password": "onlyletters"}, "weak_password", "password"),
        ({"email": "role@example.com", "role": "superuser"}, "invalid_role", "role"),
        ({"email": existing["email"].upper(), "role": "warehouse"}, "duplicate_email", "email"),
        ({"email": "tz@example.com", "role": "warehouse", "timezone": "Mars/Olympus"}, "invalid_timezone", "timezone"),
        ({"email": "lang@example.com", "role": "warehouse", "language": "xx"}, "invalid_language", "language"),
    ]
    count = await db.fetchval("SELECT count(*) FROM app_user")
    for given, code, field in cases:
        result = (await gql(client, USER_CREATE, key, {"input": given}))["data"]["userCreate"]
        assert result["user"] is None and result["password"] is None, given
        assert [(e["code"], e["field"]) for e in result["errors"]] == [(code, field)], given
        assert result["errors"][0]["message"]
    assert await db.fetchval("SELECT count(*) FROM app_user") == count


async def test_user_update_and_its_audit(client, merchant, api_key, users):
    target = await users.make("warehouse", merchant)
    _, key = await api_key(merchant)
    result = (await gql(client, USER_UPDATE, key, {"id": str(target["id"]), "input": {
        "name": "Wang Wei", "role": "operations", "timezone": "Europe/Berlin"}}))["data"]["userUpdate"]
    assert result["errors"] == []
    assert result["user"] == {"id": str(target["id"]), "name": "Wang Wei", "role": "operations",
                              "isActive": True, "language": "en", "timezone": "Europe/Berlin"}
    off = (await gql(client, USER_UPDATE, key, {"id": str(target["id"]),
                                                 "input": {"isActive": False}}))["data"]["userUpdate"]
    assert off["user"]["isActive"] is False
    bad = (await gql(client, USER_UPDATE, key, {"id": str(target["id"]),
                                                "input": {"timezone": "Nowhere/Land"}}))["data"]["userUpdate"]
    assert [(e["code"], e["field"]) for e in bad["errors"]] == [("invalid_timezone", "timezone")]
    missing = (await gql(client, USER_UPDATE, key, {"id": "999999", "input": {"name": "x"}}))["data"]["userUpdate"]
    assert [(e["code"], e["field"]) for e in missing["errors"]] == [("not_found", "id")]
    malformed = (await gql(client, USER_UPDATE, key, {"id": "user:1", "input": {"name": "x"}}))["data"]["userUpdate"]
    assert [(e["code"], e["field"]) for e in malformed["errors"]] == [("invalid_id", "id")]

    entries = (await gql(client, AUDIT, key, {"filter": {"action": "user.update", "objectType": "user",
                                                         "objectId": str(target["id"])}}))
    nodes = [e["node"] for e in entries["data"]["auditEntries"]["edges"]]
    assert len(nodes) == 2  # newest first
    assert nodes[0]["before"] == {"is_active": True} and nodes[0]["after"] == {"is_active": False}
    assert nodes[1]["before"]["role"] == "warehouse" and nodes[1]["after"]["role"] == "operations"
    assert nodes[1]["after"]["name"] == "Wang Wei"


async def test_api_key_create_shows_key_once_and_it_works(client, merchant, api_key):
    _, key = await api_key(merchant)
    r = await post(client, KEY_CREATE, key, {"input": {"name": "Website", "role": "partner_readonly"}})
    result = r.json()["data"]["apiKeyCreate"]
    assert result["errors"] == []
    new_key = result["key"]
    assert new_key.startswith(f"oms_{result['apiKey']['prefix']}_")
    assert result["apiKey"]["role"] == "partner_readonly" and result["apiKey"]["isActive"] is True

    viewer = await gql(client, "{ viewer { role apiKey { id name } } }", new_key)
    assert viewer["data"]["viewer"] == {"role": "partner_readonly",
                                        "apiKey": {"id": result["apiKey"]["id"], "name": "Website"}}
    listing = await post(client, "{ apiKeys { edges { node { id name prefix } } } }", key)
    assert new_key not in listing.text and result["apiKey"]["prefix"] in listing.text
    stored = await db.fetchval("SELECT key_hash FROM api_key WHERE id = $1", int(result["apiKey"]["id"]))
    assert new_key not in stored

    nameless = (await gql(client, KEY_CREATE, key, {"input": {"name": "  ", "role": "finance"}}))["data"]["apiKeyCreate"]
    assert [(e["code"], e["field"]) for e in nameless["errors"]] == [("required", "name")] and nameless["key"] is None
    bad_role = (await gql(client, KEY_CREATE, key, {"input": {"name": "x", "role": "root"}}))["data"]["apiKeyCreate"]
    assert [(e["code"], e["field"]) for e in bad_role["errors"]] == [("invalid_role", "role")]

    entry = (await gql(client, AUDIT, key, {"filter": {"action": "apikey.create",
                                                       "objectId": result["apiKey"]["id"]}}))
    node = entry["data"]["auditEntries"]["edges"][0]["node"]
    assert node["objectType"] == "api_key" and node["after"]["name"] == "Website"
    assert new_key not in str(node)
    assert node["requestId"] == r.headers["x-request-id"]


async def test_api_key_revoke(client, merchant, api_key):
    _, key = await api_key(merchant)
    made = (await gql(client, KEY_CREATE, key, {"input": {"name": "Old POS", "role": "warehouse"}}))["data"]
    target_id, target_key = made["apiKeyCreate"]["apiKey"]["id"], made["apiKeyCreate"]["key"]
    assert (await post(client, "{ viewer { role } }", target_key)).status_code == 200

    result = (await gql(client, KEY_REVOKE, key, {"id": target_id}))["data"]["apiKeyRevoke"]
    assert result["errors"] == [] and result["apiKey"]["isActive"] is False and result["apiKey"]["revokedAt"]
    assert (await post(client, "{ viewer { role } }", target_key)).status_code == 401
    missing = (await gql(client, KEY_REVOKE, key, {"id": "424242"}))["data"]["apiKeyRevoke"]
    assert [(e["code"], e["field"]) for e in missing["errors"]] == [("not_found", "id")]

    actions = [e["node"]["action"] for e in (await gql(client, AUDIT, key, {"filter": {"action": "apikey.*"}}))
               ["data"]["auditEntries"]["edges"]]
    assert actions[0] == "apikey.revoke" and "apikey.create" in actions


async def test_audit_trail_has_each_action(client, merchant, api_key):
    _, key = await api_key(merchant)
    user = (await gql(client, USER_CREATE, key, {"input": {"email": "a@example.com", "role": "finance"}}))
    user_id = user["data"]["userCreate"]["user"]["id"]
    await gql(client, USER_UPDATE, key, {"id": user_id, "input": {"name": "Auditor"}})
    made = (await gql(client, KEY_CREATE, key, {"input": {"name": "temp", "role": "finance"}}))
    await gql(client, KEY_REVOKE, key, {"id": made["data"]["apiKeyCreate"]["apiKey"]["id"]})
    body = await gql(client, AUDIT, key, {"filter": {"actor": "key:partner"}})
    actions = [e["node"]["action"] for e in body["data"]["auditEntries"]["edges"]]
    assert actions == ["apikey.revoke", "apikey.create", "user.update", "user.create"]


async def test_users_keyset_pagination(client, merchant, api_key):
    _, key = await api_key(merchant)
    made = []
    for i in range(7):
        result = (await gql(client, USER_CREATE, key, {"input": {"email": f"page{i}@example.com",
                                                                  "role": "warehouse"}}))["data"]["userCreate"]
        assert result["errors"] == []
        made.append(result["user"]["id"])
    query = """query($after: String) { users(first: 3, after: $after) {
      totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { id email } } } }"""
    seen, after, pages = [], None, 0
    while True:
        conn = (await gql(client, query, key, {"after": after}))["data"]["users"]
        pages += 1
        assert conn["totalCount"] == 7
        assert conn["pageInfo"]["hasPreviousPage"] is False
        assert conn["pageInfo"]["startCursor"] == conn["edges"][0]["cursor"]
        assert conn["pageInfo"]["endCursor"] == conn["edges"][-1]["cursor"]
        seen.extend(e["node"]["id"] for e in conn["edges"])
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert pages == 3
    assert seen == made  # oldest first, no duplicates, no gaps

    filtered = (await gql(client, 'query { users(filter: {search: "page6"}) { totalCount edges { node { id } } } }',
                          key))["data"]["users"]
    assert filtered == {"totalCount": 1, "edges": [{"node": {"id": made[6]}}]}


async def test_pagination_argument_errors_are_readable(client, merchant, api_key):
    _, key = await api_key(merchant)
    for query, code, needle in (
        ("{ users(first: 201) { totalCount } }", "invalid_argument", "between 1 and 200"),
        ("{ users(first: 0) { totalCount } }", "invalid_argument", "between 1 and 200"),
        ('{ users(after: "garbage!") { totalCount } }', "invalid_cursor", "cursor"),
        ('{ users(after: "WyJhIiwiYiJd") { totalCount } }', "invalid_cursor", "cursor"),  # ["a","b"]
        ('{ auditEntries(after: "WzFd") { totalCount } }', "invalid_cursor", "cursor"),  # [1]
        ('{ user(id: "abc") { id } }', "invalid_id", "numeric"),
    ):
        body = await gql(client, query, key)
        error = body["errors"][0]
        assert error["extensions"]["code"] == code, (query, body)
        assert needle in error["message"], (query, error)
        assert "internal" not in error["message"]
    ok = await gql(client, "{ users(first: 200) { totalCount } apiKeys(first: 1) { totalCount } }", key)
    assert "errors" not in ok
