"""The texts of the care desk in the current locale: the daily list and `/care` (one message per
entry: who, why, last visit, usual rhythm, last rating), the note a manager writes (as the
member reads it), the survey "why don't we see you more?" and its answers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import I18n, ngettext
from aiogram.utils.i18n import gettext as _

from loyalty import care
from loyalty.care import Answer, CareProblem, Item, Sent, SurveyRender
from loyalty.outbox import Recipient
from loyalty.policy import Policy
from loyalty.stores import StoreInfo
from ui.formatting import format_date, format_local_datetime, format_money
from ui.keyboards.care import reason_name, survey_keyboard_json
from ui.keyboards.feedback import stars
from ui.locales import locale_from_language_code


def member_locale(person: Recipient, i18n: I18n) -> str:
    """The language a member reads messages in: theirs, else their Telegram's, else ours."""
    return person.locale or locale_from_language_code(person.language_code, i18n.default_locale)


def rhythm_days(item: Item) -> int | None:
    """The usual rhythm in whole days (at least 1)."""
    if item.rhythm_days is None:
        return None
    return max(int(item.rhythm_days.quantize(Decimal(1), ROUND_HALF_UP)), 1)


def _why(item: Item, *, currency: str, locale: str, now: datetime) -> str:
    if item.reason == care.OVERDUE and item.last_visit_at is not None:
        return _("Past their rhythm: {days} days since the last visit.").format(
            days=(now - item.last_visit_at).days
        )
    if item.reason == care.BELOW:
        visits = int(item.facts.get("visits", "0"))
        before = int(item.facts.get("before", "0"))
        if visits == 0:
            recent = _("Not once in the last 30 days")
        else:
            recent = ngettext(
                "Came once in the last 30 days", "Came {n} times in the last 30 days", visits
            ).format(n=visits)
        return _("{recent}, {n} times in the 30 days before.").format(recent=recent, n=before)
    if item.reason == care.SPEND:

        def money(key: str) -> str:
            value = item.facts.get(key)
            return "?" if value is None else format_money(Decimal(value), currency, locale)

        return _("Spends less: {recent} a bill lately, {earlier} before.").format(
            recent=money("recent"), earlier=money("earlier")
        )
    if item.reason == care.FEEDBACK:
        line = _("Unhappy with a visit: nobody has answered yet.")
        if item.complaint:
            words = item.complaint
            if len(words) > COMPLAINT_CHARS:
                words = words[: COMPLAINT_CHARS - 1] + "…"
            line += "\n" + _("They wrote: “{text}”").format(text=words)
        return line
    if item.reason == care.RISING:
        return _("Coming more often lately: worth a thank-you.")
    if item.reason == care.GAVE_UP:
        return _("The win-back gave up: no offer brought them back. A personal word may.")
    return item.reason


def entry_text(
    item: Item,
    *,
    number: int,
    policy: Policy,
    timezone: str,
    currency: str,
    locale: str,
    now: datetime,
) -> str:
    """One entry: who, why, and what a manager wants to know before writing."""
    zone = ZoneInfo(timezone)
    head = _("{number}. {name} — {tier}, member #{id}").format(
        number=number,
        name=item.name or "—",
        tier=policy.tiers.display_name(item.tier, locale),
        id=item.member_id,
    )
    last = (
        "—"
        if item.last_visit_at is None
        else format_date(item.last_visit_at.astimezone(zone).date(), locale, "medium")
    )
    rhythm = rhythm_days(item)
    facts = [
        _("Last visit: {date}").format(date=last),
        _("usual rhythm: every {days} days").format(days=rhythm)
        if rhythm is not None
        else _("usual rhythm: not known yet"),
        _("last rating: {stars}").format(stars=stars(item.last_rating))
        if item.last_rating is not None
        else _("last rating: none"),
    ]
    why = _why(item, currency=currency, locale=locale, now=now)
    return "\n".join([head, why, " · ".join(facts)])


def list_header(
    *, store: str, day: datetime, timezone: str, count: int, more: int, locale: str
) -> str:
    when = format_date(day.astimezone(ZoneInfo(timezone)).date(), locale)
    lines = [
        ngettext(
            "{store}, {date}: {n} member needs a personal touch today.",
            "{store}, {date}: {n} members need a personal touch today.",
            count,
        ).format(store=store, date=when, n=count)
    ]
    if more:
        lines.append(
            ngettext(
                "And {n} more: mark these Done or Later, then /care shows the next.",
                "And {n} more: mark these Done or Later, then /care shows the next.",
                more,
            ).format(n=more)
        )
    return "\n".join(lines)


MESSAGE_LIMIT = 4000
"""Below Telegram's 4096 characters: a longer list is cut into several messages."""
COMPLAINT_CHARS = 300


def list_messages(
    items: Sequence[Item],
    *,
    store: StoreInfo,
    policy: Policy,
    more: int,
    locale: str,
    now: datetime,
) -> list[tuple[str, list[tuple[int, int]]]]:
    """A store's list as messages: (text, [(entry id, number)] whose buttons it carries). The
    header and the entries, numbered from 1, in as few messages as fit."""
    header = list_header(
        store=store.name,
        day=now,
        timezone=store.timezone,
        count=len(items),
        more=more,
        locale=locale,
    )
    chunks: list[tuple[str, list[tuple[int, int]]]] = [(header, [])]
    for n, item in enumerate(items, start=1):
        block = entry_text(
            item,
            number=n,
            policy=policy,
            timezone=store.timezone,
            currency=store.currency,
            locale=locale,
            now=now,
        )
        text, entries = chunks[-1]
        if len(text) + 2 + len(block) > MESSAGE_LIMIT:
            chunks.append((block, [(item.entry_id, n)]))
        else:
            chunks[-1] = (f"{text}\n\n{block}", [*entries, (item.entry_id, n)])
    return chunks


