"""Rate limits for starting conversations, without storing who asked.

The client address is only ever used as HMAC(salt, address), and the salt is random,
kept in memory and replaced every day, so yesterday's keys can't be linked to today's
and nothing identifying reaches disk or logs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import time


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
