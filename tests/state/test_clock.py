"""One form of time, and one age formatter with each caller's wording."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from state.clock import BRIEF, IN_DAYS, LISTING, ago

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def test_one_age_formatter_keeps_each_wording() -> None:
    minutes_90 = NOW - timedelta(minutes=90)
    days_3 = NOW - timedelta(days=3)
    assert [ago(minutes_90, NOW, scale=s) for s in (BRIEF, IN_DAYS, LISTING)] == [
        "1 h ago", "1 h ago", "90 min ago"]
    assert [ago(days_3, NOW, scale=s) for s in (BRIEF, IN_DAYS, LISTING)] == [
        "3 d ago", "3 days ago", "3 days ago"]
    assert ago(NOW - timedelta(seconds=20), NOW, scale=IN_DAYS, suffix="",
               recent="0 min") == "0 min"
    assert ago("not a time", NOW) == "at an unknown time"
    assert ago(NOW + timedelta(hours=1), NOW) == "just now"
