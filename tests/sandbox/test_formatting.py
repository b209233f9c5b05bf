"""Parse modes, entity rendering and image sniffing, as plain functions."""

from __future__ import annotations

import struct

import pytest

from sandbox.emulator.errors import ApiError
from sandbox.emulator.files import image_info
from sandbox.emulator.parsers import parse, parse_html, parse_markdown_v2
from sandbox.emulator.text import (
    bot_command_entities,
    render_html,
    trim,
    utf16_len,
    with_detected_urls,
)
from tests.sandbox.conftest import make_png


def test_utf16_lengths() -> None:
    assert utf16_len("abc") == 3
    assert utf16_len("中文") == 2
    assert utf16_len("😀") == 2
    assert utf16_len("👨‍👩‍👧") == 8


def test_html_entities_and_nesting() -> None:
    text, entities = parse_html("<b>a <i>b</i></b>&#x1F600;<u>c</u> &unknown; &lt")
    assert text == "a b😀c &unknown; &lt"
    assert entities == [
        {"type": "bold", "offset": 0, "length": 3},
        {"type": "italic", "offset": 2, "length": 1},
        {"type": "underline", "offset": 5, "length": 1},
    ]
    text, entities = parse_html(
        '<a href="tg://user?id=42">Ann</a> <tg-emoji emoji-id="5">👍</tg-emoji>'
    )
    assert entities == [
        {"type": "text_mention", "offset": 0, "length": 3, "user": {"id": 42}},
        {"type": "custom_emoji", "offset": 4, "length": 2, "custom_emoji_id": "5"},
    ]
    with pytest.raises(ApiError, match=r"Unclosed start tag at byte offset 0"):
        parse_html('<a href="x"')


def test_markdown_v2_rules() -> None:
    text, entities = parse_markdown_v2("___italic underline_\r__")
    assert text == "italic underline\r"
    assert {e["type"] for e in entities} == {"underline", "italic"}
    text, entities = parse_markdown_v2("```\ncode with * and _\n```")
    assert text == "code with * and _\n"
    assert entities == [{"type": "pre", "offset": 0, "length": 18}]
    text, _ = parse_markdown_v2(r"\_\*\[\]\(\)\~\`\>\#\+\-\=\|\{\}\.\!")
    assert text == "_*[]()~`>#+-=|{}.!"
    for char in "_*[]()~`#+-=|{}.!":
        with pytest.raises(ApiError):
            parse_markdown_v2(f"a {char} b")
    with pytest.raises(ApiError, match="Can't find end of Italic entity at byte offset 4"):
        parse_markdown_v2("中 _x")


def test_parse_mode_names_are_case_insensitive() -> None:
    assert parse("html", "<b>x</b>")[1][0]["type"] == "bold"
    assert parse("markdownv2", "*x*")[1][0]["type"] == "bold"
    assert parse("MARKDOWN", "_x_")[1][0]["type"] == "italic"
    with pytest.raises(ApiError, match="unsupported parse_mode"):
        parse("rtf", "x")


def test_trim_moves_entities() -> None:
    text, entities = trim("  😀 <b>", [{"type": "bold", "offset": 0, "length": 5}])
    assert text == "😀 <b>"
    assert entities == [{"type": "bold", "offset": 0, "length": 3}]


def test_render_html_escapes_and_handles_crossing_entities() -> None:
    entities = [
        {"type": "bold", "offset": 0, "length": 2},
        {"type": "italic", "offset": 1, "length": 2},
        {"type": "text_link", "offset": 4, "length": 1, "url": 'https://e.com/?q="x"'},
    ]
    assert render_html("a<c &", entities) == (
        '<b>a<i>&lt;</i></b><i>c</i> <a href="https://e.com/?q=&quot;x&quot;">&amp;</a>'
    )
    assert render_html("😀x", [{"type": "code", "offset": 2, "length": 1}]) == "😀<code>x</code>"


def test_bot_commands() -> None:
    assert bot_command_entities("/start") == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert bot_command_entities("a/b /x@y") == []  # no word boundary; too short a bot name
    assert bot_command_entities("see /menu.") == [{"type": "bot_command", "offset": 4, "length": 5}]


def test_image_info() -> None:
    assert image_info(make_png(7, 3)) == ("image/png", 7, 3)
    gif = b"GIF89a" + struct.pack("<HH", 12, 34) + b"\x00" * 10
    assert image_info(gif) == ("image/gif", 12, 34)
    jpeg = (
        b"\xff\xd8"
        + b"\xff\xe0"
        + struct.pack(">H", 16)
        + b"JFIF\x00" * 2
        + b"\x00\x00\x00\x00"
        + b"\xff\xc0"
        + struct.pack(">HBHH", 17, 8, 480, 640)
        + b"\x03"
        + b"\x00" * 12
    )
    assert image_info(jpeg) == ("image/jpeg", 640, 480)
    assert image_info(b"plain text") is None


def test_links_in_plain_text_are_url_entities() -> None:
    text = "😀 Scan: https://t.me/Bot?start=AQEB_x-1. Or (http://example.com/a)"
    found = with_detected_urls(text, [])
    assert found == [
        {"type": "url", "offset": 9, "length": 31},
        {"type": "url", "offset": 46, "length": 20},
    ]
    assert [utf16_slice_of(text, e) for e in found] == [
        "https://t.me/Bot?start=AQEB_x-1",
        "http://example.com/a",
    ]
    assert render_html("see https://x.io", with_detected_urls("see https://x.io", [])) == (
        'see <a href="https://x.io">https://x.io</a>'
    )
    # Inside bold it is still a link; inside code or a text_link it is what the sender said.
    bold = [{"type": "bold", "offset": 0, "length": 16}]
    assert with_detected_urls("see https://x.io", bold) == [
        *bold,
        {"type": "url", "offset": 4, "length": 12},
    ]
    code = [{"type": "code", "offset": 4, "length": 12}]
    assert with_detected_urls("see https://x.io", code) == code
    assert with_detected_urls("no link: https:// or mailto:a@b.c", []) == []


def utf16_slice_of(text: str, entity: dict[str, int]) -> str:
    encoded = text.encode("utf-16-le")
    start, end = 2 * entity["offset"], 2 * (entity["offset"] + entity["length"])
    return encoded[start:end].decode("utf-16-le")
