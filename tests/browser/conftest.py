"""Browser fixtures: Debian's Chromium driven by Playwright, and the real app in sandbox mode.

The machine has no internet and Playwright's own browsers are never downloaded: the tests use
``/usr/bin/chromium`` (``apt-get install chromium``). Without it they are skipped with that reason,
or fail when ``CI`` is set, so a CI run cannot pass without having driven a browser.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from sandbox.emulator import BotAPIEmulator
from sandbox.webchat import add_webchat_routes
from tests.browser.support import DESKTOP, ChatServer, RunningApp, get_json

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
MISSING_CHROMIUM = (
    f"{CHROMIUM} not found: install Debian's chromium package: apt-get install chromium "
    "(never `playwright install`)"
)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_TIMEOUT = 30.0

# Settings that would take the app out of sandbox mode (or point it elsewhere) if inherited.
_NOT_INHERITED = ("BOT_TOKEN", "WEBHOOK_URL", "REDIS_URL", "TELEGRAM_API_URL", "SECRET_KEY")


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI"):
        pytest.fail(MISSING_CHROMIUM, pytrace=False)
    pytest.skip(MISSING_CHROMIUM)


@pytest.fixture(scope="module")
def playwright_instance() -> Iterator[Playwright]:
    _require_chromium()
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    browser = playwright_instance.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def page_errors(page: Page) -> list[str]:
    """Uncaught JavaScript errors on `page`; a test asserts there were none."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _try_json(url: str) -> Any:
    try:
        return get_json(url, timeout=2)
    except (OSError, urllib.error.URLError, ValueError):
        return None


def _bot_is_polling(url: str) -> bool:
    stats = _try_json(f"{url}/sandbox/stats")
    calls = stats.get("calls") if isinstance(stats, dict) else None
    return isinstance(calls, dict) and bool(calls.get("getUpdates"))


@pytest.fixture
def sandbox_app(tmp_path: Path) -> Iterator[RunningApp]:
    """`regulars run` with no BOT_TOKEN: the emulator, the web chat and the bot in one process.

    Ready once ``/sandbox/bot`` answers and the bot has called ``getUpdates`` (it is polling).
    """
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if key not in _NOT_INHERITED}
    env.update(
        {
            "BOT_TOKEN": "",
            "WEBHOOK_URL": "",
            "SANDBOX_PORT": str(port),
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'regulars.sqlite3'}",
            "DATA_DIR": str(tmp_path),
            "PYTHONUNBUFFERED": "1",
        }
    )
    log = tmp_path / "regulars-run.log"
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        bot: Any = None
        while not (isinstance(bot, dict) and _bot_is_polling(url)):
            if process.poll() is not None:
                pytest.fail(
                    f"`regulars run` exited with code {process.returncode} while starting. "
                    f"Its output:\n{log.read_text(errors='replace')}",
                    pytrace=False,
                )
            if time.monotonic() > deadline:
                what = "start polling" if isinstance(bot, dict) else f"answer {url}/sandbox/bot"
                pytest.fail(
                    f"`regulars run` did not {what} within {STARTUP_TIMEOUT:.0f} s. "
                    f"Its output:\n{log.read_text(errors='replace')}",
                    pytrace=False,
                )
            time.sleep(0.2)
            bot = _try_json(f"{url}/sandbox/bot")
        app = RunningApp(url=url, bot=bot, log=log, process=process)
        yield app
        if process.poll() is not None:
            pytest.fail(
                f"`regulars run` exited with code {process.returncode} during the test. "
                f"Its output:\n{app.output()}",
                pytrace=False,
            )
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    """The web chat on a bare emulator (no app, no bot polling): for what the page shows."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="chat-server", daemon=True)
    thread.start()

    async def start() -> tuple[BotAPIEmulator, web.AppRunner]:
        emulator = BotAPIEmulator(first_name="Regulars Bistro")
        app = web.Application(client_max_size=20 * 1024 * 1024)
        emulator.add_routes(app)
        add_webchat_routes(app)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        return emulator, runner

    emulator, runner = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
    try:
        yield ChatServer(f"http://127.0.0.1:{runner.addresses[0][1]}", emulator, loop)
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()
