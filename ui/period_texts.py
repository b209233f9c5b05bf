"""The texts of the reports by period: `/campaigns` by kind and (below) `/stats` with the
previous period beside each figure. Figures are formatted here once, for the text and the charts
alike."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from babel.dates import format_skeleton
from babel.numbers import format_decimal, format_percent

from loyalty import care, periods
from loyalty.campaign_kinds import BROADCAST, KindRow
from loyalty.lifecycle import Turn
from loyalty.period_reports import CouponKind, PeriodStats, Tickets
from loyalty.periods import Period, PeriodProblem
from loyalty.policy import Policy
from loyalty.reports import LIFT_WINDOW
from loyalty.stores import StoreInfo
from ui.charts import format_count
from ui.formatting import format_date, format_local_datetime, format_money
from ui.keyboards.care import reason_name
from ui.locales import babel_locale
from ui.report_texts import NAME_CHARS, format_points_diff, format_rate, reminder_title
from ui.texts import stage_name

MESSAGE_LIMIT = 4000


def days_label(period: Period, *, locale: str) -> str:
    """ "Nov 23, 2026 – Nov 26, 2026"."""
    return _("{first} – {last}").format(
        first=format_date(period.first_day, locale, "medium"),
        last=format_date(period.last_day, locale, "medium"),
    )


def period_label(period: Period, *, locale: str) -> str:
    """ "this week (Nov 23, 2026 – Nov 26, 2026)"."""
    names = {
        periods.WEEK: _("this week"),
        periods.FOUR_WEEKS: _("the last 4 weeks"),
        periods.MONTH: _("this month"),
        periods.THREE_MONTHS: _("the last 3 months"),
    }
    days = days_label(period, locale=locale)
    name = names.get(period.key)
    return days if name is None else f"{name} ({days})"


def period_problem_text(problem: PeriodProblem) -> str:
    if problem.reason == "order":
        return _("The range ends before it starts. Please send the first day, then the last.")
    if problem.reason == "future":
        return _("That range has not started yet.")
    if problem.reason == "long":
        return _("Please choose a range of at most two years.")
    return _("Please send two dates, the first and the last day: 2026-01-01 2026-01-31")


def custom_prompt() -> str:
    return _(
        "Send the first and the last day of the range, like 2026-01-01 2026-01-31 (or /cancel)."
    )


# -- /campaigns --------------------------------------------------------------------------------


def kind_name(kind: str) -> str:
    """A kind of campaign (loyalty.campaign_kinds) in the reader's language."""
    titles = {
        "birthday": _("Birthday greetings"),
        "second_visit": _("Second-visit nudge"),
        "winback": _("Win-back"),
        Turn.COOLING.value: _("Early care when visits slow down"),
        Turn.RISING.value: _("Thanks when visits come closer"),
        "new_dish": _("New dishes"),
        "holiday": _("Holiday greetings"),
        "broadcast": _("Broadcasts"),
        "gift": _("Gifts from the staff"),
        "points": _("Points exchanged"),
        "other": _("Other"),
    }
    return titles.get(kind) or reminder_title(kind) or kind


def kind_title(row: KindRow) -> str:
    if row.kind == BROADCAST:
        name = row.name.strip()
        if not name or name.startswith("broadcast "):
            return _("Broadcast")
        if len(name) > NAME_CHARS:
            name = name[: NAME_CHARS - 1] + "…"
        return _("Broadcast “{name}”").format(name=name)
    return kind_name(row.kind)


def _p(value: float, locale: str) -> str:
    return format_decimal(round(value, 2), format="0.00", locale=babel_locale(locale))


