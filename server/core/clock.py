"""Time: timezone-aware UTC inside the system; platform local times converted at the boundary."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")

_frozen: datetime | None = None


def now() -> datetime:
    """Current UTC time. Tests may freeze it with `freeze()`."""
    return _frozen or datetime.now(UTC)


def freeze(at: datetime | None) -> None:
    global _frozen
    _frozen = at.astimezone(UTC) if at else None


def utc(dt: datetime) -> datetime:
    """Aware datetime in UTC; a naive one is taken to be UTC already."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def parse_beijing(text: str | None) -> datetime | None:
    """'2024-05-07 09:20:39' (Beijing, no offset) -> aware UTC. Empty -> None."""
    if not text:
        return None
    text = text.strip()
    fmt = "%Y-%m-%d %H:%M:%S.%f" if "." in text else "%Y-%m-%d %H:%M:%S"
    return datetime.strptime(text, fmt).replace(tzinfo=BEIJING).astimezone(UTC)


def format_beijing(dt: datetime) -> str:
    return utc(dt).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def from_unix(ts: int | float | str | None) -> datetime | None:
    if ts in (None, "", 0, "0"):
        return None
    return datetime.fromtimestamp(int(float(ts)), UTC)


def to_unix(dt: datetime) -> int:
    return int(utc(dt).timestamp())


def parse_iso(text: str | None) -> datetime | None:
    """ISO-8601 with offset or 'Z' -> aware UTC; a naive value is taken as UTC (e.g. WooCommerce *_gmt)."""
    if not text:
        return None
    return utc(datetime.fromisoformat(text.replace("Z", "+00:00")))


def local(dt: datetime, tz_name: str) -> datetime:
    return utc(dt).astimezone(ZoneInfo(tz_name))
