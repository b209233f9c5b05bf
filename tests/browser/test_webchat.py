"""The sandbox web chat, driven in headless Chromium against the real app (`regulars run`).

A person picks a diner, starts the bot, taps its buttons, switches the language and reads the
bot's answers in Chinese — all in the browser, as someone trying the sandbox would.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from playwright.sync_api import FilePayload, Locator, Page, expect

from sandbox.webchat import STATIC_DIR, add_webchat_routes
from tests.browser.support import PHONE, RunningApp
from tests.sandbox.conftest import make_png

CJK = re.compile(r"[\u4e00-\u9fff]")


# -- helpers ----------------------------------------------------------------------------------


def _diner(app: RunningApp, *, language: str) -> dict[str, Any]:
    """A diner of the ready cast, speaking `language`."""
    users: list[dict[str, Any]] = app.api("/sandbox/users")["users"]
    diners = [
        u
        for u in users
        if str(u.get("label") or "").lower() == "diner" and u.get("language_code") == language
    ]
    assert diners, f"the sandbox cast has no diner speaking {language}: {users}"
    return diners[0]


def _pick(page: Page, person: dict[str, Any]) -> None:
    """Choose `person` in the list and wait until their conversation is on screen."""
    page.get_by_test_id(f"person-{person['id']}").click()
    expect(page.get_by_test_id("chat-title")).to_have_text(person["first_name"])
    expect(page.get_by_test_id("messages")).to_have_attribute("data-loaded-for", str(person["id"]))


def _mine(page: Page, text: str) -> Locator:
    """The person's own bubbles saying exactly `text`."""
    said = page.get_by_test_id("msg-text").filter(has_text=re.compile(rf"^{re.escape(text)}$"))
    return page.locator("[data-testid=msg][data-from=user]").filter(has=said)


def _new_bubble(page: Page, text: str, action: Callable[[], None]) -> Locator:
    """Run `action` (which makes the person say `text`); return the new bubble once shown."""
    mine = _mine(page, text)
    before = mine.count()
    action()
    expect(mine).to_have_count(before + 1)
    return mine.nth(before)


def _send(page: Page, text: str, *, with_button: bool = False) -> Locator:
    """Type `text`, then press Enter (or the Send button); return the person's new bubble."""
    composer = page.get_by_test_id("composer")

    def type_and_send() -> None:
        composer.fill(text)
        if with_button:
            page.get_by_test_id("send").click()
        else:
            composer.press("Enter")
        expect(composer).to_have_value("")

    return _new_bubble(page, text, type_and_send)


def _replies_after(bubble: Locator) -> Locator:
    """The bot's messages that follow `bubble` in the conversation."""
    return bubble.locator("xpath=following-sibling::*[@data-testid='msg'][@data-from='bot']")


def _conversation(page: Page) -> str:
    return page.get_by_test_id("messages").inner_text()


def _wait_for_change(page: Page, before: str) -> None:
    page.wait_for_function(
        "before => document.querySelector('[data-testid=messages]').innerText !== before",
        arg=before,
    )


# -- the page is served without any build step or external resource --------------------------


async def test_the_page_and_its_assets_are_served_from_the_sandbox() -> None:
    app = web.Application()
    add_webchat_routes(app)
    async with TestClient(TestServer(app)) as client:
        page = await client.get("/")
        assert page.status == 200
        html = await page.text()
        for hook in ("composer", "send", "open-link", "open-link-go", "clock-1h", "commands"):
            assert f'data-testid="{hook}"' in html
        for asset, kind in (("app.js", "javascript"), ("style.css", "css")):
            response = await client.get(f"/static/{asset}")
            assert response.status == 200
            assert kind in response.headers["Content-Type"]
        assert (await client.get("/static/../webchat.py")).status == 404
        assert (await client.get("/static/%2e%2e/webchat.py")).status == 404
        assert (await client.get("/static/nothing-here.js")).status == 404

    # No CDN, no web font, no remote script: the sandbox works offline.
    for file in STATIC_DIR.iterdir():
        text = file.read_text(encoding="utf-8")
        assert not re.search(r"""(src|href)=["']https?://|@import|url\(\s*["']?https?:""", text), (
            file.name
        )


