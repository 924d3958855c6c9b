"""Starting conversations is rate limited per address without keeping the address."""

from __future__ import annotations

import datetime as dt

import pytest

from bots.intake.ratelimit import RateLimiter


def test_limit_per_address_and_the_address_is_not_kept() -> None:
    limiter = RateLimiter(max_starts=3, per_seconds=3600)
    assert [limiter.allow("10.0.0.1") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("10.0.0.2")  # another address has its own budget
    kept = repr(limiter.__dict__)
    assert "10.0.0.1" not in kept and "10.0.0.2" not in kept


def test_the_salt_changes_with_the_day(monkeypatch: pytest.MonkeyPatch) -> None:
    limiter = RateLimiter(max_starts=1)
    assert limiter.allow("10.0.0.1") and not limiter.allow("10.0.0.1")
    yesterday_key = limiter._key("10.0.0.1")

    class Tomorrow(dt.date):
        @classmethod
        def today(cls) -> dt.date:
            return dt.date.fromordinal(dt.date.max.toordinal() - 1)

    monkeypatch.setattr("bots.intake.ratelimit.dt.date", Tomorrow)
    assert limiter.allow("10.0.0.1")  # a new day: a new salt, nothing remembered
    assert limiter._key("10.0.0.1") != yesterday_key
