"""python-telegram-bot's ``Bot`` pointed at the emulator over HTTP: a second, independent client.

The bot itself uses aiogram, so a leniency shared by aiogram and the emulator would go unnoticed;
PTB builds its own requests and parses every answer into its own models. People act through the
emulator's control API over HTTP too (``/sandbox/...``), as the web chat does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import Bot

from tests.sandbox.conftest import Server, make_server, server

__all__ = ["make_server", "server"]  # the emulator fixtures of tests/sandbox


@pytest.fixture
async def ptb(server: Server, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Bot]:
    # Durations as timedelta (PTB 22's coming default) rather than its deprecated int form.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    bot = Bot(
        server.emulator.token,
        base_url=f"{server.url}/bot",
        base_file_url=f"{server.url}/file/bot",
    )
    async with bot:  # initialize() calls getMe and checks the token
        yield bot
