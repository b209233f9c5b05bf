"""The member's own commands: /card, /profile (birthday, language, offers), /stop, /invite,
/mydata and /forget; and the privacy notice with the consent question asked at enrolment.

Non-members are told how to become one (pay here once); nothing is written for them.
"""

from __future__ import annotations

import json
from datetime import date
from zoneinfo import ZoneInfo

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InaccessibleMessage,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from babel.dates import format_skeleton, get_month_names
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.receipts import send_card
from loyalty import members
from loyalty.clock import Clock
from loyalty.policy import Policy
from loyalty.qr import QRSigner, ReferralPayload, deep_link
from loyalty.stores import StoreInfo
from ui.formatting import format_date, format_money, format_points
from ui.keyboards.console import TagPick, tags_keyboard
from ui.keyboards.profile import BirthdayPick, ConsentChoice, ForgetChoice, ProfileAction
from ui.keyboards.start import language_keyboard
from ui.locales import LANGUAGE_NAMES, babel_locale
from ui.reminder_texts import multiplier_lines
from ui.texts import not_a_member_text, taste_name

EXPORT_FILE_NAME = "regulars-my-data.json"


# -- texts --------------------------------------------------------------------------------


def _birthday_text(birthday: date | None, locale: str) -> str:
    if birthday is None:
        return _("not set")
    return str(format_skeleton("MMMMd", birthday, locale=babel_locale(locale)))


def privacy_notice() -> str:
    return _(
        "Your privacy: we keep your first name, your visits, payments and points, and your "
        "birthday if you give it — never your phone number. Cashiers see your name and tier, "
        "nothing more. /mydata shows everything we keep; /forget erases it."
    )


def _offers_limits(policy: Policy) -> str:
    per_week = policy.caps.max_marketing_per_week
    return ngettext(
        "At most {n} message a week, never at night.",
        "At most {n} messages a week, never at night.",
        per_week,
    ).format(n=per_week)


def consent_prompt(policy: Policy) -> tuple[str, InlineKeyboardMarkup]:
    """The privacy notice and the one-time question about offers, sent right after the first
    welcome (opt-in: yes / no; opt-out: offers are on, one button turns them off)."""
    if policy.consent.mode == "opt-out":
        question = _(
            "We send members offers and news from time to time. {limits} Don't want them? Tap "
            "below, or send /stop at any time."
        ).format(limits=_offers_limits(policy))
        buttons = [
            InlineKeyboardButton(
                text=_("Turn offers off"), callback_data=ConsentChoice(allowed=False).pack()
            )
        ]
    else:
        question = _("May we send you offers and news? {limits}").format(
            limits=_offers_limits(policy)
        )
        buttons = [
            InlineKeyboardButton(
                text=_("Yes, send me offers"), callback_data=ConsentChoice(allowed=True).pack()
            ),
            InlineKeyboardButton(
                text=_("No thanks"), callback_data=ConsentChoice(allowed=False).pack()
            ),
        ]
    text = f"{privacy_notice()}\n\n{question}"
    return text, InlineKeyboardMarkup(inline_keyboard=[buttons])


def _consent_confirmation(marketing: bool) -> str:
    if marketing:
        return _("Offers are on. Send /stop any time to turn them off.")
    return _("No offers. You will still get your receipts. You can turn offers on in /profile.")


def _progress_text(card: members.Card, policy: Policy, store: StoreInfo, locale: str) -> str:
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


def card_text(card: members.Card, policy: Policy, store: StoreInfo, locale: str) -> str:
    lines = [
        _("{store} member card").format(store=store.name),
        card.display_name,
        "",
        _("Tier: {tier}").format(tier=policy.tiers.display_name(card.tier, locale)),
    ]
    progress = _progress_text(card, policy, store, locale)
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


def profile_text(profile: members.Profile, policy: Policy, locale: str) -> str:
    offers = _("Offers and news: on") if profile.marketing else _("Offers and news: off")
    taste = ", ".join(taste_name(policy, t, locale) for t in profile.taste) or _("not set")
    return "\n".join(
        [
            _("Your profile"),
            "",
            _("Birthday: {birthday}").format(birthday=_birthday_text(profile.birthday, locale)),
            _("Language: {language}").format(language=LANGUAGE_NAMES.get(locale, locale)),
            _("Taste: {taste}").format(taste=taste),
            offers,
            "",
            _(
                "We only ask for the day and month of your birthday, never the year. Receipts "
                "come whatever you choose for offers."
            ),
        ]
    )