def nothing_text() -> str:
    return _("Nobody needs a personal touch today: the care list is empty.")


def problem_text(problem: CareProblem, *, timezone: str, locale: str) -> str:
    if problem.reason == "already":
        return _("This one was already handled.")
    if problem.reason == "no_consent":
        return _("They asked for no messages (/stop): please greet them in person instead.")
    if problem.reason == "unreachable":
        return _("Their chat cannot be reached (they blocked the bot or erased their data).")
    if problem.reason == "asked_recently" and problem.since is not None:
        return _("They were already asked why on {date}: once a period is enough.").format(
            date=format_date(problem.since.astimezone(ZoneInfo(timezone)).date(), locale)
        )
    if problem.reason == "empty":
        return _("Please write a few words as a text message, or /cancel.")
    if problem.reason == "too_long":
        return _("That is too long: please keep it under {n} characters.").format(n=care.MAX_NOTE)
    if problem.reason == "answered":
        return _("Thank you, we have your answer already.")
    if problem.reason == "not_yours":
        return _("This button is not for you.")
    return _("This entry is not in a store you manage.")


def handled_line(action: str, *, n: int, by: str) -> str:
    lines = {
        care.WROTE: _("{n} · ✍ {name} wrote to them."),
        care.ASKED: _("{n} · ❓ {name} asked them why."),
        care.HANDLED: _("{n} · ✓ Done by {name}."),
    }
    return lines.get(action, lines[care.HANDLED]).format(n=n, name=by)


def later_line(*, n: int, until: datetime, timezone: str, locale: str) -> str:
    return _("{n} · ⏰ Back on the list on {date}.").format(
        n=n, date=format_date(until.astimezone(ZoneInfo(timezone)).date(), locale)
    )


# -- writing to a member -----------------------------------------------------------------------


def note_prompt(item: Item) -> str:
    return _(
        "Write your note to {name} in your next message. It reaches their chat from you, "
        "with the restaurant's name. /cancel to stop."
    ).format(name=item.name or _("the member"))


def note_for_member(*, store: str, manager: str, note: str) -> str:
    """What the member reads: the store and the manager's first name around the note."""
    return _("A note from {manager} at {store}:\n\n{note}").format(
        manager=manager, store=store, note=note
    )


def note_render(i18n: I18n, *, manager: str) -> Callable[[Recipient, str], str]:
    """The note in each member's language (for loyalty.care.send_note)."""

    def render(person: Recipient, note: str) -> str:
        with i18n.context(), i18n.use_locale(member_locale(person, i18n)):
            return note_for_member(store=person.store_name, manager=manager, note=note)

    return render


def sent_text(sent: Sent, *, timezone: str, locale: str) -> str:
    if sent.deferred:
        return _("It goes out at {moment}, after the quiet hours.").format(
            moment=format_local_datetime(sent.at, timezone, locale)
        )
    return _("Sent: it is on its way to their chat.")


# -- the survey --------------------------------------------------------------------------------


def survey_question(*, name: str, store: str) -> str:
    greeting = _("Hello {name}!").format(name=name) if name else _("Hello!")
    return (
        greeting
        + " "
        + _(
            "We have missed you at {store} lately. Would you tell us why we see you less? "
            "One tap is enough, and it helps us do better."
        ).format(store=store)
    )


def survey_render(i18n: I18n) -> SurveyRender:
    """The question and its one-tap reasons in each member's language."""

    def render(person: Recipient, survey_id: int) -> tuple[str, str]:
        with i18n.context(), i18n.use_locale(member_locale(person, i18n)):
            question = survey_question(name=person.name, store=person.store_name)
            return question, survey_keyboard_json(survey_id)

    return render


def survey_thanks(reason: str) -> str:
    if reason == care.OTHER:
        return _("Thank you! What keeps you away? Tell us in your next message.")
    return _("Thank you for telling us ({reason}). It goes straight to the manager.").format(
        reason=reason_name(reason)
    )


def survey_words_thanks() -> str:
    return _("Thank you for telling us. It goes straight to the manager.")


def survey_answer_alert(answer: Answer, *, policy: Policy, locale: str) -> str:
    """What the store's managers read when a member answers."""
    text = _(
        "{name} ({tier}, member #{id}) answered “why don't we see you more?”: {reason}"
    ).format(
        name=answer.name or "—",
        tier=policy.tiers.display_name(answer.tier, locale),
        id=answer.member_id,
        reason=reason_name(answer.reason),
    )
    if answer.text:
        text += "\n" + _("They wrote: “{text}”").format(text=answer.text)
    return text + "\n\n" + _("/feedback shows the inbox.")


def survey_feedback_text(text: str) -> str:
    """A survey answer in the feedback inbox: the reason, and what they wrote."""
    reason, words = care.read_survey_text(text)
    if not reason:
        return ""
    line = _("Why we see them less: {reason}").format(reason=reason_name(reason))
    return f"{line}\n{words}" if words else line
