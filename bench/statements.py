"""SQL statements per update in the intake journey: where the database time of ``bench.intake``
goes, counted instead of timed (counts do not depend on a noisy machine).

Runs the sandbox in this process (emulator, dispatcher, a fresh database), sends diners one at a
time through the intake journey (table link, Pay, amount, pre-checkout, ``successful_payment``)
and counts the statements the engine executes while each update is handled, by kind of update.

    .venv/bin/python -m bench.statements                 # SQLite file in a temporary directory
    .venv/bin/python -m bench.statements --diners 5 --database-url postgresql+asyncpg://...
    .venv/bin/python -m bench.statements --show          # also print each statement
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import sys
import tempfile
from collections import defaultdict
from functools import partial
from pathlib import Path
from typing import Any

from aiogram import Bot
from aiogram.types import Update
from sqlalchemy import event

from bot.config import load_settings
from bot.sandbox_run import sandbox
from loyalty.qr import TablePayload, deep_link
from sandbox.client import Message, SandboxClient, button_data


def update_kind(update: Update) -> str:
    if update.message is not None:
        message = update.message
        if message.successful_payment is not None:
            return "successful_payment"
        if (message.text or "").startswith("/start"):
            return "start link"
        return "text"
    return update.event_type


def has_more(messages: list[Message], *, than: int) -> bool:
    return len(messages) > than


class Counter:
    def __init__(self, show: bool) -> None:
        self.show = show
        self.current: str | None = None
        self.statements: list[str] = []
        self.per_kind: dict[str, list[int]] = defaultdict(list)

    def on_execute(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if self.current is not None:
            self.statements.append(statement)

    def on_checkout(self, *_args: Any) -> None:
        if self.current is not None:
            self.statements.append("-- connection checkout (+ COMMIT or ROLLBACK at its end)")

    def begin(self, kind: str) -> None:
        self.current = kind
        self.statements = []

    def end(self) -> None:
        assert self.current is not None
        self.per_kind[self.current].append(len(self.statements))
        if self.show:
            print(f"-- {self.current}: {len(self.statements)} statements")
            for statement in self.statements:
                print("   ", " ".join(statement.split())[:160])
        self.current = None


async def main(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="regulars-statements-") as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'statements.sqlite3'}"
        settings = load_settings(
            _env_file=None,
            data_dir=Path(tmp) / "data",
            database_url=url,
            secret_key="statements-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
            bot_token=None,
            webhook_url=None,
            owner_ids=(),
        )
        counter = Counter(args.show)
        async with sandbox(settings, port=0) as run:
            engine = run.services.engine.sync_engine
            event.listen(engine, "before_cursor_execute", counter.on_execute)
            if args.checkouts:
                event.listen(engine.pool, "checkout", counter.on_checkout)
            dispatcher = run.dispatcher
            feed_update = dispatcher.feed_update

            async def counted(bot: Bot, update: Update, **kwargs: Any) -> Any:
                counter.begin(update_kind(update))
                try:
                    return await feed_update(bot, update, **kwargs)
                finally:
                    counter.end()

            dispatcher.feed_update = counted  # type: ignore[method-assign]
            async with SandboxClient(run.url) as client:
                username = (await client.bot())["username"]
                link = deep_link(
                    username, run.services.signer.sign(TablePayload(run.services.store.id, 3))
                )
                # New people every run, also on a database kept from an earlier run.
                first = 4_000_000_000 + secrets.randbelow(10**6) * 1000
                for diner in range(first, first + args.diners):
                    await client.add_user(diner, f"Diner{diner % 1000}")
                    before = len(await client.inbox(diner))
                    await client.open(diner, link)
                    welcome = await client.reply_after(diner, before)
                    before = len(await client.inbox(diner))
                    await client.press(diner, welcome["message_id"], button_data(welcome, "Pay"))
                    await client.reply_after(diner, before)
                    invoice = await client.say(diner, "86.50")
                    before = len(await client.inbox(diner))
                    await client.pay(diner, invoice["message_id"])
                    # the receipt, the member card and the consent question
                    await client.wait_for(diner, partial(has_more, than=before + 2))
                    await asyncio.sleep(0.2)  # the last handler's own writes after its replies
    total = 0.0
    print(f"statements per update, {args.diners} new diners, {url.split(':', 1)[0]}:")
    for kind, counts in counter.per_kind.items():
        mean = sum(counts) / len(counts)
        total += mean
        print(f"  {kind:<20} {mean:5.1f}   (min {min(counts)}, max {max(counts)})")
    print(f"RESULT bench=statements per_journey={total:.1f} per_update={total / 5:.1f}")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.statements", description=__doc__)
    parser.add_argument("--diners", type=int, default=5)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--show", action="store_true", help="print every statement")
    parser.add_argument(
        "--checkouts", action="store_true", help="count connection checkouts as statements too"
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(asyncio.run(main(parse_args())))
