"""The reminders' messages (loyalty.reminders) and the points multipliers as /card and /wallet
show them, in the current locale."""

from __future__ import annotations

from datetime import date

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from babel.dates import format_time, get_day_names
from babel.lists import format_list

from loyalty.policy import WEEKDAYS, Multiplier, Policy, QuietHours
from ui.formatting import format_date, format_points
from ui.locales import babel_locale


def points_expiring_text(
    *, name: str, store: str, points: int, first: date, last: date, locale: str
) -> str:
    amount = format_points(points, locale)
    if first == last:
        text = _("{name}, {points} of your points at {store} expire on {date}.").format(
            name=name, points=amount, store=store, date=format_date(first, locale)
        )
    else:
        text = _("{name}, {points} of your points at {store} expire between {first} and {last}.")
        text = text.format(
            name=name,
            points=amount,
            store=store,
            first=format_date(first, locale),
            last=format_date(last, locale),
        )
    hint = _("Come by before then: /wallet shows what they buy.")
    return f"{text}\n{hint}"


def coupon_expiring_text(*, name: str, coupon: str, day: date, locale: str) -> str:
    return _(
        "{name}, your coupon “{coupon}” runs out on {date}. Show it at the counter from "
        "/wallet before then."
    ).format(name=name, coupon=coupon, date=format_date(day, locale))


def near_tier_text(
    *, name: str, store: str, tier: str, visits: int, day: date | None, locale: str
) -> str:
    """`tier`: its display name; `day`: the day the visits must come by (None: any time)."""
    if day is None:
        return ngettext(
            "{name}, just {count} more visit and you become {tier} at {store}!",
            "{name}, just {count} more visits and you become {tier} at {store}!",
            visits,
        ).format(name=name, count=visits, tier=tier, store=store)
    return ngettext(
        "{name}, just {count} more visit by {date} and you become {tier} at {store}!",
        "{name}, just {count} more visits by {date} and you become {tier} at {store}!",
        visits,
    ).format(name=name, count=visits, date=format_date(day, locale), tier=tier, store=store)


def near_points_text(*, name: str, points: int, reward: str, visits: int, locale: str) -> str:
    """`reward`: what the points buy, in words; `visits`: about how many visits earn them."""
    return ngettext(
        "{name}, you are {points} points away from {reward}: about {count} more visit. "
        "/wallet shows your points.",
        "{name}, you are {points} points away from {reward}: about {count} more visits. "
        "/wallet shows your points.",
        visits,
    ).format(name=name, points=format_points(points, locale), reward=reward, count=visits)


def keep_tier_text(*, name: str, store: str, tier: str, day: date, locale: str) -> str:
    return _("{name}, visit {store} by {date} to stay {tier}. /card shows where you stand.").format(
        name=name, store=store, date=format_date(day, locale), tier=tier
    )


def anniversary_text(*, name: str, store: str, years: int) -> str:
    return ngettext(
        "{name}, it has been {count} year since you joined {store}. Thank you for every "
        "visit — we look forward to the next one!",
        "{name}, it has been {count} years since you joined {store}. Thank you for every "
        "visit — we look forward to the next one!",
        years,
    ).format(name=name, count=years, store=store)


# -- points multipliers ------------------------------------------------------------------------


def _more_points(rule: Multiplier) -> str:
    if rule.factor == 2:
        return _("Double points")
    return _("{factor}× points").format(factor=f"{rule.factor:g}")


def _hours(hours: QuietHours, locale: str) -> str:
    where = babel_locale(locale)
    start = format_time(hours.start, format="short", locale=where)
    return f"{start}–{format_time(hours.end, format='short', locale=where)}"


def _weekdays(rule: Multiplier, locale: str) -> str:
    names = get_day_names("wide", locale=babel_locale(locale))
    days = [names[WEEKDAYS.index(day)] for day in WEEKDAYS if day in rule.weekdays]
    return format_list(days, locale=babel_locale(locale))


def multiplier_text(rule: Multiplier, locale: str) -> str:
    """ "Double points on Tuesday and Thursday, 2:00 PM–5:00 PM"."""
    points = _more_points(rule)
    if rule.weekdays and rule.hours is not None:
        return _("{points} on {days}, {hours}").format(
            points=points, days=_weekdays(rule, locale), hours=_hours(rule.hours, locale)
        )
    if rule.weekdays:
        return _("{points} on {days}").format(points=points, days=_weekdays(rule, locale))
    if rule.hours is not None:
        return _("{points} every day, {hours}").format(
            points=points, hours=_hours(rule.hours, locale)
        )
    return _("{points} every day").format(points=points)


def multiplier_lines(policy: Policy, locale: str) -> list[str]:
    """The points multipliers for /card and /wallet, one line each (none: nothing)."""
    return [f"✨ {multiplier_text(rule, locale)}" for rule in policy.points.multipliers]


def multiplier_day_text(*, store: str, rules: list[Multiplier], locale: str) -> str:
    """The morning announcement of a day whose points count more."""
    lines = []
    for rule in rules:
        if rule.hours is None:
            line = _("{points} today at {store}, all day.")
            lines.append(line.format(points=_more_points(rule), store=store))
        else:
            line = _("{points} today at {store}, {hours}.")
            lines.append(
                line.format(
                    points=_more_points(rule), store=store, hours=_hours(rule.hours, locale)
                )
            )
    lines.append(_("See you there!"))
    return "\n".join(lines)
