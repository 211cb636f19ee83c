"""What one partner may ask of the API: document limits (validation rules) and a rate limit.

Document limits, all checked before anything executes:
- depth: strawberry's QueryDepthLimiter with `settings.graphql_max_depth`. It ignores introspection
  fields, so `IntrospectionDepthLimit` applies the same bound inside `__schema`/`__type`, not counting
  the `ofType` chain (a linear unwrapping of `[Type!]!`, which the standard introspection query nests
  seven to nine deep; chains longer than MAX_OF_TYPE_CHAIN are refused). graphql-core's own
  MaxIntrospectionDepthRule additionally refuses `fields { type { fields ...` cycles.
- aliases: strawberry's MaxAliasesLimiter with `settings.graphql_max_aliases`.
- tokens: strawberry's MaxTokensLimiter (`MAX_TOKENS`), which stops the parser itself.
- root fields: `RootFieldLimit` (`MAX_ROOT_FIELDS` per operation, fragments included).

Rate limit: a fixed one-minute window per API key (or staff user) in Redis, `rate_limit_per_minute()`
requests per window (settings.api_rate_limit, read per request so tests and operators can change it).
If Redis cannot be reached the request is let through with a warning: the API must not go down with
Redis. After a failure the limiter stays off for `BREAKER_SECONDS` so a dead Redis costs nothing.
"""
from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    Node,
    OperationDefinitionNode,
    ValidationContext,
    ValidationRule,
)
from redis.exceptions import RedisError
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)

from server.core import clock, queue
from server.settings import get_settings

log = logging.getLogger("oms.graphql")

MAX_TOKENS = 5000
MAX_ROOT_FIELDS = 20
WINDOW_SECONDS = 60
REDIS_TIMEOUT = 1.0
BREAKER_SECONDS = 15.0
INTROSPECTION_ROOTS = frozenset({"__schema", "__type"})
MAX_OF_TYPE_CHAIN = 12


# -- document limits ---------------------------------------------------------------------------

def _selections(node: Node, fragments: dict[str, FragmentDefinitionNode], seen: frozenset[str]) -> list:
    """The fields selected directly under `node`, looking through fragments (each fragment once)."""
    out: list = []
    selection_set = getattr(node, "selection_set", None)
    for sel in selection_set.selections if selection_set else ():
        if isinstance(sel, FieldNode):
            out.append(sel)
        elif isinstance(sel, InlineFragmentNode):
            out.extend(_selections(sel, fragments, seen))
        elif isinstance(sel, FragmentSpreadNode) and sel.name.value in fragments and sel.name.value not in seen:
            out.extend(_selections(fragments[sel.name.value], fragments, seen | {sel.name.value}))
    return out


def _fragments(context: ValidationContext) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in context.document.definitions if isinstance(d, FragmentDefinitionNode)}


def _operations(context: ValidationContext) -> list[OperationDefinitionNode]:
    return [d for d in context.document.definitions if isinstance(d, OperationDefinitionNode)]


def _introspection_depth(field: FieldNode, fragments: dict, limit: int, depth: int = 1, chain: int = 0) -> int:
    """Depth below an introspection root; `ofType` adds no level, but a chain of more than
    MAX_OF_TYPE_CHAIN of them counts as too deep. Stops counting past `limit`."""
    if depth > limit or chain > MAX_OF_TYPE_CHAIN:
        return limit + 1
    deepest = depth
    for child in _selections(field, fragments, frozenset()):
        if not child.selection_set:
            continue
        of_type = child.name.value == "ofType"
        deepest = max(deepest, _introspection_depth(child, fragments, limit, depth + (not of_type),
                                                    chain + 1 if of_type else 0))
    return deepest


def introspection_depth_rule(max_depth: int) -> type[ValidationRule]:
    class IntrospectionDepthLimit(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            fragments = _fragments(context)
            for operation in _operations(context):
                # __schema and __type exist on the query root only
                for field in _selections(operation, fragments, frozenset()):
                    if field.name.value not in INTROSPECTION_ROOTS:
                        continue
                    if _introspection_depth(field, fragments, max_depth) > max_depth:
                        context.report_error(GraphQLError(
                            f"introspection below `{field.name.value}` exceeds the maximum depth of "
                            f"{max_depth} (not counting `ofType`)", [field]))

    return IntrospectionDepthLimit


def root_field_rule(max_fields: int) -> type[ValidationRule]:
    class RootFieldLimit(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            fragments = _fragments(context)
            for operation in _operations(context):
                count = len(_selections(operation, fragments, frozenset()))
                if count > max_fields:
                    name = operation.name.value if operation.name else "anonymous"
                    context.report_error(GraphQLError(
                        f"operation '{name}' selects {count} root fields; at most {max_fields} are allowed "
                        "per request", [operation]))

    return RootFieldLimit


def document_limits() -> list[Callable[[], SchemaExtension]]:
    """Extension factories (strawberry builds fresh ones per request); settings are read per request."""
    return [
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: QueryDepthLimiter(max_depth=get_settings().graphql_max_depth),
        lambda: MaxAliasesLimiter(max_alias_count=get_settings().graphql_max_aliases),
        lambda: AddValidationRules([introspection_depth_rule(get_settings().graphql_max_depth),
                                    root_field_rule(MAX_ROOT_FIELDS)]),
    ]


# -- rate limit --------------------------------------------------------------------------------

@dataclass(frozen=True)
class RateVerdict:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int          # seconds until the current window ends


_redis_down_until = 0.0


def rate_limit_per_minute() -> int:
    """Requests per minute per API key or user; 0 or less switches the limit off."""
    return get_settings().api_rate_limit


async def check_rate(identity: str) -> RateVerdict | None:
    """Count one request for `identity` ("key:12", "user:7"). None when no limit applies
    (switched off, or Redis unreachable: fail open)."""
    global _redis_down_until
    limit = rate_limit_per_minute()
    if limit <= 0 or time.monotonic() < _redis_down_until:
        return None
    now = clock.now().timestamp()
    window = int(now // WINDOW_SECONDS)
    key = f"oms:ratelimit:graphql:{identity}:{window}"
    try:
        redis = await asyncio.wait_for(queue.pool(), REDIS_TIMEOUT)
        async with redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, WINDOW_SECONDS + 5)
            count, _ = await asyncio.wait_for(pipe.execute(), REDIS_TIMEOUT)
    except (RedisError, OSError) as exc:
        _redis_down_until = time.monotonic() + BREAKER_SECONDS
        log.warning("GraphQL rate limit not applied: Redis unreachable (%s); letting requests through "
                    "for %ss", exc.__class__.__name__, int(BREAKER_SECONDS))
        return None
    retry_after = max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))
    return RateVerdict(allowed=count <= limit, limit=limit, remaining=max(0, limit - count),
                       retry_after=retry_after)


def reset_breaker() -> None:
    """Forget a past Redis failure (tests; an operator after fixing Redis need not wait)."""
    global _redis_down_until
    _redis_down_until = 0.0
