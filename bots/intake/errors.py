"""Errors on the wire in Matrix's shape, `{"errcode", "error"}`, from one middleware.

What the intake depends on being down (the homeserver, the database) is not a fault of
the request: it is answered `503 M_UNAVAILABLE` with `retry_after_ms`, so the page can
try again by itself. Anything else unexpected is a 500 with a reference to the log.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web

from bots.outages import is_outage

log = structlog.get_logger(__name__)

# How soon the page may try again when the homeserver or the database is away.
RETRY_AFTER_MS = 3000


class ApiError(Exception):
    def __init__(self, status: int, errcode: str, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.status = status
        self.errcode = errcode
        self.error = error
        self.extra = extra

    def response(self) -> web.Response:
        body = {"errcode": self.errcode, "error": self.error, **self.extra}
        headers = {}
        if isinstance(self.extra.get("retry_after_ms"), int):
            headers["Retry-After"] = str(-(-self.extra["retry_after_ms"] // 1000))
        return web.json_response(body, status=self.status, headers=headers)


def unavailable() -> ApiError:
    return ApiError(
        503,
        "M_UNAVAILABLE",
        "the chat cannot be reached right now; try again shortly",
        retry_after_ms=RETRY_AFTER_MS,
    )


_BY_STATUS = {
    400: "M_BAD_JSON",
    401: "M_MISSING_TOKEN",
    403: "M_FORBIDDEN",
    404: "M_NOT_FOUND",
    405: "M_UNRECOGNIZED",
    413: "M_TOO_LARGE",
    415: "M_NOT_JSON",
}


@web.middleware
async def error_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        errcode = _BY_STATUS.get(exc.status, "M_UNKNOWN")
        return ApiError(exc.status, errcode, exc.reason).response()
    except Exception as exc:
        route = request.match_info.route.name
        if is_outage(exc):
            # Only the kind of failure: its text could hold a query or a message.
            log.warning("dependency_unavailable", route=route, error=type(exc).__name__)
            return unavailable().response()
        # The detail goes to the log under a reference; the client gets only the reference.
        reference = secrets.token_hex(4)
        log.exception("unhandled_error", reference=reference, route=route)
        return ApiError(500, "M_UNKNOWN", f"Internal error (reference {reference})").response()
