"""Run the Bot API emulator alone: ``python -m sandbox --port 8081``.

Point a bot at it with ``TELEGRAM_API_URL=<printed URL>`` and the printed token, then act as
people through the control API (``/sandbox/...``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from aiohttp import web

from sandbox.emulator import BotAPIEmulator


def _person(value: str) -> tuple[int, str]:
    user_id, _, name = value.partition(":")
    if not user_id.isdigit() or not name:
        raise argparse.ArgumentTypeError("expected ID:NAME, for example 1001:Anna")
    return int(user_id), name


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox", description="A local stand-in for the Telegram Bot API."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default=None, help="bot token (default: a random one)")
    parser.add_argument("--username", default="RegularsSandboxBot")
    parser.add_argument("--first-name", default="Regulars")
    parser.add_argument(
        "--user",
        action="append",
        type=_person,
        default=[],
        metavar="ID:NAME",
        help="create a person (repeatable)",
    )
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    host_in_url = f"[{args.host}]" if ":" in args.host else args.host
    emulator = BotAPIEmulator(
        token=args.token,
        username=args.username,
        first_name=args.first_name,
        public_url=f"http://{host_in_url}:{args.port}" if args.port else "",
    )
    for user_id, name in args.user:
        emulator.add_user(id=user_id, first_name=name)
    runner = web.AppRunner(emulator.build_app(), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, args.host, args.port)
        await site.start()
        port = runner.addresses[0][1] if runner.addresses else args.port
        base = f"http://{host_in_url}:{port}"
        print(f"Bot API emulator: {base}", flush=True)
        print(f"token: {emulator.token}", flush=True)
        print(f"bot:   @{emulator.username} (id {emulator.bot_id})", flush=True)
        print(f"e.g.   TELEGRAM_API_URL={base} BOT_TOKEN={emulator.token}", flush=True)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))


if __name__ == "__main__":
    main()
