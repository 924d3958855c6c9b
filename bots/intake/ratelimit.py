"""Limits per client address, without storing who asked: starting conversations, and
counting page views.

The client address is only ever used as HMAC(salt, address), and the salt is random,
kept in memory and replaced every day, so yesterday's keys can't be linked to today's
and nothing identifying reaches disk or logs. An IPv6 address counts by its /64 (one
household or phone gets a whole /64, and could otherwise take a fresh address per
request).

Behind the municipality's own reverse proxy every request comes from the proxy, so the
address that counts is the one the proxy forwards (`intake.trusted_proxies`); it is used
here and nowhere else. Each intake replica keeps its own counts, in memory: with N
replicas an address may start up to N times the limit, which is still a limit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import time
from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

import structlog

log = structlog.get_logger(__name__)


def client_address(
    remote: str | None,
    forwarded_for: str | None,
    trusted_proxies: Sequence[IPv4Network | IPv6Network],
) -> str:
    """The address a start is counted against: the peer's own, or, when the peer is one
    of our proxies, the nearest address in X-Forwarded-For that is not (walking from
    the right, since a client can write anything it likes at the left)."""

    def trusted(address: str) -> bool:
        try:
            ip = ip_address(address.strip())
        except ValueError:
            return False
        return any(ip in network for network in trusted_proxies)

    if not remote or not trusted(remote) or not forwarded_for:
        return remote or ""
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if not trusted(hop):
            return hop
    return hops[0] if hops else remote


def counted_as(address: str) -> str:
    """What an address is counted as: an IPv4 address as itself (also when written as an
    IPv4-mapped IPv6 address), an IPv6 address by its /64 network."""
    try:
        ip = ip_address(address.strip())
    except ValueError:
        return address
    if isinstance(ip, IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ip_network((int(ip) >> 64 << 64, 64)))  # (a scope id is dropped)
    return str(ip)


class DailySalt:
    """Keyed hashes under a random salt that lives in memory for one day."""

    def __init__(self) -> None:
        self.day: dt.date | None = None
        self._salt = b""

    def renew(self) -> bool:
        """A new salt when the day has changed; True if it did (forget yesterday's keys)."""
        today = dt.date.today()
        if today == self.day:
            return False
        self.day, self._salt = today, secrets.token_bytes(32)
        return True

    def key(self, *parts: str) -> bytes:
        return hmac.new(self._salt, "\0".join(parts).encode(), hashlib.sha256).digest()


class RateLimiter:
    """New conversations per address: at most `max_starts` in any `per_seconds`."""

    def __init__(self, max_starts: int = 10, per_seconds: float = 3600) -> None:
        self.max_starts = max_starts
        self.per_seconds = per_seconds
        self._salt = DailySalt()
        self._hits: dict[bytes, list[float]] = {}

    def _key(self, address: str) -> bytes:
        if self._salt.renew():
            self._hits = {}
        return self._salt.key(counted_as(address))

    def _recent(self, key: bytes, now: float) -> list[float]:
        recent = [t for t in self._hits.get(key, []) if now - t < self.per_seconds]
        if recent:
            self._hits[key] = recent
        else:
            self._hits.pop(key, None)
        return recent

    def allow(self, address: str) -> bool:
        """Count one start for this address; False if it is over the limit."""
        if self.blocked(address):
            return False
        self.count(address)
        return True

    def blocked(self, address: str) -> bool:
        """Over the limit now (nothing is counted)."""
        return len(self._recent(self._key(address), time.monotonic())) >= self.max_starts

    def count(self, address: str) -> None:
        """Count one for this address (e.g. a wrong pickup code)."""
        key, now = self._key(address), time.monotonic()
        self._hits[key] = [*self._recent(key, now), now]

    def clear(self) -> None:
        self._hits = {}


class DailyAllowance:
    """At most `per_day` of something per address and scope each day: the page views
    counted per address and municipality. Bounded memory: once `max_keys` addresses have
    been seen in a day, new ones are not allowed until the next day (so a flood from
    many addresses can neither exhaust memory nor inflate the count)."""

    def __init__(self, per_day: int = 5, max_keys: int = 100_000) -> None:
        self.per_day = per_day
        self.max_keys = max_keys
        self._salt = DailySalt()
        self._counts: dict[bytes, int] = {}
        self._full_logged = False

    def allow(self, address: str, scope: str) -> bool:
        """Count one for (address, scope); False once it has had `per_day` today."""
        if self._salt.renew():
            self._counts, self._full_logged = {}, False
        key = self._salt.key(scope, counted_as(address))[:16]
        count = self._counts.get(key)
        if count is None and len(self._counts) >= self.max_keys:
            if not self._full_logged:  # once a day; nothing about who
                log.warning("daily_allowance_full", keys=self.max_keys)
                self._full_logged = True
            return False
        if (count or 0) >= self.per_day:
            return False
        self._counts[key] = (count or 0) + 1
        return True
