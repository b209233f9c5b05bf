"""`regulars run` as a separate process, talking to the emulator over HTTP (long polling and
webhook), exactly as it would talk to Telegram."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest
from aiohttp import web

from sandbox.client import SandboxClient, button_data
from sandbox.emulator import BotAPIEmulator
from tests.conftest import ROOT, TEST_SECRET, free_port

ANN = 4242
pytestmark = pytest.mark.slow


@asynccontextmanager
async def emulator_server() -> AsyncIterator[tuple[BotAPIEmulator, str]]:
    emulator = BotAPIEmulator(username="RegularsTestBot")
    app = web.Application()
    emulator.add_routes(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield emulator, f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await emulator.close()
        await runner.cleanup()


@asynccontextmanager
async def bot_process(env: dict[str, str]) -> AsyncIterator[asyncio.subprocess.Process]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), timeout=20)
            except TimeoutError:
                process.kill()
                await process.wait()


async def wait_healthy(process: asyncio.subprocess.Process, port: int) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(600):
            if process.returncode is not None:
                output = await process.stdout.read() if process.stdout else b""
                pytest.fail(f"bot exited {process.returncode}:\n{output.decode()}")
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    pytest.fail("the bot did not become healthy within 60 s")


async def converse(client: SandboxClient) -> None:
    """/start in English, then /language → 简体中文, then /help in Chinese."""
    await client.add_user(ANN, "Ann", "en")
    welcome = await client.say(ANN, "/start", timeout=30)
    assert welcome["text"].startswith("Welcome to Regulars Bistro, Ann!")
    menu = await client.say(ANN, "/language")
    await client.press(ANN, menu["message_id"], button_data(menu, "简体中文"))
    await client.wait_for(ANN, lambda ms: ms[-1]["text"].startswith("语言已设为：简体中文。"))
    help_reply = await client.say(ANN, "/help")
    assert help_reply["text"].startswith("我可以为您做这些：")
    assert "/language — 选择" in help_reply["text"]


async def test_polling_process_against_the_emulator(app_env: dict[str, str]) -> None:
    async with emulator_server() as (emulator, url), SandboxClient(url) as client:
        port = free_port()
        env = app_env | {
            "BOT_TOKEN": emulator.token,
            "TELEGRAM_API_URL": url,
            "SECRET_KEY": TEST_SECRET,
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": str(port),
        }
        async with bot_process(env) as process:
            await wait_healthy(process, port)
            await converse(client)
            stats = await client.stats()
            assert stats["calls"]["getUpdates"] >= 1
            assert stats["calls"]["setMyCommands"] >= 2  # default and zh menus
            process.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(process.wait(), timeout=20) == 0


async def test_webhook_process_checks_the_secret(app_env: dict[str, str]) -> None:
    async with emulator_server() as (emulator, url), SandboxClient(url) as client:
        port = free_port()
        hook = f"http://127.0.0.1:{port}/telegram/webhook"
        env = app_env | {
            "BOT_TOKEN": emulator.token,
            "TELEGRAM_API_URL": url,
            "SECRET_KEY": TEST_SECRET,
            "WEBHOOK_URL": hook,
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": str(port),
        }
        async with bot_process(env) as process:
            await wait_healthy(process, port)
            info = await client.request("GET", f"/bot{emulator.token}/getWebhookInfo")
            for _ in range(100):
                if info["result"]["url"] == hook:
                    break
                await asyncio.sleep(0.1)
                info = await client.request("GET", f"/bot{emulator.token}/getWebhookInfo")
            assert info["result"]["url"] == hook
            await converse(client)
            forged = {
                "update_id": 1,
                "message": {
                    "message_id": 1,
                    "date": 0,
                    "chat": {"id": ANN, "type": "private"},
                    "from": {"id": ANN, "is_bot": False, "first_name": "Ann"},
                    "text": "/start",
                },
            }
            async with aiohttp.ClientSession() as http:
                async with http.post(hook, json=forged) as resp:
                    assert resp.status == 401
                async with http.post(
                    hook, json=forged, headers={"X-Telegram-Bot-Api-Secret-Token": "guess"}
                ) as resp:
                    assert resp.status == 401
