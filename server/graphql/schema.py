"""The partner GraphQL schema, assembled from one module per domain.

To add a domain: write `server/graphql/<domain>.py` with a `@strawberry.type class Query` (and, if it
has mutations, `class Mutation`) whose resolvers call `server/<domain>/service.py`, then list the
module in DOMAINS below. Field names must be unique across domains (checked at start-up).
Custom scalars (`BigInt` for minor units) live in scalars.py and are registered here; `Money` is
shared from money.py.
"""
from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from types import ModuleType

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from server.graphql.errors import ErrorFormatting, is_unexpected
from server.graphql.limits import document_limits
from server.graphql.scalars import SCALAR_MAP

# one module per domain, each exporting `Query` and optionally `Mutation`
DOMAINS: tuple[str, ...] = (
    "server.graphql.auth",
    "server.graphql.orders",
    "server.graphql.channels",
    "server.graphql.catalog",
    "server.graphql.inventory",
    "server.graphql.channel_stock",
    "server.graphql.alerts",
)

log = logging.getLogger("oms.graphql")


class OMSSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """Log bugs with their traceback; refused documents and domain errors are answers, not bugs."""
        for error in errors:
            if is_unexpected(error):
                log.error("GraphQL resolver failed at %s", ".".join(map(str, error.path or [])) or "?",
                          exc_info=error.original_error)


def _merge(name: str, modules: list[ModuleType]) -> type | None:
    parts = [getattr(m, name) for m in modules if hasattr(m, name)]
    if not parts:
        return None
    seen: dict[str, str] = {}
    for module, part in ((m, getattr(m, name)) for m in modules if hasattr(m, name)):
        for field in part.__strawberry_definition__.fields:
            if field.name in seen:
                raise RuntimeError(f"{name}.{field.name} is defined by both {seen[field.name]} and {module.__name__}")
            seen[field.name] = module.__name__
    # reversed: the first module listed wins the MRO, and the schema lists fields in DOMAINS order
    return strawberry.type(type(name, tuple(reversed(parts)), {}))


def build_schema(extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] | None = None) -> OMSSchema:
    modules = [importlib.import_module(name) for name in DOMAINS]
    query = _merge("Query", modules)
    if query is None:
        raise RuntimeError("no GraphQL domain module defines Query")
    return OMSSchema(
        query=query,
        mutation=_merge("Mutation", modules),
        extensions=[*document_limits(), ErrorFormatting, *(extensions or [])],
        config=StrawberryConfig(scalar_map=SCALAR_MAP),
    )
