"""Errors as data for GraphQL.

Mutations answer domain errors inside their payload, Saleor style: `errors { code field message }`
(`Error` below, filled by `errors_from`). The `payload` decorator turns every DomainError a service
raises into that list, so a mutation resolver is a thin call into a service:

    @strawberry.mutation
    @payload(ThingCreatePayload)
    async def thing_create(self, info: Info, input: ThingCreateInput) -> ThingCreatePayload:
        thing = await things.create(get_actor(info), name=input.name)
        return ThingCreatePayload(thing=Thing.from_row(thing))

Top-level GraphQL errors are for queries that cannot answer (permission, bad argument), for
invalid documents and for bugs. `ErrorFormatting` gives each of them `extensions.code` (and
`extensions.field` when a DomainError names one) and masks unexpected exceptions, so a bug never
leaks internals to a partner.
"""
from __future__ import annotations

import functools
import logging
import re
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, ParamSpec, TypeVar

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from server.core import log as oms_log
from server.core.errors import DomainError, ErrorList

log = logging.getLogger("oms.graphql")

P = ParamSpec("P")
R = TypeVar("R")


@strawberry.type(description="A problem with the input or the request, as data: "
                             "`code` is stable and machine-readable, `field` names the input field "
                             "(camelCase) when one is at fault, `message` is for people.")
class Error:
    code: str
    field: str | None
    message: str


_CAMEL = re.compile(r"_([a-z0-9])")


def camel(name: str | None) -> str | None:
    """Service field names (snake_case) as the GraphQL input names partners send (camelCase)."""
    if not name:
        return None
    return _CAMEL.sub(lambda m: m.group(1).upper(), name)


def errors_from(exc: DomainError) -> list[Error]:
    """One DomainError (or each error of an ErrorList) as payload errors."""
    items = exc.errors if isinstance(exc, ErrorList) and exc.errors else [exc]
    return [Error(code=e.code, field=camel(e.field), message=e.message) for e in items]


def payload(payload_cls: type[Any]) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Decorate a mutation resolver: a DomainError becomes `payload_cls(errors=[...])`.

    The payload class must give every field but `errors` a default (None), and `errors` a default
    of an empty list. Anything that is not a DomainError is a bug and propagates (masked by
    ErrorFormatting, logged with the request id).
    """

    def decorate(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(fn)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return await fn(*args, **kwargs)
            except DomainError as exc:
                return payload_cls(errors=errors_from(exc))

        return wrapper

    return decorate


def is_unexpected(error: GraphQLError) -> bool:
    """A resolver raised something that is neither a DomainError nor a deliberate GraphQLError.
    (Errors without a path come from parsing, validation or variable coercion: answers, not bugs.)"""
    original = error.original_error
    return (original is not None and error.path is not None
            and not isinstance(original, DomainError | GraphQLError))


def _format(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if isinstance(original, DomainError):
        extensions = {**(error.extensions or {}), "code": original.code}
        if original.field:
            extensions["field"] = camel(original.field)
        return GraphQLError(original.message, nodes=error.nodes, source=error.source,
                            positions=error.positions, path=error.path, original_error=original,
                            extensions=extensions)
    if is_unexpected(error):
        return GraphQLError(f"internal error; quote request id {oms_log.request_id.get()} when reporting it",
                            nodes=error.nodes, source=error.source, positions=error.positions,
                            path=error.path, extensions={"code": "internal_error"})
    if not (error.extensions or {}).get("code"):
        error.extensions = {**(error.extensions or {}), "code": "invalid_query"}
    return error


class ErrorFormatting(SchemaExtension):
    """Stable `extensions.code` on every top-level error; unexpected exceptions masked."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and getattr(result, "errors", None):
            result.errors = [_format(e) for e in result.errors]
