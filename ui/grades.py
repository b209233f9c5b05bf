"""The texts of manual grades and labels (`/member`, `/grade`, `/tag`)."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _

from loyalty.grades import Grade, GradeProblem, MemberPage
from loyalty.policy import Policy
from ui.formatting import format_date, format_money
from ui.texts import label_name


def tier_label(policy: Policy, key: str, locale: str) -> str:
    """ "Gold (A)": the members' name and the managers' key."""
    name = policy.tiers.display_name(key, locale)
    return name if name == key else f"{name} ({key})"


def grade_line(grade: Grade, policy: Policy, *, timezone: str, locale: str) -> str:
    tier = tier_label(policy, grade.tier, locale)
    if not grade.manual:
        return _("Grade: {tier}, from their figures").format(tier=tier)
    if grade.until is None:
        text = _("Grade: {tier}, set by a manager").format(tier=tier)
    else:
        # the last day it holds: the end is midnight after it, in the store's time zone
        last = (grade.until.astimezone(ZoneInfo(timezone)) - timedelta(seconds=1)).date()
        text = _("Grade: {tier}, set by a manager until {day}").format(
            tier=tier, day=format_date(last, locale, "medium")
        )
    return f"{text}: {grade.reason}" if grade.reason else text


def labels_line(labels: tuple[str, ...], policy: Policy, locale: str) -> str:
    if not labels:
        return _("Labels: none")
    ordered = [key for key in policy.labels if key in labels]  # the policy's order
    ordered += [key for key in labels if key not in policy.labels]
    names = ", ".join(label_name(policy, key, locale) for key in ordered)
    return _("Labels: {names}").format(names=names)


def member_page_text(page: MemberPage, policy: Policy, *, timezone: str, locale: str) -> str:
    lines = [
        _("Member #{id} · {name}").format(id=page.member_id, name=page.display_name or "—"),
        grade_line(page.grade, policy, timezone=timezone, locale=locale),
    ]
    if page.grade.manual and page.by_figures != page.grade.tier:
        lines.append(
            _("Their figures alone give {tier}.").format(
                tier=tier_label(policy, page.by_figures, locale)
            )
        )
    lines += [
        _(
            "Last {days} days: {visits} visits, {spend} spent, {referrals} new guests brought, "
            "{suggestions} suggestions adopted."
        ).format(
            days=policy.tiers.window_days,
            visits=page.visits,
            spend=format_money(page.spend, page.currency, locale),
            referrals=page.referrals,
            suggestions=page.suggestions,
        ),
        labels_line(page.grade.labels, policy, locale),
        "",
        _("Tap a grade to set it by hand (until you lift it), or a label to add or remove it."),
    ]
    return "\n".join(lines)


def grade_problem_text(problem: GradeProblem, policy: Policy, locale: str) -> str:
    if problem.reason == "no_member":
        return _("There is no such member.")
    if problem.reason == "no_tier":
        grades = ", ".join(reversed(policy.tiers.keys))
        return _("There is no such grade. Grades: {grades}").format(grades=grades)
    if problem.reason == "past_until":
        return _("The end date has passed already: give a later one, or none.")
    labels = ", ".join(policy.labels)
    return _("There is no such label. Labels: {labels}").format(labels=labels)
