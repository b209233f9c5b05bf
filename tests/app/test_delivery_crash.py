"""A delivery worker killed with SIGKILL in the middle of a 2,000-message broadcast, then
restarted: nothing lost, and no more duplicates than one in-flight batch — checked from the
emulator's record of what arrived."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter

import pytest

from loyalty import outbox
from loyalty.clock import SystemClock
from models.db import create_engine, create_session_factory
from models.migrate import upgrade
from sandbox.emulator import BotAPIEmulator
from tests.app.test_bot_process import bot_process, emulator_server, wait_healthy
from tests.conftest import TEST_SECRET, free_port
from tests.outbox_rows import queue_messages

pytestmark = pytest.mark.slow

PEOPLE = 2000
FIRST = 9_000_001
RATE = 100
BATCH = max(50, RATE // 2)  # the worker's batch: half a second of sending
IN_HAND = 2 * BATCH  # one batch going out and the next one claimed: in flight at most


async def test_killed_mid_broadcast_loses_nothing(
    app_env: dict[str, str], database_url: str
) -> None:
    engine = create_engine(database_url)
    await upgrade(engine)
    factory = create_session_factory(engine)
    now = SystemClock().now()
    await queue_messages(
        factory,
        first=FIRST,
        count=PEOPLE,
        text="Our new menu is out, guest {i}!",
        dedupe="crash-test",
        now=now,
    )
    async with emulator_server() as (emulator, url):
        for i in range(PEOPLE):  # guests who have used the bot before
            emulator.add_user(id=FIRST + i, first_name=f"Guest{i}", started=True)
        port = free_port()
        env = app_env | {
            "BOT_TOKEN": emulator.token,
            "TELEGRAM_API_URL": url,
            "SECRET_KEY": TEST_SECRET,
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": str(port),
            "OUTBOX_RATE": str(RATE),
            "PAID_BROADCAST": "true",
            "OUTBOX_LEASE_SECONDS": "3",
        }
        async with bot_process(env) as first:
            await wait_healthy(first, port)
            for _ in range(600):
                if emulator.stats()["calls"].get("sendMessage", 0) >= PEOPLE // 3:
                    break
                await asyncio.sleep(0.05)
            first.send_signal(signal.SIGKILL)
            await first.wait()
        sent_before = emulator.stats()["calls"].get("sendMessage", 0)
        assert PEOPLE // 3 <= sent_before < PEOPLE, "killed in the middle"
        async with bot_process(env) as second:
            await wait_healthy(second, port)
            for _ in range(1200):
                async with factory() as session:
                    left = await outbox.counts_by_status(session)
                if left == {"sent": PEOPLE}:
                    break
                await asyncio.sleep(0.1)
            assert left == {"sent": PEOPLE}
        received = Counter(
            chat for chat, text in _bot_messages(emulator) if text.startswith("Our new menu")
        )
    await engine.dispose()
    assert set(received) == {FIRST + i for i in range(PEOPLE)}  # nobody lost
    duplicates = sum(n - 1 for n in received.values())
    print(f"killed after {sent_before} of {PEOPLE}; duplicates {duplicates}")
    assert duplicates <= IN_HAND


def _bot_messages(emulator: BotAPIEmulator) -> list[tuple[int, str]]:
    """(chat, text) of every message the bot sent to the guests, as the emulator recorded."""
    return [
        (FIRST + i, str(message.get("text") or ""))
        for i in range(PEOPLE)
        for message in emulator.history(FIRST + i)
        if message.get("from") == "bot"
    ]
