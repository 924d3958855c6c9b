"""The youth's session token: made when a conversation starts, handed to the page once,
and kept by the bot only as its hash, so the database alone opens no conversation."""

from __future__ import annotations

import hashlib
import secrets


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
