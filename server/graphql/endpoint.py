"""The /graphql endpoint."""
from __future__ import annotations


def graphql_routes() -> list:
    return []
