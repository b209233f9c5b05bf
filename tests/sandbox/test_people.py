"""The control API: people send, open links, press buttons, pay, block; the operator's tools."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.sandbox.conftest import ALICE, BOB, Server, ServerFactory


async def next_update(server: Server, kind: str) -> dict[str, Any]:
    """Long-poll until an update of ``kind`` arrives; confirm it; return its body."""
    for _ in range(50):
        updates = await server.updates(timeout=1)
        if updates:
            await server.updates(offset=updates[-1]["update_id"] + 1)
        for update in updates:
            if kind in update:
                body: dict[str, Any] = update[kind]
                return body
    raise AssertionError(f"no {kind} update arrived")


async def send_invoice(server: Server, **extra: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "chat_id": ALICE,
        "title": "Membership",
        "description": "One year of Regulars",
        "payload": "membership:alice:2025",
        "currency": "XTR",
        "prices": [{"label": "Membership", "amount": 250}],
        "provider_token": "",
    }
    params.update(extra)
    result: dict[str, Any] = await server.ok("sendInvoice", **params)
    return result


async def test_users_are_created_listed_and_updated(server: Server) -> None:
    status, user = await server.post(
        "/sandbox/users",
        {"id": 2001, "first_name": "Carlos", "language_code": "es", "label": "Cashier"},
    )
    assert status == 200
    assert user["label"] == "Cashier"
    assert user["blocked"] is False
    status, user = await server.post("/sandbox/users", {"id": 2001, "label": "Manager"})
    assert (user["first_name"], user["label"], user["language_code"]) == (
        "Carlos",
        "Manager",
        "es",
    )
    _, listing = await server.get("/sandbox/users")
    assert [u["id"] for u in listing["users"]] == [ALICE, BOB, 2001]
    for key in ("id", "first_name", "language_code", "label", "blocked"):
        assert key in listing["users"][0]
    assert (await server.post("/sandbox/users", {"id": 2002}))[0] == 400
    assert (await server.post("/sandbox/users", {"first_name": "No id"}))[0] == 400
    status, body = await server.post("/sandbox/users/42/send", {"text": "hi"})
    assert (status, body) == (404, {"ok": False, "description": "unknown user 42"})
    assert (await server.post(f"/sandbox/users/{ALICE}/send", {"text": ""}))[0] == 400
    assert (await server.post(f"/sandbox/users/{ALICE}/send", {"text": "x" * 4097}))[0] == 400
    async with server.session.post(f"{server.url}/sandbox/users", data=b"{oops") as response:
        assert response.status == 400
        assert "JSON" in (await response.json())["description"]


async def test_open_deep_links(server: Server) -> None:
    async def opened(url: str) -> tuple[int, dict[str, Any]]:
        return await server.post(f"/sandbox/users/{BOB}/open", {"url": url})

    status, body = await opened("https://t.me/RegularsSandboxBot?start=table_12-A")
    assert status == 200
    (update,) = await server.drain()
    assert update["update_id"] == body["update_id"]
    assert update["message"]["text"] == "/start table_12-A"
    assert update["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]

    for url in (
        "t.me/regularssandboxbot?start=abc",
        "http://t.me/RegularsSandboxBot?start=abc",
        "tg://resolve?domain=RegularsSandboxBot&start=abc",
    ):
        assert (await opened(url))[1]["text"] == "/start abc"
    assert (await opened("https://t.me/RegularsSandboxBot"))[1]["text"] == "/start"
    # A payload Telegram would not accept: the phone still starts the bot, without it.
    assert (await opened("https://t.me/RegularsSandboxBot?start=bad%20payload!"))[1][
        "text"
    ] == "/start"
    status, body = await opened("https://t.me/SomeOtherBot?start=abc")
    assert status == 400
    assert "SomeOtherBot" in body["description"]
    assert (await opened("https://example.com/RegularsSandboxBot?start=abc"))[0] == 400
    await server.drain()
    # Bob has now talked to the bot, so the bot may write to him.
    await server.ok("sendMessage", chat_id=BOB, text="welcome")


async def test_press_requires_a_real_button_and_waits_for_the_answer(server: Server) -> None:
    keyboard = {"inline_keyboard": [[{"text": "Join", "callback_data": "join:1"}]]}
    sent = await server.ok("sendMessage", chat_id=ALICE, text="Join?", reply_markup=keyboard)
    plain = await server.ok("sendMessage", chat_id=ALICE, text="no buttons")
    said = await server.user_says(ALICE, "mine")
    path = f"/sandbox/users/{ALICE}/press"
    for message_id, data in (
        (sent["message_id"], "join:2"),
        (plain["message_id"], "join:1"),
        (said["message_id"], "join:1"),
        (9999, "join:1"),
    ):
        status, body = await server.post(path, {"message_id": message_id, "data": data})
        assert status == 400
        assert body["ok"] is False
        assert body["description"]
    await server.drain()

    async def bot() -> None:
        query = await next_update(server, "callback_query")
        assert query["data"] == "join:1"
        assert query["from"]["id"] == ALICE
        assert query["message"]["message_id"] == sent["message_id"]
        assert query["message"]["reply_markup"] == keyboard
        assert query["chat_instance"]
        await server.ok(
            "answerCallbackQuery", callback_query_id=query["id"], text="Welcome!", show_alert=True
        )
        assert await server.error("answerCallbackQuery", callback_query_id=query["id"]) == (
            400,
            "Bad Request: query is too old and response timeout expired or query ID is invalid",
        )

    task = asyncio.create_task(bot())
    status, body = await server.post(
        path, {"message_id": sent["message_id"], "data": "join:1", "wait": 5}
    )
    await task
    assert status == 200
    assert body["answer"] == {"text": "Welcome!", "show_alert": True}
    assert isinstance(body["update_id"], int)
    _, history = await server.get(f"/sandbox/users/{ALICE}/history")
    answers = [item for item in history["messages"] if item["kind"] == "callback_answer"]
    assert answers[-1]["text"] == "Welcome!"
    assert [m["from"] for m in history["messages"] if m["kind"] == "message"][-3:] == [
        "bot",
        "bot",
        "user",
    ]
    assert (await server.error("answerCallbackQuery", callback_query_id="123", text="x"))[0] == 400


async def test_invoice_validation(server: Server) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"title": ""}, "title is empty"),
        ({"title": "t" * 33}, "title is too long"),
        ({"description": "d" * 256}, "description is too long"),
        ({"payload": "p" * 129}, "INVOICE_PAYLOAD_INVALID"),
        ({"currency": "usd"}, "CURRENCY_INVALID"),
        ({"prices": []}, "prices must be non-empty"),
        ({"prices": [{"label": "x", "amount": "1"}]}, "can't parse prices JSON object"),
        ({"currency": "EUR"}, "PAYMENT_PROVIDER_INVALID"),
    ]
    for extra, detail in cases:
        status, description = await server.error(
            "sendInvoice",
            **{
                "chat_id": ALICE,
                "title": "Membership",
                "description": "One year",
                "payload": "p",
                "currency": "XTR",
                "prices": [{"label": "M", "amount": 250}],
                **extra,
            },
        )
        assert status == 400
        assert detail in description
    message = await send_invoice(server, currency="EUR", provider_token="tok", start_parameter="m")
    assert message["invoice"] == {
        "title": "Membership",
        "description": "One year of Regulars",
        "start_parameter": "m",
        "currency": "EUR",
        "total_amount": 250,
    }
    assert "membership:alice" not in str(message)  # the payload stays private


async def test_pay_answered_ok(server: Server) -> None:
    invoice = await send_invoice(server)

    async def bot() -> dict[str, Any]:
        query = await next_update(server, "pre_checkout_query")
        assert query["invoice_payload"] == "membership:alice:2025"
        assert (query["currency"], query["total_amount"]) == ("XTR", 250)
        assert query["from"]["id"] == ALICE
        await server.ok("answerPreCheckoutQuery", pre_checkout_query_id=query["id"], ok=True)
        return await next_update(server, "message")

    task = asyncio.create_task(bot())
    status, paid = await server.post(
        f"/sandbox/users/{ALICE}/pay", {"message_id": invoice["message_id"]}
    )
    message = await task
    assert status == 200
    assert paid["paid"] is True
    payment = message["successful_payment"]
    assert payment["telegram_payment_charge_id"] == paid["telegram_payment_charge_id"]
    assert payment["invoice_payload"] == "membership:alice:2025"
    assert (payment["currency"], payment["total_amount"]) == ("XTR", 250)
    assert "provider_payment_charge_id" in payment
    shown = next(m for m in server.emulator.inbox(ALICE) if m["invoice"])
    assert shown["paid"] is True
    status, body = await server.post(
        f"/sandbox/users/{ALICE}/pay", {"message_id": invoice["message_id"]}
    )
    assert status == 400
    assert "already paid" in body["description"]


async def test_pay_answered_not_ok(server: Server) -> None:
    invoice = await send_invoice(server)

    async def bot() -> None:
        query = await next_update(server, "pre_checkout_query")
        assert await server.error(
            "answerPreCheckoutQuery", pre_checkout_query_id=query["id"], ok=False
        ) == (400, "Bad Request: error_message is empty")
        await server.ok(
            "answerPreCheckoutQuery",
            pre_checkout_query_id=query["id"],
            ok=False,
            error_message="Sold out",
        )

    task = asyncio.create_task(bot())
    status, paid = await server.post(
        f"/sandbox/users/{ALICE}/pay", {"message_id": invoice["message_id"]}
    )
    await task
    assert (status, paid) == (200, {"paid": False, "error_message": "Sold out"})
    assert await server.drain() == []  # no successful_payment
    assert await server.error("answerPreCheckoutQuery", pre_checkout_query_id="1", ok=True) == (
        400,
        "Bad Request: QUERY_ID_INVALID",
    )


async def test_pay_timeout(make_server: ServerFactory) -> None:
    srv = await make_server(payment_timeout=0.2)
    srv.emulator.add_user(ALICE, "Alice")
    await srv.user_says(ALICE, "hi")
    invoice = await send_invoice(srv)
    status, paid = await srv.post(
        f"/sandbox/users/{ALICE}/pay", {"message_id": invoice["message_id"]}
    )
    assert status == 200
    assert paid == {
        "paid": False,
        "error_message": "timeout: the bot did not answer the pre-checkout query within 0.2 s",
    }
    updates = await srv.updates()
    query = updates[-1]["pre_checkout_query"]
    # Too late now.
    assert (await srv.error("answerPreCheckoutQuery", pre_checkout_query_id=query["id"], ok=True))[
        1
    ] == "Bad Request: QUERY_ID_INVALID"
    plain = await srv.ok("sendMessage", chat_id=ALICE, text="not an invoice")
    assert (await srv.post(f"/sandbox/users/{ALICE}/pay", {"message_id": plain["message_id"]}))[
        0
    ] == 400


async def test_block_and_unblock(server: Server) -> None:
    status, user = await server.post(f"/sandbox/users/{ALICE}/block")
    assert (status, user["blocked"]) == (200, True)
    (update,) = await server.drain()
    member = update["my_chat_member"]
    assert member["chat"]["id"] == ALICE
    assert member["old_chat_member"]["status"] == "member"
    assert member["new_chat_member"]["status"] == "kicked"
    assert member["new_chat_member"]["user"]["is_bot"] is True
    assert await server.error("sendMessage", chat_id=ALICE, text="still there?") == (
        403,
        "Forbidden: bot was blocked by the user",
    )
    assert (await server.post(f"/sandbox/users/{ALICE}/send", {"text": "hi"}))[0] == 400
    await server.post(f"/sandbox/users/{ALICE}/unblock")
    (update,) = await server.drain()
    assert update["my_chat_member"]["new_chat_member"]["status"] == "member"
    await server.ok("sendMessage", chat_id=ALICE, text="welcome back")
    assert server.emulator.stats()["status_403"] == 1


async def test_rate_limits_answer_429(server: Server) -> None:
    status, limits = await server.post("/sandbox/limits", {"per_chat_per_second": 2})
    assert limits == {"global_per_second": None, "per_chat_per_second": 2}
    await server.ok("sendMessage", chat_id=ALICE, text="1")
    await server.ok("sendMessage", chat_id=ALICE, text="2")
    status, body = await server.call("sendMessage", chat_id=ALICE, text="3")
    assert status == 429
    assert body["description"] == "Too Many Requests: retry after 1"
    assert body["parameters"] == {"retry_after": 1}
    await server.user_says(BOB, "hi")
    await server.ok("sendMessage", chat_id=BOB, text="other chats are not limited")
    await server.post("/sandbox/limits", {"global_per_second": 1, "per_chat_per_second": None})
    status, body = await server.call("sendMessage", chat_id=BOB, text="global")
    assert status == 429
    assert body["parameters"]["retry_after"] >= 1
    assert (await server.post("/sandbox/limits", {"global_per_second": 0}))[0] == 400
    await server.post("/sandbox/limits", {"global_per_second": None})

    _, stats = await server.get("/sandbox/stats")
    assert stats["calls"]["sendMessage"] == 5
    assert stats["status_429"] == 2
    assert stats["status_403"] == 0
    assert stats["updates"] >= 2


async def test_clock_needs_the_hook(make_server: ServerFactory, server: Server) -> None:
    status, body = await server.post("/sandbox/clock", {"advance_seconds": 60})
    assert status == 409
    assert body == {
        "ok": False,
        "description": "the clock can only be moved in a sandbox run "
        "(application and emulator in one process)",
    }
    now = [1_700_000_000.0]
    seen: list[float] = []

    async def advance(seconds: float) -> dict[str, Any]:
        seen.append(seconds)
        now[0] += seconds
        return {"now": now[0], "jobs": ["lapse"]}

    srv = await make_server(clock=lambda: now[0], on_clock_advance=advance)
    srv.emulator.add_user(ALICE, "Alice")
    status, body = await srv.post("/sandbox/clock", {"advance_seconds": 86400})
    assert (status, body) == (200, {"ok": True, "now": 1_700_086_400.0, "jobs": ["lapse"]})
    assert seen == [86400.0]
    for bad in ({"advance_seconds": 0}, {"advance_seconds": "soon"}, {}, {"advance_seconds": True}):
        assert (await srv.post("/sandbox/clock", bad))[0] == 400
    said = await srv.user_says(ALICE, "what time is it")
    (update,) = await srv.drain()
    assert update["update_id"] == said["update_id"]
    assert update["message"]["date"] == 1_700_086_400
    # Messages older than 48 hours can no longer be deleted.
    await srv.post("/sandbox/clock", {"advance_seconds": 49 * 3600})
    assert await srv.error("deleteMessage", chat_id=ALICE, message_id=said["message_id"]) == (
        400,
        "Bad Request: message can't be deleted for everyone",
    )


async def test_bot_info(server: Server) -> None:
    status, body = await server.get("/sandbox/bot")
    assert status == 200
    assert body == {
        "token": server.emulator.token,
        "username": "RegularsSandboxBot",
        "id": server.emulator.bot_id,
        "first_name": "Regulars",
    }


async def test_wait_reply_returns_the_bots_next_message_or_edit(server: Server) -> None:
    await server.drain()

    async def bot() -> None:
        message = await next_update(server, "message")
        await server.ok("sendMessage", chat_id=ALICE, text=f"you said {message['text']}")
        query = await next_update(server, "callback_query")
        await server.ok("answerCallbackQuery", callback_query_id=query["id"])
        await server.ok(
            "editMessageText",
            chat_id=ALICE,
            message_id=query["message"]["message_id"],
            text="pressed",
        )

    task = asyncio.create_task(bot())
    status, body = await server.post(
        f"/sandbox/users/{ALICE}/send", {"text": "hello", "wait_reply": 5}
    )
    assert status == 200, body
    assert body["reply"]["text"] == "you said hello"
    keyboard = {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}
    sent = await server.ok("sendMessage", chat_id=ALICE, text="Go?", reply_markup=keyboard)
    status, body = await server.post(
        f"/sandbox/users/{ALICE}/press",
        {"message_id": sent["message_id"], "data": "go", "wait_reply": 5},
    )
    await task
    assert status == 200, body
    assert body["reply"]["message_id"] == sent["message_id"]
    assert body["reply"]["text"] == "pressed"
    # Nobody answers this one: the reply is null once the wait is over.
    status, body = await server.post(
        f"/sandbox/users/{ALICE}/send", {"text": "anyone?", "wait_reply": 0.2}
    )
    assert status == 200
    assert body["reply"] is None
    status, body = await server.post(
        f"/sandbox/users/{ALICE}/send", {"text": "x", "wait_reply": 61}
    )
    assert status == 400
    assert "wait_reply" in body["description"]
