"""Errors on the wire in Matrix's shape, `{"errcode", "error"}`, from one middleware."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web

log = structlog.get_logger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, errcode: str, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.status = status
        self.errcode = errcode
        self.error = error
        self.extra = extra

    def response(self) -> web.Response:
        body = {"errcode": self.errcode, "error": self.error, **self.extra}
        return web.json_response(body, status=self.status)


_BY_STATUS = {
    400: "M_BAD_JSON",
    401: "M_MISSING_TOKEN",
    403: "M_FORBIDDEN",
    404: "M_NOT_FOUND",
    405: "M_UNRECOGNIZED",
    413: "M_TOO_LARGE",
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
    except Exception:
        # The detail goes to the log under a reference; the client gets only the reference.
        reference = secrets.token_hex(4)
        log.exception("unhandled_error", reference=reference, route=request.match_info.route.name)
        return ApiError(500, "M_UNKNOWN", f"Internal error (reference {reference})").response()
