"""Rate limits for starting conversations, without storing who asked.

The client address is only ever used as HMAC(salt, address), and the salt is random,
kept in memory and replaced every day, so yesterday's keys can't be linked to today's
and nothing identifying reaches disk or logs.

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
from ipaddress import IPv4Network, IPv6Network, ip_address


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


class RateLimiter:
    def __init__(self, max_starts: int = 10, per_seconds: float = 3600) -> None:
        self.max_starts = max_starts
        self.per_seconds = per_seconds
        self._day: dt.date | None = None
        self._salt = b""
        self._hits: dict[bytes, list[float]] = {}

    def _key(self, address: str) -> bytes:
        today = dt.date.today()
        if today != self._day:
            self._day, self._salt, self._hits = today, secrets.token_bytes(32), {}
        return hmac.new(self._salt, address.encode(), hashlib.sha256).digest()

    def allow(self, address: str) -> bool:
        """Count one start for this address; False if it is over the limit."""
        key = self._key(address)
        now = time.monotonic()
        recent = [t for t in self._hits.get(key, []) if now - t < self.per_seconds]
        if len(recent) >= self.max_starts:
            self._hits[key] = recent
            return False
        recent.append(now)
        self._hits[key] = recent
        return True
