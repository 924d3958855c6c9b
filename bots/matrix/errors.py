"""Typed errors for everything the homeserver answers with an error.

The gateway (bots/matrix/gateway.py) turns every error answer into one of these by its
errcode (or, without one, its HTTP status), so no other module looks at an HTTP status.
"""

from __future__ import annotations


class MatrixError(Exception):
    def __init__(self, errcode: str | None, message: str, http_status: int | None = None):
        super().__init__(f"{errcode or 'M_UNKNOWN'}: {message} (HTTP {http_status})")
        self.errcode = errcode
        self.message = message
        self.http_status = http_status


class NotFound(MatrixError):
    """M_NOT_FOUND, or a 404 from the Admin API."""


class Forbidden(MatrixError):
    """M_FORBIDDEN: the homeserver refused the action."""


class RoomInUse(MatrixError):
    """M_ROOM_IN_USE: the alias already points at a room."""


class UserInUse(MatrixError):
    """M_USER_IN_USE: the account already exists."""


class Unreachable(MatrixError):
    """The homeserver did not answer (down, restarting or timing out)."""


_BY_ERRCODE: dict[str, type[MatrixError]] = {
    "M_NOT_FOUND": NotFound,
    "M_FORBIDDEN": Forbidden,
    "M_ROOM_IN_USE": RoomInUse,
    "M_USER_IN_USE": UserInUse,
}


def error_for(errcode: str | None, message: str, http_status: int | None) -> MatrixError:
    cls = _BY_ERRCODE.get(errcode or "")
    if cls is None and http_status == 404:
        cls = NotFound
    return (cls or MatrixError)(errcode, message, http_status)
