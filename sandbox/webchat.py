"""The sandbox web chat: a single page where a person plays diner, cashier and manager.

The page is plain HTML, CSS and JavaScript under ``sandbox/static`` (no build step, no external
resources). It talks only to the emulator's control API (``/sandbox/...``) on the same origin.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC_DIR = Path(__file__).resolve().parent / "static"

# The sandbox is a development tool: always revalidate so an edited page shows up on reload.
_NO_CACHE = {"Cache-Control": "no-cache"}


async def _index(request: web.Request) -> web.StreamResponse:
    """Serve the single page."""
    return web.FileResponse(STATIC_DIR / "index.html", headers=_NO_CACHE)


async def _static(request: web.Request) -> web.StreamResponse:
    """Serve one file from ``sandbox/static``; anything outside that folder is a 404."""
    root = STATIC_DIR.resolve()
    target = (root / request.match_info["path"]).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        raise web.HTTPNotFound(text="not found")
    return web.FileResponse(target, headers=_NO_CACHE)


def add_webchat_routes(app: web.Application) -> None:
    """Register ``GET /`` (the page) and ``GET /static/{path}`` (its assets) on ``app``."""
    app.router.add_get("/", _index, name="webchat-index")
    app.router.add_get("/static/{path:.+}", _static, name="webchat-static")