def lift_line(row: KindRow, *, locale: str) -> str:
    """Return visits of the messaged against the holdout, honest about chance."""
    lift = row.lift
    days = LIFT_WINDOW.days
    if lift.messaged == 0:
        return _("Return visits: nothing delivered yet.")
    messaged = format_rate(lift.messaged_rate, locale)
    if lift.holdout == 0:
        return _(
            "Came back within {days} days: {messaged} of {n} messaged. No control group (empty "
            "holdout), so no comparison."
        ).format(days=days, messaged=messaged, n=format_count(lift.messaged, locale))
    points = lift.points
    assert points is not None
    line = _(
        "Came back within {days} days: {messaged} of {n} messaged vs {holdout} of {h} in the "
        "holdout ({points} points)."
    ).format(
        days=days,
        messaged=messaged,
        n=format_count(lift.messaged, locale),
        holdout=format_rate(lift.holdout_rate, locale),
        h=format_count(lift.holdout, locale),
        points=format_points_diff(points, locale),
    )
    p = row.p_value
    assert p is not None
    if p >= 0.05:
        note = _(
            "Within chance (p = {p}): a difference this size could well be luck with groups "
            "this small."
        )
    else:
        note = _("Unlikely to be chance (p = {p}).")
    return f"{line} {note.format(p=_p(p, locale))}"


def kind_block(row: KindRow, *, store: StoreInfo, locale: str) -> str:
    def count(n: int) -> str:
        return format_count(n, locale)

    lines = [kind_title(row)]
    if row.kind == BROADCAST:
        day = row.first_at.astimezone(ZoneInfo(store.timezone)).date()
        lines[0] += " — " + format_date(day, locale, "medium")
    audience = _(
        "Audience {audience} (holdout {holdout}): sent {sent}, delivered {delivered}"
    ).format(
        audience=count(row.audience),
        holdout=count(row.holdout),
        sent=count(row.sent),
        delivered=count(row.delivered),
    )
    if row.waiting:
        audience += _(", waiting {n}").format(n=count(row.waiting))
    lines.append(audience)
    if row.coupons_issued:
        lines.append(
            _("Coupons redeemed: {redeemed} of {issued}, bills {revenue}").format(
                redeemed=count(row.coupons_redeemed),
                issued=count(row.coupons_issued),
                revenue=format_money(row.revenue, store.currency, locale),
            )
        )
    lines.append(lift_line(row, locale=locale))
    until = row.lift.measuring_until
    if until is not None and row.lift.messaged:
        lines.append(
            _("Still counting until {date}.").format(
                date=format_date(until.astimezone(ZoneInfo(store.timezone)).date(), locale)
            )
        )
    return "\n".join(lines)


def campaigns_messages(
    rows: list[KindRow], *, period: Period, store: StoreInfo, locale: str
) -> list[str]:
    """The header and one block per row, in as few messages as fit."""
    head = _("Campaigns by kind, {period}:").format(period=period_label(period, locale=locale))
    if not rows:
        return [head + "\n\n" + _("No campaign reached anyone in this period.")]
    chunks = [head]
    for row in rows:
        block = kind_block(row, store=store, locale=locale)
        if len(chunks[-1]) + 2 + len(block) > MESSAGE_LIMIT:
            chunks.append(block)
        else:
            chunks[-1] += "\n\n" + block
    return chunks


# -- /stats ------------------------------------------------------------------------------------


def channel_name(key: str) -> str:
    names = {
        "table_qr": _("Table QR code"),
        "receipt_claim": _("Receipt QR code"),
        "referral": _("A friend's invitation"),
        "chat": _("Paid in chat"),
        "cashier": _("At the counter"),
    }
    return names.get(key, key)


def care_name(key: str) -> str:
    names = {
        "listed": _("listed"),
        care.WROTE: _("wrote to them"),
        care.ASKED: _("asked why"),
        care.HANDLED: _("done"),
    }
    return names.get(key, key)


def was(now: str, before: str) -> str:
    """A figure with the previous period's beside it."""
    return _("{now} (was {before})").format(now=now, before=before)


def month_name(month: date, locale: str) -> str:
    return format_skeleton("yMMM", datetime.combine(month, time(12)), locale=babel_locale(locale))


def share_text(value: Decimal | None, locale: str) -> str:
    """A cohort cell as the text and the chart print it: "42%" (whole percent), or a dash."""
    if value is None:
        return "—"
    return format_percent(value / 100, format="#,##0%", locale=babel_locale(locale))


def ticket_text(tickets: Tickets, currency: str, locale: str) -> str:
    average = tickets.average(currency)
    return "—" if average is None else format_money(average, currency, locale)


