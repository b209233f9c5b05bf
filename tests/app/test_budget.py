"""The shared send budget: a diner's reply goes before the broadcast waiting for the same slots,
the outbox still gets every slot nobody else wants, one message a second per chat."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from bot.config import Settings
from bot.sandbox_run import SandboxRun
from loyalty import outbox
from sandbox.client import SandboxClient
from scheduler.delivery import RateBudget
from tests.app.test_delivery import FIRST, at_noon, broadcast, members

DINER = 1_000_101  # Dana, of the sandbox cast: not in the broadcast
BROADCAST = 20
GREETING = "new dishes"


# -- the budget alone: who gets the slots, in what order --------------------------------------


async def _take(
    budget: RateBudget, name: str, got: list[str], chat_id: int | None = None, reply: bool = False
) -> None:
    """Take a slot, note who got it, and let Telegram answer at once."""
    async with budget.sending(chat_id, reply=reply):
        got.append(name)


async def _until(got: list[str], count: int) -> None:
    for _ in range(2000):
        if len(got) >= count:
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"only {got} got a slot")


async def test_a_reply_takes_the_next_slot_ahead_of_the_queued_outbox() -> None:
    budget = RateBudget(41)  # a slot every 25 ms
    got: list[str] = []
    sends = [
        asyncio.create_task(_take(budget, f"outbox{i}", got, chat_id=100 + i)) for i in range(8)
    ]
    await _until(got, 2)
    ahead = len(got)
    reply = asyncio.create_task(_take(budget, "reply", got, reply=True))
    await asyncio.sleep(0)
    # outbox sends that ask after the reply, before the next slot, still come after it
    sends += [
        asyncio.create_task(_take(budget, f"outbox{i}", got, chat_id=100 + i)) for i in range(8, 12)
    ]
    await asyncio.gather(*sends, reply)
    assert got.index("reply") == ahead, got  # the very next slot
    assert [name for name in got if name != "reply"] == [f"outbox{i}" for i in range(12)]


async def test_with_no_replies_the_outbox_has_every_slot_first_come_first_served() -> None:
    budget = RateBudget(101)
    got: list[str] = []
    await asyncio.gather(*(_take(budget, f"o{i}", got, chat_id=i) for i in range(30)))
    assert got == [f"o{i}" for i in range(30)]


async def test_one_message_a_second_per_chat_does_not_hold_up_other_chats() -> None:
    budget = RateBudget(101)
    got: list[str] = []
    first = asyncio.create_task(_take(budget, "a1", got, chat_id=1))
    await _until(got, 1)
    again = asyncio.create_task(_take(budget, "a2", got, chat_id=1))  # must wait a second
    others = [asyncio.create_task(_take(budget, f"b{i}", got, chat_id=10 + i)) for i in range(5)]
    await asyncio.gather(first, again, *others)
    assert got == ["a1", "b0", "b1", "b2", "b3", "b4", "a2"]


async def test_a_waiter_that_gives_up_leaves_its_place_to_the_next() -> None:
    budget = RateBudget(5)  # a slot every 200 ms
    got: list[str] = []
    await budget.acquire(chat_id=1)  # a late slot and the slot in hand: the next ones wait
    await budget.acquire(chat_id=2)
    gone = asyncio.create_task(_take(budget, "gone", got, reply=True))
    stays = asyncio.create_task(_take(budget, "stays", got, chat_id=3))
    await asyncio.sleep(0)
    gone.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await gone
    await stays
    assert got == ["stays"]


async def test_sends_not_answered_yet_and_answered_within_a_second_fill_the_window() -> None:
    """However late a send reaches Telegram, the window it may land in never holds more than
    the limit: a send counts from its grant until a second after its answer."""
    budget = RateBudget(4)
    for chat in range(4):  # four sends on their way, none answered
        await budget.acquire(chat)
    fifth = asyncio.create_task(budget.acquire(99))
    await asyncio.sleep(1.5)  # the pacing alone would have granted it long ago
    assert not fifth.done(), "a fifth send went out while four were on their way"
    budget.release(0)  # one answered now: it still counts for the next second
    await asyncio.sleep(0.6)
    assert not fifth.done(), "the fifth went out less than a second after the answer it waited for"
    await asyncio.wait_for(fifth, 2)
    budget.release(99)


# -- through the emulator: a diner's command during a broadcast -------------------------------


@pytest.fixture
def sandbox_settings(sandbox_settings: Settings) -> Settings:
    """A budget of 5 messages a second that the broadcast alone keeps full."""
    return sandbox_settings.model_copy(update={"outbox_rate": 5})


async def _delivered(client: SandboxClient) -> int:
    stats = await client.stats()
    return int(stats["calls"].get("sendMessage", 0))


async def test_a_diners_reply_overtakes_the_broadcast_queued_ahead_of_it(
    run: SandboxRun, client: SandboxClient
) -> None:
    await run.worker.stop()
    await at_noon(run)
    ids = await members(run, client, BROADCAST, [True])
    await broadcast(run, ids, period="rush", holdout=0.0)
    run.worker.start()  # claims the whole broadcast at once: every message waits for a slot
    for _ in range(400):
        if await _delivered(client) >= 2:
            break
        await asyncio.sleep(0.02)

    answer = await client.request(
        "POST", f"/sandbox/users/{DINER}/send", {"text": "/help", "wait_reply": 30}
    )
    assert answer["reply"] is not None, "the diner got no answer"

    for _ in range(1500):  # the rest of the broadcast goes out
        async with run.services.session_factory() as session:
            if await outbox.counts_by_status(session) == {"sent": BROADCAST}:
                break
        await asyncio.sleep(0.02)

    # The emulator's order of every message (seq): the broadcast against the command and reply.
    greetings = []
    for i in range(BROADCAST):
        [greeting] = [m for m in await client.inbox(FIRST + i) if GREETING in (m["text"] or "")]
        greetings.append(greeting["seq"])
    history = (await client.request("GET", f"/sandbox/users/{DINER}/history"))["messages"]
    command = next(m["seq"] for m in history if m.get("text") == "/help")
    reply = next(m["seq"] for m in history if m.get("from") == "bot" and m["seq"] > command)
    queued = [seq for seq in greetings if seq > command]  # still waiting when the diner asked
    overtaken = [seq for seq in queued if seq > reply]
    assert len(queued) >= BROADCAST // 2, "the broadcast was not under way when the diner asked"
    # At most the slot in hand (and one in flight) went before the reply; the rest after it.
    assert len(queued) - len(overtaken) <= 2, (len(queued), len(overtaken))
