"""Benchmark: a broadcast through the outbox against the emulator with Telegram's limits on.

    python -m bench.delivery                                  # 30/s and 1000/s; 3,000 and 100,000
    python -m bench.delivery --limits 30 --sizes 3000 --window 60

The emulator (in this process) refuses more than LIMIT messages a second in all and more than one
a second per chat, with 429 and retry_after, as Telegram does. `regulars run` (its own process,
long polling) drains an outbox holding one message per member, at OUTBOX_RATE = LIMIT (with
PAID_BROADCAST above 30/s). Measured from the emulator: messages accepted per second ÷ the limit,
429s, duplicates and lost messages, and the bot's peak memory. A broadcast that cannot finish
within --window seconds (100,000 at 30/s takes 55 minutes) is measured over the window: rate and
duplicates count, lost is not measured ("-").

To profile the bot, set DELIVERY_BOT_COMMAND to what should run instead of ``regulars`` (it gets
``run`` appended), e.g. ``".venv/bin/python -m cProfile -o /tmp/bot.prof -m bot.cli"``.

Baseline in the same run: the common pattern, a loop that sends, sleeps 0.05 s and on a 429
sleeps retry_after and tries again, against the same emulator and limit, over the same window.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shlex
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramRetryAfter
from sqlalchemy import insert

from bench.intake import base_env, bot_process, emulator_server, free_port
from models.db import create_engine, create_session_factory
from models.migrate import upgrade
from models.tables import OutboxMessage
from sandbox.emulator import BotAPIEmulator

FIRST = 20_000_001
TEXT = "This week: our new spring menu, and a table waiting for you."


@dataclass
class Figures:
    target: str
    limit: int
    members: int
    seconds: float = 0.0
    delivered: int = 0
    status_429: int = 0
    duplicates: int = 0
    lost: int | None = None
    peak_rss_mb: float = float("nan")
    reached: int = 0
    """Members who received the message (the rate counts from the first one on)."""
    bot_cpu_s: float = float("nan")
    emulator_cpu_s: float = float("nan")
    """CPU seconds over the measure: the bot's process, and this one (the emulator's)."""

    @property
    def rate(self) -> float:
        return self.delivered / self.seconds if self.seconds else 0.0

    def result(self) -> str:
        lost = "-" if self.lost is None else str(self.lost)
        return (
            f"RESULT bench=delivery target={self.target} limit={self.limit}/s "
            f"members={self.members} rate={self.rate:.1f}/s ratio={self.rate / self.limit:.3f} "
            f"seconds={self.seconds:.1f} delivered={self.delivered} status_429={self.status_429} "
            f"duplicates={self.duplicates} lost={lost} peak_rss_mb={self.peak_rss_mb:.0f} "
            f"bot_cpu_s={self.bot_cpu_s:.1f} emulator_cpu_s={self.emulator_cpu_s:.1f}"
        )


def _received(emulator: BotAPIEmulator, members: int) -> Counter[int]:
    counts: Counter[int] = Counter()
    for i in range(members):
        for message in emulator.history(FIRST + i):
            if message.get("from") == "bot" and message.get("text") == TEXT:
                counts[FIRST + i] += 1
    return counts


def _peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


async def _fill_outbox(database_url: str, members: int) -> None:
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        factory = create_session_factory(engine)
        now = datetime.now(UTC)
        for start in range(0, members, 5000):
            async with factory() as session, session.begin():
                await session.execute(
                    insert(OutboxMessage),
                    [
                        {
                            "telegram_id": FIRST + i,
                            "dedupe_key": f"bench:{i}",
                            "marketing": True,
                            "text": TEXT,
                            "status": "pending",
                            "attempts": 0,
                            "next_attempt_at": now,
                            "created_at": now,
                        }
                        for i in range(start, min(members, start + 5000))
                    ],
                )
    finally:
        await engine.dispose()


async def run_outbox(limit: int, members: int, window: float, workdir: Path) -> Figures:
    figures = Figures("outbox", limit, members)
    token = f"{secrets.randbelow(10**9)}:{secrets.token_urlsafe(26)}"
    database_url = f"sqlite+aiosqlite:///{workdir / f'delivery-{limit}-{members}.sqlite3'}"
    await _fill_outbox(database_url, members)
    async with emulator_server(token) as (emulator, api_url):
        for i in range(members):
            emulator.add_user(id=FIRST + i, first_name=f"Guest{i}", started=True)
        emulator.set_limits(limit, 1)
        port = free_port()
        env = base_env() | {
            "BOT_TOKEN": token,
            "TELEGRAM_API_URL": api_url,
            "DATABASE_URL": database_url,
            "SECRET_KEY": secrets.token_urlsafe(32),
            "HTTP_PORT": str(port),
            "HTTP_HOST": "127.0.0.1",
            "LOG_LEVEL": "WARNING",
            "OUTBOX_RATE": str(limit),
            "PAID_BROADCAST": "true" if limit > 30 else "false",
        }
        regulars = str(Path(sys.executable).with_name("regulars"))
        log = workdir / f"regulars-{limit}-{members}.log"
        command = shlex.split(os.environ.get("DELIVERY_BOT_COMMAND", "")) or [regulars]
        async with bot_process([*command, "run"], env, log) as cpu:
            pid = int(cpu.pid)  # type: ignore[attr-defined]
            start_count = 0
            started = 0.0
            cpu_before = (0.0, 0.0)
            deadline = time.monotonic() + window + 120
            while time.monotonic() < deadline:
                sent = emulator.stats()["calls"].get("sendMessage", 0)
                if started == 0.0 and sent > 0:
                    started, start_count = time.monotonic(), sent
                    cpu_before = (cpu(), time.process_time())
                if started and (sent >= members or time.monotonic() - started >= window):
                    break
                await asyncio.sleep(0.01)  # the resolution of the measure
            figures.seconds = time.monotonic() - started if started else 0.0
            stats = emulator.stats()
            figures.delivered = stats["calls"].get("sendMessage", 0) - start_count
            figures.status_429 = stats["status_429"]
            figures.peak_rss_mb = _peak_rss_mb(pid)
            figures.bot_cpu_s = cpu() - cpu_before[0]
            figures.emulator_cpu_s = time.process_time() - cpu_before[1]
        counts = _received(emulator, members)
        # accepted sends minus refusals: sendMessage counts every call, 429s included
        figures.delivered = max(0, figures.delivered - figures.status_429)
        figures.duplicates = sum(n - 1 for n in counts.values())
        figures.reached = len(counts)
        if sum(counts.values()) >= members - figures.duplicates and len(counts) == members:
            figures.lost = 0
        elif time.monotonic() - started < window:
            figures.lost = members - len(counts)
    return figures


async def run_naive(limit: int, members: int, window: float) -> Figures:
    """The common loop: send, sleep 0.05 s, on 429 sleep retry_after and try again."""
    figures = Figures("naive_loop", limit, members)
    token = f"{secrets.randbelow(10**9)}:{secrets.token_urlsafe(26)}"
    async with emulator_server(token) as (emulator, api_url):
        for i in range(members):
            emulator.add_user(id=FIRST + i, first_name=f"Guest{i}", started=True)
        emulator.set_limits(limit, 1)
        bot = Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(api_url)))
        try:
            started = time.monotonic()
            for i in range(members):
                if time.monotonic() - started >= window:
                    break
                while True:
                    try:
                        await bot.send_message(FIRST + i, TEXT)
                        break
                    except TelegramRetryAfter as exc:
                        await asyncio.sleep(exc.retry_after)
                await asyncio.sleep(0.05)
            figures.seconds = time.monotonic() - started
        finally:
            await bot.session.close()
        counts = _received(emulator, members)
        figures.delivered = sum(counts.values())
        figures.reached = len(counts)
        figures.status_429 = emulator.stats()["status_429"]
        figures.duplicates = sum(n - 1 for n in counts.values())
        figures.lost = 0 if len(counts) == members else None
    return figures


async def main(args: argparse.Namespace) -> None:
    print(f"command: {shlex.join([sys.executable, '-m', 'bench.delivery', *sys.argv[1:]])}")
    limits = [int(x) for x in args.limits.split(",")]
    sizes = [int(x) for x in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="regulars-delivery-") as tmp:
        for limit in limits:
            for members in sizes:
                ours = await run_outbox(limit, members, args.window, Path(tmp))
                print(ours.result(), flush=True)
            naive = await run_naive(limit, min(sizes), args.baseline_window)
            print(naive.result(), flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.delivery", description=__doc__)
    parser.add_argument("--limits", default="30,1000", help="Telegram's limit, messages/s")
    parser.add_argument("--sizes", default="3000,100000", help="members in the broadcast")
    parser.add_argument("--window", type=float, default=120.0, help="seconds per measure")
    parser.add_argument("--baseline-window", type=float, default=30.0)
    return parser


if __name__ == "__main__":
    asyncio.run(main(_parser().parse_args()))