def _overview(stats: PeriodStats, *, locale: str) -> list[str]:
    def count(n: int) -> str:
        return format_count(n, locale)

    now, then, cur = stats.now, stats.then, stats.currency
    lines = [
        _("Members gained: {n}").format(
            n=was(count(now.members_gained), count(then.members_gained))
        )
    ]
    before = {b.key: b.count for b in then.gained}
    lines += [
        _("• {name}: {count}").format(
            name=channel_name(b.key), count=was(count(b.count), count(before.get(b.key, 0)))
        )
        for b in now.gained
    ]
    lines.append(
        _("Returning rate: {rate} — {returned} of {first} came back within {days} days").format(
            rate=was(
                format_rate(now.returning_rate, locale), format_rate(then.returning_rate, locale)
            ),
            returned=count(now.returned),
            first=count(now.first_visits - now.still_open),
            days=stats.returning_days,
        )
    )
    if now.still_open:
        lines.append(_("({n} more joined too recently to tell)").format(n=count(now.still_open)))
    lines += [
        _("Visits: {n}").format(n=was(count(now.visits), count(then.visits))),
        _("Member revenue: {amount}").format(
            amount=was(
                format_money(now.tickets.revenue, cur, locale),
                format_money(then.tickets.revenue, cur, locale),
            )
        ),
        _("Average ticket: {amount}").format(
            amount=was(
                ticket_text(now.tickets, cur, locale), ticket_text(then.tickets, cur, locale)
            )
        ),
        _("• first visits: {amount}").format(
            amount=was(
                ticket_text(now.first_tickets, cur, locale),
                ticket_text(then.first_tickets, cur, locale),
            )
        ),
        _("• later visits: {amount}").format(
            amount=was(
                ticket_text(now.later_tickets, cur, locale),
                ticket_text(then.later_tickets, cur, locale),
            )
        ),
    ]
    return lines


def _redeemed(kind: CouponKind, locale: str) -> str:
    return _("{redeemed} of {issued} ({rate})").format(
        redeemed=format_count(kind.redeemed, locale),
        issued=format_count(kind.issued, locale),
        rate=format_rate(kind.rate, locale),
    )


def _coupons_and_care(stats: PeriodStats, *, locale: str) -> list[str]:
    def count(n: int) -> str:
        return format_count(n, locale)

    now, then = stats.now, stats.then
    lines = ["", _("Coupons redeemed, by campaign kind:")]
    before = {c.kind: c for c in then.coupons}
    kinds = [c.kind for c in now.coupons] + [
        k for k in before if k not in {c.kind for c in now.coupons}
    ]
    if not kinds:
        lines.append(_("• none issued"))
    for kind in kinds:
        c = next((x for x in now.coupons if x.kind == kind), CouponKind(kind, 0, 0))
        b = before.get(kind, CouponKind(kind, 0, 0))
        lines.append(
            _("• {name}: {n}").format(
                name=kind_name(kind),
                n=was(_redeemed(c, locale), _redeemed(b, locale)),
            )
        )
    care_before = {b.key: b.count for b in then.care}
    lines += ["", _("Care list:")]
    lines += [
        _("• {name}: {count}").format(
            name=care_name(b.key), count=was(count(b.count), count(care_before.get(b.key, 0)))
        )
        for b in now.care
    ]
    answered = sum(b.count for b in now.survey_reasons)
    lines.append(
        _("Why don't we see you more? {asked} asked, {answered} answered").format(
            asked=was(count(now.surveys_asked), count(then.surveys_asked)),
            answered=was(count(answered), count(sum(b.count for b in then.survey_reasons))),
        )
    )
    lines += [
        _("• {name}: {count}").format(name=reason_name(b.key), count=count(b.count))
        for b in now.survey_reasons
        if b.count
    ]
    return lines


