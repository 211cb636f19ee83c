"""Custom scalars of the partner schema, registered once in `build_schema` (StrawberryConfig.scalar_map).

`BigInt`: amounts in minor units outgrow GraphQL's 32-bit `Int` in ordinary trade — 2^31 minor units
is only ¥21.4 million, Rp 21.4 million (about US$1,300) or ₫2.1 billion (about US$86,000) — so every
minor-unit field is a `BigInt`. It is written as a JSON number (exact for any 64-bit value in the JSON
text; JavaScript's `Number` holds it exactly up to 2^53, i.e. 90 trillion in a two-decimal currency —
clients that need more read `Money.amount`, a decimal string). As input it takes a number or a string
of digits.
"""
from __future__ import annotations

from typing import Any, NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition

BigInt = NewType("BigInt", int)

_MAX = 2**63 - 1


def _parse_big_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("BigInt expects a whole number, not a boolean")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        number = int(value.strip())
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    else:
        raise ValueError(f"BigInt expects a whole number (got {str(value)[:40]!r})")
    if not -_MAX - 1 <= number <= _MAX:
        raise ValueError("BigInt is limited to 64 bits")
    return number


def _parse_big_int_literal(node: Any, variables: dict[str, Any] | None = None) -> int:
    from graphql import IntValueNode, StringValueNode  # noqa: PLC0415

    if isinstance(node, IntValueNode | StringValueNode):
        return _parse_big_int(int(node.value) if isinstance(node, IntValueNode) else node.value)
    raise ValueError("BigInt expects a whole number")


SCALAR_MAP: dict[object, ScalarDefinition] = {
    BigInt: strawberry.scalar(
        name="BigInt",
        description="A whole number of up to 64 bits (amounts in minor units), written as a JSON number; "
                    "accepted as a number or a string of digits.",
        serialize=int, parse_value=_parse_big_int, parse_literal=_parse_big_int_literal),
}
