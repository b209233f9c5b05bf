"""Text helpers: UTF-16 offsets, entity normalisation, HTML rendering for display."""

from __future__ import annotations

import html
import re
from typing import Any

Entity = dict[str, Any]

# Every entity type of the Bot API, and the optional fields each may carry.
ENTITY_TYPES = frozenset(
    {
        "mention",
        "hashtag",
        "cashtag",
        "bot_command",
        "url",
        "email",
        "phone_number",
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "blockquote",
        "expandable_blockquote",
        "code",
        "pre",
        "text_link",
        "text_mention",
        "custom_emoji",
    }
)
_ENTITY_EXTRAS = ("url", "user", "language", "custom_emoji_id")

_BOT_COMMAND = re.compile(r"(?<![\w/@.])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/@])")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's entity offsets."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def utf16_slice(text: str, offset: int, length: int) -> str:
    """The substring at a UTF-16 offset and length."""
    encoded = text.encode("utf-16-le")
    return encoded[2 * offset : 2 * (offset + length)].decode("utf-16-le", errors="replace")


def sort_entities(entities: list[Entity]) -> list[Entity]:
    """Telegram's order: by offset, an enclosing entity before the ones it contains."""
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


def normalize_entities(raw: Any, text: str) -> list[Entity] | None:
    """Validate an explicit ``entities`` array; ``None`` when it is not a list of entities."""
    if not isinstance(raw, list):
        return None
    total = utf16_len(text)
    result: list[Entity] = []
    for item in raw:
        if not isinstance(item, dict):
            return None
        kind, offset, length = item.get("type"), item.get("offset"), item.get("length")
        if not isinstance(kind, str) or not isinstance(offset, int) or not isinstance(length, int):
            return None
        if kind not in ENTITY_TYPES or offset < 0 or length <= 0:
            continue
        end = min(offset + length, total)
        if end <= offset:
            continue
        if kind == "text_link" and not isinstance(item.get("url"), str):
            continue
        if kind == "custom_emoji" and not item.get("custom_emoji_id"):
            continue
        if kind == "text_mention" and not isinstance(item.get("user"), dict):
            continue
        entity: Entity = {"type": kind, "offset": offset, "length": end - offset}
        for extra in _ENTITY_EXTRAS:
            if item.get(extra) is not None:
                entity[extra] = item[extra]
        if kind == "pre" and not entity.get("language"):
            entity.pop("language", None)
        result.append(entity)
    return sort_entities(result)


