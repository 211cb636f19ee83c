"""Keyset pagination shared by pages and GraphQL: opaque cursors over (sort key, id)."""
from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from server.core.errors import ValidationError


def encode_cursor(*parts: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(parts, default=str, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str) -> list:
    try:
        parts = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not isinstance(parts, list):
            raise ValueError
        return parts
    except (ValueError, TypeError) as exc:
        raise ValidationError("invalid cursor; use a cursor returned by a previous page",
                              code="invalid_cursor", field="after") from exc


@dataclass
class Page:
    items: list
    has_next: bool
    cursor: Callable[[Any], str]
    total: int | None = None

    @property
    def end_cursor(self) -> str | None:
        return self.cursor(self.items[-1]) if self.items else None
