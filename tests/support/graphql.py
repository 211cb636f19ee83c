"""GraphQL over HTTP the way a partner calls it: POST /graphql with an API key."""
from __future__ import annotations

import httpx


async def gql(client: httpx.AsyncClient, query: str, key: str, variables: dict | None = None) -> dict:
    """The response body of one request; any status but 200 fails the test with the body."""
    r = await client.post("/graphql", json={"query": query, "variables": variables or {}},
                          headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    return r.json()
