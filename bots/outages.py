"""Failures that mean a homeserver or the bot's database is away for now, as opposed to
a request or event that can never succeed. An outage is answered "try again" (503 to a
young person's page, a non-2xx to a homeserver's push so it retries); anything else is a
bug or bad input, which must not be retried forever."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bots.matrix.errors import MatrixError, Unreachable


def is_outage(exc: BaseException) -> bool:
    if isinstance(exc, Unreachable | TimeoutError | ConnectionError | PoolTimeout):
        return True
    if isinstance(exc, MatrixError):
        # The homeserver answered, but is failing or overloaded right now.
        return exc.errcode == "M_LIMIT_EXCEEDED" or (exc.http_status or 0) >= 500
    if isinstance(exc, OperationalError | InterfaceError):
        return True  # the database went away, is locked or refuses connections
    if isinstance(exc, DBAPIError):
        # SQLSTATE classes 08 (connection), 53 (out of resources, e.g. connections) and
        # 57 (operator intervention: shut down, crashed, not yet accepting connections).
        sqlstate = str(getattr(exc.orig, "sqlstate", None) or "")
        return bool(exc.connection_invalidated) or sqlstate[:2] in ("08", "53", "57")
    return isinstance(exc, OSError)
