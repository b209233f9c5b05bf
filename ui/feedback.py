"""The texts of feedback: what went wrong, and the managers' inbox items."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _

from loyalty import care, feedback
from loyalty.feedback import FeedbackProblem
from loyalty.policy import Policy
from loyalty.stores import StoreInfo
from ui.care import survey_feedback_text
from ui.formatting import format_date, format_local_time
from ui.keyboards.feedback import stars
from ui.texts import coupon_text, coupon_until


def problem_text(problem: FeedbackProblem) -> str:
    if problem.reason == "empty":
        return _("Please write a few words, as a text message.")
    if problem.reason == "too_long":
        return _("That is too long: please keep it under {n} characters.").format(
            n=feedback.MAX_TEXT
        )
    if problem.reason == "not_member":
        return _(
            "Suggestions are for members. You become one with your first payment here — no "
            "form to fill in."
        )
    if problem.reason == "too_many":
        return _("Thank you! You have sent several suggestions today; please send more tomorrow.")
    if problem.reason == "already":
        return _("We already have your message about this visit. Thank you!")
    if problem.reason == "unknown":
        return _("This item no longer exists.")
    if problem.reason == "not_suggestion":
        return _("Only a suggestion can be adopted.")
    return _("This button is not for you.")


def adopted_text(
    adopted: feedback.Adopted, policy: Policy, *, store: StoreInfo, locale: str
) -> str:
    """To the member whose suggestion a manager adopted: thanks, and the coupon if any."""
    lines = [
        _("{store} adopted your suggestion: “{text}”. Thank you for helping us improve!").format(
            store=store.name, text=adopted.text
        )
    ]
    if adopted.coupon is not None:
        lines.append(
            _("Our thanks: {coupon} ({until}). /wallet shows it.").format(
                coupon=coupon_text(adopted.coupon, policy, locale),
                until=coupon_until(adopted.coupon, timezone=store.timezone, locale=locale),
            )
        )
    return "\n".join(lines)


def kind_name(kind: str) -> str:
    names = {
        feedback.COMPLAINT: _("Complaint"),
        feedback.SUGGESTION: _("Suggestion"),
        feedback.RATING: _("Rating"),
        care.SURVEY_KIND: _("Survey answer"),
    }
    return names.get(kind, kind)


def item_text(item: feedback.Item, policy: Policy, store: StoreInfo, locale: str) -> str:
    day = item.created_at.astimezone(ZoneInfo(store.timezone)).date()
    time = format_local_time(item.created_at, store.timezone, locale)
    when = f"{format_date(day, locale, 'medium')} {time}"
    lines = [
        _("{kind} from {name} ({tier}, member #{id}), {when}").format(
            kind=kind_name(item.kind),
            name=item.display_name or "—",
            tier=policy.tiers.display_name(item.tier, locale),
            id=item.member_id,
            when=when,
        )
    ]
    if item.rating is not None:
        lines.append(stars(item.rating))
    if item.kind == care.SURVEY_KIND:
        lines.append(survey_feedback_text(item.text))
    elif item.text:
        lines.append(item.text)
    return "\n".join(lines)
