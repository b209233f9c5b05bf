"""The charts of `/stats` by period, drawn from the same :class:`PeriodStats` as the text and
labelled with the text's own formatted figures (ui.period_texts), so the two cannot differ:

1. members gained by month (bars, each with its count);
2. the average ticket by month (bars, each with its amount; a month without bills has none);
3. the cohort grid: for the members who joined in each month, the share who came in the month
   they joined (0) and each month after (each cell printed).

Words the fonts on this machine cannot draw are replaced as in ui.charts (English titles).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from loyalty.period_reports import PeriodStats
from ui import charts
from ui.charts import DEFAULT_FONT, families_for, format_count, to_png
from ui.period_texts import month_name, share_text, ticket_text

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

_GAINED_COLOR = "#4C72B0"
_TICKET_COLOR = "#55A868"


@dataclass(frozen=True, slots=True, kw_only=True)
class PeriodChartLabels:
    title: str
    gained_title: str
    ticket_title: str
    cohort_title: str
    since_label: str
    months: tuple[str, ...]
    """The months of the first two panels, as the text names them."""
    gained: tuple[str, ...]
    tickets: tuple[str, ...]
    cohort_rows: tuple[str, ...]
    cells: tuple[tuple[str, ...], ...]

    def texts(self) -> list[str]:
        return [
            self.title,
            self.gained_title,
            self.ticket_title,
            self.cohort_title,
            self.since_label,
            *self.months,
            *self.tickets,
            *self.cohort_rows,
        ]


def _labels(stats: PeriodStats, *, title: str, locale: str) -> PeriodChartLabels:
    return PeriodChartLabels(
        title=title,
        gained_title=_("Members gained by month"),
        ticket_title=_("Average ticket by month"),
        cohort_title=_("Share of each month's new members who came back, by months since joining"),
        since_label=_("Months since joining"),
        months=tuple(month_name(m.start, locale) for m in stats.months),
        gained=tuple(format_count(m.gained, locale) for m in stats.months),
        tickets=tuple(ticket_text(m.tickets, stats.currency, locale) for m in stats.months),
        cohort_rows=tuple(
            f"{month_name(c.start, locale)} ({format_count(c.members, locale)})"
            for c in stats.cohorts
        ),
        cells=tuple(
            tuple(share_text(c.share(k), locale) for k in range(len(c.came))) for c in stats.cohorts
        ),
    )


def chart_labels(stats: PeriodStats, *, title: str, locale: str, i18n: I18n) -> PeriodChartLabels:
    """The words in the person's language, or English ones when no font here draws them."""
    labels = _labels(stats, title=title, locale=locale)
    if charts.can_draw(labels.texts()):
        return labels
    with i18n.use_locale("en"):
        return _labels(stats, title=_("Members and tickets by month"), locale="en")


def period_figure(stats: PeriodStats, labels: PeriodChartLabels) -> Figure:
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

    font = FontProperties(family=list(families_for(labels.texts()) or (DEFAULT_FONT,)))
    figure = Figure(figsize=(9, 11), dpi=100, layout="constrained")
    figure.suptitle(labels.title, fontproperties=font, fontsize=14)
    gained_axes, ticket_axes, cohort_axes = figure.subplots(3, 1)
    positions = list(range(len(stats.months)))
    for axes, heights, printed, title, color in (
        (gained_axes, [m.gained for m in stats.months], labels.gained, labels.gained_title,
         _GAINED_COLOR),
        (ticket_axes, [float(m.tickets.average(stats.currency) or 0) for m in stats.months],
         labels.tickets, labels.ticket_title, _TICKET_COLOR),
    ):  # fmt: skip
        drawn = axes.bar(positions, heights, color=color, width=0.6)
        axes.bar_label(drawn, labels=list(printed), padding=3, fontproperties=font)
        axes.set_xticks(positions, list(labels.months))
        for tick in axes.get_xticklabels():
            tick.set_fontproperties(font)
        axes.set_title(title, fontproperties=font, loc="left")
        axes.set_ylim(0, max([*heights, 1]) * 1.2)
        axes.yaxis.set_visible(False)
        for side in ("top", "right", "left"):
            axes.spines[side].set_visible(False)
    _cohort_grid(cohort_axes, stats, labels, font)
    return figure


def _cohort_grid(
    axes: Axes, stats: PeriodStats, labels: PeriodChartLabels, font: FontProperties
) -> None:
    width = max((len(c.came) for c in stats.cohorts), default=1)
    grid = [
        [float(c.share(k) or 0) if k < len(c.came) else float("nan") for k in range(width)]
        for c in stats.cohorts
    ] or [[float("nan")]]
    axes.imshow(grid, cmap="Blues", vmin=0, vmax=100, aspect="auto")
    for row, cells in enumerate(labels.cells):
        for k, cell in enumerate(cells):
            value = grid[row][k]
            axes.text(
                k,
                row,
                cell,
                ha="center",
                va="center",
                color="white" if value > 60 else "black",
                fontproperties=font,
            )
    axes.set_xticks(range(width), [format_count(k, "en") for k in range(width)])
    axes.set_yticks(range(len(labels.cohort_rows)), list(labels.cohort_rows))
    for tick in axes.get_yticklabels():
        tick.set_fontproperties(font)
    axes.set_xlabel(labels.since_label, fontproperties=font)
    axes.set_title(labels.cohort_title, fontproperties=font, loc="left")


def period_png(stats: PeriodStats, labels: PeriodChartLabels) -> bytes:
    return to_png(period_figure(stats, labels))
