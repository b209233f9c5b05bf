"""The texts of /broadcast: the audience chosen, what sending would do, problems, times offered."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from loyalty import broadcasts
from loyalty.audiences import Segment
from loyalty.broadcasts import Broadcast, BroadcastProblem
from loyalty.outbox import PlanResult
from loyalty.policy import Policy
from ui.formatting import format_local_datetime
from ui.locales import LANGUAGE_NAMES
from ui.texts import label_name, stage_name, taste_name
from ui.winback_texts import turn_name


def segment_text(segment: Segment, policy: Policy, locale: str) -> str:
    """ "Tier: Loyal, Regular · Language: English" — or "all members"."""
    if segment.is_everyone:
        return _("all members")
    parts = []
    if segment.tiers:
        names = ", ".join(policy.tiers.display_name(t, locale) for t in segment.tiers)
        parts.append(_("tier: {names}").format(names=names))
    if segment.stages:
        names = ", ".join(stage_name(s) for s in segment.stages)
        parts.append(_("stage: {names}").format(names=names))
    if segment.turns:
        names = ", ".join(turn_name(t) for t in segment.turns)
        parts.append(_("turn: {names}").format(names=names))
    if segment.languages:
        names = ", ".join(LANGUAGE_NAMES.get(lang, lang) for lang in segment.languages)
        parts.append(_("language: {names}").format(names=names))
    if segment.tags:
        names = ", ".join(taste_name(policy, t, locale) for t in segment.tags)
        parts.append(_("taste: {names}").format(names=names))
    if segment.labels:
        names = ", ".join(label_name(policy, k, locale) for k in segment.labels)
        parts.append(_("kind of guest: {names}").format(names=names))
    return " · ".join(parts)


def picker_text(segment: Segment, matching: int, policy: Policy, locale: str) -> str:
    """The segment picker: who is chosen and how many members match."""
    return "\n".join(
        [
            _("New broadcast. Who should receive it? Tap to choose; choose nothing for everyone."),
            _("Rows: tier · how often they come · language · taste · kind of guest."),
            "",
            _("Audience: {segment}").format(segment=segment_text(segment, policy, locale)),
            ngettext("{count} member matches.", "{count} members match.", matching).format(
                count=matching
            ),
        ]
    )


def summary_text(
    draft: Broadcast, counts: PlanResult, policy: Policy, *, later: str, locale: str
) -> str:
    """Under the preview: the audience, the language versions, what sending would do (`later`:
    when the quiet hours end)."""
    versions = [_("Tap a language to add the text its readers get.")]
    if draft.versions:
        names = ", ".join(LANGUAGE_NAMES.get(v, v) for v in sorted(draft.versions))
        versions = [
            _("Versions: {languages}; everyone else gets the text as first written.").format(
                languages=names
            )
        ]
    return "\n".join(
        [
            _("Audience: {segment}").format(segment=segment_text(draft.segment, policy, locale)),
            *versions,
            *audience_lines(counts, policy, later=later),
        ]
    )


def audience_lines(counts: PlanResult, policy: Policy, *, later: str) -> list[str]:
    """What sending it would do, one line per outcome that happens to somebody."""
    reach = counts.queued + counts.deferred
    if reach == 0:
        lines = [_("Nobody would receive it.")]
    else:
        lines = [
            ngettext(
                "{count} member will receive it.", "{count} members will receive it.", reach
            ).format(count=reach)
        ]
    cap = policy.caps.max_marketing_per_week
    outcomes = [
        (
            counts.deferred,
            ngettext(
                "• {count} of them at {time}, after the quiet hours",
                "• {count} of them at {time}, after the quiet hours",
                counts.deferred,
            ),
        ),
        (
            counts.holdout,
            ngettext(
                "• {count} kept as a control group (not messaged, to measure the effect)",
                "• {count} kept as a control group (not messaged, to measure the effect)",
                counts.holdout,
            ),
        ),
        (
            counts.no_consent,
            ngettext(
                "• {count} has not agreed to offers",
                "• {count} have not agreed to offers",
                counts.no_consent,
            ),
        ),
        (
            counts.capped,
            ngettext(
                "• {count} already had {cap} offers this week",
                "• {count} already had {cap} offers this week",
                counts.capped,
            ),
        ),
        (
            counts.unreachable,
            ngettext(
                "• {count} has blocked the bot",
                "• {count} have blocked the bot",
                counts.unreachable,
            ),
        ),
    ]
    lines += [text.format(count=n, time=later, cap=cap) for n, text in outcomes if n]
    return lines


def problem_text(problem: BroadcastProblem) -> str:
    if problem.reason == "empty":
        return _("The message is empty. Send the text members should receive.")
    if problem.reason == "caption_too_long":
        return _("With a photo the text can be at most {n} characters. Please shorten it.").format(
            n=broadcasts.MAX_CAPTION
        )
    if problem.reason == "too_long":
        return _("The text can be at most {n} characters. Please shorten it.").format(
            n=broadcasts.MAX_TEXT
        )
    if problem.reason == "past":
        return _("That time has already passed. Please send a later time.")
    if problem.reason == "too_far":
        return _("A broadcast can be scheduled at most {days} days ahead.").format(
            days=broadcasts.LATEST.days
        )
    if problem.status == broadcasts.CANCELLED:
        return _("This broadcast was cancelled.")
    if problem.status in (broadcasts.SCHEDULED,):
        return _("This broadcast is already scheduled.")
    if problem.status in (broadcasts.PLANNING, broadcasts.SENDING):
        return _("This broadcast is already being sent.")
    return _("This broadcast no longer exists.")


def cancelled_text(cancelled: broadcasts.Cancelled) -> str:
    if cancelled.was == broadcasts.DRAFT:
        return _("Discarded: nothing was sent.")
    if cancelled.was == broadcasts.SCHEDULED:
        return _("Cancelled: nothing will be sent.")
    return ngettext(
        "Stopped: {count} message was not sent.",
        "Stopped: {count} messages were not sent.",
        cancelled.messages,
    ).format(count=cancelled.messages)


def time_example(now: datetime, timezone: str) -> str:
    tomorrow = now.astimezone(ZoneInfo(timezone)).date() + timedelta(days=1)
    return f"{tomorrow.isoformat()} 10:00"


def quick_times(now: datetime, timezone: str, locale: str) -> list[tuple[str, datetime]]:
    zone = ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    options = []
    for day in (today, today + timedelta(days=1)):
        for hour in (11, 17):
            at = datetime.combine(day, time(hour), tzinfo=zone)
            if at > now:
                options.append((format_local_datetime(at, timezone, locale), at))
    return options[:3]
