"""How pages show values: datetimes in the viewer's timezone, money, numbers, audit values.

The language and timezone of the page being rendered live in context variables set by
web.templating around each render (rendering is synchronous, so they cannot leak between requests).
"""
from __future__ import annotations

import json
import re
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_timedelta
from babel.numbers import format_currency, format_decimal

from server.core import clock, money
from server.core.i18n import gettext_for

current_lang: ContextVar[str] = ContextVar("oms_page_lang", default="en")
current_tz: ContextVar[str] = ContextVar("oms_page_tz", default="UTC")

BABEL_LOCALES = {"en": "en_US", "zh": "zh_Hans_CN"}
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:?\d{2}|Z)?$")


@contextmanager
def page_locale(lang: str, tz: str):
    lang_token, tz_token = current_lang.set(lang), current_tz.set(tz)
    try:
        yield
    finally:
        current_lang.reset(lang_token)
        current_tz.reset(tz_token)


def gettext(message: str) -> str:
    return gettext_for(current_lang.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return gettext_for(current_lang.get()).ngettext(singular, plural, n)


def zone(name: str | None = None) -> ZoneInfo:
    try:
        return ZoneInfo(name or current_tz.get())
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def localtime(value: datetime) -> datetime:
    return clock.utc(value).astimezone(zone())


def _as_datetime(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATETIME.match(value.strip()):
        try:
            return datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def fmt_datetime(value: object, seconds: bool = False) -> str:
    """'2025-03-04 17:05' in the viewer's timezone; '—' for nothing."""
    dt = _as_datetime(value)
    if dt is None:
        return "—" if value in (None, "") else str(value)
    return localtime(dt).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def fmt_date(value: object) -> str:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    dt = _as_datetime(value)
    return localtime(dt).strftime("%Y-%m-%d") if dt else "—"


def fmt_iso(value: object) -> str:
    """Machine-readable timestamp with the viewer's offset (for <time datetime=…> and titles)."""
    dt = _as_datetime(value)
    return localtime(dt).isoformat(timespec="seconds") if dt else ""


def fmt_reltime(value: object) -> str:
    """'5 minutes ago' / '5分钟前'."""
    dt = _as_datetime(value)
    if dt is None:
        return "—"
    delta = clock.utc(dt) - clock.now()
    if abs(delta.total_seconds()) < 45:
        return gettext("just now")
    return format_timedelta(delta, add_direction=True, locale=BABEL_LOCALES.get(current_lang.get(), "en_US"))


def fmt_money(minor: int | None, currency: str) -> str:
    """Integer minor units -> '¥1,234.50' / 'CN¥1,234.50' in the page's language."""
    if minor is None:
        return "—"
    amount = money.from_minor(int(minor), currency)
    return format_currency(amount, currency.upper(), locale=BABEL_LOCALES.get(current_lang.get(), "en_US"))


def fmt_number(value: int | float | None) -> str:
    if value is None:
        return "—"
    return format_decimal(value, locale=BABEL_LOCALES.get(current_lang.get(), "en_US"))


def fmt_value(value: object) -> str:
    """An audit before/after value, readable: datetimes localized, booleans as words, JSON compact."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    dt = _as_datetime(value)
    if dt is not None:
        return fmt_datetime(dt, seconds=True)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str, separators=(", ", ": "))
    return str(value)


def utc_day_start(day: date, tz: str) -> datetime:
    """Midnight of a calendar day in `tz`, as UTC (for date-range filters typed by the viewer)."""
    return datetime(day.year, day.month, day.day, tzinfo=zone(tz)).astimezone(UTC)