def profile_keyboard(profile: members.Profile) -> InlineKeyboardMarkup:
    birthday = _("🎂 Change birthday") if profile.birthday else _("🎂 Add birthday")
    if profile.marketing:
        offers = InlineKeyboardButton(
            text=_("🔕 Turn offers off"),
            callback_data=ProfileAction(action="offers_off").pack(),
        )
    else:
        offers = InlineKeyboardButton(
            text=_("🔔 Turn offers on"), callback_data=ProfileAction(action="offers_on").pack()
        )
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=birthday, callback_data=ProfileAction(action="birthday").pack()
                )
            ],
            [
                InlineKeyboardButton(
                    text=_("🌐 Language"), callback_data=ProfileAction(action="language").pack()
                )
            ],
            [
                InlineKeyboardButton(
                    text=_("🍜 My taste"), callback_data=ProfileAction(action="taste").pack()
                )
            ],
            [offers],
        ]
    )


def month_keyboard(locale: str, *, has_birthday: bool) -> InlineKeyboardMarkup:
    names = get_month_names("abbreviated", context="stand-alone", locale=babel_locale(locale))
    months = [
        InlineKeyboardButton(text=str(names[month]), callback_data=BirthdayPick(month=month).pack())
        for month in range(1, 13)
    ]
    rows = [months[i : i + 3] for i in range(0, 12, 3)]
    last = [
        InlineKeyboardButton(text=_("« Back"), callback_data=ProfileAction(action="back").pack())
    ]
    if has_birthday:
        last.append(
            InlineKeyboardButton(
                text=_("Remove my birthday"),
                callback_data=ProfileAction(action="forget_birthday").pack(),
            )
        )
    rows.append(last)
    return InlineKeyboardMarkup(inline_keyboard=rows)


def day_keyboard(month: int) -> InlineKeyboardMarkup:
    days = [
        InlineKeyboardButton(text=str(day), callback_data=BirthdayPick(month=month, day=day).pack())
        for day in range(1, members.days_in_month(month) + 1)
    ]
    rows = [days[i : i + 7] for i in range(0, len(days), 7)]
    rows.append(
        [
            InlineKeyboardButton(
                text=_("« Months"), callback_data=ProfileAction(action="birthday").pack()
            )
        ]
    )
    return InlineKeyboardMarkup(inline_keyboard=rows)


# -- helpers ------------------------------------------------------------------------------


async def _edit(
    query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None
) -> None:
    """Edit the message the button sits on (no error when nothing changes)."""
    message = query.message
    if message is None or isinstance(message, InaccessibleMessage):
        return
    try:
        await message.edit_text(text, reply_markup=markup)
    except TelegramBadRequest as exc:
        if "not modified" not in str(exc):
            raise


async def _pay_first(query: CallbackQuery) -> None:
    await query.answer()
    await _edit(query, not_a_member_text())


# -- /card --------------------------------------------------------------------------------


async def show_card(
    message: Message,
    session: AsyncSession,
    clock: Clock,
    policy: Policy,
    signer: QRSigner,
    store: StoreInfo,
    locale: str,
    bot: Bot,
) -> None:
    assert message.from_user is not None
    card = await members.get_card(
        session, telegram_id=message.from_user.id, policy=policy, now=clock.now()
    )
    if card is None:
        await message.answer(not_a_member_text())
        return
    await send_card(
        bot,
        chat_id=message.chat.id,
        member_id=card.member_id,
        signer=signer,
        caption=card_text(card, policy, store, locale),
    )


# -- /profile -----------------------------------------------------------------------------


async def show_profile(
    message: Message, session: AsyncSession, policy: Policy, locale: str
) -> None:
    assert message.from_user is not None
    profile = await members.get_profile(session, telegram_id=message.from_user.id, policy=policy)
    if profile is None:
        await message.answer(not_a_member_text())
        return
    await message.answer(
        profile_text(profile, policy, locale), reply_markup=profile_keyboard(profile)
    )


