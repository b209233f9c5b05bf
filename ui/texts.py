"""Texts shared by several handlers (and later by the scheduler), rendered in the current locale."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _

from loyalty.coupons import CouponProblem, CouponView
from loyalty.policy import Policy, Treatment
from models.tables import Role
from ui.formatting import format_date, format_money
from ui.perks import perk_text


def role_name(role: Role) -> str:
    names = {
        Role.DINER: _("diner"),
        Role.CASHIER: _("cashier"),
        Role.MANAGER: _("manager"),
        Role.OWNER: _("owner"),
    }
    return names[role]


def role_line(role: Role, store: str) -> str:
    if role is Role.DINER:
        return ""
    return _("You are signed in as {role} of {store}.").format(role=role_name(role), store=store)


def help_text(role: Role, store: str) -> str:
    lines = [
        _("Here is what I can do:"),
        "",
        _("/start — welcome and check-in"),
        _("/language — choose English, 简体中文 or 繁體中文"),
        _("/help — this list"),
        "",
        _("For members:"),
        _("/card — your member card, tier and points"),
        _("/wallet — your coupons and points"),
        _("/profile — birthday, language and offers"),
        _("/invite — invite a friend"),
        _("/reserve — reserve a table"),
        _("/suggest — send the restaurant an idea"),
        _("/stop — no more offers (receipts still come)"),
        _("/mydata — everything we keep about you"),
        _("/forget — erase your data"),
        "",
        _(
            "Pay your bill with me or at the counter and you become a member of {store} "
            "automatically: no form to fill in."
        ).format(store=store),
    ]
    if role.at_least(Role.CASHIER):
        lines += [
            "",
            _("For the counter:"),
            _("Scan a member's card QR — record their bill"),
            _("/bill <amount> — a receipt QR for a walk-in diner"),
            _("/redeem <code> — redeem a coupon by its 6-digit code"),
        ]
    if role.at_least(Role.MANAGER):
        lines += [
            "",
            _("For managers:"),
            _("/broadcast — a message to a group of members"),
            _("/newdish — add a new dish and invite members to taste it"),
            _("/stats — figures by period against the one before, with charts"),
            _("/campaigns — what each kind of campaign sent and brought"),
            _("/feedback — ratings, complaints and suggestions"),
            _("/care — who needs a personal touch today"),
            _("/reservations — today's and upcoming tables"),
            _("/gift <member> <coupon> — give a member a coupon"),
            _("/member <member> — a member's grade and labels, with buttons to grade them"),
            _('/grade <member> <grade> ["reason"] [until YYYY-MM-DD] — grade a member by hand'),
            _("/tag <member> <labels> — what kind of guest they are (neighbour, student…)"),
            _("/refund <payment> — refund a payment"),
            _("/export — your data and the period reports as CSV"),
            _("/staff — invite and remove staff"),
        ]
    if role is Role.OWNER:
        lines.append(_("/audit — who did what"))
    extra = role_line(role, store)
    if extra:
        lines += ["", extra]
    return "\n".join(lines)


def how_it_works_text(store: str, policy: Policy, locale: str) -> str:
    """The welcome's "How it works": membership, tiers and coupons, a short line each."""
    tiers = " → ".join(policy.tiers.display_name(rung.name, locale) for rung in policy.tiers.ladder)
    return "\n\n".join(
        [
            _(
                "💳 Pay your bill with me or at the counter and you are a member of {store}: "
                "no form to fill in."
            ).format(store=store),
            _(
                "⭐ Every visit counts toward your tier ({tiers}); higher tiers get more treats. "
                "/card shows yours."
            ).format(tiers=tiers),
            _("🎁 Gifts and coupons wait in /wallet: tap Use and show the code at the counter."),
        ]
    )


def stage_name(stage: str) -> str:
    """A lifecycle stage (loyalty.lifecycle.Stage) in the reader's language."""
    names = {
        "newcomer": _("One visit so far"),
        "returning": _("Coming back"),
        "active": _("On their rhythm"),
        "slowing": _("Slowing down"),
        "lapsed": _("Overdue"),
        "lost": _("Gone quiet"),
    }
    return names.get(stage, stage)


