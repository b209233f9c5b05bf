"""The Bot API surface: wire formats, errors, messages, files, edits."""

from __future__ import annotations

import json

import aiohttp

from tests.sandbox.conftest import ALICE, BOB, Server, make_png


async def test_get_me_accepts_get_json_form_and_multipart(server: Server) -> None:
    emulator = server.emulator
    async with server.session.get(f"{server.api}/getMe") as response:
        body = await response.json()
    assert response.status == 200
    assert body["result"]["username"] == "RegularsSandboxBot"
    assert body["result"]["is_bot"] is True
    assert body["result"]["id"] == int(emulator.token.split(":")[0])

    async with server.session.post(f"{server.api}/GETME", json={}) as response:
        assert (await response.json())["result"]["first_name"] == "Regulars"

    form = {"chat_id": str(ALICE), "text": "form text"}
    async with server.session.post(f"{server.api}/sendMessage", data=form) as response:
        assert response.status == 200
        assert (await response.json())["result"]["text"] == "form text"

    multipart = aiohttp.FormData()
    multipart.add_field("chat_id", str(ALICE))
    multipart.add_field("text", "multipart text")
    multipart.add_field(
        "reply_markup",
        json.dumps({"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}),
    )
    multipart.add_field("unused", b"x", filename="unused.bin")
    async with server.session.post(f"{server.api}/sendMessage", data=multipart) as response:
        result = (await response.json())["result"]
    assert result["text"] == "multipart text"
    assert result["reply_markup"] == {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}

    query = f"{server.api}/sendMessage?chat_id={ALICE}&text=query%20text"
    async with server.session.get(query) as response:
        assert (await response.json())["result"]["text"] == "query text"


async def test_wrong_token_is_401_and_unknown_method_is_404(server: Server) -> None:
    async with server.session.post(f"{server.url}/bot123:nope/getMe") as response:
        assert response.status == 401
        assert await response.json() == {
            "ok": False,
            "error_code": 401,
            "description": "Unauthorized",
        }
    assert await server.error("sendCarrierPigeon") == (404, "Not Found: method not found")


async def test_chat_resolution_errors(server: Server) -> None:
    assert await server.error("sendMessage", chat_id=999, text="hi") == (
        400,
        "Bad Request: chat not found",
    )
    assert await server.error("sendMessage", chat_id="@alice_w", text="hi") == (
        400,
        "Bad Request: chat not found",
    )
    assert await server.error("sendMessage", text="hi") == (400, "Bad Request: chat_id is empty")
    assert await server.error("sendMessage", chat_id=BOB, text="hi") == (
        403,
        "Forbidden: bot can't initiate conversation with a user",
    )
    message = await server.ok("sendMessage", chat_id=str(ALICE), text="numeric string id")
    assert message["chat"] == {
        "id": ALICE,
        "first_name": "Alice",
        "username": "alice_w",
        "type": "private",
    }


async def test_message_ids_are_per_chat_and_shared_by_both_sides(server: Server) -> None:
    first = await server.ok("sendMessage", chat_id=ALICE, text="one")
    said = await server.user_says(ALICE, "two")
    third = await server.ok("sendMessage", chat_id=ALICE, text="three")
    assert said["message_id"] == first["message_id"] + 1
    assert third["message_id"] == said["message_id"] + 1
    await server.user_says(BOB, "hi")
    to_bob = await server.ok("sendMessage", chat_id=BOB, text="hello Bob")
    assert to_bob["message_id"] == 2
    assert first["from"]["is_bot"] is True
    assert isinstance(first["date"], int)


async def test_text_validation(server: Server) -> None:
    assert await server.error("sendMessage", chat_id=ALICE, text="") == (
        400,
        "Bad Request: message text is empty",
    )
    assert await server.error("sendMessage", chat_id=ALICE, text="   \n ") == (
        400,
        "Bad Request: message text is empty",
    )
    assert await server.error("sendMessage", chat_id=ALICE, text="x" * 4097) == (
        400,
        "Bad Request: message is too long",
    )
    assert (await server.ok("sendMessage", chat_id=ALICE, text="x" * 4096))["text"] == "x" * 4096
    # The limit applies after parsing: markup does not count.
    long_html = "<b>" + "y" * 4096 + "</b>"
    assert (
        len(
            (await server.ok("sendMessage", chat_id=ALICE, text=long_html, parse_mode="HTML"))[
                "text"
            ]
        )
        == 4096
    )


async def test_reply_markup_validation(server: Server) -> None:
    def keyboard(**button: object) -> dict[str, object]:
        return {"inline_keyboard": [[{"text": "B", **button}]]}

    status, description = await server.error(
        "sendMessage", chat_id=ALICE, text="t", reply_markup=keyboard(callback_data="x" * 65)
    )
    assert (status, description) == (400, "Bad Request: BUTTON_DATA_INVALID")
    # 64 bytes is fine, but 22 three-byte characters are 66 bytes.
    await server.ok(
        "sendMessage", chat_id=ALICE, text="t", reply_markup=keyboard(callback_data="x" * 64)
    )
    assert (
        await server.error(
            "sendMessage", chat_id=ALICE, text="t", reply_markup=keyboard(callback_data="中" * 22)
        )
    )[1] == "Bad Request: BUTTON_DATA_INVALID"
    _, description = await server.error(
        "sendMessage", chat_id=ALICE, text="t", reply_markup=keyboard()
    )
    assert "Text buttons are unallowed in the inline keyboard" in description
    _, description = await server.error(
        "sendMessage",
        chat_id=ALICE,
        text="t",
        reply_markup=keyboard(callback_data="a", url="https://example.com"),
    )
    assert description.startswith("Bad Request: can't parse inline keyboard button")
    _, description = await server.error(
        "sendMessage", chat_id=ALICE, text="t", reply_markup="{not json"
    )
    assert description == "Bad Request: can't parse reply keyboard markup JSON object"

    reply_keyboard = {
        "keyboard": [["Menu", {"text": "Share phone", "request_contact": True}]],
        "resize_keyboard": True,
        "one_time_keyboard": True,
    }
    sent = await server.ok("sendMessage", chat_id=ALICE, text="k", reply_markup=reply_keyboard)
    assert "reply_markup" not in sent  # Telegram only echoes inline keyboards
    await server.ok(
        "sendMessage", chat_id=ALICE, text="bye", reply_markup={"remove_keyboard": True}
    )
    await server.ok(
        "sendMessage",
        chat_id=ALICE,
        text="answer me",
        reply_markup=json.dumps({"force_reply": True, "input_field_placeholder": "Your name"}),
    )
    inbox = server.emulator.inbox(ALICE)
    assert inbox[-3]["reply_markup"]["keyboard"][0] == [
        {"text": "Menu"},
        {"text": "Share phone", "request_contact": True},
    ]
    assert inbox[-2]["reply_markup"] == {"remove_keyboard": True}
    assert inbox[-1]["reply_markup"] == {
        "force_reply": True,
        "input_field_placeholder": "Your name",
    }


async def test_html_becomes_plain_text_with_utf16_entities(server: Server) -> None:
    html = (
        "😀 <b>粗体 <i>and</i></b> &lt;3 &amp; &quot;q&quot; &#169; "
        '<a href="https://example.com/?a=1&amp;b=2">link</a> <code>x</code> '
        '<pre><code class="language-python">print()</code></pre> '
        '<tg-spoiler>s</tg-spoiler> <span class="tg-spoiler">t</span> <u>u</u> <s>v</s> '
        "<blockquote expandable>q</blockquote>"
    )
    message = await server.ok("sendMessage", chat_id=ALICE, text=html, parse_mode="HTML")
    assert message["text"] == '😀 粗体 and <3 & "q" © link x print() s t u v q'
    entities = message["entities"]
    assert entities[0] == {"type": "bold", "offset": 3, "length": 6}  # the emoji is 2 units
    assert entities[1] == {"type": "italic", "offset": 6, "length": 3}
    assert {
        "type": "text_link",
        "offset": 21,
        "length": 4,
        "url": "https://example.com/?a=1&b=2",
    } in entities
    assert {"type": "code", "offset": 26, "length": 1} in entities
    assert {"type": "pre", "offset": 28, "length": 7, "language": "python"} in entities
    assert {"type": "spoiler", "offset": 36, "length": 1} in entities
    assert {"type": "spoiler", "offset": 38, "length": 1} in entities
    assert {"type": "underline", "offset": 40, "length": 1} in entities
    assert {"type": "strikethrough", "offset": 42, "length": 1} in entities
    assert {"type": "expandable_blockquote", "offset": 44, "length": 1} in entities

    shown = server.emulator.inbox(ALICE)[-1]["parse_mode_html"]
    assert shown.startswith("😀 <b>粗体 <i>and</i></b> &lt;3 &amp; &quot;q&quot; © ")
    assert '<a href="https://example.com/?a=1&amp;b=2">link</a>' in shown


async def test_bad_markup_is_a_parse_error(server: Server) -> None:
    cases = {
        "<b>open": 'Can\'t find end tag corresponding to start tag "b"',
        "<blink>x</blink>": 'Unsupported start tag "blink" at byte offset 0',
        "<b>x</i>": 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"',
        "中 <br>": 'Unsupported start tag "br" at byte offset 4',
    }
    for text, detail in cases.items():
        status, description = await server.error(
            "sendMessage", chat_id=ALICE, text=text, parse_mode="HTML"
        )
        assert status == 400
        assert description == f"Bad Request: can't parse entities: {detail}"
    _, description = await server.error(
        "sendMessage", chat_id=ALICE, text="Price: 5.00!", parse_mode="MarkdownV2"
    )
    assert description == (
        "Bad Request: can't parse entities: Character '.' is reserved and must be escaped "
        "with the preceding '\\'"
    )
    _, description = await server.error("sendMessage", chat_id=ALICE, text="x", parse_mode="BBCode")
    assert description == "Bad Request: unsupported parse_mode"


async def test_markdown_modes_and_explicit_entities(server: Server) -> None:
    message = await server.ok(
        "sendMessage",
        chat_id=ALICE,
        text=r"*bold* _it_ __u__ ~s~ ||sp|| `c` [l](https://e.com) 5\.00",
        parse_mode="MarkdownV2",
    )
    assert message["text"] == "bold it u s sp c l 5.00"
    assert [e["type"] for e in message["entities"]] == [
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "code",
        "text_link",
    ]
    legacy = await server.ok(
        "sendMessage", chat_id=ALICE, text="*b* _i_ [t](https://e.com)", parse_mode="Markdown"
    )
    assert legacy["text"] == "b i t"
    explicit = await server.ok(
        "sendMessage",
        chat_id=ALICE,
        text="plain 😀 bold",
        entities=[{"type": "bold", "offset": 9, "length": 4}],
    )
    assert explicit["entities"] == [{"type": "bold", "offset": 9, "length": 4}]


async def test_photo_upload_url_and_file_id(server: Server) -> None:
    png = make_png(640, 480)
    form = aiohttp.FormData()
    form.add_field("chat_id", str(ALICE))
    form.add_field("caption", "<b>Your card</b>")
    form.add_field("parse_mode", "HTML")
    form.add_field("photo", png, filename="card.png", content_type="image/png")
    async with server.session.post(f"{server.api}/sendPhoto", data=form) as response:
        message = (await response.json())["result"]
    assert message["caption"] == "Your card"
    assert message["caption_entities"] == [{"type": "bold", "offset": 0, "length": 9}]
    sizes = message["photo"]
    assert (sizes[-1]["width"], sizes[-1]["height"]) == (640, 480)
    assert sizes[0]["width"] == 90
    assert sizes[-1]["file_size"] == len(png)

    inbox_photo = server.emulator.inbox(ALICE)[-1]["photo"]
    assert inbox_photo["width"] == 640
    async with server.session.get(server.url + inbox_photo["url"]) as response:
        assert response.status == 200
        assert response.content_type == "image/png"
        assert await response.read() == png

    file_id = sizes[-1]["file_id"]
    info = await server.ok("getFile", file_id=file_id)
    path = f"{server.url}/file/bot{server.emulator.token}/{info['file_path']}"
    async with server.session.get(path) as response:
        assert await response.read() == png

    again = await server.ok("sendPhoto", chat_id=ALICE, photo=file_id)
    assert again["photo"][-1]["file_id"] == file_id
    remote = await server.ok("sendPhoto", chat_id=ALICE, photo="https://example.com/p.jpg")
    assert remote["photo"][-1]["width"] > 0
    assert server.emulator.inbox(ALICE)[-1]["photo"]["url"] == "https://example.com/p.jpg"

    assert await server.error("sendPhoto", chat_id=ALICE, photo="no-such-file") == (
        400,
        "Bad Request: wrong file identifier/HTTP URL specified",
    )
    assert await server.error("sendPhoto", chat_id=ALICE) == (
        400,
        "Bad Request: there is no photo in the request",
    )
    bad = aiohttp.FormData()
    bad.add_field("chat_id", str(ALICE))
    bad.add_field("photo", b"not an image", filename="x.png")
    async with server.session.post(f"{server.api}/sendPhoto", data=bad) as response:
        assert (await response.json())["description"] == "Bad Request: IMAGE_PROCESS_FAILED"
    _, description = await server.error(
        "sendPhoto", chat_id=ALICE, photo=file_id, caption="c" * 1025
    )
    assert description == "Bad Request: message caption is too long"


async def test_document_upload(server: Server) -> None:
    form = aiohttp.FormData()
    form.add_field("chat_id", str(ALICE))
    form.add_field("document", "attach://file0")
    form.add_field("file0", b"a,b\n1,2\n", filename="report.csv", content_type="text/csv")
    async with server.session.post(f"{server.api}/sendDocument", data=form) as response:
        message = (await response.json())["result"]
    document = message["document"]
    assert document["file_name"] == "report.csv"
    assert document["mime_type"] == "text/csv"
    assert document["file_size"] == 8
    shown = server.emulator.inbox(ALICE)[-1]["document"]
    async with server.session.get(server.url + shown["url"]) as response:
        assert await response.read() == b"a,b\n1,2\n"
    assert await server.error("sendDocument", chat_id=ALICE, document="nope") == (
        400,
        "Bad Request: wrong file identifier/HTTP URL specified",
    )


async def test_edits_deletes_and_not_modified(server: Server) -> None:
    keyboard = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
    sent = await server.ok("sendMessage", chat_id=ALICE, text="v1", reply_markup=keyboard)
    mid = sent["message_id"]
    not_modified = (
        "Bad Request: message is not modified: specified new message content and reply markup "
        "are exactly the same as a current content and reply markup of the message"
    )
    assert await server.error(
        "editMessageText", chat_id=ALICE, message_id=mid, text="v1", reply_markup=keyboard
    ) == (400, not_modified)
    edited = await server.ok(
        "editMessageText", chat_id=ALICE, message_id=mid, text="<i>v2</i>", parse_mode="HTML"
    )
    assert edited["text"] == "v2"
    assert "reply_markup" not in edited  # no reply_markup given: the keyboard goes away
    assert "edit_date" in edited
    assert await server.error("editMessageReplyMarkup", chat_id=ALICE, message_id=mid) == (
        400,
        not_modified,
    )
    with_keyboard = await server.ok(
        "editMessageReplyMarkup", chat_id=ALICE, message_id=mid, reply_markup=keyboard
    )
    assert with_keyboard["reply_markup"] == keyboard
    assert await server.error("editMessageCaption", chat_id=ALICE, message_id=mid, caption="x") == (
        400,
        "Bad Request: there is no caption in the message to edit",
    )
    assert await server.error("editMessageText", chat_id=ALICE, message_id=9999, text="x") == (
        400,
        "Bad Request: message to edit not found",
    )
    user_message = await server.user_says(ALICE, "mine")
    assert await server.error(
        "editMessageText", chat_id=ALICE, message_id=user_message["message_id"], text="x"
    ) == (400, "Bad Request: message can't be edited")

    shown = server.emulator.inbox(ALICE)
    assert [m["text"] for m in shown if m["message_id"] == mid] == ["v2"]
    assert next(m for m in shown if m["message_id"] == mid)["edited"] is True

    assert await server.ok("deleteMessage", chat_id=ALICE, message_id=mid) is True
    assert await server.error("deleteMessage", chat_id=ALICE, message_id=mid) == (
        400,
        "Bad Request: message to delete not found",
    )
    assert all(m["message_id"] != mid for m in server.emulator.inbox(ALICE))
    assert await server.error("editMessageText", chat_id=ALICE, message_id=mid, text="x") == (
        400,
        "Bad Request: message to edit not found",
    )


async def test_caption_edit_and_inbox_after(server: Server) -> None:
    photo = await server.ok(
        "sendPhoto", chat_id=ALICE, photo="https://example.com/a.png", caption="old"
    )
    edited = await server.ok(
        "editMessageCaption", chat_id=ALICE, message_id=photo["message_id"], caption="new"
    )
    assert edited["caption"] == "new"
    later = await server.ok("sendMessage", chat_id=ALICE, text="later")
    status, body = await server.get(f"/sandbox/users/{ALICE}/inbox?after={photo['message_id']}")
    assert status == 200
    assert [m["message_id"] for m in body["messages"]] == [later["message_id"]]


async def test_chat_action_and_commands(server: Server) -> None:
    assert await server.ok("sendChatAction", chat_id=ALICE, action="typing") is True
    assert await server.error("sendChatAction", chat_id=ALICE, action="dancing") == (
        400,
        "Bad Request: wrong parameter action in request",
    )
    action = server.emulator.last_chat_action(ALICE)
    assert action is not None
    assert action["action"] == "typing"
    _, history = await server.get(f"/sandbox/users/{ALICE}/history")
    assert history["messages"][-1]["kind"] == "chat_action"

    commands = [{"command": "start", "description": "Start"}]
    assert await server.ok("setMyCommands", commands=commands) is True
    await server.ok(
        "setMyCommands",
        commands=[{"command": "start", "description": "开始"}],
        language_code="zh",
    )
    await server.ok(
        "setMyCommands",
        commands=[{"command": "admin", "description": "Admin tools"}],
        scope={"type": "chat", "chat_id": ALICE},
    )
    assert await server.ok("getMyCommands") == commands
    assert await server.ok("getMyCommands", scope={"type": "all_private_chats"}) == []
    _, alice = await server.get(f"/sandbox/users/{ALICE}/commands")
    assert alice["commands"] == [{"command": "admin", "description": "Admin tools"}]
    _, bob = await server.get(f"/sandbox/users/{BOB}/commands")
    assert bob["commands"] == [{"command": "start", "description": "开始"}]
    await server.ok("deleteMyCommands", scope={"type": "chat", "chat_id": ALICE})
    _, alice = await server.get(f"/sandbox/users/{ALICE}/commands")
    assert alice["commands"] == commands

    assert (
        await server.error("setMyCommands", commands=[{"command": "Bad!", "description": "x"}])
    )[1] == "Bad Request: BOT_COMMAND_INVALID"
    assert (await server.error("setMyCommands", commands=commands, language_code="english"))[
        0
    ] == 400
    assert (
        await server.error("setMyCommands", commands=commands, scope={"type": "chat", "chat_id": 5})
    )[1] == "Bad Request: chat not found"


async def test_local_url_is_fetched_and_replies_are_linked(server: Server) -> None:
    form = aiohttp.FormData()
    form.add_field("chat_id", str(ALICE))
    form.add_field("photo", make_png(50, 40), filename="p.png")
    async with server.session.post(f"{server.api}/sendPhoto", data=form) as response:
        first = (await response.json())["result"]
    own_url = server.url + server.emulator.inbox(ALICE)[-1]["photo"]["url"]
    copy = await server.ok("sendPhoto", chat_id=ALICE, photo=own_url)
    assert copy["photo"][-1]["file_id"] != first["photo"][-1]["file_id"]
    assert (copy["photo"][-1]["width"], copy["photo"][-1]["height"]) == (50, 40)
    assert (await server.error("sendPhoto", chat_id=ALICE, photo=server.url + "/nothing"))[
        1
    ] == "Bad Request: failed to get HTTP URL content"

    said = await server.user_says(ALICE, "question")
    reply = await server.ok(
        "sendMessage",
        chat_id=ALICE,
        text="answer",
        reply_parameters=json.dumps({"message_id": said["message_id"]}),
    )
    assert reply["reply_to_message"]["text"] == "question"
    assert reply["reply_to_message"]["from"]["id"] == ALICE
    assert await server.error("sendMessage", chat_id=ALICE, text="x", reply_to_message_id=9999) == (
        400,
        "Bad Request: message to be replied not found",
    )
    await server.ok(
        "sendMessage",
        chat_id=ALICE,
        text="x",
        reply_parameters={"message_id": 9999, "allow_sending_without_reply": True},
    )