async def profile_action(
    query: CallbackQuery,
    callback_data: ProfileAction,
    session: AsyncSession,
    clock: Clock,
    policy: Policy,
    locale: str,
) -> None:
    telegram_id = query.from_user.id
    action = callback_data.action
    if action == "language":
        await query.answer()
        await _edit(query, _("Choose your language:"), language_keyboard(locale))
        return
    if action in ("offers_on", "offers_off"):
        profile = await members.set_marketing(
            session,
            telegram_id=telegram_id,
            allowed=action == "offers_on",
            policy=policy,
            now=clock.now(),
        )
        notice = (
            _("Offers are on.")
            if profile is not None and profile.marketing
            else _("Offers are off.")
        )
    elif action == "forget_birthday":
        profile = await members.clear_birthday(session, telegram_id=telegram_id, policy=policy)
        notice = _("Birthday removed.")
    else:
        profile = await members.get_profile(session, telegram_id=telegram_id, policy=policy)
        notice = ""
    if profile is None:
        await _pay_first(query)
        return
    if action == "taste":
        await query.answer()
        await _edit(query, _taste_prompt(), _taste_keyboard(profile, policy, locale))
        return
    if action == "birthday":
        await query.answer()
        await _edit(
            query,
            _("Your birthday: which month?"),
            month_keyboard(locale, has_birthday=profile.birthday is not None),
        )
        return
    await query.answer(notice)
    await _edit(query, profile_text(profile, policy, locale), profile_keyboard(profile))


def _taste_prompt() -> str:
    return _("What do you like? Tap to choose; we invite you to new dishes that match first.")


def _taste_keyboard(profile: members.Profile, policy: Policy, locale: str) -> InlineKeyboardMarkup:
    return tags_keyboard("me", profile.taste, policy, locale, done=_("« Back"))


async def pick_taste(
    query: CallbackQuery,
    callback_data: TagPick,
    session: AsyncSession,
    policy: Policy,
    locale: str,
) -> None:
    """A member's own taste (TagPick scope "me"); the empty value goes back to the profile."""
    telegram_id = query.from_user.id
    if callback_data.value:
        profile = await members.toggle_taste(
            session, telegram_id=telegram_id, tag=callback_data.value, policy=policy
        )
    else:
        profile = await members.get_profile(session, telegram_id=telegram_id, policy=policy)
    if profile is None:
        await _pay_first(query)
        return
    await query.answer()
    if callback_data.value:
        await _edit(query, _taste_prompt(), _taste_keyboard(profile, policy, locale))
    else:
        await _edit(query, profile_text(profile, policy, locale), profile_keyboard(profile))


async def pick_birthday(
    query: CallbackQuery,
    callback_data: BirthdayPick,
    session: AsyncSession,
    policy: Policy,
    locale: str,
) -> None:
    month, day = callback_data.month, callback_data.day
    if not 1 <= month <= 12:
        await query.answer(_("This button is no longer active."))
        return
    if day == 0:
        profile = await members.get_profile(session, telegram_id=query.from_user.id, policy=policy)
        if profile is None:
            await _pay_first(query)
            return
        await query.answer()
        month_name = get_month_names("wide", context="stand-alone", locale=babel_locale(locale))
        await _edit(
            query,
            _("Your birthday: which day of {month}?").format(month=month_name[month]),
            day_keyboard(month),
        )
        return
    try:
        profile = await members.set_birthday(
            session, telegram_id=query.from_user.id, month=month, day=day, policy=policy
        )
    except members.InvalidBirthday:
        await query.answer(_("This button is no longer active."))
        return
    if profile is None:
        await _pay_first(query)
        return
    await query.answer(
        _("Birthday saved: {birthday}").format(birthday=_birthday_text(profile.birthday, locale))
    )
    await _edit(query, profile_text(profile, policy, locale), profile_keyboard(profile))


# -- consent ------------------------------------------------------------------------------


async def answer_consent(
    query: CallbackQuery,
    callback_data: ConsentChoice,
    session: AsyncSession,
    clock: Clock,
    policy: Policy,
) -> None:
    answer = await members.answer_enrolment_consent(
        session,
        telegram_id=query.from_user.id,
        allowed=callback_data.allowed,
        policy=policy,
        now=clock.now(),
    )
    if answer is None:
        await _pay_first(query)
        return
    confirmation = _consent_confirmation(answer.marketing)
    await query.answer(confirmation if answer.changed else None)
    await _edit(query, f"{privacy_notice()}\n\n{confirmation}")


# -- /stop --------------------------------------------------------------------------------


async def stop_offers(
    message: Message, session: AsyncSession, clock: Clock, policy: Policy, store: StoreInfo
) -> None:
    assert message.from_user is not None
    profile = await members.set_marketing(
        session, telegram_id=message.from_user.id, allowed=False, policy=policy, now=clock.now()
    )
    if profile is None:
        await message.answer(
            _("We send you no offers: only members get them, and only if they want them.")
        )
        return
    await message.answer(
        _(
            "Done: no more offers or news from {store}. You will still get your receipts and "
            "messages about your own payments. Changed your mind? Turn offers back on in "
            "/profile."
        ).format(store=store.name)
    )