def taste_name(policy: Policy, tag: str, locale: str) -> str:
    names = policy.taste_tags.get(tag)
    return names.get(locale) if names is not None else tag


def label_name(policy: Policy, label: str, locale: str) -> str:
    """A kind of guest a manager marks (policy.labels: neighbour, student…)."""
    names = policy.labels.get(label)
    return names.get(locale) if names is not None else label


def _benefits(treatment: Treatment, currency: str | None = None, locale: str = "en") -> list[str]:
    found = []
    if treatment.perk is not None and currency is not None:
        found.append(perk_text(treatment.perk, currency, locale))
    if treatment.birthday == "coupon":
        found.append(_("a birthday gift"))
    if treatment.new_dish == "coupon":
        found.append(_("a free tasting of every new dish"))
    if treatment.holiday == "coupon":
        found.append(_("a gift on holidays"))
    return found


def tier_up_text(
    policy: Policy, *, before: str | None, after: str, locale: str, currency: str | None = None
) -> str:
    """The congratulation for reaching a higher tier, naming what is new for the member (with
    `currency`, a standing perk too)."""
    name = policy.tiers.display_name(after, locale)
    lines = [_("Congratulations — you are now {tier}!").format(tier=name)]

    def benefits(tier: str) -> list[str]:
        return _benefits(policy.treatment_for(tier), currency, locale)

    had = set(benefits(before)) if before is not None else set()
    new = [b for b in benefits(after) if b not in had]
    if new:
        lines.append(_("New for you:"))
        lines += [f"• {benefit}" for benefit in new]
    lines.append(_("Thank you for coming back. /card shows your tier and what comes next."))
    return "\n".join(lines)


def tier_down_text(policy: Policy, *, after: str, locale: str) -> str:
    """Only sent when the policy says downgrades are told (tiers.downgrade = "notify")."""
    return _(
        "Your tier is now {tier}: tiers follow your visits of the last {days} days. "
        "/card shows how to move up again — we hope to see you soon!"
    ).format(tier=policy.tiers.display_name(after, locale), days=policy.tiers.window_days)


def coupon_text(coupon: CouponView, policy: Policy, locale: str) -> str:
    """What a coupon gives, in the member's words: "¥20 off a bill of ¥100 or more"."""
    if coupon.kind == "percent":
        percent = f"{coupon.value.normalize():f}%"
        if coupon.cap is not None:
            text = _("{percent} off, up to {cap}").format(
                percent=percent, cap=format_money(coupon.cap, coupon.currency, locale)
            )
        else:
            text = _("{percent} off").format(percent=percent)
    elif coupon.kind == "dish":
        template = policy.coupons.templates.get(coupon.template)
        dish = template.dish.get(locale) if template is not None and template.dish else None
        dish = coupon.dish_name or dish
        text = _("Free: {dish}").format(dish=dish or _("a dish"))
    else:
        text = _("{amount} off").format(amount=format_money(coupon.value, coupon.currency, locale))
    if coupon.min_spend > 0:
        text = _("{offer} (bill of {minimum} or more)").format(
            offer=text, minimum=format_money(coupon.min_spend, coupon.currency, locale)
        )
    return text


def coupon_until(coupon: CouponView, *, timezone: str, locale: str) -> str:
    day = coupon.valid_until.astimezone(ZoneInfo(timezone)).date()
    return _("valid until {date}").format(date=format_date(day, locale))


