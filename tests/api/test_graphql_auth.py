"""/graphql authentication: API keys, staff sessions with CSRF, and the HTTP-level answers."""
from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sys

from server.auth import apikeys
from server.auth import service as auth_service
from server.core import db
from server.core.actor import system
from server.graphql import endpoint
from server.settings import ROOT, get_settings

VIEWER = """{ viewer { role permissions
  user { id email name role language timezone }
  apiKey { id name role prefix }
  merchant { id slug name } } }"""


async def gql(client, query: str, key: str | None = None, variables: dict | None = None, headers: dict | None = None):
    hdrs = {"Authorization": f"Bearer {key}"} if key else {}
    hdrs.update(headers or {})
    return await client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=hdrs)


async def test_viewer_with_api_key(client, merchant, api_key):
    record, key = await api_key(merchant, "finance", name="ERP sync")
    r = await gql(client, VIEWER, key)
    assert r.status_code == 200, r.text
    viewer = r.json()["data"]["viewer"]
    assert viewer["user"] is None
    assert viewer["apiKey"] == {"id": str(record["id"]), "name": "ERP sync", "role": "finance",
                                "prefix": record["prefix"]}
    assert viewer["merchant"] == {"id": str(merchant["id"]), "slug": merchant["slug"], "name": merchant["name"]}
    assert viewer["role"] == "finance"
    assert "audit.view" in viewer["permissions"] and "users.manage" not in viewer["permissions"]
    assert viewer["permissions"] == sorted(viewer["permissions"])
    assert key not in r.text


async def test_viewer_with_key_from_service_create(client, merchant):
    record, key = await apikeys.create(system(merchant["id"], "test"), name="POS", role="partner_readonly")
    r = await gql(client, "{ viewer { role apiKey { id prefix } } }", key)
    assert r.json()["data"]["viewer"] == {"role": "partner_readonly",
                                          "apiKey": {"id": str(record["id"]), "prefix": record["prefix"]}}


async def test_viewer_with_key_from_cli(client, merchant):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server.cli", "apikey", "create", "--merchant", merchant["slug"],
        "--name", "cli key", "--role", "warehouse", cwd=str(ROOT), env=dict(os.environ),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    printed = json.loads(out)
    r = await gql(client, "{ viewer { role apiKey { id name } } }", printed["key"])
    assert r.json()["data"]["viewer"] == {"role": "warehouse", "apiKey": {"id": str(printed["id"]), "name": "cli key"}}


async def test_without_credentials_401(client):
    r = await client.post("/graphql", json={"query": "{ viewer { role } }"})
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    body = r.json()
    assert body["errors"][0]["extensions"]["code"] == "unauthenticated"
    assert "Authorization: Bearer" in body["errors"][0]["message"]
    assert "data" not in body


async def test_invalid_key_401(client, merchant, api_key):
    _, key = await api_key(merchant)
    for bad in ("nonsense", key[:-2] + "xx", "oms_000000000000_" + "a" * 43):
        r = await gql(client, "{ viewer { role } }", bad)
        assert r.status_code == 401, bad
        assert r.json()["errors"][0]["extensions"]["code"] == "unauthenticated"
        assert 'error="invalid_token"' in r.headers["www-authenticate"]


async def test_revoked_key_401(client, merchant, api_key):
    record, key = await api_key(merchant)
    assert (await gql(client, "{ viewer { role } }", key)).status_code == 200
    await apikeys.revoke(system(merchant["id"], "test"), record["id"])
    r = await gql(client, "{ viewer { role } }", key)
    assert r.status_code == 401
    assert r.json()["errors"][0]["extensions"]["code"] == "unauthenticated"


async def _session(client, users, role: str = "operations") -> tuple[dict, str]:
    user = await users.make(role)
    result = await auth_service.login(user["email"], user["password"])
    csrf = "csrf-token-for-test"
    client.cookies.set("oms_session", result.token)
    client.cookies.set("oms_csrf", csrf)
    return user, csrf