def _distribution(stats: PeriodStats, *, policy: Policy, locale: str) -> list[str]:
    def count(n: int) -> str:
        return format_count(n, locale)

    before = {b.key: b.count for b in stats.then.tiers}
    lines = ["", _("Members by tier at the end of the period:")]
    lines += [
        _("• {name}: {count}").format(
            name=policy.tiers.display_name(b.key, locale),
            count=was(count(b.count), count(before.get(b.key, 0))),
        )
        for b in stats.now.tiers
    ]
    if stats.now.perks:
        lines += ["", _("Standing perks given, by tier (bills · taken off):")]
        lines += [
            _("• {name}: {count} · {amount}").format(
                name=policy.tiers.display_name(f.tier, locale),
                count=count(f.uses),
                amount=format_money(f.discount, stats.currency, locale),
            )
            for f in stats.now.perks
        ]
    lines += ["", _("Members by lifecycle stage, now:")]
    lines += [
        _("• {name}: {count}").format(name=stage_name(b.key), count=count(b.count))
        for b in stats.stages
    ]
    return lines


def months_lines(stats: PeriodStats, *, locale: str) -> list[str]:
    """By month: members gained and the average ticket (the first chart prints the same)."""
    lines = ["", _("By month (members gained · average ticket):")]
    lines += [
        _("• {month}: {gained} · {ticket}").format(
            month=month_name(m.start, locale),
            gained=format_count(m.gained, locale),
            ticket=ticket_text(m.tickets, stats.currency, locale),
        )
        for m in stats.months
    ]
    return lines


def cohort_lines(stats: PeriodStats, *, locale: str) -> list[str]:
    """The cohort grid: each month's new members, and the share who came in the month they
    joined and each month after (the second chart prints the same)."""
    lines = ["", _("Cohorts (joined · share who came in months 0, 1, 2…):")]
    for cohort in stats.cohorts:
        cells = " · ".join(share_text(cohort.share(k), locale) for k in range(len(cohort.came)))
        lines.append(
            _("• {month} ({members}): {cells}").format(
                month=month_name(cohort.start, locale),
                members=format_count(cohort.members, locale),
                cells=cells,
            )
        )
    return lines


def stats_messages(
    stats: PeriodStats, *, policy: Policy, store: StoreInfo, locale: str, digest: bool = False
) -> list[str]:
    """The whole report, in as few messages as fit (`digest`: the owners' weekly one)."""
    head = [
        _("{store} — {period}, against {before}").format(
            store=store.name,
            period=period_label(stats.period, locale=locale),
            before=days_label(stats.before, locale=locale),
        ),
        _("Figures as of {moment}.").format(
            moment=format_local_datetime(stats.as_of, store.timezone, locale)
        ),
        "",
    ]
    sections = [
        head + _overview(stats, locale=locale),
        _coupons_and_care(stats, locale=locale),
        _distribution(stats, policy=policy, locale=locale),
        months_lines(stats, locale=locale) + cohort_lines(stats, locale=locale),
        [
            "",
            _(
                "Erased members, refunded payments and voided visits are left out. “Was”: the "
                "period before (this week and this month: the same days of the one before)."
            ),
        ],
    ]
    if digest:
        sections[0].insert(0, _("Weekly digest"))
    chunks = [""]
    for section in sections:
        block = "\n".join(section)
        if chunks[-1] and len(chunks[-1]) + 1 + len(block) > MESSAGE_LIMIT:
            chunks.append(block.lstrip("\n"))
        else:
            chunks[-1] = f"{chunks[-1]}\n{block}" if chunks[-1] else block
    return chunks


def chart_title(stats: PeriodStats, *, store: StoreInfo, locale: str) -> str:
    return _("{store} — {period}").format(
        store=store.name, period=period_label(stats.period, locale=locale)
    )


def period_caption(kind: str, rows: int) -> str:
    """The caption of a period report file in `/export`."""
    if kind == "report":
        return ngettext("Figures by period: {n} row", "Figures by period: {n} rows", rows).format(
            n=rows
        )
    if kind == "months":
        return ngettext("By month: {n} row", "By month: {n} rows", rows).format(n=rows)
    if kind == "cohorts":
        return ngettext("Cohorts: {n} row", "Cohorts: {n} rows", rows).format(n=rows)
    return ngettext("Campaigns by kind: {n} row", "Campaigns by kind: {n} rows", rows).format(
        n=rows
    )
