"""Update delivery: getUpdates (offsets, long polls, conflicts), webhooks, redelivery."""

from __future__ import annotations

import asyncio
import time

from tests.sandbox.conftest import ALICE, Receiver, Server, ServerFactory


async def test_offset_limit_and_confirmation(server: Server) -> None:
    said = [await server.user_says(ALICE, f"m{i}") for i in range(5)]
    ids = [s["update_id"] for s in said]
    assert ids == list(range(ids[0], ids[0] + 5))

    first_two = await server.updates(limit=2)
    assert [u["update_id"] for u in first_two] == ids[:2]
    message = first_two[0]["message"]
    assert message["text"] == "m0"
    assert message["from"]["id"] == ALICE
    assert message["chat"]["type"] == "private"
    # Not confirmed yet: asking again gives the same updates.
    assert [u["update_id"] for u in await server.updates(limit=2)] == ids[:2]
    # An offset confirms everything below it.
    assert [u["update_id"] for u in await server.updates(offset=ids[3])] == ids[3:]
    # A negative offset keeps only the last updates of the queue.
    await server.user_says(ALICE, "m5")
    last = await server.updates(offset=-1)
    assert [u["message"]["text"] for u in last] == ["m5"]
    assert [u["message"]["text"] for u in await server.updates()] == ["m5"]
    await server.updates(offset=last[0]["update_id"] + 1)
    assert await server.updates() == []


async def test_long_poll_returns_early_or_after_timeout(server: Server) -> None:
    started = time.monotonic()
    assert await server.updates(timeout=0.3) == []
    assert time.monotonic() - started >= 0.25

    async def say_later() -> None:
        await asyncio.sleep(0.2)
        await server.user_says(ALICE, "wake up")

    task = asyncio.create_task(say_later())
    started = time.monotonic()
    updates = await server.updates(timeout=10)
    assert time.monotonic() - started < 5
    assert [u["message"]["text"] for u in updates] == ["wake up"]
    await task


async def test_bot_commands_get_entities(server: Server) -> None:
    await server.user_says(ALICE, "/start now, then /help@RegularsSandboxBot — not a/path 😀 /menu")
    (update,) = await server.drain()
    entities = update["message"]["entities"]
    assert entities == [
        {"type": "bot_command", "offset": 0, "length": 6},
        {"type": "bot_command", "offset": 17, "length": 24},
        {"type": "bot_command", "offset": 58, "length": 5},
    ]


async def test_second_get_updates_terminates_the_first(server: Server) -> None:
    polls_before = server.emulator.stats()["calls"].get("getUpdates", 0)
    first = asyncio.create_task(server.call("getUpdates", timeout=10))
    for _ in range(500):  # until the first long poll is waiting in the emulator
        if server.emulator.stats()["calls"].get("getUpdates", 0) > polls_before:
            break
        await asyncio.sleep(0.01)
    second = asyncio.create_task(server.call("getUpdates", timeout=0.2))
    status, body = await first
    assert status == 409
    assert body["description"] == (
        "Conflict: terminated by other getUpdates request; "
        "make sure that only one bot instance is running"
    )
    assert (await second)[0] == 200


async def test_get_updates_conflicts_with_webhook(server: Server, receiver: Receiver) -> None:
    assert await server.ok("setWebhook", url=receiver.url) is True
    status, description = await server.error("getUpdates")
    assert status == 409
    assert description == (
        "Conflict: can't use getUpdates method while webhook is active; "
        "use deleteWebhook to delete the webhook first"
    )
    status, body = await server.call("deleteWebhook")
    assert body == {"ok": True, "result": True, "description": "Webhook was deleted"}
    assert await server.updates() == []


