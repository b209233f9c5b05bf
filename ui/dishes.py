"""The texts of /newdish: what went wrong, and what happens once a dish is saved."""

from __future__ import annotations

from aiogram.utils.i18n import gettext as _

from loyalty import dishes
from loyalty.dishes import DishProblem
from loyalty.policy import Policy
from ui.texts import taste_name


def problem_text(problem: DishProblem) -> str:
    if problem.reason == "name_empty":
        return _("Please send the dish's name.")
    if problem.reason == "name_too_long":
        return _("The name can be at most {n} characters. Please shorten it.").format(
            n=dishes.MAX_NAME
        )
    if problem.reason == "description_too_long":
        return _("The description can be at most {n} characters. Please shorten it.").format(
            n=dishes.MAX_DESCRIPTION
        )
    return _("This choice is no longer available.")


def saved_text(dish: dishes.DishView, policy: Policy, locale: str) -> str:
    lines = [
        _(
            "{dish} is saved. Invitations go out now, within the weekly limit and outside "
            "quiet hours:"
        ).format(dish=dish.name)
    ]
    actions = {
        "coupon": _("a free tasting"),
        "friends": _("an invitation to bring friends"),
        "message": _("an announcement"),
        "off": _("nothing"),
    }
    for tier in policy.tiers.keys:
        action = policy.treatment_for(tier).new_dish
        lines.append(f"• {policy.tiers.display_name(tier, locale)}: {actions.get(action, action)}")
    if dish.tags:
        names = ", ".join(taste_name(policy, t, locale) for t in dish.tags)
        lines.append(_("Members who like {tastes} first.").format(tastes=names))
    return "\n".join(lines)