def coupon_problem_text(problem: CouponProblem) -> str:
    texts = {
        "unknown": _("This coupon does not exist (any more)."),
        "not_yours": _("This coupon belongs to someone else."),
        "used": _("This coupon has already been used."),
        "expired": _("This coupon has expired."),
        "code_expired": _(
            "This redemption code has expired. Ask the guest to tap Use again in /wallet."
        ),
        "below_min": _("The bill is below this coupon's minimum spend: nothing was redeemed."),
        "wrong_code": _("No coupon has this code. Check the 6 digits and try again."),
        "too_many_codes": _("Too many wrong codes. Please wait a few minutes and try again."),
        "own_coupon": _("Staff cannot redeem a coupon of their own member account."),
        "no_points": _("Not enough points for this exchange."),
        "already": _("Done already: this button exchanged your points once. See /wallet."),
        "one_per_bill": _(
            "One coupon per bill: this guest has just used a coupon on this visit. Nothing was "
            "redeemed."
        ),
        "unknown_template": _("There is no such coupon."),
        "not_member": _("This member does not exist (any more)."),
    }
    return texts.get(problem.reason, _("This coupon cannot be used."))


def not_a_member_text() -> str:
    return _(
        "You are not a member yet. You become one with your first payment here — pay your bill "
        "with me or at the counter, no form to fill in. Scan the QR code on your table to start."
    )


# -- campaign messages (rendered in each member's language by the scheduler) -----------------


def birthday_text(*, name: str, store: str, gift: str | None) -> str:
    lines = [
        _("Happy birthday, {name}! Everyone at {store} wishes you a wonderful year.").format(
            name=name, store=store
        )
    ]
    if gift:
        lines.append(_("Our gift for you: {gift}. /wallet has it.").format(gift=gift))
    return "\n".join(lines)


def second_visit_text(*, name: str, store: str, gift: str | None) -> str:
    lines = [
        _("{name}, it was lovely to have you at {store}. Come back soon?").format(
            name=name, store=store
        )
    ]
    if gift:
        lines.append(_("For your next visit: {gift}. /wallet has it.").format(gift=gift))
    return "\n".join(lines)


def winback_text(*, name: str, store: str, gift: str | None) -> str:
    if gift:
        return _(
            "We miss you at {store}, {name}! Here is {gift} for your next visit — /wallet has it."
        ).format(name=name, store=store, gift=gift)
    return _(
        "{name}, we have not seen you at {store} for a while — we hope all is well. "
        "Your table is waiting whenever you like."
    ).format(name=name, store=store)


def holiday_text(*, holiday: str, name: str, store: str, gift: str | None) -> str:
    lines = [
        _("Happy {holiday}, {name}! Warm wishes from all of us at {store}.").format(
            holiday=holiday, name=name, store=store
        )
    ]
    if gift:
        lines.append(_("A little gift to celebrate: {gift}. /wallet has it.").format(gift=gift))
    return "\n".join(lines)


def new_dish_text(
    *,
    store: str,
    dish: str,
    description: str,
    action: str,
    gift: str | None,
    tastes: str | None,
) -> str:
    """A new-dish invitation: "message" an announcement, "friends" an invitation to bring
    friends, "coupon" a free tasting (`gift`); `tastes` when the member's taste matches."""
    lines = [_("New at {store}: {dish}!").format(store=store, dish=dish)]
    if description:
        lines.append(description)
    lines.append("")
    if tastes:
        lines.append(_("You told us you like {tastes}: this one is for you.").format(tastes=tastes))
    if gift:
        lines.append(
            _("Your free tasting: {gift}. Show it at the counter from /wallet.").format(gift=gift)
        )
    elif action == "friends":
        lines.append(_("Come and taste it with friends: /invite gives you a link to send them."))
    else:
        lines.append(_("Come and try it: we would love to know what you think."))
    return "\n".join(lines)


def feedback_request_text(*, store: str) -> str:
    """The post-visit question (scheduler.feedback_jobs); the stars are its buttons."""
    return _("How was your visit to {store}? Tap the stars: 1 is poor, 5 is excellent.").format(
        store=store
    )


def invalid_code_text() -> str:
    return _(
        "This code is not valid. Please scan the QR code on your table again, "
        "or ask the staff for help."
    )


def language_prompt() -> str:
    return _("Choose your language:")
