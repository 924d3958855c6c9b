"""The youth page and its assets, with headers that keep the page honest:
no cookies, no third-party requests (CSP), no referrer, nothing cached by shared caches,
and no framing except by the chat itself and the municipality's own sites
(`embed_origins` in the config), so no other site can dress itself up as the chat.
And `/embed.js`, the one-line chat button for municipal sites (docs/youth-page.md).
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from bots.config.model import Municipality
from bots.keys import CONFIG

STATIC_DIR = Path(__file__).parent / "static"
_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; form-action 'none'; base-uri 'none'; frame-ancestors "
)
# Everything but a youth page: never in a frame.
CSP = _POLICY + "'none'"
# What the server says it is: nothing about its software or versions.
SERVER = "ungechat"


def page_csp(m: Municipality) -> str:
    """A municipality's youth page may be framed by the chat itself and its own sites."""
    return _POLICY + " ".join(["'self'", *m.embed_origins])


NOT_FOUND = {
    "da": "Den chat findes ikke. Tjek linket, eller spørg den, der gav dig det.",
    "en": "That chat does not exist. Check the link, or ask whoever gave it to you.",
}


def page_language(request: web.Request) -> str:
    """As the page chooses: `?lang=`, else the first of Danish or English the browser
    asks for, else Danish."""
    asked = request.query.get("lang")
    if asked in NOT_FOUND:
        return asked
    ranked = []
    for i, part in enumerate(request.headers.get("Accept-Language", "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        code = tag.strip()[:2].lower()
        if code in NOT_FOUND and q > 0:
            ranked.append((-q, i, code))
    return min(ranked)[2] if ranked else "da"


async def youth_page(request: web.Request) -> web.StreamResponse:
    return await _page(request, "chat.html")


async def letter_page(request: web.Request) -> web.StreamResponse:
    """The letterbox (docs/letterbox.md): its own small page, so the chat's stays small."""
    return await _page(request, "letter.html")


async def _page(request: web.Request, name: str) -> web.StreamResponse:
    m = request.config_dict[CONFIG].municipality(request.match_info["slug"])
    if m is None:
        lang = page_language(request)
        return web.Response(
            status=404,
            text=NOT_FOUND[lang],
            content_type="text/plain",
            headers={"Content-Language": lang},
        )
    return web.FileResponse(STATIC_DIR / name, headers={"Content-Security-Policy": page_csp(m)})


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
    response.headers["Server"] = SERVER
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.setdefault("Cache-Control", "no-store")


def add_page_routes(app: web.Application) -> None:
    app.router.add_get("/k/{slug}", youth_page)
    app.router.add_get("/k/{slug}/brev", letter_page)
    app.router.add_get("/embed.js", embed_script)
    app.router.add_static("/static/", STATIC_DIR)
    app.on_response_prepare.append(security_headers)
