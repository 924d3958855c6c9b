"""Starting conversations is rate limited per address without keeping the address."""

from __future__ import annotations

import datetime as dt
from ipaddress import ip_network

import aiohttp
import pytest

from bots.intake.ratelimit import RateLimiter, client_address
from tests.matrix_helpers import Youth
from tests.stack_fixture import Stack


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


PROXIES = (ip_network("10.0.0.0/24"), ip_network("::1/128"))


def test_behind_our_proxy_the_forwarded_address_counts() -> None:
    # Two young people behind the municipality's proxy are two addresses, not one.
    assert client_address("10.0.0.5", "198.51.100.7", PROXIES) == "198.51.100.7"
    assert client_address("::1", "203.0.113.9", PROXIES) == "203.0.113.9"
    limiter = RateLimiter(max_starts=1)
    assert limiter.allow(client_address("10.0.0.5", "198.51.100.7", PROXIES))
    assert limiter.allow(client_address("10.0.0.5", "198.51.100.8", PROXIES))
    assert not limiter.allow(client_address("10.0.0.5", "198.51.100.7", PROXIES))


def test_a_forwarded_address_is_believed_only_from_our_proxies() -> None:
    # Anyone else could write any address in the header to get a fresh budget.
    assert client_address("192.0.2.1", "198.51.100.7", PROXIES) == "192.0.2.1"
    # The proxy appends the address it saw; what the client wrote at the left is ignored.
    assert client_address("10.0.0.5", "1.2.3.4, 198.51.100.7", PROXIES) == "198.51.100.7"
    # A chain of our own proxies is walked through.
    assert client_address("10.0.0.5", "198.51.100.7, 10.0.0.9", PROXIES) == "198.51.100.7"
    # No header, or nothing but proxies in it: the peer itself.
    assert client_address("10.0.0.5", None, PROXIES) == "10.0.0.5"
    assert client_address("10.0.0.5", "10.0.0.9", PROXIES) == "10.0.0.9"
    assert client_address(None, "198.51.100.7", PROXIES) == ""


@pytest.mark.synapse
async def test_the_intake_behind_a_proxy_limits_each_young_person_on_their_own(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    """The intake as deployed behind the municipality's proxy on 127.0.0.1."""
    config, limiter = stack.config, stack.limiter
    saved = (config.trusted_proxies, limiter.max_starts, limiter._hits)
    object.__setattr__(config, "trusted_proxies", (ip_network("127.0.0.1/32"),))
    limiter.max_starts, limiter._hits = 2, {}
    started: list[Youth] = []

    async def start(forwarded: str) -> int:
        body = {"kommune": "testby", "kanal": "plakat", "answers": {}}
        headers = {"X-Forwarded-For": forwarded}
        async with http.post(
            f"{stack.intake}/api/v1/conversations", json=body, headers=headers
        ) as r:
            data = await r.json()
            if r.status == 201:
                youth = Youth(stack.intake, http, data["conversation"], data["token"])
                started.append(youth)
            return r.status

    try:
        assert [await start("198.51.100.7") for _ in range(3)] == [201, 201, 429]
        assert await start("198.51.100.8") == 201  # someone else behind the same proxy
        # From a peer that is not our proxy, the header is not believed.
        object.__setattr__(config, "trusted_proxies", ())
        limiter._hits = {}
        assert [await start(f"203.0.113.{n}") for n in range(3)] == [201, 201, 429]
    finally:
        object.__setattr__(config, "trusted_proxies", saved[0])
        limiter.max_starts, limiter._hits = saved[1], saved[2]
        for youth in started:
            assert await youth.end() == 200
