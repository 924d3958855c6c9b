"""Starting conversations is rate limited per address without keeping the address; page
views are counted a few per address a day; a conversation's messages, typing and read
marks and event streams are limited by the conversation, never by who sends them."""

from __future__ import annotations

import asyncio
import datetime as dt
from ipaddress import ip_network

import aiohttp
import pytest

from bots.intake.limits import StreamSlots, TokenBuckets
from bots.intake.ratelimit import DailyAllowance, RateLimiter, client_address, counted_as
from tests.config_swap import reconfigured
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


def test_an_ipv6_address_counts_by_its_64() -> None:
    """A phone or a home gets a whole /64: a fresh address per request is no fresh budget."""
    limiter = RateLimiter(max_starts=2)
    assert limiter.allow("2001:db8:1:2::1") and limiter.allow("2001:db8:1:2:ffff::9")
    assert not limiter.allow("2001:db8:1:2:abcd:ef01:2345:6789")
    assert limiter.allow("2001:db8:1:3::1")  # the next /64 is someone else
    # An IPv4 address written as IPv6 is the IPv4 address.
    assert counted_as("::ffff:192.0.2.7") == counted_as("192.0.2.7") == "192.0.2.7"
    assert counted_as("fe80::1%eth0") == "fe80::/64"
    assert counted_as("not an address") == "not an address"


def test_a_daily_allowance_per_address_and_scope() -> None:
    views = DailyAllowance(per_day=3, max_keys=4)
    assert [views.allow("10.0.0.1", "testby") for _ in range(4)] == [True, True, True, False]
    assert views.allow("10.0.0.1", "nordby")  # another municipality has its own count
    assert views.allow("10.0.0.2", "testby")
    assert views.allow("2001:db8::1", "testby")
    # Memory is bounded: past max_keys a new address is not counted today at all...
    assert not views.allow("10.0.0.3", "testby")
    assert views.allow("10.0.0.2", "testby")  # ...while those already seen still are
    assert "10.0.0.1" not in repr(views.__dict__)


def test_a_daily_allowance_forgets_with_the_day(monkeypatch: pytest.MonkeyPatch) -> None:
    views = DailyAllowance(per_day=1)
    assert views.allow("10.0.0.1", "testby") and not views.allow("10.0.0.1", "testby")

    class Tomorrow(dt.date):
        @classmethod
        def today(cls) -> dt.date:
            return dt.date.fromordinal(dt.date.max.toordinal() - 1)

    monkeypatch.setattr("bots.intake.ratelimit.dt.date", Tomorrow)
    assert views.allow("10.0.0.1", "testby")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_buckets_let_a_burst_through_then_a_steady_pace() -> None:
    clock = Clock()
    buckets = TokenBuckets(3, 0.5, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0, 0, 0]
    assert buckets.take("a") == pytest.approx(2.0)  # one more in two seconds
    assert buckets.take("b") == 0  # another conversation is not held back
    clock.now += 2
    assert buckets.take("a") == 0
    assert buckets.take("a") == pytest.approx(2.0)
    clock.now += 60  # a pause refills the burst, and no more
    assert [buckets.take("a") for _ in range(4)][-1] > 0


def test_token_buckets_keep_a_bounded_number_of_keys() -> None:
    buckets = TokenBuckets(1, 0.1, max_keys=100, clock=Clock())
    for n in range(1000):
        buckets.take(f"conversation-{n}")
    assert len(buckets) == 100
    assert buckets.take("conversation-999") > 0  # the most recent are the ones kept


async def test_the_newest_stream_gets_in_and_the_oldest_is_told_to_close() -> None:
    slots = StreamSlots(per_conversation=2)
    wakes = [asyncio.Event() for _ in range(3)]
    with (
        slots.hold("c1", wakes[0]) as first,
        slots.hold("c1", wakes[1]) as second,
        slots.hold("c2", asyncio.Event()) as elsewhere,
    ):
        assert not first.is_set() and slots.count("c1") == 2
        with slots.hold("c1", wakes[2]) as third:
            assert first.is_set() and wakes[0].is_set()  # woken, to close at once
            assert not second.is_set() and not third.is_set() and not elsewhere.is_set()
            assert slots.count("c1") == 2
        assert slots.count("c1") == 1
    assert slots.count("c1") == slots.count("c2") == 0


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
    saved = (limiter.max_starts, limiter._hits)
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
        with reconfigured(config, trusted_proxies=(ip_network("127.0.0.1/32"),)):
            assert [await start("198.51.100.7") for _ in range(3)] == [201, 201, 429]
            assert await start("198.51.100.8") == 201  # someone else behind the same proxy
        # From a peer that is not our proxy, the header is not believed.
        limiter._hits = {}
        with reconfigured(config, trusted_proxies=()):
            assert [await start(f"203.0.113.{n}") for n in range(3)] == [201, 201, 429]
    finally:
        limiter.max_starts, limiter._hits = saved
        for youth in started:
            assert await youth.end() == 200
