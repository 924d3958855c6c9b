"""Who may call the intake API at all, in one middleware before any route.

1. **Not another website.** The youth page calls the API from its own origin, also when
   it runs in an iframe on a municipal site. A hostile page could otherwise make every
   visitor's browser start conversations (a form, or `fetch` with `mode: "no-cors"`).
   So a browser's request must be same-origin (`Sec-Fetch-Site: same-origin`), or come
   from the configured `public_url` or one of the municipalities' `embed_origins`
   (`Origin`). A request with neither header is not a browser's (curl, a monitor, the
   tests) and is let through: it proves nothing more than it could prove anyway.
2. **JSON only.** A body must be sent as `application/json`: 415 otherwise. A browser
   can send JSON across sites only after asking first (CORS), which this API never
   allows, so this closes the same door a second time, and every body is read one way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web

from bots.config.model import Config
from bots.intake.errors import ApiError
from bots.keys import CONFIG


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def allowed_origins(config: Config) -> frozenset[str]:
    """The chat's own origin and every municipality's embedding sites."""
    embedded = (o for m in config.municipalities for o in m.embed_origins)
    return frozenset([origin_of(config.public_url), *embedded])


def cross_site_refusal(
    config: Config, origin: str | None, fetch_site: str | None
) -> ApiError | None:
    """Why a request from this origin / fetch site is refused, or None if it may pass."""
    if fetch_site == "same-origin":
        return None
    if origin is not None:
        if origin.lower() in allowed_origins(config):
            return None
        return ApiError(403, "M_FORBIDDEN", "requests from other websites are not accepted")
    if fetch_site in (None, "none"):  # not a browser, or typed into the address bar
        return None
    return ApiError(403, "M_FORBIDDEN", "requests from other websites are not accepted")


@web.middleware
async def request_guard(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    refusal = cross_site_refusal(
        request.config_dict[CONFIG],
        request.headers.get("Origin"),
        request.headers.get("Sec-Fetch-Site"),
    )
    if refusal is not None:
        raise refusal
    if request.body_exists and request.content_type != "application/json":
        raise ApiError(
            415,
            "M_NOT_JSON",
            f"send the body as application/json, not {request.content_type or 'untyped'}",
        )
    return await handler(request)
