"""`regulars` command line: run, demo, db, qr, policy, members, simulate."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from aiogram.exceptions import TelegramAPIError

from bot import members_cli
from bot.config import ConfigError, RunMode, Settings, ensure_sandbox_secret, load_settings
from bot.demo import run_demo
from bot.factory import build_bot
from bot.live_run import run_live
from bot.pos_keys import new_pos_key
from bot.sandbox_run import sandbox
from loyalty.clock import SystemClock
from loyalty.policy import DEFAULT_PRESET, PolicyError, load_policy
from loyalty.policy_toml import policy_to_toml
from loyalty.qr import QRSigner, TablePayload, deep_link
from loyalty.stores import ensure_default_store
from models import queries
from models.db import create_engine, create_session_factory
from models.migrate import current_revision, head_revision, upgrade
from simulator import cli as simulator_cli
from ui.images import (
    DEFAULT_CAPTION,
    DEFAULT_LABEL,
    SANDBOX_BOT_USERNAME,
    parse_table_numbers,
    write_table_codes,
)
from ui.locales import CatalogueError, check_catalogues

EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="regulars", description="Regulars: a Telegram membership assistant for restaurants."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "run",
        help="run the bot: sandbox without BOT_TOKEN, long polling with it, webhook with "
        "WEBHOOK_URL",
    )
    demo = commands.add_parser("demo", help="a scripted story through the bot and the emulator")
    demo.add_argument("--quiet", action="store_true", help="print only the final counts")
    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply migrations up to the newest")
    db_commands.add_parser("current", help="print the schema revision")
    _add_qr_parser(commands)
    policy = commands.add_parser("policy", help="the policy file: tiers, limits, campaigns")
    policy_commands = policy.add_subparsers(dest="policy_command", required=True)
    check = policy_commands.add_parser(
        "check", help="check a policy file: exit 0, or 2 with what is wrong"
    )
    check.add_argument("file", type=Path)
    policy_commands.add_parser(
        "show", help="print the policy in force (POLICY_FILE, else the default preset) as TOML"
    )
    pos = commands.add_parser("pos", help="the POS API")
    pos.add_subparsers(dest="pos_command", required=True).add_parser(
        "key",
        help="print a new POS_API_SECRET created with timestamps (requests must carry "
        "X-Regulars-Timestamp: replays are refused)",
    )
    members = commands.add_parser("members", help="the lifecycle engine: tiers, rhythm, due dates")
    member_commands = members.add_subparsers(dest="members_command", required=True)
    explain = member_commands.add_parser(
        "explain", help="why a member has their tier, interval and due dates"
    )
    explain.add_argument("member_id", type=int)
    refresh = member_commands.add_parser(
        "refresh", help="run the nightly refresh now (cohort norms, tiers, due dates)"
    )
    refresh.add_argument("--batch-size", type=int, default=20_000)
    for sub in (explain, refresh):
        sub.add_argument("--at", help="as of this ISO time instead of now (e.g. 2026-11-23T10:00Z)")
    simulator_cli.add_parser(commands)
    return parser


def _policy_check(file: Path) -> int:
    """`regulars policy check FILE`: needs no settings, so a file can be checked anywhere."""
    try:
        policy = load_policy(file)
    except PolicyError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_CONFIG
    tiers = ", ".join(rung.name for rung in policy.tiers.ladder)
    print(f"{file}: ok (policy {policy.name!r}; tiers {tiers})")
    return 0


def _policy_show(settings: Settings) -> None:
    """`regulars policy show`: the policy in force (settings validated POLICY_FILE already)."""
    file = settings.policy_file
    source = str(file) if file else f"preset {DEFAULT_PRESET!r}"
    print(policy_to_toml(load_policy(file), source=source), end="")


def _add_qr_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    qr = commands.add_parser("qr", help="printable QR codes")
    qr_commands = qr.add_subparsers(dest="qr_command", required=True)
    tables = qr_commands.add_parser(
        "tables",
        help="a printable code per table (table-<n>.png, table-<n>.svg) and tables-sheet.pdf; "
        "prints `table <n> <deep link>` per table",
    )
    tables.add_argument("--store", required=True, help="the store's id (the default store is 1)")
    tables.add_argument("--tables", required=True, help='table numbers: "1-30" or "1,2,5-7"')
    tables.add_argument("--out", required=True, type=Path, help="directory to write the files to")
    tables.add_argument("--label", help='the word before the number (default "Table"; e.g. "桌")')
    tables.add_argument(
        "--caption",
        help='the line under it (default "Scan to check in · pay here to become a member")',
    )


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _run(settings: Settings) -> None:
    stop = _stop_event()
    if settings.mode is RunMode.SANDBOX:
        async with sandbox(settings) as run:
            print(f"Regulars sandbox: open {run.url} in your browser", flush=True)
            print(f"(emulated Telegram Bot API at {run.url}/bot<token>/; Ctrl+C stops)", flush=True)
            await stop.wait()
    else:
        await run_live(settings, stop)


async def _db(settings: Settings, command: str) -> None:
    engine = create_engine(settings.effective_database_url)
    try:
        if command == "upgrade":
            await upgrade(engine)
        print(f"schema at {await current_revision(engine)} (newest: {head_revision()})")
    finally:
        await engine.dispose()


class _QRTablesError(Exception):
    """`regulars qr tables` cannot go on; the message is one line for the person at the shell."""


async def _bot_username(settings: Settings) -> str:
    if settings.bot_token is None:
        return SANDBOX_BOT_USERNAME
    bot = build_bot(settings.bot_token.get_secret_value(), settings.telegram_api_url)
    try:
        me = await bot.get_me()
    except (TelegramAPIError, OSError) as exc:
        raise _QRTablesError(f"could not ask Telegram for the bot's username: {exc}") from None
    finally:
        await bot.session.close()
    if not me.username:
        raise _QRTablesError("Telegram reports no username for this bot")
    return me.username


async def _qr_tables_store(settings: Settings, store_id: int, numbers: list[int]) -> str:
    """Record the store's tables; the store's name. The default store exists from the start."""
    clock = SystemClock()
    engine = create_engine(settings.effective_database_url)
    try:
        await upgrade(engine)
        async with create_session_factory(engine)() as session, session.begin():
            await ensure_default_store(
                session,
                name=settings.store_name,
                timezone=settings.store_timezone,
                currency=settings.store_currency,
                now=clock.now(),
            )
            store = await queries.get_store(session, store_id=store_id)
            if store is None:
                raise _QRTablesError(f"--store {store_id}: there is no such store")
            await queries.ensure_tables(
                session, store_id=store_id, numbers=numbers, now=clock.now()
            )
            return store.name
    finally:
        await engine.dispose()


def _qr_tables(settings: Settings, args: argparse.Namespace) -> None:
    store_text = str(args.store).strip()
    if not store_text.isascii() or not store_text.isdigit() or int(store_text) < 1:
        raise _QRTablesError(f"--store {args.store!r} is not a store id (a number such as 1)")
    store_id = int(store_text)
    try:
        numbers = parse_table_numbers(args.tables)
    except ValueError as exc:
        raise _QRTablesError(f"--tables {exc}") from None
    out_dir: Path = args.out
    if out_dir.exists() and not out_dir.is_dir():
        raise _QRTablesError(f"--out {str(out_dir)!r} is a file, not a directory")

    username = asyncio.run(_bot_username(settings))
    store_name = asyncio.run(_qr_tables_store(settings, store_id, numbers))
    signer = QRSigner.from_secret(settings.secret())
    links = {
        n: deep_link(username, signer.sign(TablePayload(store_id=store_id, table=n)))
        for n in numbers
    }
    try:
        write_table_codes(
            out_dir,
            links,
            store_name=store_name,
            label=DEFAULT_LABEL if args.label is None else args.label,
            caption=DEFAULT_CAPTION if args.caption is None else args.caption,
        )
    except OSError as exc:
        raise _QRTablesError(f"--out {str(out_dir)!r}: {exc.strerror or exc}") from None
    for n, link in links.items():
        print(f"table {n} {link}")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "simulate":  # needs no settings: its databases are its own
        logging.basicConfig(level=logging.WARNING)
        return simulator_cli.run(args, list(sys.argv[1:] if argv is None else argv))
    if args.command == "policy" and args.policy_command == "check":
        return _policy_check(args.file)
    if args.command == "pos":  # needs no settings: a key is made before it is configured
        print(new_pos_key())
        return 0
    try:
        settings = load_settings()
        if args.command in {"run", "demo", "qr"} and settings.mode is RunMode.SANDBOX:
            settings = ensure_sandbox_secret(settings)
        if args.command in {"run", "demo"}:
            check_catalogues()
    except (ConfigError, CatalogueError) as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_CONFIG
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("aiogram.event").setLevel(max(logging.WARNING, logging.root.level))
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    if args.command == "run":
        asyncio.run(_run(settings))
        return 0
    if args.command == "demo":
        if settings.log_level == "INFO":  # the transcript is the output; keep the log for trouble
            logging.getLogger().setLevel(logging.WARNING)

        return asyncio.run(run_demo(settings, quiet=args.quiet))
    if args.command == "policy":
        _policy_show(settings)
        return 0
    if args.command == "qr":
        if settings.log_level == "INFO":  # the lines printed are the output
            logging.getLogger().setLevel(logging.WARNING)
        try:
            _qr_tables(settings, args)
        except _QRTablesError as exc:
            print(f"regulars qr tables: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        return 0
    if args.command == "members":
        return _members(settings, args)
    asyncio.run(_db(settings, args.db_command))
    return 0


def _members(settings: Settings, args: argparse.Namespace) -> int:
    if settings.log_level == "INFO":  # the lines printed are the output
        logging.getLogger().setLevel(logging.WARNING)
    try:
        now = members_cli.parse_at(args.at)
        if args.members_command == "explain":
            print(asyncio.run(members_cli.explain(settings, member_id=args.member_id, now=now)))
        else:
            if args.batch_size < 1:
                raise members_cli.MembersCLIError("--batch-size must be at least 1")
            print(
                asyncio.run(members_cli.refresh_now(settings, now=now, batch_size=args.batch_size))
            )
    except members_cli.MembersCLIError as exc:
        print(f"regulars members {args.members_command}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
