"""The three parse modes of the Bot API: HTML, MarkdownV2 and the legacy Markdown.

Each parser turns marked-up text into plain text plus entities whose offsets and lengths are in
UTF-16 code units. Errors are raised as ``Bad Request: can't parse entities: ...`` with byte
offsets into the UTF-8 source, as Telegram reports them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .errors import ApiError, bad_request
from .text import Entity, sort_entities

_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_-]+")
_HTML_ENTITY = re.compile(r"&(#[0-9]{1,8}|#[xX][0-9a-fA-F]{1,8}|[A-Za-z][A-Za-z0-9]{1,31});")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}

_V2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_V2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}


def parse_error(detail: str) -> ApiError:
    return bad_request(f"can't parse entities: {detail}")


class _Builder:
    """Accumulates plain text while tracking the UTF-16 position."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.parts: list[str] = []
        self.position = 0
        self.entities: list[Entity] = []

    def emit(self, text: str) -> None:
        self.parts.append(text)
        self.position += len(text) + sum(1 for char in text if ord(char) > 0xFFFF)

    def byte_offset(self, index: int) -> int:
        return len(self.source[:index].encode("utf-8"))

    def add(self, kind: str, start: int, **extra: Any) -> None:
        if self.position > start:
            entity: Entity = {"type": kind, "offset": start, "length": self.position - start}
            entity.update({key: value for key, value in extra.items() if value})
            self.entities.append(entity)

    def result(self) -> tuple[str, list[Entity]]:
        return "".join(self.parts), sort_entities(self.entities)


