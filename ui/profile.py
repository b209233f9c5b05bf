"""The member's /profile panel: birthday, language, taste and offers, in the current locale."""

from __future__ import annotations

from datetime import date

from aiogram.utils.i18n import gettext as _
from babel.dates import format_skeleton

from loyalty import member_account
from loyalty.policy import Policy
from ui.locales import LANGUAGE_NAMES, babel_locale
from ui.texts import taste_name


def birthday_text(birthday: date | None, locale: str) -> str:
    if birthday is None:
        return _("not set")
    return str(format_skeleton("MMMMd", birthday, locale=babel_locale(locale)))


def profile_text(profile: member_account.Profile, policy: Policy, locale: str) -> str:
    offers = _("Offers and news: on") if profile.marketing else _("Offers and news: off")
    taste = ", ".join(taste_name(policy, t, locale) for t in profile.taste) or _("not set")
    return "\n".join(
        [
            _("Your profile"),
            "",
            _("Birthday: {birthday}").format(birthday=birthday_text(profile.birthday, locale)),
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


def taste_prompt() -> str:
    return _("What do you like? Tap to choose; we invite you to new dishes that match first.")
