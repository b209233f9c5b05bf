"""Intake benchmark: many diners checking in and paying at once, through the bot's webhook.

Every diner opens a table link, taps Pay, sends the bill amount and pays the invoice: five
updates (the payment is a pre-checkout query and then `successful_payment`). The emulator
(``sandbox/``, in this process) delivers them to the bot's webhook over HTTP, as Telegram does;
the bot runs as its own process (``regulars run`` in webhook mode) and answers through the
emulator's Bot API. The latency of a step is the time from the diner's action to the bot's
first message or edit in that chat.

In the same run, the same load goes to a bare aiogram bot (``bench/bare_bot.py``) whose
handlers only answer: the framework's own ceiling. The figure that matters is the ratio.

    .venv/bin/python -m bench.intake                    # SQLite and PostgreSQL
    .venv/bin/python -m bench.intake --db sqlite --diners 100 --concurrency 50

To profile the bot, set INTAKE_BOT_COMMAND to what should run instead of ``regulars`` (it gets
``run`` appended), e.g. ``".venv/bin/python -m cProfile -o /tmp/bot.prof -m bot.cli"``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import secrets
import shlex
import signal
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from sandbox.client import button_data
from sandbox.emulator import BotAPIEmulator

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
PG_BENCH_DB = "regulars_bench_intake"
FIRST_DINER = 3_000_001
TABLES = 20
WARM_UP = 10
PAY_LABEL = "Pay"  # both bots' check-in replies carry a button with this in its label
STEP_NAMES = ("check-in", "pay button", "amount", "payment")
UPDATES_PER_DINER = 5
REPLY_TIMEOUT = 30.0


@dataclass
class Run:
    target: str
    db: str
    diners: int
    seconds: float = 0.0
    bot_cpu_seconds: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STEP_NAMES})
    failures: list[str] = field(default_factory=list)
    api_calls: dict[str, int] = field(default_factory=dict)
    """Bot API calls the bot made during the measure, by method."""

    @property
    def all_latencies(self) -> list[float]:
        return [value for values in self.latencies.values() for value in values]

    @property
    def updates_per_second(self) -> float:
        done = self.diners - len(self.failures)
        return done * UPDATES_PER_DINER / self.seconds if self.seconds else 0.0


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def emulator_server(token: str) -> AsyncIterator[tuple[BotAPIEmulator, str]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    emulator = BotAPIEmulator(token=token, username="RegularsBenchBot", public_url=url)
    runner = web.AppRunner(emulator.build_app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield emulator, url
    finally:
        await runner.cleanup()


async def reset_postgres(name: str = PG_BENCH_DB) -> str:
    """A fresh, empty PostgreSQL database for a benchmark; returns its SQLAlchemy URL."""
    import asyncpg  # type: ignore[import-untyped]  # the app's own PostgreSQL driver

    connection = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await connection.execute(f"CREATE DATABASE {name}")
    finally:
        await connection.close()
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


async def run_command(*argv: str, env: dict[str, str]) -> str:
    process = await asyncio.create_subprocess_exec(
        *argv, env=env, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{shlex.join(argv)} failed: {err.decode()[-2000:]}")
    return out.decode()


@contextlib.asynccontextmanager
async def bot_process(
    argv: list[str], env: dict[str, str], log: Path
) -> AsyncIterator[Callable[[], float]]:
    """Run the bot; yields a function giving the CPU seconds it has used so far."""
    with log.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            *argv, env=env, cwd=ROOT, stdout=sink, stderr=asyncio.subprocess.STDOUT
        )

        def cpu_seconds() -> float:
            """CPU seconds the bot has used so far (its pid is cpu_seconds.pid)."""
            try:
                fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # not Linux
                return float("nan")
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

        cpu_seconds.pid = process.pid  # type: ignore[attr-defined]
        try:
            yield cpu_seconds
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGINT)
                try:
                    await asyncio.wait_for(process.wait(), 20)
                except TimeoutError:
                    process.kill()
                    await process.wait()


async def wait_for_webhook(emulator: BotAPIEmulator, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not emulator.stats()["calls"].get("setWebhook"):
        if time.monotonic() > deadline:
            output = await asyncio.to_thread(log.read_text)
            raise RuntimeError(f"the bot did not set its webhook; its log:\n{output}")
        await asyncio.sleep(0.1)


async def journey(emulator: BotAPIEmulator, run: Run, diner: int, link: str) -> None:
    async def step(name: str, action: Any) -> dict[str, Any]:
        since = emulator.chat_version(diner)
        started = time.perf_counter()
        await action
        reply = await emulator.wait_reply(diner, since, REPLY_TIMEOUT)
        if reply is None:
            raise RuntimeError(f"no reply to {name}")
        run.latencies[name].append(time.perf_counter() - started)
        return reply

    try:
        welcome = await step("check-in", emulator.open(diner, link))
        pay = button_data(welcome, PAY_LABEL)
        await step("pay button", emulator.press(diner, welcome["message_id"], pay))
        invoice = await step("amount", emulator.send(diner, "86.50"))
        if not invoice.get("invoice"):
            raise RuntimeError(f"expected an invoice, got {invoice.get('text')!r}")
        await step("payment", emulator.pay(diner, invoice["message_id"]))
    except Exception as exc:  # a failed diner is reported, not fatal
        run.failures.append(f"diner {diner}: {exc}")


async def drive(
    emulator: BotAPIEmulator,
    run: Run,
    links: list[str],
    concurrency: int,
    bot_cpu: Callable[[], float],
) -> None:
    # Warm-up, not measured: first connections, compiled catalogues, the bot's caches.
    warm_up = Run(target=run.target, db=run.db, diners=WARM_UP)
    for diner in range(FIRST_DINER - WARM_UP, FIRST_DINER):
        emulator.add_user(id=diner, first_name=f"Guest{diner % 10_000}", language_code="en")
        await journey(emulator, warm_up, diner, links[diner % len(links)])
    if warm_up.failures:
        raise RuntimeError(f"warm-up failed: {warm_up.failures[0]}")
    diners = [FIRST_DINER + i for i in range(run.diners)]
    for diner in diners:
        emulator.add_user(id=diner, first_name=f"Diner{diner % 10_000}", language_code="en")
    gate = asyncio.Semaphore(concurrency)

    async def one(index: int, diner: int) -> None:
        async with gate:
            await journey(emulator, run, diner, links[index % len(links)])

    started, cpu_before = time.perf_counter(), bot_cpu()
    calls_before = emulator.stats()["calls"]
    await asyncio.gather(*(one(i, d) for i, d in enumerate(diners)))
    run.seconds = time.perf_counter() - started
    run.bot_cpu_seconds = bot_cpu() - cpu_before
    calls_after = emulator.stats()["calls"]
    run.api_calls = {
        method: count - calls_before.get(method, 0)
        for method, count in calls_after.items()
        if count > calls_before.get(method, 0)
    }


def base_env() -> dict[str, str]:
    keep = {"PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH", "VIRTUAL_ENV", "TMPDIR"}
    return {key: value for key, value in os.environ.items() if key in keep}


async def run_regulars(db: str, diners: int, concurrency: int, workdir: Path) -> Run:
    token = f"{secrets.randbelow(10**9)}:{secrets.token_urlsafe(26)}"
    run = Run(target="regulars", db=db, diners=diners)
    if db == "postgres":
        await reset_postgres()
        database_url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{PG_BENCH_DB}"
    else:
        database_url = f"sqlite+aiosqlite:///{workdir / 'intake.sqlite3'}"
    http_port = free_port()
    async with emulator_server(token) as (emulator, api_url):
        env = base_env() | {
            "BOT_TOKEN": token,
            "TELEGRAM_API_URL": api_url,
            "DATABASE_URL": database_url,
            "SECRET_KEY": secrets.token_urlsafe(32),
            "PAYMENT_PROVIDER_TOKEN": "284685063:TEST:bench",
            "WEBHOOK_URL": f"http://127.0.0.1:{http_port}/telegram/webhook",
            "HTTP_PORT": str(http_port),
            "HTTP_HOST": "127.0.0.1",
            "LOG_LEVEL": "WARNING",
            # The emulator here has no flood limits and this measures the bot's own work: lift
            # the shared send budget (25/s by default, Telegram's pace) out of the way.
            "OUTBOX_RATE": "1000",
            "PAID_BROADCAST": "true",
        }
        regulars = str(Path(sys.executable).with_name("regulars"))
        printed = await run_command(
            regulars, "qr", "tables", "--store", "1", "--tables", f"1-{TABLES}",
            "--out", str(workdir / f"tables-{db}"), env=env,
        )  # fmt: skip
        links = [line.split()[2] for line in printed.splitlines() if line.startswith("table ")]
        if len(links) != TABLES:
            raise RuntimeError(f"`regulars qr tables` printed {printed!r}")
        log = workdir / f"regulars-{db}.log"
        command = shlex.split(os.environ.get("INTAKE_BOT_COMMAND", "")) or [regulars]
        async with bot_process([*command, "run"], env, log) as cpu:
            await wait_for_webhook(emulator, log)
            await drive(emulator, run, links, concurrency, cpu)
    return run


async def run_bare(diners: int, concurrency: int, workdir: Path) -> Run:
    token = f"{secrets.randbelow(10**9)}:{secrets.token_urlsafe(26)}"
    run = Run(target="bare-aiogram", db="-", diners=diners)
    http_port = free_port()
    async with emulator_server(token) as (emulator, api_url):
        env = base_env() | {"BARE_BOT_TOKEN": token, "BARE_API_URL": api_url}
        env["BARE_WEBHOOK_URL"] = f"http://127.0.0.1:{http_port}/webhook"
        env["BARE_PORT"] = str(http_port)
        links = [f"https://t.me/RegularsBenchBot?start=table{n}" for n in range(1, TABLES + 1)]
        log = workdir / "bare.log"
        async with bot_process([sys.executable, "-m", "bench.bare_bot"], env, log) as cpu:
            await wait_for_webhook(emulator, log)
            await drive(emulator, run, links, concurrency, cpu)
    return run


def report(run: Run) -> None:
    values = run.all_latencies
    print(
        f"RESULT bench=intake target={run.target} db={run.db} diners={run.diners} "
        f"updates={(run.diners - len(run.failures)) * UPDATES_PER_DINER} "
        f"seconds={run.seconds:.2f} updates_per_s={run.updates_per_second:.1f} "
        f"p50_ms={percentile(values, 0.5) * 1000:.1f} p99_ms={percentile(values, 0.99) * 1000:.1f} "
        f"bot_cpu_s={run.bot_cpu_seconds:.2f} failures={len(run.failures)}",
        flush=True,
    )
    for name in STEP_NAMES:
        steps = run.latencies[name]
        print(
            f"  {name:<11} p50 {percentile(steps, 0.5) * 1000:7.1f} ms   "
            f"p99 {percentile(steps, 0.99) * 1000:7.1f} ms",
            flush=True,
        )
    journeys = max(1, run.diners - len(run.failures))
    calls = ", ".join(f"{m} {n / journeys:.1f}" for m, n in sorted(run.api_calls.items()))
    print(f"  Bot API calls per diner: {calls}", flush=True)
    for failure in run.failures[:5]:
        print(f"  failed: {failure}", flush=True)


async def main(args: argparse.Namespace) -> int:
    print(f"command: {shlex.join([sys.executable, '-m', 'bench.intake', *sys.argv[1:]])}")
    print(
        f"machine: {platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.platform()}"
    )
    print(f"diners={args.diners} concurrency={args.concurrency} updates/diner={UPDATES_PER_DINER}")
    failed = False
    with tempfile.TemporaryDirectory(prefix="regulars-intake-") as tmp:
        workdir = Path(tmp)
        bare = await run_bare(args.diners, args.concurrency, workdir)
        report(bare)
        failed |= bool(bare.failures)
        for db in args.db:
            run = await run_regulars(db, args.diners, args.concurrency, workdir)
            report(run)
            failed |= bool(run.failures)
            ratio = run.updates_per_second / bare.updates_per_second
            verdict = "meets" if ratio >= 0.5 else "BELOW"
            print(
                f"RESULT bench=intake ratio db={db} regulars/bare={ratio:.2f} "
                f"({verdict} the target of 0.50)",
                flush=True,
            )
    return 1 if failed else 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.intake", description=__doc__)
    parser.add_argument("--diners", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument(
        "--db", choices=("sqlite", "postgres"), action="append", help="default: both"
    )
    args = parser.parse_args(argv)
    args.db = args.db or ["sqlite", "postgres"]
    return args


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(asyncio.run(main(parse_args())))
