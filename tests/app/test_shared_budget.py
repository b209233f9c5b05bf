"""Several processes on one bot token (REDIS_URL set): Telegram's limits hold for all of them
together, through the real Redis on this machine, and only one of them runs the scheduler."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from redis.asyncio import Redis

from bot.factory import build_bot, build_worker
from bot.sandbox_run import SandboxRun
from loyalty import outbox
from sandbox.client import SandboxClient
from scheduler import Job, Scheduler
from scheduler.delivery import DeliveryWorker, RateBudget
from scheduler.shared import LeaderLease, SharedWindow
from tests.app.test_delivery import FIRST, at_noon, broadcast, greetings, members

REDIS_URL = "redis://127.0.0.1:6379/14"
LIMIT = 20  # Telegram's (the emulator's) messages a second for the token, and each process's


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    try:
        yield client
    finally:
        await client.aclose()


async def two_workers_drain(run: SandboxRun, shared: SharedWindow | None) -> None:
    """Two worker processes (each its own bot session, budget and worker, as two replicas
    have) drain the outbox together, each at the full limit."""
    await run.worker.stop()  # the sandbox's own worker is not one of the two
    bots: list[Bot] = []
    workers: list[DeliveryWorker] = []
    for _ in range(2):
        budget = RateBudget(LIMIT, shared=shared)
        bot = build_bot(run.emulator.token, run.url, budget)
        bots.append(bot)
        workers.append(build_worker(bot, run.services, budget))
    for worker in workers:
        worker.start()
    try:
        for _ in range(600):
            async with run.services.session_factory() as session:
                left = await outbox.counts_by_status(session)
            if not left.get("pending") and not left.get("sending"):
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"the outbox did not drain: {left}")
    finally:
        for worker in workers:
            await worker.stop()
        for bot in bots:
            await bot.session.close()


@pytest.mark.parametrize("shared_window", [True, False])
async def test_two_processes_stay_within_the_tokens_limit_together(
    run: SandboxRun, client: SandboxClient, redis: Redis, shared_window: bool
) -> None:
    await at_noon(run)
    ids = await members(run, client, 80, [True])
    await client.request("POST", "/sandbox/limits", {"global_per_second": LIMIT})
    await broadcast(run, ids, period="two-workers", holdout=0.0)
    namespace = f"test:{secrets.token_hex(6)}"
    shared = SharedWindow(redis, namespace=namespace, per_second=LIMIT) if shared_window else None
    await two_workers_drain(run, shared)
    stats = await client.stats()
    for i in range(80):
        assert await greetings(client, FIRST + i) == 1  # every one, once
    if shared_window:
        assert stats["status_429"] == 0  # 20/s for the token, not 20/s each
    else:
        assert stats["status_429"] > 0  # the control: each alone at the limit floods Telegram


async def test_a_429_to_one_process_pauses_the_others(redis: Redis) -> None:
    namespace = f"test:{secrets.token_hex(6)}"
    first = SharedWindow(redis, namespace=namespace, per_second=100)
    second = SharedWindow(redis, namespace=namespace, per_second=100)
    await first.pause(0.6)
    loop = asyncio.get_running_loop()
    started = loop.time()
    token = await second.take()
    assert loop.time() - started >= 0.5  # it waited for the pause the other was told
    await second.give_back(token)


async def test_a_chat_sent_to_by_one_process_waits_a_second_in_the_other(redis: Redis) -> None:
    namespace = f"test:{secrets.token_hex(6)}"
    first = SharedWindow(redis, namespace=namespace, per_second=100)
    second = SharedWindow(redis, namespace=namespace, per_second=100)
    token = await first.take(chat_id=42)
    await first.give_back(token, chat_id=42)
    loop = asyncio.get_running_loop()
    started = loop.time()
    other = await second.take(chat_id=7)  # another chat: at once
    assert loop.time() - started < 0.5
    await second.give_back(other, chat_id=7)
    again = await second.take(chat_id=42)
    assert loop.time() - started >= 0.9  # a second after the first one's answer
    await second.give_back(again, chat_id=42)


async def test_only_one_process_runs_the_scheduled_jobs(run: SandboxRun, redis: Redis) -> None:
    namespace = f"test:{secrets.token_hex(6)}"
    runs: list[str] = []

    async def job(_context: object) -> dict[str, int]:
        runs.append("ran")
        return {"done": 1}

    def process() -> Scheduler:
        return Scheduler(
            context=run.scheduler.context,
            jobs=[Job("probe", run.scheduler.jobs[0].every, job)],
            leader=LeaderLease(redis, namespace=namespace, ttl_seconds=5),
        )

    first, second = process(), process()
    results = await asyncio.gather(*(p.run_job(p.jobs[0]) for p in (first, second, first, second)))
    assert runs == ["ran", "ran"]  # one process, twice
    assert results.count({"skipped": "another process leads"}) == 2
    # the leader stops cleanly: the other takes over at once
    leader, follower = (first, second) if results[0] == {"done": 1} else (second, first)
    assert leader.leader is not None
    await leader.leader.resign()
    assert await follower.run_job(follower.jobs[0]) == {"done": 1}
    assert await leader.run_job(leader.jobs[0]) == {"skipped": "another process leads"}


async def test_a_send_that_went_out_stays_sent_when_redis_fails_to_take_its_slot_back(
    redis: Redis,
) -> None:
    """Redis failing after the answer must not fail the send (the outbox would send it again);
    the slot leaves the window with its lease."""

    class Flaky(SharedWindow):
        async def give_back(self, token: str, chat_id: int | None = None) -> None:
            raise ConnectionError("Redis went away")

    budget = RateBudget(
        10, shared=Flaky(redis, namespace=f"test:{secrets.token_hex(6)}", per_second=10)
    )
    sent = False
    async with budget.sending(chat_id=5):
        sent = True
    assert sent
