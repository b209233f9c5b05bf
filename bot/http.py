"""The HTTP side every run mode serves: a health check and the POS API (api/pos.py)."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import text

from api.pos import PosDeps, add_pos_routes
from bot.config import RunMode
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
    deps = PosDeps(
        session_factory=services.session_factory,
        clock=services.clock,
        policy=services.policy,
        signer=services.signer,
        secret=services.settings.effective_pos_secret(),
        public_base_url=services.settings.public_base_url,
        bot_username=bot_username,
    )
    add_pos_routes(app, deps)