async def test_session_with_csrf_header(client, users):
    user, csrf = await _session(client, users, "operations")
    r = await gql(client, VIEWER, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    viewer = r.json()["data"]["viewer"]
    assert viewer["apiKey"] is None
    assert viewer["user"]["id"] == str(user["id"]) and viewer["user"]["email"] == user["email"]
    assert viewer["user"]["role"] == "operations" and viewer["role"] == "operations"
    assert viewer["merchant"]["id"] == str(user["merchant"]["id"])


async def test_session_without_csrf_header_403(client, users):
    _, _ = await _session(client, users)
    r = await gql(client, "{ viewer { role } }")
    assert r.status_code == 403
    assert r.json()["errors"][0]["extensions"]["code"] == "csrf_failed"
    wrong = await gql(client, "{ viewer { role } }", headers={"X-CSRF-Token": "another-token"})
    assert wrong.status_code == 403


async def test_session_mutation_without_csrf_writes_nothing(client, users):
    user, _ = await _session(client, users, "admin")
    r = await gql(client, 'mutation { apiKeyCreate(input: {name: "x", role: "finance"}) { key } }')
    assert r.status_code == 403
    assert await db.fetchval("SELECT count(*) FROM api_key WHERE merchant_id = $1", user["merchant"]["id"]) == 0


async def test_bearer_key_needs_no_csrf_even_with_cookies(client, merchant, api_key):
    _, key = await api_key(merchant)
    client.cookies.set("oms_csrf", "something")
    r = await gql(client, "{ viewer { role } }", key)
    assert r.status_code == 200


async def test_malformed_json_400(client, merchant, api_key):
    _, key = await api_key(merchant)
    auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    r = await client.post("/graphql", content=b'{"query": "{ viewer { role } }",', headers=auth)
    assert r.status_code == 400
    error = r.json()["errors"][0]
    assert error["extensions"]["code"] == "bad_request"
    assert "not valid JSON" in error["message"]
    for body, hint in ((b'"just a string"', "JSON object"), (b"[]", "batched"), (b"{}", '"query"'),
                       (b'{"query": 5}', "query")):
        r = await client.post("/graphql", content=body, headers=auth)
        assert r.status_code == 400, body
        assert hint in r.json()["errors"][0]["message"], r.text


async def test_wrong_content_type_400(client, merchant, api_key):
    _, key = await api_key(merchant)
    r = await client.post("/graphql", content=b"query=%7Bviewer%7D",
                          headers={"Authorization": f"Bearer {key}", "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400
    assert "application/json" in r.json()["errors"][0]["message"]


async def test_query_errors_are_graphql_errors_with_codes(client, merchant, api_key):
    _, key = await api_key(merchant)
    r = await gql(client, "{ viewer { nope } }", key)
    assert r.status_code == 200
    assert r.json()["errors"][0]["extensions"]["code"] == "invalid_query"
    syntax = await gql(client, "{ viewer { ", key)
    assert syntax.json()["errors"][0]["extensions"]["code"] == "invalid_query"


async def test_graphiql_only_in_dev(client, monkeypatch):
    html = {"Accept": "text/html"}
    r = await client.get("/graphql", headers=html)
    assert r.status_code == 405 and r.headers["allow"] == "POST"
    assert r.json()["errors"][0]["extensions"]["code"] == "method_not_allowed"
    assert get_settings().env == "test"

    dev = dataclasses.replace(get_settings(), env="dev")
    monkeypatch.setattr(endpoint, "get_settings", lambda: dev)
    r = await client.get("/graphql", headers=html)
    assert r.status_code == 200 and "graphiql" in r.text.lower()
    assert "x-csrf-token" in r.text  # the staff session's CSRF token is handed to GraphiQL
    # even in dev, operations over GET are refused
    r = await client.get("/graphql", params={"query": "{ viewer { role } }"}, headers=html)
    assert r.status_code == 405
    r = await client.get("/graphql", params={"query": "{ viewer { role } }"})
    assert r.status_code == 405


async def test_graphiql_refused_in_production(client, monkeypatch):
    prod = dataclasses.replace(get_settings(), env="production")
    monkeypatch.setattr(endpoint, "get_settings", lambda: prod)
    r = await client.get("/graphql", headers={"Accept": "text/html"})
    assert r.status_code == 405 and "graphiql" not in r.text.lower()


async def test_unexpected_errors_are_masked_and_logged(client, merchant, api_key, monkeypatch, caplog):
    _, key = await api_key(merchant)

    async def broken(*args, **kwargs):
        raise RuntimeError("connection string postgres://secret@db")

    monkeypatch.setattr(auth_service, "list_users", broken)
    monkeypatch.setattr(auth_service, "create_user", broken)
    with caplog.at_level("ERROR", logger="oms.graphql"):
        r = await gql(client, "{ users { totalCount } viewer { role } }", key)
        m = await gql(client, 'mutation { userCreate(input: {email: "a@example.com", role: "finance"}) { errors { code } } }',
                      key)
    body = r.json()
    assert r.status_code == 200 and body["data"] == {"users": None, "viewer": {"role": "admin"}}
    error = body["errors"][0]
    assert error["extensions"] == {"code": "internal_error"} and error["path"] == ["users"]
    assert "secret" not in r.text and r.headers["x-request-id"] in error["message"]
    assert m.json()["errors"][0]["extensions"]["code"] == "internal_error" and "secret" not in m.text
    logged = [rec for rec in caplog.records if rec.name == "oms.graphql" and rec.exc_info]
    assert len(logged) == 2 and "secret" in str(logged[0].exc_info[1])


async def test_variable_errors_are_answers_not_bugs(client, merchant, api_key):
    _, key = await api_key(merchant)
    r = await gql(client, "query($f: DateTime) { auditEntries(filter: {from: $f}) { totalCount } }", key,
                  variables={"f": "yesterday"})
    error = r.json()["errors"][0]
    assert error["extensions"]["code"] == "invalid_query" and "DateTime" in error["message"]
