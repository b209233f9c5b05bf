"""Charts as PNG bytes (matplotlib, Agg backend: no display needed).

A chart is drawn from the same figures object the text message is rendered from, and its bars
are labelled with the same formatted figures (`format_count`), so what a manager reads in the
text and sees in the picture cannot differ.

Fonts: matplotlib ships DejaVu Sans, which has no Chinese. Tier names and our Chinese texts
need a CJK font; :func:`can_draw` tells whether the fonts on this machine cover a set of texts
(a CJK font found by fontconfig/matplotlib is used when there is one). When none does, the
caller draws the chart with fallback labels (the tier key, e.g. "loyal", and the English
titles) rather than boxes of tofu — the figures stay the same.

matplotlib is imported on first use: the bot starts without paying for it.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from babel.numbers import format_decimal

from loyalty.reports import Bar, StoreStats
from ui.locales import babel_locale

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

DEFAULT_FONT = "DejaVu Sans"
_TOFU_FONTS = ("Last Resort",)
"""Fonts that map every character to a placeholder box (matplotlib ships one): never a cover."""
_TIER_COLOR = "#4C72B0"
_STAGE_COLOR = "#DD8452"


def format_count(n: int, locale: str) -> str:
    """A count as people read it ("12,345"): in the text and on the chart alike."""
    return format_decimal(n, locale=babel_locale(locale))


@dataclass(frozen=True, slots=True, kw_only=True)
class StatsLabels:
    """The words of the stats chart (its figures come from :class:`StoreStats`)."""

    title: str
    tiers_title: str
    stages_title: str
    tier_names: Mapping[str, str]
    """Tier key → label; a key without a label is shown as the key."""
    stage_names: Mapping[str, str]
    number_locale: str
    """The locale of the figures: the text message's, so both print the same numbers."""

    def texts(self, stats: StoreStats) -> list[str]:
        return [
            self.title,
            self.tiers_title,
            self.stages_title,
            *(self.tier_names.get(b.key, b.key) for b in stats.tiers),
            *(self.stage_names.get(b.key, b.key) for b in stats.stages),
        ]


# -- fonts -------------------------------------------------------------------------------------


@functools.cache
def _charmap(path: str) -> frozenset[int]:
    from matplotlib.ft2font import FT2Font

    try:
        return frozenset(FT2Font(path).get_charmap())
    except (OSError, RuntimeError):
        return frozenset()


@functools.cache
def _fonts() -> tuple[tuple[str, str], ...]:
    """(family, file) of every font matplotlib knows, its own DejaVu Sans first."""
    from matplotlib import font_manager

    default = font_manager.findfont(DEFAULT_FONT, fallback_to_default=True)
    found: list[tuple[str, str]] = [(DEFAULT_FONT, str(default))]
    found += [
        (f.name, str(f.fname))
        for f in font_manager.fontManager.ttflist
        if f.fname != default and not f.name.startswith(_TOFU_FONTS)
    ]
    return tuple(found)


@functools.cache
def _families_for(chars: frozenset[int]) -> tuple[str, ...] | None:
    """Font families (first choice first) that together draw every character, or None."""
    missing = {c for c in chars if not chr(c).isspace()}
    families: list[str] = []
    for family, path in _fonts():
        covered = missing & _charmap(path)
        if covered and family not in families:
            families.append(family)
            missing -= covered
        if not missing:
            return tuple(families) or (DEFAULT_FONT,)
    return None


def families_for(texts: Iterable[str]) -> tuple[str, ...] | None:
    return _families_for(frozenset(ord(ch) for text in texts for ch in text))


def can_draw(texts: Iterable[str]) -> bool:
    """Whether the fonts on this machine draw every character of `texts` (no tofu)."""
    return families_for(texts) is not None


# -- the stats chart ---------------------------------------------------------------------------


def stats_figure(stats: StoreStats, labels: StatsLabels) -> Figure:
    """Two bar charts, members by tier and by lifecycle stage, each bar labelled with its figure.

    Labels the fonts cannot draw are drawn anyway (as boxes): check :func:`can_draw` first."""
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

    font = FontProperties(family=list(families_for(labels.texts(stats)) or (DEFAULT_FONT,)))
    figure = Figure(figsize=(8, 7), dpi=100, layout="constrained")
    figure.suptitle(labels.title, fontproperties=font, fontsize=14)
    tier_axes, stage_axes = figure.subplots(2, 1)
    _bars(tier_axes, stats.tiers, labels.tier_names, labels, font, labels.tiers_title, _TIER_COLOR)
    _bars(
        stage_axes,
        stats.stages,
        labels.stage_names,
        labels,
        font,
        labels.stages_title,
        _STAGE_COLOR,
    )
    return figure


def _bars(
    axes: Axes,
    bars: Sequence[Bar],
    names: Mapping[str, str],
    labels: StatsLabels,
    font: FontProperties,
    title: str,
    color: str,
) -> None:
    positions = list(range(len(bars)))[::-1]  # the first bar on top
    drawn = axes.barh(positions, [b.count for b in bars], color=color, height=0.6)
    axes.set_yticks(positions, [names.get(b.key, b.key) for b in bars])
    for tick in axes.get_yticklabels():
        tick.set_fontproperties(font)
    axes.bar_label(
        drawn,
        labels=[format_count(b.count, labels.number_locale) for b in bars],
        padding=4,
        fontproperties=font,
    )
    axes.set_title(title, fontproperties=font, loc="left")
    top = max((b.count for b in bars), default=0)
    axes.set_xlim(0, max(top * 1.15, 1))
    axes.xaxis.set_visible(False)
    for side in ("top", "right", "bottom"):
        axes.spines[side].set_visible(False)


def to_png(figure: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def stats_png(stats: StoreStats, labels: StatsLabels) -> bytes:
    return to_png(stats_figure(stats, labels))
