"""The web chat shows what a person scanned, lists the codes there are to scan, and shows photos
as Telegram does (no debug link), in headless Chromium against the emulator alone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import FilePayload, Page, expect

from sandbox.emulator.params import Params, Upload
from tests.browser.support import PHONE, ChatServer
from tests.sandbox.conftest import make_png

DANA, CARLOS = 1_000_101, 1_000_002
BOT = "https://t.me/RegularsSandboxBot"


def _cast(server: ChatServer) -> None:
    for user_id, name, label in ((DANA, "Dana", "Diner"), (CARLOS, "Carlos", "Cashier")):
        person = {"id": user_id, "first_name": name, "label": label, "started": True}
        server.post("/sandbox/users", person)
    server.post(
        "/sandbox/codes",
        {
            "kind": "table",
            "codes": [
                {"label": f"Table {n} at Regulars Bistro", "url": f"{BOT}?start=AQEBAa{n}"}
                for n in (1, 2, 3)
            ],
        },
    )
    server.post(
        "/sandbox/codes",
        {"kind": "card", "codes": [{"label": "Dana's member card", "url": f"{BOT}?start=CARD7"}]},
    )


def _pick(page: Page, user_id: int, name: str) -> None:
    page.get_by_test_id(f"person-{user_id}").click()
    expect(page.get_by_test_id("chat-title")).to_have_text(name)
    expect(page.get_by_test_id("messages")).to_have_attribute("data-loaded-for", str(user_id))


def _my_bubbles(page: Page) -> list[str]:
    return page.locator(
        "[data-testid=msg][data-from=user] [data-testid=msg-text]"
    ).all_inner_texts()


@pytest.mark.browser
def test_scans_read_as_what_was_scanned_and_the_codes_are_listed(
    chat_server: ChatServer, page: Page, page_errors: list[str], tmp_path: Path
) -> None:
    _cast(chat_server)
    page.goto(chat_server.url + "/")

    # The codes to scan are on screen, by kind; kinds with none say how to get one.
    codes = page.get_by_test_id("codes")
    expect(codes).to_have_attribute("open", "")
    tables = page.get_by_test_id("codes-table").get_by_test_id("code")
    expect(tables).to_have_text([f"Table {n} at Regulars Bistro" for n in (1, 2, 3)])
    expect(page.get_by_test_id("codes-card")).to_contain_text("Dana's member card")
    expect(page.get_by_test_id("codes-coupon")).to_contain_text("None yet")

    # Dana taps table 3's code: her bubble says what she scanned, never the payload.
    _pick(page, DANA, "Dana")
    tables.nth(2).click()
    expect(page.get_by_test_id("toast").filter(has_text="Dana scanned Table 3")).to_be_visible()
    expect(page.locator("[data-testid=msg][data-from=user]")).to_have_count(1)
    assert _my_bubbles(page) == ["Scanned: Table 3 at Regulars Bistro"]
    # The camera is drawn (SVG), so it shows without an emoji font.
    expect(page.locator("[data-testid=msg-text][data-kind=table] .icon svg")).to_have_count(1)

    # A link nobody registered: a neutral "Opened a link".
    page.get_by_test_id("open-link").fill(f"{BOT}?start=somebody_elses_code")
    page.get_by_test_id("open-link-go").click()
    expect(page.locator("[data-testid=msg][data-from=user]")).to_have_count(2)
    assert _my_bubbles(page)[-1] == "Opened a link"
    expect(page.get_by_test_id("messages")).not_to_contain_text("/start")
    expect(page.get_by_test_id("messages")).not_to_contain_text("AQEBAa3")

    # The cashier scans Dana's card.
    _pick(page, CARLOS, "Carlos")
    page.get_by_test_id("codes-card").get_by_test_id("code").click()
    expect(page.locator("[data-testid=msg][data-from=user]")).to_have_count(1)
    assert _my_bubbles(page) == ["Scanned: Dana's member card"]

    # A coupon the app registers later shows up without reloading the page.
    coupon = {"label": "Dana's coupon, code 123456", "url": f"{BOT}?start=CPN1"}
    chat_server.post("/sandbox/codes", {"kind": "coupon", "codes": [coupon]})
    expect(page.get_by_test_id("codes-coupon").get_by_test_id("code")).to_have_text(
        "Dana's coupon, code 123456"
    )

    page.screenshot(path=str(tmp_path / "webchat-codes-desktop.png"))
    # On a phone the list starts folded, one tap away: the chat needs the room.
    page.set_viewport_size(PHONE)
    page.reload()
    expect(codes).to_be_visible()
    expect(codes).not_to_have_attribute("open", "")
    expect(page.get_by_test_id("codes-table").get_by_test_id("code").first).to_be_hidden()
    page.screenshot(path=str(tmp_path / "webchat-codes-phone.png"))
    codes.locator("summary").click()
    expect(page.get_by_test_id("codes-table").get_by_test_id("code").first).to_be_visible()

    # What the bot received was the real /start <payload> each time.
    updates = chat_server.run(chat_server.emulator.call("getUpdates", {}))
    assert [u["message"]["text"] for u in updates] == [
        "/start AQEBAa3",
        "/start somebody_elses_code",
        "/start CARD7",
    ]
    assert page_errors == []


@pytest.mark.browser
def test_photos_show_no_debug_link(
    chat_server: ChatServer, page: Page, page_errors: list[str], tmp_path: Path
) -> None:
    _cast(chat_server)
    qr = Upload(make_png(120, 120), "receipt.png", "image/png")
    caption = f"Scan to claim\n\n{BOT}?start=CARD7"  # the app adds the QR's link for the web chat
    chat_server.run(
        chat_server.emulator.call(
            "sendPhoto", Params({"chat_id": DANA, "caption": caption}, {"photo": qr})
        )
    )
    page.goto(chat_server.url + "/")
    _pick(page, DANA, "Dana")

    bot_photo = page.locator("[data-testid=msg][data-from=bot]").filter(
        has=page.get_by_test_id("photo")
    )
    expect(bot_photo).to_have_count(1)
    expect(bot_photo.get_by_test_id("msg-text")).to_have_text(
        re.compile(r"^Scan to claim\s+https://t\.me/RegularsSandboxBot\?start=CARD7$")
    )
    page.wait_for_function(
        "img => img.complete && img.naturalWidth === 120",
        arg=bot_photo.get_by_test_id("photo").element_handle(),
    )

    # The person's own photo, sent from the composer with a caption.
    page.get_by_test_id("composer").fill("Our table tonight")
    table: FilePayload = {"name": "table.png", "mimeType": "image/png", "buffer": make_png(40, 30)}
    page.get_by_test_id("photo-input").set_input_files(files=[table])
    mine = page.locator("[data-testid=msg][data-from=user]").filter(
        has=page.get_by_test_id("photo")
    )
    expect(mine).to_have_count(1)

    # Only the image and its caption: no file URL above or below the caption.
    for bubble in (bot_photo, mine):
        assert "/sandbox/files/" not in bubble.inner_text()
    assert not re.search(r"https?://", mine.inner_text())
    assert page.locator("[data-testid=photo-url]").count() == 0

    # The link in the caption is a link (Telegram marks it): tapping it scans the code.
    bot_photo.get_by_role("link", name=re.compile("start=CARD7")).click()
    scanned = page.locator("[data-testid=msg][data-from=user] [data-testid=msg-text]").last
    expect(scanned).to_have_text("Scanned: Dana's member card")
    page.screenshot(path=str(tmp_path / "webchat-photos.png"))
    assert page_errors == []