# -- the real app in the browser --------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.slow
def test_a_diner_starts_taps_and_switches_to_chinese(
    sandbox_app: RunningApp, page: Page, page_errors: list[str], tmp_path: Path
) -> None:
    diner = _diner(sandbox_app, language="en")
    page.goto(sandbox_app.url + "/")
    expect(page.get_by_test_id("bot-name")).to_contain_text(str(sandbox_app.bot["username"]))

    _pick(page, diner)

    # /start: the bot greets and offers inline buttons.
    start = _send(page, "/start", with_button=True)
    greeting = _replies_after(start)
    expect(greeting.first).to_contain_text(diner["first_name"])
    buttons = greeting.locator("[data-testid=inline-button][data-kind=callback]")
    expect(buttons.first).to_be_visible()

    # Tapping a button changes the chat.
    before = _conversation(page)
    buttons.first.click()
    _wait_for_change(page, before)

    # /language → 简体中文 → /help answers in Chinese.
    choose = _send(page, "/language")
    chinese = _replies_after(choose).locator("[data-testid=inline-button]", has_text="简体中文")
    before = _conversation(page)
    chinese.first.click()
    _wait_for_change(page, before)
    expect(page.get_by_test_id("toast").filter(has_text=CJK).first).to_be_visible()

    help_request = _send(page, "/help")
    expect(_replies_after(help_request).first).to_contain_text(CJK)

    # Attaching a photo sends it, the message box's text as its caption; the chat shows it.
    page.get_by_test_id("composer").fill("Our table tonight")
    table: FilePayload = {"name": "table.png", "mimeType": "image/png", "buffer": make_png(40, 30)}
    photo = _new_bubble(
        page,
        "Our table tonight",
        lambda: page.get_by_test_id("photo-input").set_input_files(files=[table]),
    )
    image = photo.get_by_test_id("photo")
    expect(image).to_be_visible()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth === 40", arg=image.element_handle()
    )
    expect(page.get_by_test_id("composer")).to_have_value("")
    expect(_replies_after(photo).first).to_be_visible()

    # A draft survives the page polling the conversation.
    page.get_by_test_id("composer").fill("a draft in progress")
    for _ in range(2):
        with page.expect_response(f"**/sandbox/users/{diner['id']}/history"):
            pass
    expect(page.get_by_test_id("composer")).to_have_value("a draft in progress")

    page.screenshot(path=str(tmp_path / "webchat-desktop.png"))
    page.set_viewport_size(PHONE)
    expect(page.get_by_test_id("composer")).to_be_visible()
    expect(page.get_by_test_id("send")).to_be_in_viewport()
    page.screenshot(path=str(tmp_path / "webchat-phone.png"))
    assert page_errors == []


@pytest.mark.browser
@pytest.mark.slow
def test_commands_deep_links_clock_and_blocking(
    sandbox_app: RunningApp, page: Page, page_errors: list[str], tmp_path: Path
) -> None:
    page.set_viewport_size(PHONE)
    diner = _diner(sandbox_app, language="en")
    page.goto(sandbox_app.url + "/")

    # Invoice amounts use the currency's minor-unit exponent.
    amounts = page.evaluate(
        "[formatAmount(4250, 'EUR'), formatAmount(1200, 'JPY'), formatAmount(12345, 'KWD')]"
    )
    assert [a.replace("\xa0", " ") for a in amounts] == ["€42.50", "¥1,200", "KWD 12.345"]

    # On a phone the list comes first, then the chat with a way back.
    _pick(page, diner)
    expect(page.get_by_test_id("people")).to_be_hidden()
    expect(page.get_by_test_id("composer")).to_be_in_viewport()

    # The "/" menu lists the bot's commands for this person and sends the one tapped.
    page.get_by_test_id("commands").click()
    item = page.locator("[data-testid=command-item][data-command=help]")
    expect(item).to_be_visible()
    mine = _new_bubble(page, "/help", item.click)
    expect(_replies_after(mine).first).to_be_visible()

    # Scanning a code that is not ours: the bot gets /start <payload> and answers; the chat
    # shows a neutral "Opened a link", never the raw payload.
    username = sandbox_app.bot["username"]
    page.get_by_test_id("open-link").fill(f"https://t.me/{username}?start=not_a_real_code")
    scanned = _new_bubble(page, "Opened a link", page.get_by_test_id("open-link-go").click)
    expect(_replies_after(scanned).first).to_be_visible()
    expect(page.get_by_test_id("messages")).not_to_contain_text("not_a_real_code")

    # The app's own table codes are listed to scan (folded on a phone); tapping one checks in.
    page.get_by_test_id("codes").locator("summary").click()
    tables = page.get_by_test_id("codes-table").get_by_test_id("code")
    expect(tables).to_have_count(12)
    table3 = _new_bubble(page, f"Scanned: {tables.nth(2).inner_text()}", tables.nth(2).click)
    expect(table3).to_contain_text(re.compile(r"Scanned: Table 3 at \S"))
    expect(_replies_after(table3).first).to_contain_text("3")
    expect(page.get_by_test_id("open-link")).to_have_value("")

    # Moving the clock reports the new time.
    page.get_by_test_id("clock-1h").click()
    expect(page.get_by_test_id("clock-status")).to_contain_text("Clock moved +1 h")

    # Blocking the bot and unblocking it again.
    page.get_by_test_id("block-toggle").click()
    expect(page.get_by_test_id("blocked-banner")).to_be_visible()
    expect(page.get_by_test_id("block-toggle")).to_have_attribute("aria-pressed", "true")
    page.get_by_test_id("block-toggle").click()
    expect(page.get_by_test_id("blocked-banner")).to_be_hidden()

    page.screenshot(path=str(tmp_path / "webchat-phone-tools.png"))
    assert page_errors == []