# -- /invite ------------------------------------------------------------------------------


async def invite(
    message: Message,
    session: AsyncSession,
    policy: Policy,
    signer: QRSigner,
    store: StoreInfo,
    bot: Bot,
) -> None:
    assert message.from_user is not None
    member = await members.find_member(session, telegram_id=message.from_user.id)
    if member is None or member.id is None:
        await message.answer(not_a_member_text())
        return
    username = (await bot.me()).username or ""
    link = deep_link(username, signer.sign(ReferralPayload(member_id=member.id)))
    lines = [
        _("Bring a friend to {store}! Send them your personal link:").format(store=store.name),
        link,
        "",
        _(
            "Your friend becomes a member with their first payment here and earns points on "
            "every visit from then on."
        ),
    ]
    bonus = policy.points.referral_bonus
    if bonus:
        lines.append(
            ngettext(
                "You get {points} point when they pay for the first time.",
                "You get {points} points when they pay for the first time.",
                bonus,
            ).format(points=bonus)
        )
    await message.answer("\n".join(lines))


# -- /mydata ------------------------------------------------------------------------------


async def my_data(
    message: Message,
    session: AsyncSession,
    clock: Clock,
    policy: Policy,
    store: StoreInfo,
    locale: str,
) -> None:
    assert message.from_user is not None
    document = await members.export_data(
        session, telegram_id=message.from_user.id, policy=policy, locale=locale, now=clock.now()
    )
    data = json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")
    if document["member"] is None:
        caption = _(
            "Everything {store} keeps about you. You are not a member, so it is very little: "
            "your language and when you wrote to us."
        ).format(store=store.name)
    else:
        caption = _(
            "Everything {store} keeps about you: your profile, choices, tier, points, visits "
            "and payments. /forget erases it."
        ).format(store=store.name)
    await message.answer_document(
        BufferedInputFile(data, filename=EXPORT_FILE_NAME), caption=caption
    )


# -- /forget ------------------------------------------------------------------------------


async def ask_forget(
    message: Message, session: AsyncSession, store: StoreInfo, locale: str
) -> None:
    assert message.from_user is not None
    member = await members.find_member(session, telegram_id=message.from_user.id)
    if member is None:
        text = _(
            "Erase what {store} keeps about you? You are not a member, so that is only your "
            "language and when you wrote to us."
        ).format(store=store.name)
    else:
        text = _(
            "Erase your data at {store}? Your name, birthday and choices are deleted and your "
            "visits and payments are no longer linked to you. Your points ({points}) and tier "
            "are lost. The restaurant keeps its accounts, without your name. This cannot be "
            "undone."
        ).format(store=store.name, points=format_points(member.points_balance, locale))
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_("Yes, erase my data"), callback_data=ForgetChoice(confirm=True).pack()
                ),
                InlineKeyboardButton(
                    text=_("Cancel"), callback_data=ForgetChoice(confirm=False).pack()
                ),
            ]
        ]
    )
    await message.answer(text, reply_markup=keyboard)


async def answer_forget(
    query: CallbackQuery, callback_data: ForgetChoice, session: AsyncSession, clock: Clock
) -> None:
    if not callback_data.confirm:
        await query.answer()
        await _edit(query, _("Nothing was erased."))
        return
    erasure = await members.erase(session, telegram_id=query.from_user.id, now=clock.now())
    done = _("Done: your data is erased.")
    await query.answer(done)
    if erasure.member_id is not None:
        text = _(
            "Done: your data is erased. If you pay here again, you start afresh as a new member."
        )
    else:
        text = done
    await _edit(query, text)


def build_router() -> Router:
    router = Router(name="member")
    router.message.register(show_card, Command("card"))
    router.message.register(show_profile, Command("profile"))
    router.message.register(stop_offers, Command("stop"))
    router.message.register(invite, Command("invite"))
    router.message.register(my_data, Command("mydata"))
    router.message.register(ask_forget, Command("forget"))
    router.callback_query.register(profile_action, ProfileAction.filter())
    router.callback_query.register(pick_birthday, BirthdayPick.filter())
    router.callback_query.register(pick_taste, TagPick.filter(F.scope == "me"))
    router.callback_query.register(answer_consent, ConsentChoice.filter())
    router.callback_query.register(answer_forget, ForgetChoice.filter())
    return router
