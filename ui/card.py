"""The member card's caption: tier, progress to the next tier, points and visits."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from loyalty import member_account
from loyalty.policy import Policy
from loyalty.stores import StoreInfo
from ui.formatting import format_date, format_money, format_points
from ui.reminder_texts import multiplier_lines


def progress_text(card: member_account.Card, policy: Policy, store: StoreInfo, locale: str) -> str:
    status = card.progress
    if not status.graded:
        graded_from = status.graded_from
        if graded_from is None:
            return ""
        day = graded_from.astimezone(ZoneInfo(store.timezone)).date()
        return _("Your tier will be set on {date}, once we know you a little.").format(
            date=format_date(day, locale)
        )
    if status.next_tier is None:
        return _("You are on our top tier. Thank you for coming back so often!")
    tier = policy.tiers.display_name(status.next_tier, locale)
    days = policy.tiers.window_days
    deadline = (
        format_date(status.deadline.astimezone(ZoneInfo(store.timezone)).date(), locale)
        if status.deadline is not None
        else None
    )
    visits = status.visits_needed
    only_visits = (
        visits > 0
        and not status.spend_needed
        and not status.referrals_needed
        and not status.suggestions_needed
    )
    if only_visits:
        if deadline is not None:
            return ngettext(
                "{count} more visit before {date} and you become {tier}.",
                "{count} more visits before {date} and you become {tier}.",
                visits,
            ).format(count=visits, date=deadline, tier=tier)
        return ngettext(
            "{count} more visit within {days} days and you become {tier}.",
            "{count} more visits within {days} days and you become {tier}.",
            visits,
        ).format(count=visits, days=days, tier=tier)
    if status.any_of and deadline is not None:
        lines = [_("To become {tier} before {date}, any one of:").format(tier=tier, date=deadline)]
    elif status.any_of:
        lines = [_("To become {tier} within {days} days, any one of:").format(tier=tier, days=days)]
    elif deadline is not None:
        lines = [_("To become {tier} before {date}:").format(tier=tier, date=deadline)]
    else:
        lines = [_("To become {tier} within {days} days:").format(tier=tier, days=days)]
    if visits:
        lines.append(
            ngettext("• {count} more visit", "• {count} more visits", visits).format(count=visits)
        )
    if status.spend_needed:
        amount = format_money(status.spend_needed, store.currency, locale)
        lines.append(_("• {amount} more spent here").format(amount=amount))
    if status.referrals_needed:
        n = status.referrals_needed
        lines.append(
            ngettext(
                "• {count} more friend who joins through /invite",
                "• {count} more friends who join through /invite",
                n,
            ).format(count=n)
        )
    if status.suggestions_needed:
        n = status.suggestions_needed
        lines.append(
            ngettext("• {count} more suggestion", "• {count} more suggestions", n).format(count=n)
        )
    return "\n".join(lines)


def card_text(card: member_account.Card, policy: Policy, store: StoreInfo, locale: str) -> str:
    lines = [
        _("{store} member card").format(store=store.name),
        card.display_name,
        "",
        _("Tier: {tier}").format(tier=policy.tiers.display_name(card.tier, locale)),
    ]
    progress = progress_text(card, policy, store, locale)
    if progress:
        lines.append(progress)
    lines += [
        "",
        _("Points: {points}").format(points=format_points(card.points_balance, locale)),
        *multiplier_lines(policy, locale),
        _("Visits: {count}").format(count=card.visit_count),
        "",
        _("Show this code at the counter when you pay. The cashier can also open the link below."),
    ]
    return "\n".join(lines)
