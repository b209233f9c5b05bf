"""Chinese names and replies render as characters in the web chat, not as boxes.

Measured in headless Chromium: which platform font drew each name (Chromium's own report over
the DevTools protocol), and each character drawn on a canvas compared with the box drawn for a
code point no font has. A screenshot is kept for a person to look at.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.support import ChatServer

LI_NA, CHEN_MING = 1_000_102, 1_000_103
# The CJK faces of the page's font stack (sandbox/static/style.css) a Linux machine may have.
CJK_FAMILIES = {
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Noto Sans CJK SC",
    "Noto Sans CJK TC",
    "Noto Sans SC",
    "Noto Sans TC",
    "Source Han Sans SC",
    "Source Han Sans TC",
}

# Draws `text`'s characters one by one in the element's font, and a code point no font has
# (plane 16 private use), on 48 px canvases; returns the drawings as data URLs.
_DRAW = """
(el, text) => {
  const family = getComputedStyle(el).fontFamily;
  const draw = (ch) => {
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = 48;
    const context = canvas.getContext("2d");
    context.font = `32px ${family}`;
    context.fillText(ch, 4, 36);
    return canvas.toDataURL();
  };
  return { missing: draw("\\u{10FFFD}"), blank: draw(" "), chars: Array.from(text).map(draw) };
}
"""


def _require_cjk_font() -> None:
    """CI installs fonts-wqy-microhei (.ci/run); elsewhere, say what is missing."""
    if shutil.which("fc-list") is None:
        return
    found = subprocess.run(
        ["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=False
    ).stdout.strip()
    if found:
        return
    reason = "no CJK font installed: apt-get install fonts-wqy-microhei"
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def _platform_fonts(page: Page, selector: str) -> list[dict[str, Any]]:
    """The fonts Chromium used for the text directly inside `selector`, with glyph counts."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    fonts: list[dict[str, Any]] = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    cdp.detach()
    return fonts


@pytest.mark.browser
def test_chinese_names_render_as_characters(
    chat_server: ChatServer, page: Page, page_errors: list[str], tmp_path: Path
) -> None:
    _require_cjk_font()
    for user_id, name, language in (
        (LI_NA, "李娜", "zh-hans"),
        (CHEN_MING, "陳明", "zh-hant"),
    ):
        chat_server.post(
            "/sandbox/users",
            {"id": user_id, "first_name": name, "language_code": language, "label": "Diner"},
        )
    chat_server.post(f"/sandbox/users/{LI_NA}/send", {"text": "你好，我想加入会员"})
    page.goto(chat_server.url + "/")
    page.get_by_test_id(f"person-{LI_NA}").click()
    expect(page.get_by_test_id("msg-text")).to_have_text("你好，我想加入会员")

    # The page asks for the CJK faces by name (after the Latin ones).
    family = page.evaluate("getComputedStyle(document.body).fontFamily")
    for wanted in ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Sans CJK TC"):
        assert wanted in family, family

    for user_id, name in ((LI_NA, "李娜"), (CHEN_MING, "陳明")):
        page.get_by_test_id(f"person-{user_id}").click()
        title = page.get_by_test_id("chat-title")
        expect(title).to_have_text(name)
        # Every glyph of the name came from a CJK face of the stack, none from a Latin face
        # drawing boxes.
        fonts = _platform_fonts(page, "[data-testid=chat-title]")
        assert {font["familyName"] for font in fonts} <= CJK_FAMILIES, fonts
        assert sum(font["glyphCount"] for font in fonts) == len(name), fonts
        # Drawn, each character differs from the missing-glyph box, from a blank and from the
        # other character.
        drawn = title.evaluate(_DRAW, name)
        for index, picture in enumerate(drawn["chars"]):
            assert picture not in (drawn["missing"], drawn["blank"]), f"{name[index]} is a box"
        assert len(set(drawn["chars"])) == len(name)
    # In the list of people too (the name is drawn by the CJK face; "Diner" by a Latin one).
    fonts = _platform_fonts(page, f"[data-testid=person-{LI_NA}] .person-name")
    assert sum(f["glyphCount"] for f in fonts if f["familyName"] in CJK_FAMILIES) == 2, fonts

    page.get_by_test_id(f"person-{LI_NA}").click()
    said = "你好，我想加入会员"
    fonts = _platform_fonts(page, "[data-testid=msg-text]")
    assert {font["familyName"] for font in fonts} <= CJK_FAMILIES, fonts
    assert sum(font["glyphCount"] for font in fonts) == len(said), fonts

    shot = tmp_path / "webchat-chinese-names.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 0
    assert page_errors == []
