"""The youth page and its assets, with headers that keep the page honest:
no cookies, no third-party requests (CSP), no referrer, nothing cached by shared caches.
And `/embed.js`, the one-line chat button for municipal sites (docs/youth-page.md).
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from bots.keys import CONFIG

STATIC_DIR = Path(__file__).parent / "static"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; form-action 'none'; base-uri 'none'; frame-ancestors *"
)


async def youth_page(request: web.Request) -> web.StreamResponse:
    if request.config_dict[CONFIG].municipality(request.match_info["slug"]) is None:
        return web.Response(
            status=404,
            text="Den chat findes ikke. Tjek linket, eller spørg den, der gav dig det.",
            content_type="text/plain",
        )
    return web.FileResponse(STATIC_DIR / "chat.html")


async def embed_script(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(
        STATIC_DIR / "embed.js",
        headers={
            "Content-Type": "text/javascript; charset=utf-8",
            # Loaded by other sites: let them, and let their visitors' browsers cache it.
            "Cross-Origin-Resource-Policy": "cross-origin",
            "Cache-Control": "public, max-age=3600",
        },
    )


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.setdefault("Cache-Control", "no-store")


def add_page_routes(app: web.Application) -> None:
    app.router.add_get("/k/{slug}", youth_page)
    app.router.add_get("/embed.js", embed_script)
    app.router.add_static("/static/", STATIC_DIR)
    app.on_response_prepare.append(security_headers)
