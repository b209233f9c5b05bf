"""The texts of `/stats` and `/campaigns`, in the current locale: money in the store's currency,
dates and times in the store's time zone, figures formatted as the chart prints them."""

from __future__ import annotations

from decimal import Decimal
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import I18n, ngettext
from aiogram.utils.i18n import gettext as _
from babel.numbers import format_decimal, format_percent

from loyalty import reminders
from loyalty.policy import Policy
from loyalty.reports import LIFT_WINDOW, CampaignResult, Lift, StoreStats
from loyalty.stores import StoreInfo
from ui import charts
from ui.charts import StatsLabels, format_count
from ui.formatting import format_date, format_local_datetime, format_money
from ui.locales import babel_locale
from ui.texts import stage_name
from ui.winback_texts import care_only_line

NAME_CHARS = 40
"""A broadcast's name is cut to this in the list (the message must stay under 4096)."""


def format_rate(pct: Decimal | None, locale: str) -> str:
    """A percentage with one decimal ("45.0%"), or a dash when there is nothing to divide."""
    if pct is None:
        return "—"
    return format_percent(pct / 100, format="#,##0.0%", locale=babel_locale(locale))


def format_points_diff(points: Decimal, locale: str) -> str:
    """A difference of percentages with its sign: "+15.0", "-3.5"."""
    return format_decimal(points, format="+#,##0.0;-#,##0.0", locale=babel_locale(locale))


# -- /stats ------------------------------------------------------------------------------------


def stats_text(stats: StoreStats, *, policy: Policy, store: StoreInfo, locale: str) -> str:
    def count(n: int) -> str:
        return format_count(n, locale)

    average = stats.average_ticket
    per_member = stats.visits_per_member
    lines = [
        _("{store} — figures as of {moment}").format(
            store=store.name,
            moment=format_local_datetime(stats.as_of, store.timezone, locale),
        ),
        "",
        _("Members: {count}").format(count=count(stats.members)),
        _("New this week: {count}").format(count=count(stats.new_this_week)),
        _("Returning rate: {rate} ({count} came back for a second visit)").format(
            rate=format_rate(stats.returning_rate, locale), count=count(stats.returning)
        ),
        ngettext(
            "Average ticket: {amount} (over {count} payment)",
            "Average ticket: {amount} (over {count} payments)",
            stats.payments,
        ).format(
            amount="—" if average is None else format_money(average, store.currency, locale),
            count=count(stats.payments),
        ),
        _("Visits per member: {visits}").format(
            visits="—"
            if per_member is None
            else format_decimal(per_member, format="#,##0.0", locale=babel_locale(locale))
        ),
        _("Coupon redemption rate: {rate} ({redeemed} of {issued} redeemed)").format(
            rate=format_rate(stats.redemption_rate, locale),
            redeemed=count(stats.coupons_redeemed),
            issued=count(stats.coupons_issued),
        ),
        "",
        _("Members by tier:"),
    ]
    lines += [
        _("• {name}: {count}").format(
            name=policy.tiers.display_name(b.key, locale), count=count(b.count)
        )
        for b in stats.tiers
    ]
    lines += ["", _("Members by lifecycle stage:")]
    lines += [
        _("• {name}: {count}").format(name=stage_name(b.key), count=count(b.count))
        for b in stats.stages
    ]
    lines.append(care_only_line(count(stats.care_only)))
    lines += [
        "",
        _(
            "Erased members, refunded payments and voided visits are left out. "
            "This week: the last 7 days."
        ),
    ]
    return "\n".join(lines)


def stats_caption(stats: StoreStats, *, locale: str) -> str:
    def count(n: int) -> str:
        return format_count(n, locale)

    return (
        _("Members: {count}").format(count=count(stats.members))
        + " · "
        + _("New this week: {count}").format(count=count(stats.new_this_week))
    )


def _labels(
    stats: StoreStats, *, policy: Policy, locale: str, number_locale: str, keys: bool
) -> StatsLabels:
    return StatsLabels(
        title=stats_caption(stats, locale=number_locale),
        tiers_title=_("Members by tier:").rstrip(":："),
        stages_title=_("Members by lifecycle stage:").rstrip(":："),
        tier_names={
            b.key: b.key if keys else policy.tiers.display_name(b.key, locale) for b in stats.tiers
        },
        stage_names={b.key: b.key if keys else stage_name(b.key) for b in stats.stages},
        number_locale=number_locale,
    )


