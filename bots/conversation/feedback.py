"""The youth's one-tap "Fik du hjælp?" after a conversation has ended and been deleted.

By then the conversation row holds no token any more. At close, the stats row gets a
key derived from the hash of the youth's session token; the page proves it holds that
token to give its answer once. The key is cleared when used or after FEEDBACK_WINDOW,
so the anonymous row links to nothing for long, and never to a room or a person.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bots.conversation.tokens import hash_token
from bots.db.models import ConversationStats, utcnow
from bots.db.sql import rows_changed

FEEDBACK_WINDOW = dt.timedelta(days=1)
ANSWERS = ("yes", "partly", "no")


def feedback_key(token_hash: str) -> str:
    """What the stats row stores: computable from the session token, not from the row."""
    return hashlib.sha256(f"feedback:{token_hash}".encode()).hexdigest()


async def record_feedback(
    sessions: async_sessionmaker[AsyncSession], token: str, answer: str
) -> bool:
    """Store `answer` on the row this token's conversation left; False if there is none
    (never ended, already answered, or the window has passed)."""
    if answer not in ANSWERS:
        raise ValueError(f"answer must be one of {', '.join(ANSWERS)}")
    key = feedback_key(hash_token(token))
    async with sessions.begin() as session:
        result = await session.execute(
            update(ConversationStats)
            .where(
                ConversationStats.feedback_token_hash == key,
                ConversationStats.feedback_until > utcnow(),
            )
            .values(feedback=answer, feedback_token_hash=None, feedback_until=None)
        )
    return rows_changed(result) > 0


async def forget_expired_feedback_keys(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        await session.execute(
            update(ConversationStats)
            .where(ConversationStats.feedback_until <= utcnow())
            .values(feedback_token_hash=None, feedback_until=None)
        )
