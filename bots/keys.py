"""Typed keys for what the aiohttp application holds (no module globals)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

if TYPE_CHECKING:
    from bots.assembly import Bot
    from bots.config.model import Config
    from bots.intake.ratelimit import RateLimiter
    from bots.signals import Signals
    from bots.tasks import BackgroundTasks

CONFIG: web.AppKey[Config] = web.AppKey("config")
SESSIONS: web.AppKey[async_sessionmaker[AsyncSession]] = web.AppKey("sessions")
SIGNALS: web.AppKey[Signals] = web.AppKey("signals")
TASKS: web.AppKey[BackgroundTasks] = web.AppKey("tasks")
# The bot's parts, assembled once (bots/assembly.py): handlers take the one they use.
BOT: web.AppKey[Bot] = web.AppKey("bot")
RATE_LIMITER: web.AppKey[RateLimiter] = web.AppKey("rate_limiter")
# Wrong pickup codes per address (bots/intake/letter_routes.py).
CODE_GUESSES: web.AppKey[RateLimiter] = web.AppKey("code_guesses")
