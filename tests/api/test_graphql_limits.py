"""Document limits (depth, aliases, root fields, tokens, introspection depth) and the rate limit."""
from __future__ import annotations

import dataclasses
import logging
from datetime import timedelta

import pytest
from graphql import get_introspection_query

from server.core import clock
from server.graphql import limits
from server.settings import get_settings


async def post(client, query: str, key: str):
    return await client.post("/graphql", json={"query": query}, headers={"Authorization": f"Bearer {key}"})


def messages(body: dict) -> str:
    return " | ".join(e["message"] for e in body.get("errors", []))


@pytest.fixture(autouse=True)
def fresh_breaker():
    limits.reset_breaker()
    yield
    limits.reset_breaker()


def nested(depth: int) -> str:
    """`{ viewer { user { f1 { f2 ... } } } }` nested to `depth` levels."""
    inner = "id"
    for i in range(depth - 2, 0, -1):
        inner = f"f{i} {{ {inner} }}"
    return f"{{ viewer {{ {inner} }} }}"


async def test_too_deep_query_rejected(client, merchant, api_key):
    _, key = await api_key(merchant)
    max_depth = get_settings().graphql_max_depth
    body = (await post(client, nested(max_depth + 2), key)).json()
    assert body["data"] is None
    assert f"exceeds maximum operation depth of {max_depth}" in messages(body)
    assert all(e["extensions"]["code"] == "invalid_query" for e in body["errors"])


async def test_depth_limit_on_valid_queries(client, merchant, api_key, monkeypatch):
    """With a lower limit (read per request), real queries of this schema are measured and refused
    before execution; introspection is held to the same limit."""
    low = dataclasses.replace(get_settings(), graphql_max_depth=2)
    monkeypatch.setattr(limits, "get_settings", lambda: low)
    record, key = await api_key(merchant)
    ok = (await post(client, "{ viewer { apiKey { id } merchant { slug } } }", key)).json()
    assert "errors" not in ok and ok["data"]["viewer"]["apiKey"]["id"] == str(record["id"])
    refused = (await post(client, "query Listing { viewer { role } users { edges { node { id } } } }", key)).json()
    assert refused["data"] is None
    assert "'Listing' exceeds maximum operation depth of 2" in messages(refused)
    introspect = (await post(client, "{ __schema { types { fields { name } } } }", key)).json()
    assert introspect["data"] is None
    assert "introspection below `__schema` exceeds the maximum depth of 2" in messages(introspect)
    typed = (await post(client, '{ __type(name: "User") { fields { name type { ofType { ofType { name } } } } } }',
                        key)).json()
    assert typed["data"] is None  # fields(2) > type(3): too deep even though ofType is free
    free = (await post(client, '{ __type(name: "User") { fields { name } ofType { ofType { ofType { name } } } } }',
                       key)).json()
    assert "errors" not in free and free["data"]["__type"]["ofType"] is None  # ofType adds no level
    shallow = (await post(client, '{ __type(name: "User") { name fields { name } } }', key)).json()
    assert "errors" not in shallow and shallow["data"]["__type"]["name"] == "User"


async def test_too_many_aliases_rejected(client, merchant, api_key):
    _, key = await api_key(merchant)
    allowed = get_settings().graphql_max_aliases
    aliases = " ".join(f"a{i}: role" for i in range(allowed + 1))
    body = (await post(client, f"{{ viewer {{ {aliases} }} }}", key)).json()
    assert body["data"] is None
    assert f"{allowed + 1} aliases found. Allowed: {allowed}" in messages(body)
    ok = (await post(client, "{ viewer { " + " ".join(f"a{i}: role" for i in range(allowed)) + " } }", key)).json()
    assert "errors" not in ok and ok["data"]["viewer"]["a0"] == "admin"


async def test_too_many_root_fields_rejected(client, merchant, api_key):
    _, key = await api_key(merchant)
    fields = " ".join(f"v{i}: viewer {{ role }}" for i in range(limits.MAX_ROOT_FIELDS + 1))
    body = (await post(client, f"query Wide {{ {fields} }}", key)).json()
    assert body["data"] is None
    assert f"selects {limits.MAX_ROOT_FIELDS + 1} root fields; at most {limits.MAX_ROOT_FIELDS}" in messages(body)


