"""QR images: a bare QR code (sent as a photo) and printable table cards (PNG, SVG, a PDF sheet).

A table card, top to bottom: the store's name, the QR code of the table's deep link, the table
("Table 12", or "桌 12" with ``label="桌"``) in large type and a short caption. One layout, computed
in pixels at 300 dpi, is drawn twice: by Pillow into a PNG and as SVG text and paths (the SVG
keeps the real text, so a print shop or a browser with CJK fonts renders any store name).

The sheet, ``tables-sheet.pdf``, puts four cards on each A4 page (2 x 2, about A6 each) with crop
marks at every corner to cut along, and a small footer naming the store and the tables on the page.
Its pages are 1-bit images (CCITT G4, lossless and small) so QR edges stay sharp in print.

QR codes: error correction Q (a quarter of the code may be stained or torn), a quiet zone of 4
modules, drawn module by module at a whole number of pixels per module (no resampling blur).
"""

from __future__ import annotations

import io
import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import segno
from PIL import Image, ImageDraw, ImageFont, features
from PIL.PngImagePlugin import PngInfo

SANDBOX_BOT_USERNAME = "RegularsSandboxBot"
"""The bot's username in sandbox mode (no BOT_TOKEN), where there is no real Telegram to ask."""

DEFAULT_LABEL = "Table"
DEFAULT_CAPTION = "Scan to check in · pay here to become a member"

QR_ERROR = "q"
QUIET_ZONE = 4
DPI = 300
CARD_MM = (100.0, 140.0)
A4_MM = (210.0, 297.0)
SHEET_MARGIN_MM = 10.0
SHEET_GUTTER_MM = 10.0
SHEET_GRID = (2, 2)  # columns, rows
MAX_TABLES = 1000

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_FILES = {False: "DejaVuSans.ttf", True: "DejaVuSans-Bold.ttf"}
# DejaVu has no CJK glyphs. When a text needs them, the first of these that exists is used; on a
# machine with none of them Pillow draws empty boxes for those characters in the PNG and the PDF
# (the card still renders and the QR code still works) while the SVG keeps the real text and lets
# the viewer pick a CJK font from SVG_FONT_FAMILY. Install fonts-noto-cjk for proper PNG/PDF text.
CJK_FONT_FILES = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
    Path("/usr/share/fonts/truetype/arphic/uming.ttc"),
)
SVG_FONT_FAMILY = (
    "'DejaVu Sans', 'Noto Sans CJK SC', 'Noto Sans CJK TC', 'Noto Sans SC', 'Noto Sans TC', "
    "'Source Han Sans SC', 'PingFang SC', 'PingFang TC', 'Hiragino Sans GB', 'Microsoft YaHei', "
    "'Microsoft JhengHei', 'WenQuanYi Zen Hei', Arial, sans-serif"
)

_TABLE_RANGE = re.compile(r"([0-9]+)(?:\s*-\s*([0-9]+))?")

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


# -- the bare QR code ---------------------------------------------------------------------


def make_qr(link: str) -> tuple[bytes, ...]:
    """The QR code of ``link`` as rows of modules (1 dark, 0 light), no quiet zone: exactly
    the symbol ``segno.make(link, error="q")`` makes.

    segno chooses the data mask with the lowest penalty score (ISO/IEC 18004 7.8.3), scoring
    the eight candidates module by module in pure Python: ~7 of the ~9 ms a member card's code
    took. Here segno encodes the symbol with mask 0 (~2 ms) and the same scores are computed on
    whole rows and columns held as integers (``_penalty``); the chosen mask's symbol is that
    one with its data modules re-masked and its format information taken from a symbol of the
    same size and mask (format and version information depend on nothing else).
    """
    first = segno.make(link, error=QR_ERROR, boost_error=False, micro=False, mask=0)
    size = len(first.matrix)
    template = _mask_template(size)
    rows0 = [int(row.translate(_MODULE_AS_DIGIT), 2) for row in first.matrix]
    best = _best_mask(rows0, template)
    if best == 0:
        return tuple(bytes(row) for row in first.matrix)
    around = _function_modules(first.version, best)
    rows = [
        (((row ^ mask0 ^ mask) & data) | fixed)
        for row, mask0, mask, data, fixed in zip(
            rows0, template.masks[0], template.masks[best], template.data_rows, around, strict=True
        )
    ]
    return tuple(format(row, f"0{size}b").encode().translate(_DIGIT_AS_MODULE) for row in rows)