async def test_webhook_delivery_with_secret_retry_and_reply_method(
    make_server: ServerFactory, receiver: Receiver
) -> None:
    srv = await make_server(webhook_retry_delay=0.05)
    srv.emulator.add_user(ALICE, "Alice")
    status, body = await srv.call(
        "setWebhook", url=receiver.url, secret_token="s3cr3t_-X", max_connections=5
    )
    assert status == 200
    assert body["description"] == "Webhook was set"

    receiver.script = [
        (500, {"error": "boom"}),
        (
            200,
            {"method": "sendMessage", "chat_id": ALICE, "text": "answered in the webhook reply"},
        ),
    ]
    said = await srv.user_says(ALICE, "hi")
    await receiver.wait_for(2)
    (headers1, first), (headers2, second) = receiver.requests[:2]
    assert headers2["X-Telegram-Bot-Api-Secret-Token"] == "s3cr3t_-X"
    assert first == second
    assert first["update_id"] == said["update_id"]
    assert headers1["X-Telegram-Bot-Api-Secret-Token"] == "s3cr3t_-X"

    for _ in range(100):
        if srv.emulator.inbox(ALICE):
            break
        await asyncio.sleep(0.02)
    assert [m["text"] for m in srv.emulator.inbox(ALICE)] == ["answered in the webhook reply"]

    info = await srv.ok("getWebhookInfo")
    assert info["url"] == receiver.url
    assert info["pending_update_count"] == 0
    assert info["max_connections"] == 5
    assert info["has_custom_certificate"] is False
    assert info["last_error_message"].startswith("Wrong response from the webhook: 500")
    assert isinstance(info["last_error_date"], int)


async def test_webhook_keeps_updates_pending_while_failing(
    make_server: ServerFactory, receiver: Receiver
) -> None:
    srv = await make_server(webhook_retry_delay=5)
    srv.emulator.add_user(ALICE, "Alice")
    receiver.script = [(503, None)]
    await srv.ok("setWebhook", url=receiver.url)
    await srv.user_says(ALICE, "one")
    await srv.user_says(ALICE, "two")
    await receiver.wait_for(1)
    await asyncio.sleep(0.1)
    # Updates for one person are delivered in order: "two" waits behind the failed "one".
    assert len(receiver.requests) == 1
    info = await srv.ok("getWebhookInfo")
    assert info["pending_update_count"] == 2
    assert "503" in info["last_error_message"]
    # Switching back to getUpdates hands the pending updates over.
    await srv.ok("deleteWebhook")
    assert [u["message"]["text"] for u in await srv.updates()] == ["one", "two"]


async def test_webhook_validation(server: Server) -> None:
    assert (await server.error("setWebhook", url="ftp://example.com/hook"))[0] == 400
    _, description = await server.error(
        "setWebhook", url="http://127.0.0.1:9/hook", secret_token="has space"
    )
    assert description == "Bad Request: secret token contains unallowed characters"
    info = await server.ok("getWebhookInfo")
    assert info == {"url": "", "has_custom_certificate": False, "pending_update_count": 0}


async def test_redeliver_puts_the_same_update_back(server: Server) -> None:
    said = await server.user_says(ALICE, "pay me once")
    (original,) = await server.drain()
    assert await server.updates() == []
    status, body = await server.post("/sandbox/redeliver", {"update_id": said["update_id"]})
    assert (status, body) == (200, {"update_id": said["update_id"]})
    # Delivered again although the bot already confirmed a higher offset.
    again = await server.updates(offset=said["update_id"] + 1)
    assert again == [original]
    await server.updates(offset=said["update_id"] + 1)
    assert await server.updates() == []
    status, body = await server.post("/sandbox/redeliver", {"update_id": 1})
    assert status == 404


async def test_allowed_updates_filters_new_updates(server: Server) -> None:
    await server.updates(allowed_updates=["callback_query"])
    await server.user_says(ALICE, "ignored")
    assert await server.updates() == []
    await server.updates(allowed_updates=[])
    await server.user_says(ALICE, "seen")
    assert [u["message"]["text"] for u in await server.drain()] == ["seen"]
    assert server.emulator.stats()["updates"] >= 3


async def test_set_webhook_can_drop_pending_updates(server: Server, receiver: Receiver) -> None:
    receiver.script = [(500, None)] * 50
    await server.user_says(ALICE, "old news")
    status, body = await server.call(
        "setWebhook", url=receiver.url, drop_pending_updates=True, allowed_updates=["message"]
    )
    assert body["description"] == "Webhook was set"
    info = await server.ok("getWebhookInfo")
    assert info["pending_update_count"] == 0
    assert info["allowed_updates"] == ["message"]
    status, body = await server.call("setWebhook", url=receiver.url, allowed_updates=["message"])
    assert status == 200
    assert body["description"] == "Webhook is already set"
    assert receiver.requests == []