async def test_too_many_tokens_rejected(client, merchant, api_key):
    _, key = await api_key(merchant)
    body = (await post(client, "{ viewer { " + "role " * limits.MAX_TOKENS + "} }", key)).json()
    assert body["data"] is None
    assert f"more than {limits.MAX_TOKENS} tokens" in messages(body)


async def test_standard_introspection_works(client, merchant, api_key):
    _, key = await api_key(merchant, "partner_readonly")
    query = get_introspection_query(descriptions=True, specified_by_url=True, directive_is_repeatable=True,
                                    input_value_deprecation=True)
    body = (await post(client, query, key)).json()
    assert "errors" not in body, messages(body)
    names = {t["name"] for t in body["data"]["__schema"]["types"]}
    assert {"Query", "Mutation", "UserConnection", "PageInfo", "Error", "Viewer"} <= names


async def test_abusive_introspection_rejected(client, merchant, api_key):
    _, key = await api_key(merchant)
    cyclic = "{ __schema { types { fields { type { fields { type { fields { type { name } } } } } } } } }"
    body = (await post(client, cyclic, key)).json()
    assert body["data"] is None and "introspection" in messages(body).lower()
    chain = "name"
    for _ in range(limits.MAX_OF_TYPE_CHAIN + 1):
        chain = f"ofType {{ {chain} }}"
    body = (await post(client, f'{{ __type(name: "User") {{ {chain} }} }}', key)).json()
    assert body["data"] is None
    assert "introspection below `__type` exceeds the maximum depth" in messages(body)


async def test_rate_limit_answers_429_with_retry_after(client, merchant, api_key, monkeypatch):
    monkeypatch.setattr(limits, "rate_limit_per_minute", lambda: 3)
    start = clock.now().replace(second=20, microsecond=0)
    clock.freeze(start)
    _, key = await api_key(merchant, name="busy")
    _, other_key = await api_key(merchant, name="quiet")
    remaining = []
    for _ in range(3):
        r = await post(client, "{ viewer { role } }", key)
        assert r.status_code == 200
        assert r.headers["x-ratelimit-limit"] == "3"
        remaining.append(r.headers["x-ratelimit-remaining"])
    assert remaining == ["2", "1", "0"]

    r = await post(client, "{ viewer { role } }", key)
    assert r.status_code == 429
    assert r.headers["retry-after"] == "40"
    error = r.json()["errors"][0]
    assert error["extensions"] == {"code": "rate_limited", "retryAfter": 40}
    assert "3 requests per minute" in error["message"]

    assert (await post(client, "{ viewer { role } }", other_key)).status_code == 200  # per key
    clock.freeze(start + timedelta(seconds=41))  # the next window
    assert (await post(client, "{ viewer { role } }", key)).status_code == 200


async def test_rate_limit_reads_settings_by_default(client, merchant, api_key, monkeypatch):
    limited = dataclasses.replace(get_settings(), api_rate_limit=1)
    monkeypatch.setattr(limits, "get_settings", lambda: limited)
    clock.freeze(clock.now().replace(second=5, microsecond=0))
    _, key = await api_key(merchant)
    assert (await post(client, "{ viewer { role } }", key)).status_code == 200
    assert (await post(client, "{ viewer { role } }", key)).status_code == 429


async def test_rate_limit_fails_open_without_redis(client, merchant, api_key, monkeypatch, caplog):
    async def unreachable():
        raise ConnectionRefusedError("redis is down")

    monkeypatch.setattr(limits, "rate_limit_per_minute", lambda: 1)
    monkeypatch.setattr(limits.queue, "pool", unreachable)
    _, key = await api_key(merchant)
    with caplog.at_level(logging.WARNING, logger="oms.graphql"):
        for _ in range(3):
            r = await post(client, "{ viewer { role } }", key)
            assert r.status_code == 200 and r.json()["data"]["viewer"]["role"] == "admin"
            assert "x-ratelimit-limit" not in r.headers
    warnings = [rec for rec in caplog.records if "Redis unreachable" in rec.getMessage()]
    assert len(warnings) == 1  # then the breaker keeps quiet instead of retrying Redis on every request