@dataclass(frozen=True, slots=True)
class _MaskTemplate:
    """Per symbol size: the data modules, what each data mask inverts, and the rest (function
    patterns, and light reserved format and version areas) as segno has it when scoring masks.

    A row is an integer whose bit ``size - 1 - j`` is column ``j``. For the penalty all rows
    (or all columns) are also packed into one integer, line ``r`` at bit ``r * (size + 1)``,
    a light guard bit between lines, so that each rule is a few operations on one integer.
    """

    size: int
    data_rows: tuple[int, ...]
    fixed_rows: tuple[int, ...]  # the dark modules outside the data
    masks: tuple[tuple[int, ...], ...]  # per mask, per row
    packed_masks: tuple[tuple[int, int], ...]  # per mask: (rows, columns) packed
    runs_of_5: int  # packed: where a run of 5 modules starting there stays in its line
    blocks: int  # packed: where a 2 x 2 block with its top left there stays in the symbol
    patterns: int  # packed: where 7 modules starting there stay in their line


# ISO/IEC 18004:2015 Table 10; i = row, j = column
_MASK_CONDITIONS: tuple[Callable[[int, int], bool], ...] = (
    lambda i, j: (i + j) % 2 == 0,
    lambda i, j: i % 2 == 0,
    lambda i, j: j % 3 == 0,
    lambda i, j: (i + j) % 3 == 0,
    lambda i, j: (i // 2 + j // 3) % 2 == 0,
    lambda i, j: (i * j) % 2 + (i * j) % 3 == 0,
    lambda i, j: ((i * j) % 2 + (i * j) % 3) % 2 == 0,
    lambda i, j: ((i + j) % 2 + (i * j) % 3) % 2 == 0,
)
_MODULE_AS_DIGIT = b"01" + bytes(254)  # module values 0/1 -> b"0"/b"1"
_DIGIT_AS_MODULE = bytes(48) + b"\x00\x01" + bytes(206)  # b"0"/b"1" -> 0/1


@lru_cache(maxsize=64)
def _mask_template(size: int) -> _MaskTemplate:
    from segno import encoder  # the function patterns exactly as segno lays them out

    layout = encoder.make_matrix(size, size)  # type: ignore[no-untyped-call]
    encoder.add_finder_patterns(layout, size, size)  # type: ignore[no-untyped-call]
    encoder.add_alignment_patterns(layout, size, size)  # type: ignore[no-untyped-call]
    # 0x2 marks what the codewords fill; the rest is function patterns (0/1) and the reserved
    # format and version areas (0), which segno leaves light while it scores the masks
    data_rows, fixed_rows = [], []
    masks: list[list[int]] = [[] for _ in _MASK_CONDITIONS]
    for i, row in enumerate(layout):
        data = fixed = 0
        inverted = [0] * len(_MASK_CONDITIONS)
        for j, value in enumerate(row):
            bit = 1 << (size - 1 - j)
            if value == 0x2:
                data |= bit
                for number, condition in enumerate(_MASK_CONDITIONS):
                    if condition(i, j):
                        inverted[number] |= bit
            elif value == 0x1:
                fixed |= bit
        data_rows.append(data)
        fixed_rows.append(fixed)
        for number, bits in enumerate(inverted):
            masks[number].append(bits)

    def every_line(width: int, lines: int = size) -> int:
        return _pack([(1 << width) - 1] * lines, size)

    return _MaskTemplate(
        size=size,
        data_rows=tuple(data_rows),
        fixed_rows=tuple(fixed_rows),
        masks=tuple(tuple(rows) for rows in masks),
        packed_masks=tuple(
            (_pack(rows, size), _pack(_transpose(rows, size), size)) for rows in masks
        ),
        runs_of_5=every_line(size - 4),
        blocks=every_line(size - 1, size - 1),
        patterns=every_line(size - 6),
    )


@lru_cache(maxsize=256)
def _function_modules(version: int, mask: int) -> tuple[int, ...]:
    """The dark modules outside the data of any version-``version`` symbol with this mask and
    error level: function patterns, format and version information."""
    # the data are the ones of no real link: only the modules around them are kept
    sample = segno.make("0", error=QR_ERROR, version=version, mask=mask, boost_error=False)
    data = _mask_template(len(sample.matrix)).data_rows
    return tuple(
        int(row.translate(_MODULE_AS_DIGIT), 2) & ~bits
        for row, bits in zip(sample.matrix, data, strict=True)
    )


def _transpose(rows: list[int] | tuple[int, ...], size: int) -> list[int]:
    texts = [format(row, f"0{size}b") for row in rows]
    return [int("".join(column), 2) for column in zip(*texts, strict=True)]


def _pack(lines: list[int] | tuple[int, ...], size: int) -> int:
    return int("0".join(format(line, f"0{size}b") for line in reversed(lines)), 2)


def _best_mask(masked_with_0: list[int], template: _MaskTemplate) -> int:
    """The mask segno would choose for the symbol whose rows, with mask 0, are given: the
    lowest total penalty, the first on a tie (segno's ``find_and_apply_best_mask``)."""
    size = template.size
    # the data unmasked, the function patterns, the reserved areas light
    plain = [
        ((row ^ mask0) & data) | fixed
        for row, mask0, data, fixed in zip(
            masked_with_0, template.masks[0], template.data_rows, template.fixed_rows, strict=True
        )
    ]
    plain_rows, plain_columns = _pack(plain, size), _pack(_transpose(plain, size), size)
    best, best_score = 0, -1
    for number, (mask_rows, mask_columns) in enumerate(template.packed_masks):
        score = _penalty(plain_rows ^ mask_rows, plain_columns ^ mask_columns, template)
        if best_score < 0 or score < best_score:
            best, best_score = number, score
    return best


def _penalty(rows: int, columns: int, template: _MaskTemplate) -> int:
    """segno's ``evaluate_mask`` (N1 + N2 + N3 + N4) of a symbol given as packed rows and
    packed columns (see ``_MaskTemplate``)."""
    size = template.size
    slot = size + 1
    n1 = n3 = 0
    for lines in (rows, columns):
        # N1: a run of L >= 5 same modules scores L - 2: its L - 4 windows of five, plus 2
        equal = ~(lines ^ (lines >> 1))  # bit k: modules k and k + 1 alike
        windows = equal & (equal >> 1) & (equal >> 2) & (equal >> 3) & template.runs_of_5
        n1 += windows.bit_count() + 2 * (windows & ~(windows << 1)).bit_count()
        # N3: where dark-light-dark-dark-dark-light-dark starts; segno's scan decides which
        # of those count (it depends on the light modules around and on overlaps)
        found = (
            lines
            & ~(lines >> 1)
            & (lines >> 2)
            & (lines >> 3)
            & (lines >> 4)
            & ~(lines >> 5)
            & (lines >> 6)
            & template.patterns
        )
        every = (1 << size) - 1
        while found:
            line = ((found & -found).bit_length() - 1) // slot
            found &= ~(every << (line * slot))
            n3 += _finder_like(format((lines >> (line * slot)) & every, f"0{size}b"), size)
    # N2: 2 x 2 blocks of one colour, 3 each
    same = ~(rows ^ (rows >> slot))
    n2 = (same & (same >> 1) & ~(rows ^ (rows >> 1)) & template.blocks).bit_count()
    # N4: the proportion of dark modules, in segno's arithmetic
    percent = float(rows.bit_count()) / (size**2)
    n4 = 10 * int(abs(percent * 100 - 50) / 5)
    return n1 + 3 * n2 + n3 + n4


def _finder_like(text: str, size: int) -> int:
    """segno's N3: 40 for each 1:1:3:1:1 pattern with four light modules on one side (or at
    the symbol's edge), searched from the left as segno does."""
    count = 0
    index = text.find("1011101")
    while index != -1:
        after = index + 7
        if (
            index in (0, size - 7)
            or "1" not in text[max(index - 4, 0) : index]
            or "1" not in text[after : after + 4]
        ):
            count += 40
        else:
            after = index + 4
        index = text.find("1011101", after)
    return count


@lru_cache(maxsize=256)
def qr_png(link: str, *, scale: int = 8) -> bytes:
    """Just the QR code of ``link`` (with its quiet zone), e.g. to send as a photo: a 1-bit PNG.

    Remembered per link (a member's card is the same every time /card shows it). Pillow writes
    the PNG from segno's module matrix: the same pixels as segno's own PNG writer, which is
    pure Python and took 4 ms of the ~14 ms a new member's card cost (bench.intake).
    """
    matrix = make_qr(link)
    size = len(matrix) + 2 * QUIET_ZONE
    light_rows = b"\xff" * (size * QUIET_ZONE)
    margin = b"\xff" * QUIET_ZONE
    pixels = b"".join(
        [
            light_rows,
            *(margin + row.translate(_DARK_AS_BLACK) + margin for row in matrix),
            light_rows,
        ]
    )
    image = Image.frombytes("L", (size, size), pixels).convert("1", dither=Image.Dither.NONE)
    image = image.resize((size * scale, size * scale), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


_DARK_AS_BLACK = bytes([255]) + bytes(255)  # module value 0 (light) -> white, any other -> black


def qr_modules(link: str) -> list[list[bool]]:
    """The QR code of ``link`` as rows of dark (True) / light modules, quiet zone included."""
    matrix = make_qr(link)
    light = [False] * (len(matrix) + 2 * QUIET_ZONE)
    margin = [False] * QUIET_ZONE
    return [
        *(light[:] for _ in range(QUIET_ZONE)),
        *([*margin, *(bool(m) for m in row), *margin] for row in matrix),
        *(light[:] for _ in range(QUIET_ZONE)),
    ]


# -- table numbers ------------------------------------------------------------------------


def parse_table_numbers(text: str) -> list[int]:
    """ "1-30" or "1,2,5-7" → the table numbers, in order, without repeats.

    Raises ValueError with a message for a person when the text is not that.
    """
    numbers: dict[int, None] = {}
    parts = [part.strip() for part in text.split(",")]
    if not text.strip() or any(not part for part in parts):
        raise ValueError(f"{text!r} is not a list of tables (e.g. 1-30 or 1,2,5-7)")
    for part in parts:
        match = _TABLE_RANGE.fullmatch(part)
        if match is None:
            raise ValueError(f"{part!r} is not a table number or a range like 1-30")
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        if first < 1:
            raise ValueError(f"{part!r}: table numbers start at 1")
        if last < first:
            raise ValueError(f"{part!r} is not a range: {last} comes before {first}")
        if last - first + 1 + len(numbers) > MAX_TABLES:
            raise ValueError(f"{text!r} is more than {MAX_TABLES} tables")
        for number in range(first, last + 1):
            numbers[number] = None
    return list(numbers)


# -- layout -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Text:
    text: str
    size: int
    bold: bool
    x: float  # centre
    baseline: float


@dataclass(frozen=True, slots=True)
class _Card:
    width: int
    height: int
    texts: tuple[_Text, ...]
    qr_x: int  # top-left of the quiet zone
    qr_y: int
    module: int  # pixels per module
    modules: tuple[tuple[bool, ...], ...]


def _px(mm: float) -> int:
    return round(mm * DPI / 25.4)


def _needs_cjk(text: str) -> bool:
    return any(unicodedata.east_asian_width(ch) in {"W", "F"} for ch in text)


def _font(size: int, *, bold: bool, text: str) -> Font:
    if _needs_cjk(text):
        for path in CJK_FONT_FILES:
            if path.is_file():
                return _load_font(str(path), size)
    path = FONT_DIR / FONT_FILES[bold]
    return _load_font(str(path) if path.is_file() else None, size)


@lru_cache(maxsize=128)
def _load_font(path: str | None, size: int) -> Font:
    if path is None:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(path, size)


def _width(text: str, font: Font, size: int) -> float:
    """Pillow's advance width, but never less than one em per wide (CJK) character: the SVG
    viewer's CJK font needs that much even when Pillow only has DejaVu's narrower boxes."""
    measured = float(font.getlength(text))
    wide = sum(1 for ch in text if unicodedata.east_asian_width(ch) in {"W", "F"})
    narrow = "".join(ch for ch in text if unicodedata.east_asian_width(ch) not in {"W", "F"})
    return max(measured, wide * size + float(font.getlength(narrow)))


def _metrics(font: Font, size: int) -> tuple[int, int]:
    if isinstance(font, ImageFont.FreeTypeFont):
        ascent, descent = font.getmetrics()
        return ascent, descent
    return size, size // 4  # pragma: no cover - the bitmap font of a Pillow without FreeType


def _fit(text: str, *, bold: bool, largest: int, smallest: int, width: float) -> tuple[str, int]:
    """The largest size (down to ``smallest``) at which ``text`` fits; shortened with an
    ellipsis when it does not fit even then."""
    size = largest
    while size > smallest:
        if _width(text, _font(size, bold=bold, text=text), size) <= width:
            return text, size
        size = max(smallest, int(size * 0.92))
    font = _font(smallest, bold=bold, text=text)
    while len(text) > 1 and _width(text, font, smallest) > width:
        text = text[:-2].rstrip() + "…"
    return text, smallest


def _wrap(text: str, *, size: int, width: float) -> list[str]:
    """One line, or two: split at a " · " when there is one, else where the two lines come out
    most even (between words, or between characters for text without spaces such as Chinese);
    the second line is shortened with an ellipsis if even that does not fit."""
    font = _font(size, bold=False, text=text)

    def fits(line: str) -> bool:
        return _width(line, font, size) <= width

    if fits(text):
        return [text]
    if " · " in text:
        first, second = (part.strip() for part in text.split(" · ", 1))
        if fits(first) and fits(second):
            return [first, second]
    words = text.split()
    separator = " "
    if len(words) < 2:
        words, separator = list(text), ""
    splits = [(separator.join(words[:i]), separator.join(words[i:])) for i in range(1, len(words))]
    if not splits:
        return [_fit(text, bold=False, largest=size, smallest=size, width=width)[0]]
    fitting = [pair for pair in splits if fits(pair[0]) and fits(pair[1])]
    if fitting:
        first, second = min(fitting, key=lambda p: max(_width(x, font, size) for x in p))
        return [first, second]
    # too long for two lines: fill the first line, cut the second
    first, second = max(
        (p for p in splits if fits(p[0])), key=lambda p: len(p[0]), default=splits[0]
    )
    second, _ = _fit(second, bold=False, largest=size, smallest=size, width=width)
    return [first, second]


def _layout(
    *, link: str, store_name: str, heading: str, caption: str, width_mm: float, height_mm: float
) -> _Card:
    width, height = _px(width_mm), _px(height_mm)
    margin = _px(6)
    inner = width - 2 * margin
    scale = width_mm / CARD_MM[0]  # type sizes follow the card's width

    name, name_size = _fit(
        store_name, bold=True, largest=_px(7 * scale), smallest=_px(3.5 * scale), width=inner
    )
    head, head_size = _fit(
        heading, bold=True, largest=_px(17 * scale), smallest=_px(7 * scale), width=inner
    )
    caption_size = _px(4.2 * scale)
    caption_lines = _wrap(caption, size=caption_size, width=inner) if caption.strip() else []

    name_ascent, name_descent = _metrics(_font(name_size, bold=True, text=name), name_size)
    head_ascent, head_descent = _metrics(_font(head_size, bold=True, text=head), head_size)
    cap_ascent, cap_descent = _metrics(_font(caption_size, bold=False, text=caption), caption_size)
    cap_line = round((cap_ascent + cap_descent) * 1.1)
    gap = _px(1.5 * scale)

    text_height = (
        name_ascent
        + name_descent
        + head_ascent
        + head_descent
        + gap
        + cap_line * len(caption_lines)
    )
    modules = tuple(tuple(row) for row in qr_modules(link))
    count = len(modules)
    available = min(inner, height - 2 * margin - text_height)
    module = max(1, available // count)
    side = module * count

    top = margin + (height - 2 * margin - text_height - side) // 2
    texts = [_Text(name, name_size, True, width / 2, top + name_ascent)]
    qr_y = top + name_ascent + name_descent
    head_baseline = qr_y + side + head_ascent
    texts.append(_Text(head, head_size, True, width / 2, head_baseline))
    baseline = head_baseline + head_descent + gap + cap_ascent
    for line in caption_lines:
        texts.append(_Text(line, caption_size, False, width / 2, baseline))
        baseline += cap_line
    return _Card(
        width=width,
        height=height,
        texts=tuple(texts),
        qr_x=(width - side) // 2,
        qr_y=qr_y,
        module=module,
        modules=modules,
    )


def _card_layout(
    link: str, store_name: str, table: int, label: str, caption: str, size_mm: tuple[float, float]
) -> _Card:
    heading = f"{label.strip()} {table}" if label.strip() else str(table)
    return _layout(
        link=link,
        store_name=store_name.strip() or " ",
        heading=heading,
        caption=caption.strip(),
        width_mm=size_mm[0],
        height_mm=size_mm[1],
    )


# -- drawing ------------------------------------------------------------------------------


def _draw_card(card: _Card) -> Image.Image:
    image = Image.new("L", (card.width, card.height), 255)
    draw = ImageDraw.Draw(image)
    for text in card.texts:
        font = _font(text.size, bold=text.bold, text=text.text)
        draw.text((text.x, text.baseline), text.text, fill=0, font=font, anchor="ms")
    for row_index, row in enumerate(card.modules):
        y = card.qr_y + row_index * card.module
        for col_index, dark in enumerate(row):
            if dark:
                x = card.qr_x + col_index * card.module
                draw.rectangle((x, y, x + card.module - 1, y + card.module - 1), fill=0)
    return image


def table_card_png(
    *,
    link: str,
    store_name: str,
    table: int,
    label: str = DEFAULT_LABEL,
    caption: str = DEFAULT_CAPTION,
) -> bytes:
    """A printable card (100 x 140 mm at 300 dpi) for one table."""
    card = _card_layout(link, store_name, table, label, caption, CARD_MM)
    info = PngInfo()
    info.add_text("Title", f"{store_name} · {label} {table}".strip())
    info.add_text("URL", link)
    buffer = io.BytesIO()
    _draw_card(card).save(buffer, format="PNG", dpi=(DPI, DPI), pnginfo=info, optimize=True)
    return buffer.getvalue()


def table_card_svg(
    *,
    link: str,
    store_name: str,
    table: int,
    label: str = DEFAULT_LABEL,
    caption: str = DEFAULT_CAPTION,
) -> str:
    """The same card as SVG (100 x 140 mm): real text, the QR code as one path."""
    card = _card_layout(link, store_name, table, label, caption, CARD_MM)
    title = f"{store_name} · {card.texts[1].text}"
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{CARD_MM[0]:g}mm" '
        f'height="{CARD_MM[1]:g}mm" viewBox="0 0 {card.width} {card.height}" '
        f"data-link={quoteattr(link)} data-table={quoteattr(str(table))}>",
        f"<title>{escape(title)}</title>",
        f"<desc>{escape(link)}</desc>",
        f'<rect width="{card.width}" height="{card.height}" fill="#fff"/>',
    ]
    for text in card.texts:
        weight = ' font-weight="bold"' if text.bold else ""
        parts.append(
            f'<text x="{text.x:g}" y="{text.baseline:g}" font-family="{SVG_FONT_FAMILY}" '
            f'font-size="{text.size}"{weight} text-anchor="middle" fill="#000">'
            f"{escape(text.text)}</text>"
        )
    parts.append(
        f'<path class="qr" data-link={quoteattr(link)} fill="#000" shape-rendering="crispEdges" '
        f'd="{_qr_path(card)}"/>'
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _qr_path(card: _Card) -> str:
    """One rectangle per horizontal run of dark modules."""
    m = card.module
    commands = []
    for row_index, row in enumerate(card.modules):
        col = 0
        while col < len(row):
            if not row[col]:
                col += 1
                continue
            start = col
            while col < len(row) and row[col]:
                col += 1
            x, y = card.qr_x + start * m, card.qr_y + row_index * m
            commands.append(f"M{x} {y}h{(col - start) * m}v{m}h-{(col - start) * m}z")
    return "".join(commands)


# -- the print sheet ----------------------------------------------------------------------


def _crop_marks(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int]) -> None:
    left, top, right, bottom = box
    offset, length, stroke = _px(1), _px(3.5), max(1, _px(0.15))
    for x, y, dx, dy in (
        (left, top, -1, -1),
        (right, top, 1, -1),
        (left, bottom, -1, 1),
        (right, bottom, 1, 1),
    ):
        # a horizontal and a vertical stroke in line with the card's edges, outside the card
        hx0, hx1 = x + dx * offset, x + dx * (offset + length)
        draw.line((min(hx0, hx1), y, max(hx0, hx1), y), fill=0, width=stroke)
        vy0, vy1 = y + dy * offset, y + dy * (offset + length)
        draw.line((x, min(vy0, vy1), x, max(vy0, vy1)), fill=0, width=stroke)


def table_sheet_pages(
    links: Mapping[int, str], *, store_name: str, label: str, caption: str
) -> list[Image.Image]:
    """A4 pages at 300 dpi, four cards each, with crop marks and a footer."""
    columns, rows = SHEET_GRID
    cell_mm = (
        (A4_MM[0] - 2 * SHEET_MARGIN_MM - (columns - 1) * SHEET_GUTTER_MM) / columns,
        (A4_MM[1] - 2 * SHEET_MARGIN_MM - (rows - 1) * SHEET_GUTTER_MM) / rows,
    )
    page_size = (_px(A4_MM[0]), _px(A4_MM[1]))
    per_page = columns * rows
    items = list(links.items())
    page_count = max(1, math.ceil(len(items) / per_page))
    footer_size = _px(2.8)
    pages = []
    for page_index in range(page_count):
        chunk = items[page_index * per_page : (page_index + 1) * per_page]
        page = Image.new("L", page_size, 255)
        draw = ImageDraw.Draw(page)
        for index, (table, link) in enumerate(chunk):
            column, row = index % columns, index // columns
            left = _px(SHEET_MARGIN_MM + column * (cell_mm[0] + SHEET_GUTTER_MM))
            top = _px(SHEET_MARGIN_MM + row * (cell_mm[1] + SHEET_GUTTER_MM))
            card = _draw_card(_card_layout(link, store_name, table, label, caption, cell_mm))
            page.paste(card, (left, top))
            _crop_marks(draw, (left, top, left + card.width, top + card.height))
        if chunk:
            first, last = chunk[0][0], chunk[-1][0]
            tables = f"{label} {first}" if first == last else f"{label} {first}–{last}"
            footer = f"{store_name} · {tables} · {page_index + 1}/{page_count}"
            font = _font(footer_size, bold=False, text=footer)
            draw.text(
                (page_size[0] / 2, page_size[1] - _px(SHEET_MARGIN_MM / 2)),
                footer,
                fill=0,
                font=font,
                anchor="mm",
            )
        pages.append(page)
    return pages


def table_sheet_pdf(
    links: Mapping[int, str],
    *,
    store_name: str,
    label: str = DEFAULT_LABEL,
    caption: str = DEFAULT_CAPTION,
) -> bytes:
    """All the cards on A4 pages, one PDF to print."""
    pages = table_sheet_pages(links, store_name=store_name, label=label, caption=caption)
    options: dict[str, int] = {}
    if features.check("libtiff"):
        # 1-bit pages are stored with CCITT G4: lossless and small
        pages = [page.convert("1", dither=Image.Dither.NONE) for page in pages]
    else:
        options["quality"] = 95  # grey pages go in as JPEG: keep the QR edges crisp
    buffer = io.BytesIO()
    pages[0].save(
        buffer,
        format="PDF",
        save_all=True,
        append_images=pages[1:],
        resolution=DPI,
        title=f"{store_name}: table QR codes",
        creator="Regulars",
        **options,
    )
    return buffer.getvalue()


def write_table_codes(
    out_dir: Path,
    links: Mapping[int, str],
    *,
    store_name: str,
    label: str = DEFAULT_LABEL,
    caption: str = DEFAULT_CAPTION,
) -> list[Path]:
    """``table-<n>.png`` and ``table-<n>.svg`` for every table and ``tables-sheet.pdf``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for table, link in links.items():
        png = out_dir / f"table-{table}.png"
        png.write_bytes(
            table_card_png(
                link=link, store_name=store_name, table=table, label=label, caption=caption
            )
        )
        svg = out_dir / f"table-{table}.svg"
        svg.write_text(
            table_card_svg(
                link=link, store_name=store_name, table=table, label=label, caption=caption
            ),
            encoding="utf-8",
        )
        written += [png, svg]
    sheet = out_dir / "tables-sheet.pdf"
    sheet.write_bytes(table_sheet_pdf(links, store_name=store_name, label=label, caption=caption))
    written.append(sheet)
    return written