def stats_labels(stats: StoreStats, *, policy: Policy, locale: str, i18n: I18n) -> StatsLabels:
    """The chart's words in the person's language — or, when no font on this machine can draw
    them (no CJK font installed), the English titles and the tier and stage keys ("loyal",
    "lapsed"), so the chart never shows boxes. The figures are the same either way."""
    labels = _labels(stats, policy=policy, locale=locale, number_locale=locale, keys=False)
    if charts.can_draw(labels.texts(stats)):
        return labels
    with i18n.use_locale("en"):
        return _labels(stats, policy=policy, locale="en", number_locale=locale, keys=True)


# -- /campaigns --------------------------------------------------------------------------------


def reminder_title(kind: str) -> str | None:
    """The reminders' "campaigns" (loyalty.reminders), one a day per kind."""
    titles = {
        reminders.COUPON_EXPIRING: _("Reminder: a coupon runs out"),
        reminders.POINTS_EXPIRING: _("Reminder: points expire"),
        reminders.KEEP_TIER: _("Reminder: keep your tier"),
        reminders.NEAR_REWARD: _("Reminder: close to a reward"),
        reminders.ANNIVERSARY: _("Membership anniversary"),
        reminders.MULTIPLIER_DAY: _("Announcement: more points today"),
    }
    return titles.get(kind)


def campaign_title(result: CampaignResult) -> str:
    kind = result.kind
    if kind == "birthday":
        return _("Birthday greetings")
    if kind == "second_visit":
        return _("Second-visit nudge")
    if kind.startswith("winback_") and kind.removeprefix("winback_").isdigit():
        return _("Win-back, step {step}").format(step=kind.removeprefix("winback_"))
    if kind == "holiday":
        return _("Holiday greetings")
    reminder = reminder_title(kind)
    if reminder is not None:
        return reminder
    label = {"new_dish": _("New dish"), "broadcast": _("Broadcast")}.get(kind, kind)
    name = result.name.strip()
    if not name or name == f"{kind} {result.period}":
        return label
    if len(name) > NAME_CHARS:
        name = name[: NAME_CHARS - 1] + "…"
    return _("{kind} “{name}”").format(kind=label, name=name)


def _lift_line(lift: Lift, locale: str) -> str:
    days = LIFT_WINDOW.days
    if lift.messaged == 0:
        return _("Return visits: nothing sent yet.")
    messaged = format_rate(lift.messaged_rate, locale)
    if lift.holdout == 0:
        return _(
            "Came back within {days} days: {messaged} of those messaged. "
            "No control group (empty holdout), so no lift."
        ).format(days=days, messaged=messaged)
    points = lift.points
    assert points is not None
    return _(
        "Came back within {days} days: {messaged} messaged vs {holdout} holdout ({points} points)."
    ).format(
        days=days,
        messaged=messaged,
        holdout=format_rate(lift.holdout_rate, locale),
        points=format_points_diff(points, locale),
    )


def campaign_block(result: CampaignResult, *, number: int, store: StoreInfo, locale: str) -> str:
    def count(n: int) -> str:
        return format_count(n, locale)

    title = campaign_title(result)
    when = format_date(result.created_at.astimezone(ZoneInfo(store.timezone)).date(), locale)
    if result.status == "cancelled":
        head = _("{number}. {title} — {date}, cancelled").format(
            number=number, title=title, date=when
        )
    elif result.status == "scheduled" and result.scheduled_at is not None:
        head = _("{number}. {title} — scheduled for {moment}").format(
            number=number,
            title=title,
            moment=format_local_datetime(result.scheduled_at, store.timezone, locale),
        )
    else:
        head = _("{number}. {title} — {date}").format(number=number, title=title, date=when)
    lines = [head]
    if result.audience:
        lines.append(
            _(
                "Audience {audience} (holdout {holdout}): sent {sent}, waiting {waiting}, "
                "failed {failed}"
            ).format(
                audience=count(result.audience),
                holdout=count(result.holdout),
                sent=count(result.sent),
                waiting=count(result.waiting),
                failed=count(result.failed),
            )
        )
    elif result.status != "scheduled":
        lines.append(_("Nobody was in the audience."))
    if result.coupons_issued:
        lines.append(
            _("Coupons redeemed: {redeemed} of {issued}, bills {revenue}").format(
                redeemed=count(result.coupons_redeemed),
                issued=count(result.coupons_issued),
                revenue=format_money(result.revenue, store.currency, locale),
            )
        )
    if result.audience:
        lines.append(_lift_line(result.lift, locale))
        if result.lift.measuring_until is not None and result.lift.messaged:
            lines.append(
                _("Still counting until {date}.").format(
                    date=format_date(
                        result.lift.measuring_until.astimezone(ZoneInfo(store.timezone)).date(),
                        locale,
                    )
                )
            )
    return "\n".join(lines)


def campaigns_header(*, offset: int, empty: bool) -> str:
    if empty:
        return _("No campaigns yet.") if offset == 0 else _("No more campaigns.")
    return _("Campaigns, newest first:")
