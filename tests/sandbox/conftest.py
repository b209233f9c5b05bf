"""Fixtures: a real emulator served over HTTP on 127.0.0.1, and a client to talk to it."""

from __future__ import annotations

import asyncio
import struct
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from sandbox.emulator import BotAPIEmulator

ALICE = 1001
BOB = 1002


def make_png(width: int, height: int) -> bytes:
    """A valid RGB PNG of the given size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@dataclass
class Server:
    emulator: BotAPIEmulator
    url: str
    session: aiohttp.ClientSession

    @property
    def api(self) -> str:
        return f"{self.url}/bot{self.emulator.token}"

    async def call(self, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
        """A Bot API call with a JSON body; returns (HTTP status, body)."""
        async with self.session.post(f"{self.api}/{method}", json=params) as response:
            return response.status, await response.json()

    async def ok(self, method: str, **params: Any) -> Any:
        status, body = await self.call(method, **params)
        assert status == 200, body
        assert body["ok"] is True
        return body["result"]

    async def error(self, method: str, **params: Any) -> tuple[int, str]:
        status, body = await self.call(method, **params)
        assert body["ok"] is False
        assert body["error_code"] == status
        return status, body["description"]

    async def get(self, path: str) -> tuple[int, Any]:
        async with self.session.get(f"{self.url}{path}") as response:
            return response.status, await response.json()

    async def post(self, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.session.post(f"{self.url}{path}", json=body) as response:
            return response.status, await response.json()

    async def user_says(self, user_id: int, text: str) -> dict[str, Any]:
        status, body = await self.post(f"/sandbox/users/{user_id}/send", {"text": text})
        assert status == 200, body
        result: dict[str, Any] = body
        return result

    async def updates(self, **params: Any) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.ok("getUpdates", **params)
        return result

    async def drain(self) -> list[dict[str, Any]]:
        """Take and confirm every pending update."""
        updates = await self.updates()
        if updates:
            await self.updates(offset=updates[-1]["update_id"] + 1)
        return updates


ServerFactory = Callable[..., Awaitable[Server]]


@pytest.fixture
async def make_server() -> AsyncIterator[ServerFactory]:
    runners: list[web.AppRunner] = []
    sessions: list[aiohttp.ClientSession] = []
    emulators: list[BotAPIEmulator] = []

    async def start(**kwargs: Any) -> Server:
        emulator = BotAPIEmulator(**kwargs)
        runner = web.AppRunner(emulator.build_app())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        emulators.append(emulator)
        session = aiohttp.ClientSession()
        sessions.append(session)
        port = runner.addresses[0][1]
        return Server(emulator, f"http://127.0.0.1:{port}", session)

    yield start
    for session in sessions:
        await session.close()
    for emulator in emulators:
        await emulator.close()
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def server(make_server: ServerFactory) -> Server:
    """An emulator with two people, Alice (who has started the bot) and Bob (who has not)."""
    srv = await make_server()
    srv.emulator.add_user(ALICE, "Alice", language_code="en-US", username="alice_w")
    srv.emulator.add_user(BOB, "Bob", language_code="zh-hans")
    await srv.user_says(ALICE, "hello")
    await srv.drain()
    return srv


@dataclass
class Receiver:
    """A webhook endpoint that records what it gets and answers from a script."""

    url: str
    requests: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)
    script: list[tuple[int, Any]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_for(self, count: int, timeout: float = 5.0) -> None:
        async def enough() -> None:
            while len(self.requests) < count:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(enough(), timeout)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    holder: list[Receiver] = []

    async def handle(request: web.Request) -> web.Response:
        rec = holder[0]
        rec.requests.append((dict(request.headers), await request.json()))
        rec.arrived.set()
        status, body = rec.script.pop(0) if rec.script else (200, None)
        if body is None:
            return web.Response(status=status)
        return web.json_response(body, status=status)

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    holder.append(Receiver(f"http://127.0.0.1:{port}/hook"))
    yield holder[0]
    await runner.cleanup()
