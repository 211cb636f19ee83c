"""Values as pages show them: the viewer's timezone and language."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server.core import clock
from web import formatting as f


def test_datetimes_in_the_viewers_timezone():
    at = datetime(2025, 3, 4, 23, 30, tzinfo=UTC)
    with f.page_locale("en", "Asia/Shanghai"):
        assert f.fmt_datetime(at) == "2025-03-05 07:30"
        assert f.fmt_date(at) == "2025-03-05"
        assert f.fmt_iso(at) == "2025-03-05T07:30:00+08:00"
    with f.page_locale("en", "America/New_York"):
        assert f.fmt_datetime(at, seconds=True) == "2025-03-04 18:30:00"
        assert f.fmt_datetime("2025-03-04 23:30:00+00:00") == "2025-03-04 18:30"  # as stored in audit JSON
    with f.page_locale("en", "Not/AZone"):
        assert f.fmt_datetime(at) == "2025-03-04 23:30"  # unknown zones fall back to UTC
    assert f.fmt_datetime(None) == "—"


def test_relative_times_are_localized():
    clock.freeze(datetime(2025, 3, 4, 12, 0, tzinfo=UTC))
    try:
        earlier = clock.now() - timedelta(minutes=5)
        with f.page_locale("en", "UTC"):
            assert f.fmt_reltime(earlier) == "5 minutes ago"
            assert f.fmt_reltime(clock.now()) == "just now"
        with f.page_locale("zh", "UTC"):
            assert f.fmt_reltime(earlier) == "5分钟前"
            assert f.fmt_reltime(clock.now()) == "刚刚"
    finally:
        clock.freeze(None)


def test_money_from_minor_units():
    with f.page_locale("en", "UTC"):
        assert f.fmt_money(123450, "CNY") == "CN¥1,234.50"
        assert f.fmt_money(1500, "JPY") == "¥1,500"
        assert f.fmt_money(-99, "USD") == "-$0.99"
        assert f.fmt_money(None, "USD") == "—"
        assert f.fmt_number(1234567) == "1,234,567"
    with f.page_locale("zh", "UTC"):
        assert f.fmt_money(123450, "CNY") == "¥1,234.50"


def test_audit_values_read_well():
    with f.page_locale("zh", "Asia/Shanghai"):
        assert f.fmt_value(True) == "是" and f.fmt_value(None) == "—"
        assert f.fmt_value({"a": 1}) == '{"a": 1}'
        assert f.fmt_value("2025-03-04T23:30:00+00:00") == "2025-03-05 07:30:00"
        assert f.fmt_value("plain text") == "plain text"
