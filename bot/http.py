"""The HTTP side every run mode serves: a health check and the POS API (bot/pos_api.py)."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import text

from bot.config import RunMode
from bot.pos_api import add_pos_routes
from bot.services import Services

SERVICES_KEY = web.AppKey("services", Services)
MODE_KEY = web.AppKey("mode", RunMode)
BOT_USERNAME_KEY = web.AppKey("bot_username", str)


async def healthz(request: web.Request) -> web.Response:
    services = request.app[SERVICES_KEY]
    try:
        async with services.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:
        return web.json_response({"status": "error", "database": str(exc)[:200]}, status=503)
    return web.json_response({"status": "ok", "mode": request.app[MODE_KEY].value})


def add_app_routes(
    app: web.Application, services: Services, mode: RunMode, *, bot_username: str
) -> None:
    app[SERVICES_KEY] = services
    app[MODE_KEY] = mode
    app[BOT_USERNAME_KEY] = bot_username
    app.router.add_get("/healthz", healthz)
    add_pos_routes(app, services, bot_username)
