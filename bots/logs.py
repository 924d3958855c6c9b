"""Structured logs (structlog) that carry only ids meaning nothing outside the bot.

Message text, IP addresses and user agents are never passed to a logger. aiohttp's
access log is switched off where the server is started, since it would record the
client address and user agent of every young person; aiohttp's other logs ("Error
handling request from <address>", with a traceback that may quote the request) are
passed on as the logger's name, the level and the exception's type only.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO, cast

import structlog


class _CurrentStderr:
    """Whatever sys.stderr is at the moment of writing (it may be replaced after set-up,
    e.g. by a test runner capturing output), never a stale, closed file."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


class _WithoutClientDetails(logging.Handler):
    """aiohttp's own log records, told through structlog without their message, their
    arguments or their traceback: those name the client's address and quote requests."""

    def emit(self, record: logging.LogRecord) -> None:
        error = record.exc_info[1] if record.exc_info else None
        structlog.get_logger(record.name).log(
            record.levelno,
            "web_server_problem",
            error=type(error).__name__ if error is not None else None,
        )


def configure_logging(level: str = "INFO", json: bool = False) -> None:
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=cast(TextIO, _CurrentStderr())),
        cache_logger_on_first_use=False,
    )
    web_server = logging.getLogger("aiohttp")
    web_server.handlers = [_WithoutClientDetails()]
    web_server.propagate = False
