"""Typed keys for what the aiohttp application holds (no module globals)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

if TYPE_CHECKING:
    from bots.catch_up import CatchUp
    from bots.config import Config
    from bots.duty import DutyRoster
    from bots.events import EventRouter
    from bots.intake.ratelimit import RateLimiter
    from bots.lifecycle import Conversations
    from bots.matrix.links import HomeserverLink
    from bots.signals import Signals
    from bots.tasks import BackgroundTasks

CONFIG: web.AppKey[Config] = web.AppKey("config")
SESSIONS: web.AppKey[async_sessionmaker[AsyncSession]] = web.AppKey("sessions")
LINKS: web.AppKey[dict[str, HomeserverLink]] = web.AppKey("links")
SIGNALS: web.AppKey[Signals] = web.AppKey("signals")
TASKS: web.AppKey[BackgroundTasks] = web.AppKey("tasks")
CONVERSATIONS: web.AppKey[Conversations] = web.AppKey("conversations")
RATE_LIMITER: web.AppKey[RateLimiter] = web.AppKey("rate_limiter")
DUTY: web.AppKey[DutyRoster] = web.AppKey("duty")
ROUTER: web.AppKey[EventRouter] = web.AppKey("router")
CATCH_UP: web.AppKey[CatchUp] = web.AppKey("catch_up")
