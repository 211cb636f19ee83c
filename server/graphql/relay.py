"""Relay connections over the services' keyset pages, and the ID format. Every list uses these.

IDs are the database ids as plain numeric strings (`"42"`), typed `ID`: partners already see those
numbers in the admin and CSV exports, they are stable, and each field says which type it names, so
global ids (base64 "Type:42") would add decoding without adding safety. `decode_id` accepts them back.

A list field takes `first: First = DEFAULT_FIRST, after: After = None` and its resolver is one line:

    return await paginate(things.list_things, Thing.from_row, get_actor(info), first=first, after=after,
                          status=filter.status if filter else None)

which bounds `first` (default 50, at most 200), passes the opaque `after` cursor to the service, and
turns the `Page` it returns into `ThingConnection { edges { node cursor } pageInfo totalCount }`.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Generic, TypeVar

import asyncpg
import strawberry

from server.core.actor import Actor
from server.core.errors import ValidationError
from server.core.pagination import Page

T = TypeVar("T")

DEFAULT_FIRST = 50
MAX_FIRST = 200


First = Annotated[int | None, strawberry.argument(
    description=f"How many items to return: {DEFAULT_FIRST} when omitted, at most {MAX_FIRST}.")]
After = Annotated[str | None, strawberry.argument(
    description="Return the items after this cursor (`pageInfo.endCursor` of the previous page).")]


@strawberry.type(description="Where this page sits in the list (forward pagination only: "
                             "`hasPreviousPage` is always false, `startCursor` the first edge's cursor).")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    node: T
    cursor: str


@strawberry.type(description="A page of a keyset-paginated list: pass `pageInfo.endCursor` as `after` "
                             "for the next page.")
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    total_count: int | None = strawberry.field(
        description="How many items match the filter across all pages (null where not counted).")


def check_first(first: int | None) -> int:
    if first is None:
        return DEFAULT_FIRST
    if first < 1 or first > MAX_FIRST:
        raise ValidationError(f"`first` must be between 1 and {MAX_FIRST} (got {first}); "
                              "fetch further pages with `after`", code="invalid_argument", field="first")
    return first


def connection(page: Page, node: Callable[[Any], T]) -> Connection[T]:
    """A `Connection` from a service `Page`; `node` maps one service item to its GraphQL type."""
    edges = [Edge(node=node(item), cursor=page.cursor(item)) for item in page.items]
    return Connection(
        edges=edges,
        page_info=PageInfo(has_next_page=page.has_next, has_previous_page=False,
                           start_cursor=edges[0].cursor if edges else None,
                           end_cursor=edges[-1].cursor if edges else None),
        total_count=page.total,
    )


def _bad_cursor() -> ValidationError:
    return ValidationError("invalid cursor; pass `pageInfo.endCursor` from a previous page of this list",
                           code="invalid_cursor", field="after")


async def paginate(fetch: Callable[..., Awaitable[Page]], node: Callable[[Any], T], actor: Actor, *,
                   first: int | None, after: str | None, **filters: Any) -> Connection[T]:
    """Call `fetch(actor, first=, after=, **filters)` (a service list function) as a connection.

    A cursor that decodes but does not fit this list (another list's cursor, a hand-edited one)
    surfaces from the service as a conversion error; it is answered as `invalid_cursor`.
    """
    limit = check_first(first)
    try:
        page = await fetch(actor, first=limit, after=after or None, **filters)
    except (ValueError, TypeError, IndexError, OverflowError, asyncpg.DataError) as exc:
        if not after:
            raise
        raise _bad_cursor() from exc
    return connection(page, node)


def decode_id(value: str | int, *, field: str = "id") -> int:
    """A numeric string ID back to the database id (ValidationError `invalid_id` otherwise)."""
    text = str(value).strip()
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise ValidationError(f"{field} must be a numeric ID such as \"42\" (got {str(value)[:40]!r})",
                              code="invalid_id", field=field)
    return int(text)


def encode_id(value: int) -> strawberry.ID:
    return strawberry.ID(str(value))
