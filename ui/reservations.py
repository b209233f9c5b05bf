"""The texts of reservations: what the member, the managers and the morning reminder say."""

from __future__ import annotations

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from loyalty.policy import Policy
from loyalty.reservations import (
    CANCELLED,
    CONFIRMED,
    DECLINED,
    PROPOSED,
    REQUESTED,
    ReservationInfo,
    ReservationProblem,
)
from ui.formatting import format_local_time
from ui.keyboards.reservations import day_label


def when_text(r: ReservationInfo, locale: str, *, proposed: bool = False) -> str:
    """ "Sat, Dec 5, 7:00 PM" in the store's calendar and the reader's language."""
    at = r.proposed_at if proposed and r.proposed_at is not None else r.at
    local = at.astimezone(r.local.tzinfo)
    return _("{day}, {time}").format(
        day=day_label(local.date(), locale), time=format_local_time(at, r.timezone, locale)
    )


def party_text(n: int) -> str:
    return ngettext("{n} person", "{n} people", n).format(n=n)


def status_name(status: str) -> str:
    names = {
        REQUESTED: _("waiting for an answer"),
        PROPOSED: _("another time proposed"),
        CONFIRMED: _("confirmed"),
        DECLINED: _("declined"),
        CANCELLED: _("cancelled"),
    }
    return names.get(status, status)


def table_offer_text() -> str:
    """Under a birthday or holiday message to the tiers the policy offers a table to."""
    return _("Shall we keep a table for you? Tap below to reserve one.")


def ask_day() -> str:
    return _("Reserve a table: which day?")


def ask_time(r_day: str) -> str:
    return _("{day}: what time?").format(day=r_day)


def ask_party() -> str:
    return _("For how many people?")


def ask_note() -> str:
    return _(
        "Anything the restaurant should know (an occasion, a high chair, a quiet corner)? "
        "Send it as a message, or send the request without a note."
    )


def no_times_text() -> str:
    return _("Sorry, no table can be reserved in the coming days.")


def requested_text(r: ReservationInfo, locale: str) -> str:
    return _(
        "Request sent to {store}: {when}, {party}. You will be told here as soon as they answer."
    ).format(store=r.store_name, when=when_text(r, locale), party=party_text(r.party))


def request_for_staff(r: ReservationInfo, policy: Policy, locale: str) -> str:
    lines = [
        _("Table request from {name} ({tier}, member #{id}): {when}, {party}.").format(
            name=r.display_name or "—",
            tier=policy.tiers.display_name(r.tier, locale),
            id=r.member_id,
            when=when_text(r, locale),
            party=party_text(r.party),
        )
    ]
    if r.note:
        lines.append(_("Note: “{note}”").format(note=r.note))
    return "\n".join(lines)


def decided_for_member(r: ReservationInfo, locale: str) -> str:
    if r.status == CONFIRMED:
        return _("Your table at {store} is confirmed: {when}, {party}. See you then!").format(
            store=r.store_name, when=when_text(r, locale), party=party_text(r.party)
        )
    if r.status == PROPOSED:
        return _(
            "{store} cannot seat you at {when}, but has a table at {other}. Does that work?"
        ).format(
            store=r.store_name,
            when=when_text(r, locale),
            other=when_text(r, locale, proposed=True),
        )
    return _(
        "Sorry, {store} cannot take your reservation for {when}. /reserve to pick another day."
    ).format(store=r.store_name, when=when_text(r, locale))


def decided_for_staff(r: ReservationInfo, locale: str) -> str:
    """The line added under the request for the manager who answered it."""
    if r.status == PROPOSED:
        return _("→ Proposed {when} instead.").format(when=when_text(r, locale, proposed=True))
    return _("→ {status}.").format(status=status_name(r.status).capitalize())


def answered_already(r: ReservationInfo) -> str:
    return _("Already answered: {status}.").format(status=status_name(r.status))


def answer_for_staff(r: ReservationInfo, locale: str) -> str:
    """The member answered a proposed time."""
    if r.status == CONFIRMED:
        return _("{name} accepted {when} (reservation #{id}, {party}).").format(
            name=r.display_name or "—",
            when=when_text(r, locale),
            id=r.id,
            party=party_text(r.party),
        )
    return _("{name} declined the time proposed (reservation #{id}).").format(
        name=r.display_name or "—", id=r.id
    )


def answer_for_member(r: ReservationInfo, locale: str) -> str:
    if r.status == CONFIRMED:
        return decided_for_member(r, locale)
    return _("All right, the reservation is cancelled. /reserve to pick another day.")


def propose_prompt(r: ReservationInfo, locale: str) -> str:
    return _("Which time can you offer {name} on {day}?").format(
        name=r.display_name or "—", day=day_label(r.local.date(), locale)
    )


def reminder_text(r: ReservationInfo, locale: str) -> str:
    return _("A reminder: your table at {store} is today at {time}, {party}. See you soon!").format(
        store=r.store_name,
        time=format_local_time(r.at, r.timezone, locale),
        party=party_text(r.party),
    )


def list_text(found: list[ReservationInfo], policy: Policy, locale: str) -> str:
    if not found:
        return _("No reservations today or later.")
    lines = [_("Reservations, today and later:")]
    for r in found:
        line = _("• {when} · {name} ({tier}) · {party} · {status}").format(
            when=when_text(r, locale),
            name=r.display_name or "—",
            tier=policy.tiers.display_name(r.tier, locale),
            party=party_text(r.party),
            status=status_name(r.status),
        )
        if r.note:
            line += " · “" + r.note + "”"
        lines.append(line)
    return "\n".join(lines)


def problem_text(problem: ReservationProblem) -> str:
    texts = {
        "not_member": _(
            "Reservations are for members. Pay your first bill here to become one, then /reserve."
        ),
        "day": _("That day can no longer be booked. /reserve to pick another."),
        "time": _("That time can no longer be booked. /reserve to pick another."),
        "party": _("Please pick the party size from the buttons."),
        "unknown": _("This reservation no longer exists."),
        "not_yours": _("This button is not for you."),
    }
    return texts.get(problem.reason, _("This button is no longer active."))