def _decode_entities(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        body = match.group(1)
        if body[0] == "#":
            code = int(body[2:], 16) if body[1] in "xX" else int(body[1:])
            if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
                return chr(code)
            return match.group()
        return _NAMED.get(body, match.group())

    return _HTML_ENTITY.sub(replace, text)


@dataclass(slots=True)
class _HtmlOpen:
    tag: str
    kind: str
    start: int
    attributes: dict[str, str]
    merged: bool = False
    language: str = ""


def parse_html(source: str) -> tuple[str, list[Entity]]:
    """Parse Telegram's HTML subset."""
    out = _Builder(source)
    stack: list[_HtmlOpen] = []
    i, n = 0, len(source)
    while i < n:
        char = source[i]
        if char == "&":
            match = _HTML_ENTITY.match(source, i)
            if match:
                out.emit(_decode_entities(match.group()))
                i = match.end()
            else:
                out.emit("&")
                i += 1
            continue
        if char != "<":
            j = i + 1
            while j < n and source[j] not in "<&":
                j += 1
            out.emit(source[i:j])
            i = j
            continue
        if i + 1 < n and source[i + 1] == "/":
            end = source.find(">", i)
            if end < 0:
                raise parse_error(f"Unclosed end tag at byte offset {out.byte_offset(i)}")
            name = source[i + 2 : end].strip().lower()
            if not stack:
                raise parse_error(f"Unexpected end tag at byte offset {out.byte_offset(i)}")
            top = stack.pop()
            if name != top.tag:
                raise parse_error(
                    f"Unmatched end tag at byte offset {out.byte_offset(i)}, "
                    f'expected "</{top.tag}>", found "</{name}>"'
                )
            _close_html(out, top, stack)
            i = end + 1
            continue
        tag_start = i
        match = _TAG_NAME.match(source, i + 1)
        name = match.group().lower() if match else ""
        if name not in _HTML_TAGS:
            raise parse_error(
                f'Unsupported start tag "{name}" at byte offset {out.byte_offset(tag_start)}'
            )
        assert match is not None
        i = match.end()
        attributes, i = _html_attributes(out, source, i, tag_start=tag_start, name=name)
        _open_html(out, stack, name, attributes, tag_start)
    if stack:
        raise parse_error(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    return out.result()


def _html_attributes(
    out: _Builder, source: str, i: int, *, tag_start: int, name: str
) -> tuple[dict[str, str], int]:
    """The attributes of a start tag from just after its name; and the index after its ``>``."""
    attributes: dict[str, str] = {}
    n = len(source)
    while True:
        while i < n and source[i].isspace():
            i += 1
        if i >= n:
            raise parse_error(f"Unclosed start tag at byte offset {out.byte_offset(tag_start)}")
        if source[i] == ">":
            return attributes, i + 1
        attribute = _ATTRIBUTE_NAME.match(source, i)
        if not attribute:
            raise parse_error(
                f'Empty attribute name in the tag "{name}" at byte offset {out.byte_offset(i)}'
            )
        attribute_name = attribute.group().lower()
        i = attribute.end()
        while i < n and source[i].isspace():
            i += 1
        if i >= n or source[i] != "=":
            attributes[attribute_name] = ""
            continue
        i += 1
        while i < n and source[i].isspace():
            i += 1
        if i < n and source[i] in "\"'":
            quote = source[i]
            end = source.find(quote, i + 1)
            if end < 0:
                raise parse_error(f"Unclosed start tag at byte offset {out.byte_offset(tag_start)}")
            value = source[i + 1 : end]
            i = end + 1
        else:
            j = i
            while j < n and not source[j].isspace() and source[j] != ">":
                j += 1
            value = source[i:j]
            i = j
        attributes[attribute_name] = _decode_entities(value)


def _open_html(
    out: _Builder, stack: list[_HtmlOpen], name: str, attributes: dict[str, str], index: int
) -> None:
    kind = _HTML_TAGS[name]
    if name == "span" and attributes.get("class") != "tg-spoiler":
        raise parse_error(
            f'Tag "span" must have class "tg-spoiler" at byte offset {out.byte_offset(index)}'
        )
    if name == "tg-emoji" and not attributes.get("emoji-id"):
        raise parse_error(
            f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset {out.byte_offset(index)}'
        )
    if name == "blockquote" and "expandable" in attributes:
        kind = "expandable_blockquote"
    opened = _HtmlOpen(name, kind, out.position, attributes)
    if name == "code" and stack and stack[-1].kind == "pre" and stack[-1].start == out.position:
        # <pre><code class="language-x"> is one pre entity with a language.
        opened.merged = True
        language = attributes.get("class", "")
        if language.startswith("language-"):
            stack[-1].language = language[len("language-") :]
    stack.append(opened)


def _close_html(out: _Builder, item: _HtmlOpen, stack: list[_HtmlOpen]) -> None:
    if item.merged:
        return
    if item.kind == "text_link":
        url = item.attributes.get("href", "").strip()
        if url:
            if url.startswith("tg://user?id="):
                user_id = url[len("tg://user?id=") :]
                if user_id.isdigit():
                    out.add("text_mention", item.start, user={"id": int(user_id)})
                    return
            out.add("text_link", item.start, url=url)
        return
    if item.kind == "pre":
        out.add("pre", item.start, language=item.language)
        return
    if item.kind == "custom_emoji":
        out.add("custom_emoji", item.start, custom_emoji_id=item.attributes["emoji-id"])
        return
    out.add(item.kind, item.start)


@dataclass(slots=True)
class _MdOpen:
    kind: str
    start: int
    index: int
    extra: dict[str, Any] = field(default_factory=dict)


def parse_markdown_v2(source: str) -> tuple[str, list[Entity]]:
    """Parse MarkdownV2."""
    out = _Builder(source)
    stack: list[_MdOpen] = []
    quote_start: int | None = None
    i, n = 0, len(source)
    while i < n:
        char = source[i]
        at_line_start = i == 0 or source[i - 1] == "\n"
        if char == ">" and at_line_start:
            if quote_start is None:
                quote_start = out.position
            i += 1
            continue
        if char == "\n" and quote_start is not None and not source.startswith(">", i + 1):
            out.add("blockquote", quote_start)
            quote_start = None
        if char == "\\":
            if i + 1 < n and 0 < ord(source[i + 1]) <= 126:
                out.emit(source[i + 1])
                i += 2
            else:
                out.emit("\\")
                i += 1
            continue
        if char in "*_~|":
            if char == "|":
                if not source.startswith("||", i):
                    raise _reserved(char)
                kind, size = "spoiler", 2
            elif char == "_" and source.startswith("__", i):
                kind, size = "underline", 2
            else:
                kind, size = {"*": "bold", "_": "italic", "~": "strikethrough"}[char], 1
            if stack and stack[-1].kind == kind:
                top = stack.pop()
                out.add(kind, top.start)
            else:
                stack.append(_MdOpen(kind, out.position, i))
            i += size
            continue
        if char == "[" or (char == "!" and source.startswith("![", i)):
            kind = "text_link" if char == "[" else "custom_emoji"
            stack.append(_MdOpen(kind, out.position, i))
            i += 1 if char == "[" else 2
            continue
        if char == "]":
            if not stack or stack[-1].kind not in ("text_link", "custom_emoji"):
                raise _reserved(char)
            i = _markdown_link_end(out, source, i + 1, stack.pop())
            continue
        if char == "`":
            i = _markdown_code(out, source, i, escapes=True)
            continue
        if char in _V2_RESERVED:
            raise _reserved(char)
        j = i + 1
        while j < n and source[j] not in _V2_RESERVED and source[j] not in "\\\n":
            j += 1
        out.emit(source[i:j])
        i = j
    if quote_start is not None:
        out.add("blockquote", quote_start)
    if stack:
        top = stack[-1]
        raise parse_error(
            f"Can't find end of {_V2_NAMES.get(top.kind, top.kind)} entity at byte offset "
            f"{out.byte_offset(top.index)}"
        )
    return out.result()


def _markdown_link_end(out: _Builder, source: str, i: int, top: _MdOpen) -> int:
    """Close a ``[text](url)`` link or a ``![emoji](tg://emoji?id=...)`` from just after its
    ``]``; the index after it."""
    n = len(source)
    if i < n and source[i] == "(":
        url_parts: list[str] = []
        j = i + 1
        while j < n and source[j] != ")":
            if source[j] == "\\" and j + 1 < n:
                url_parts.append(source[j + 1])
                j += 2
            else:
                url_parts.append(source[j])
                j += 1
        if j >= n:
            raise parse_error(f"Can't find end of a URL at byte offset {out.byte_offset(i)}")
        url = "".join(url_parts)
        i = j + 1
    else:
        url = ""
    if top.kind == "custom_emoji":
        emoji_id = url.removeprefix("tg://emoji?id=")
        if emoji_id == url or not emoji_id.isdigit():
            raise parse_error(
                f"Custom emoji URL must have an emoji identifier at byte offset "
                f"{out.byte_offset(top.index)}"
            )
        out.add("custom_emoji", top.start, custom_emoji_id=emoji_id)
    elif url.strip():
        out.add("text_link", top.start, url=url.strip())
    return i


def _reserved(char: str) -> ApiError:
    return parse_error(
        f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
    )


def _markdown_code(out: _Builder, source: str, i: int, *, escapes: bool) -> int:
    """Parse `code` or ```pre``` starting at ``i``; return the index after it."""
    n = len(source)
    start = out.position
    if source.startswith("```", i):
        j = i + 3
        end_marker = _find_unescaped(source, "```", j, escapes)
        if end_marker < 0:
            raise parse_error(f"Can't find end of Pre entity at byte offset {out.byte_offset(i)}")
        newline = source.find("\n", j, end_marker)
        language = ""
        if newline >= 0 and source[j:newline].strip() and " " not in source[j:newline].strip():
            language = source[j:newline].strip()
            j = newline + 1
        elif newline >= 0 and not source[j:newline].strip():
            j = newline + 1
        out.emit(_unescape_code(source[j:end_marker], escapes))
        out.add("pre", start, language=language)
        return end_marker + 3
    end = _find_unescaped(source, "`", i + 1, escapes)
    if end < 0 or end >= n:
        raise parse_error(f"Can't find end of Code entity at byte offset {out.byte_offset(i)}")
    out.emit(_unescape_code(source[i + 1 : end], escapes))
    out.add("code", start)
    return end + 1


def _find_unescaped(source: str, marker: str, start: int, escapes: bool) -> int:
    j = start
    while j < len(source):
        if escapes and source[j] == "\\":
            j += 2
            continue
        if source.startswith(marker, j):
            return j
        j += 1
    return -1


def _unescape_code(text: str, escapes: bool) -> str:
    if not escapes:
        return text
    return re.sub(r"\\([\x01-\x7e])", r"\1", text)


def parse_markdown(source: str) -> tuple[str, list[Entity]]:
    """Parse the legacy Markdown mode: *bold*, _italic_, `code`, ```pre```, [text](url)."""
    out = _Builder(source)
    i, n = 0, len(source)
    while i < n:
        char = source[i]
        if char == "\\" and i + 1 < n and source[i + 1] in "_*`[":
            out.emit(source[i + 1])
            i += 2
            continue
        if char in "*_":
            end = source.find(char, i + 1)
            if end < 0:
                raise parse_error(
                    f"Can't find end of the entity starting at byte offset {out.byte_offset(i)}"
                )
            start = out.position
            out.emit(source[i + 1 : end])
            out.add("bold" if char == "*" else "italic", start)
            i = end + 1
            continue
        if char == "`":
            if source.startswith("```", i):
                end = source.find("```", i + 3)
            else:
                end = source.find("`", i + 1)
            if end < 0:
                raise parse_error(
                    f"Can't find end of the entity starting at byte offset {out.byte_offset(i)}"
                )
            i = _markdown_code(out, source, i, escapes=False)
            continue
        if char == "[":
            close = source.find("]", i + 1)
            if close < 0:
                raise parse_error(
                    f"Can't find end of the entity starting at byte offset {out.byte_offset(i)}"
                )
            label = source[i + 1 : close]
            if close + 1 < n and source[close + 1] == "(":
                end = source.find(")", close + 2)
                if end < 0:
                    raise parse_error(
                        f"Can't find end of the entity starting at byte offset {out.byte_offset(i)}"
                    )
                start = out.position
                out.emit(label)
                url = source[close + 2 : end].strip()
                if url:
                    out.add("text_link", start, url=url)
                i = end + 1
            else:
                out.emit(source[i : close + 1])
                i = close + 1
            continue
        j = i + 1
        while j < n and source[j] not in "\\*_`[":
            j += 1
        out.emit(source[i:j])
        i = j
    return out.result()


def parse(mode: str, source: str) -> tuple[str, list[Entity]]:
    """Parse ``source`` in a parse mode named case-insensitively; unknown modes are a 400."""
    normalized = mode.strip().lower()
    if normalized == "html":
        return parse_html(source)
    if normalized == "markdownv2":
        return parse_markdown_v2(source)
    if normalized == "markdown":
        return parse_markdown(source)
    raise bad_request("unsupported parse_mode")