def trim(text: str, entities: list[Entity]) -> tuple[str, list[Entity]]:
    """Strip leading and trailing whitespace as Telegram does, moving and clipping entities."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    if not stripped:
        return "", []
    shift = utf16_len(text[: len(text) - len(text.lstrip())])
    total = utf16_len(stripped)
    result: list[Entity] = []
    for entity in entities:
        start = max(entity["offset"] - shift, 0)
        end = min(entity["offset"] + entity["length"] - shift, total)
        if end > start:
            result.append({**entity, "offset": start, "length": end - start})
    return stripped, sort_entities(result)


def bot_command_entities(text: str) -> list[Entity]:
    """The ``bot_command`` entities Telegram marks in a message a person sends."""
    entities: list[Entity] = []
    for match in _BOT_COMMAND.finditer(text):
        entities.append(
            {
                "type": "bot_command",
                "offset": utf16_len(text[: match.start()]),
                "length": utf16_len(match.group()),
            }
        )
    return entities


# An http(s) link in plain text; Telegram leaves trailing punctuation out of it.
_URL = re.compile(r"(?<![\w@/.:-])https?://[^\s<>\"'«»“”]+", re.IGNORECASE)
_URL_TAIL = ".,;:!?)]}"
# Entities a detected link may sit inside (formatting); any other overlap wins over detection.
_FORMATTING = frozenset(
    {"bold", "italic", "underline", "strikethrough", "spoiler", "blockquote",
     "expandable_blockquote"}
)  # fmt: skip


def with_detected_urls(text: str, entities: list[Entity]) -> list[Entity]:
    """Add the ``url`` entities Telegram marks by itself in a message's text or caption.

    Telegram finds links in plain text (``https://t.me/...?start=...`` in a caption is a
    link in the app) and reports them as ``url`` entities, except where an entity the sender
    gave covers the spot (a ``text_link``, ``code``...). Only links with an http(s) scheme are
    found here; Telegram also finds bare domains, which this emulator leaves as text."""
    taken = [
        (e["offset"], e["offset"] + e["length"]) for e in entities if e["type"] not in _FORMATTING
    ]
    found: list[Entity] = []
    for match in _URL.finditer(text):
        url = match.group().rstrip(_URL_TAIL)
        if "://" not in url or url.endswith("://"):
            continue
        start = utf16_len(text[: match.start()])
        end = start + utf16_len(url)
        if any(start < other_end and other_start < end for other_start, other_end in taken):
            continue
        found.append({"type": "url", "offset": start, "length": end - start})
    return sort_entities([*entities, *found]) if found else entities


def _open_tag(entity: Entity, text: str) -> tuple[str, str] | None:
    kind = entity["type"]
    simple = {
        "bold": "b",
        "italic": "i",
        "underline": "u",
        "strikethrough": "s",
        "spoiler": "tg-spoiler",
        "code": "code",
        "blockquote": "blockquote",
    }
    if kind in simple:
        tag = simple[kind]
        return f"<{tag}>", f"</{tag}>"
    if kind == "expandable_blockquote":
        return "<blockquote expandable>", "</blockquote>"
    if kind == "pre":
        language = entity.get("language")
        if language:
            return f'<pre><code class="language-{html.escape(language)}">', "</code></pre>"
        return "<pre>", "</pre>"
    if kind == "text_link":
        return f'<a href="{html.escape(str(entity.get("url", "")))}">', "</a>"
    if kind == "url":
        target = utf16_slice(text, entity["offset"], entity["length"])
        if "://" not in target:
            target = "http://" + target
        return f'<a href="{html.escape(target)}">', "</a>"
    if kind == "email":
        target = utf16_slice(text, entity["offset"], entity["length"])
        return f'<a href="mailto:{html.escape(target)}">', "</a>"
    if kind == "text_mention":
        user = entity.get("user") or {}
        return f'<a href="tg://user?id={html.escape(str(user.get("id", "")))}">', "</a>"
    if kind == "custom_emoji":
        emoji_id = html.escape(str(entity.get("custom_emoji_id", "")))
        return f'<tg-emoji emoji-id="{emoji_id}">', "</tg-emoji>"
    return None


def render_html(text: str, entities: list[Entity]) -> str:
    """Render plain text and entities as Telegram-style HTML with everything escaped."""
    tagged: list[tuple[int, int, str, str]] = []
    for entity in sort_entities(entities):
        tags = _open_tag(entity, text)
        if tags is not None:
            start = entity["offset"]
            tagged.append((start, start + entity["length"], tags[0], tags[1]))
    out: list[str] = []
    stack: list[tuple[int, int, str, str]] = []
    next_index = 0

    def settle(position: int) -> None:
        nonlocal next_index
        # Close what ends here; entities that cross are closed and reopened around it.
        while True:
            ending = [i for i, item in enumerate(stack) if item[1] <= position]
            if not ending:
                break
            deepest = ending[0]
            reopen = [item for item in stack[deepest:] if item[1] > position]
            for item in reversed(stack[deepest:]):
                out.append(item[3])
            del stack[deepest:]
            for item in reopen:
                out.append(item[2])
                stack.append(item)
        while next_index < len(tagged) and tagged[next_index][0] <= position:
            item = tagged[next_index]
            next_index += 1
            if item[1] > position:
                out.append(item[2])
                stack.append(item)

    position = 0
    for char in text:
        settle(position)
        out.append(html.escape(char))
        position += 2 if ord(char) > 0xFFFF else 1
    settle(position)
    for item in reversed(stack):
        out.append(item[3])
    return "".join(out)
