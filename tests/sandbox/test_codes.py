"""Printed codes: the app registers what it prints; opened links are labelled from that list."""

from __future__ import annotations

from tests.sandbox.conftest import ALICE, Server, ServerFactory

BOT = "https://t.me/RegularsSandboxBot"


async def test_registered_codes_label_the_links_people_open(server: Server) -> None:
    status, body = await server.post(
        "/sandbox/codes",
        {
            "kind": "table",
            "codes": [
                {"label": "Table 3 at Regulars Bistro", "url": f"{BOT}?start=AQEBAw"},
                {"label": "Table 4 at Regulars Bistro", "url": f"{BOT}?start=AQEBBA"},
            ],
        },
    )
    assert status == 200, body
    await server.post(
        "/sandbox/codes",
        {"kind": "card", "codes": [{"label": "Dana's member card", "url": f"{BOT}?start=CARD7"}]},
    )
    status, listed = await server.get("/sandbox/codes")
    assert [(c["kind"], c["label"], c["payload"]) for c in listed["codes"]] == [
        ("table", "Table 3 at Regulars Bistro", "AQEBAw"),
        ("table", "Table 4 at Regulars Bistro", "AQEBBA"),
        ("card", "Dana's member card", "CARD7"),
    ]

    status, opened = await server.post(
        f"/sandbox/users/{ALICE}/open", {"url": f"{BOT}?start=AQEBAw"}
    )
    assert (opened["text"], opened["label"]) == ("/start AQEBAw", "Table 3 at Regulars Bistro")
    status, unknown = await server.post(
        f"/sandbox/users/{ALICE}/open", {"url": f"{BOT}?start=somebody_elses"}
    )
    assert unknown["label"] is None
    await server.post(f"/sandbox/users/{ALICE}/open", {"url": BOT})

    # The bot still gets the payload; only the people's side knows the label.
    texts = [update["message"]["text"] for update in await server.drain()]
    assert texts == ["/start AQEBAw", "/start somebody_elses", "/start"]

    # Replacing a kind's codes forgets the old ones; a message already sent keeps its label.
    await server.post("/sandbox/codes", {"kind": "table", "codes": []})
    _, listed = await server.get("/sandbox/codes")
    assert [c["kind"] for c in listed["codes"]] == ["card"]
    _, history = await server.get(f"/sandbox/users/{ALICE}/history")
    opens = [m["opened"] for m in history["messages"] if m.get("opened")]
    assert opens == [
        {"payload": "AQEBAw", "label": "Table 3 at Regulars Bistro", "kind": "table"},
        {"payload": "somebody_elses", "label": None, "kind": None},
        {"payload": None, "label": None, "kind": None},
    ]
    typed = [m for m in history["messages"] if m.get("text") == "hello"]
    assert typed[0]["opened"] is None  # typed text is not an opened link


async def test_a_code_must_be_a_start_link_to_this_bot(server: Server) -> None:
    cases = [
        ({"kind": "table", "codes": [{"label": "T1", "url": "https://t.me/OtherBot?start=x"}]},
         "not this bot"),
        ({"kind": "table", "codes": [{"label": "T1", "url": BOT}]}, "no start payload"),
        ({"kind": "Table!", "codes": [{"label": "T1", "url": f"{BOT}?start=x"}]}, "kind must"),
        ({"kind": "table", "codes": [{"label": " ", "url": f"{BOT}?start=x"}]}, "label must"),
        ({"kind": "table", "codes": "T1"}, "codes must be a list"),
    ]  # fmt: skip
    for body, reason in cases:
        status, answer = await server.post("/sandbox/codes", body)
        assert status == 400, body
        assert reason in answer["description"]
    _, listed = await server.get("/sandbox/codes")
    assert listed["codes"] == []


async def test_the_app_is_asked_for_its_codes_when_they_are_needed(
    make_server: ServerFactory,
) -> None:
    asked: list[str] = []
    holder: list[Server] = []

    async def refresh() -> None:
        # The app's current codes: a coupon shown at the counter since the last look.
        asked.append("refresh")
        holder[0].emulator.set_printed_codes(
            "coupon", [("Dana's coupon, code 123456", f"{BOT}?start=COUPON9")]
        )

    server = await make_server(on_codes_refresh=refresh)
    holder.append(server)
    server.emulator.add_user(ALICE, "Alice")
    server.emulator.add_printed_code("Table 1 at Regulars Bistro", f"{BOT}?start=T1", kind="table")

    _, opened = await server.post(f"/sandbox/users/{ALICE}/open", {"url": f"{BOT}?start=T1"})
    assert (opened["label"], asked) == ("Table 1 at Regulars Bistro", [])  # known: no refresh
    _, opened = await server.post(f"/sandbox/users/{ALICE}/open", {"url": f"{BOT}?start=COUPON9"})
    assert (opened["label"], asked) == ("Dana's coupon, code 123456", ["refresh"])
    _, listed = await server.get("/sandbox/codes")
    assert [c["kind"] for c in listed["codes"]] == ["table", "coupon"]
    assert asked == ["refresh", "refresh"]


async def test_a_failing_app_hook_leaves_links_unlabelled(make_server: ServerFactory) -> None:
    async def broken() -> None:
        raise RuntimeError("database is down")

    server = await make_server(on_codes_refresh=broken)
    server.emulator.add_user(ALICE, "Alice")
    status, opened = await server.post(f"/sandbox/users/{ALICE}/open", {"url": f"{BOT}?start=X"})
    assert (status, opened["label"]) == (200, None)
    status, listed = await server.get("/sandbox/codes")
    assert (status, listed["codes"]) == (200, [])
