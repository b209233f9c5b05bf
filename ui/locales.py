"""Our locales, how Telegram's language codes map to them, and gettext fed from the `.po` files.

Catalogues are read straight from `locales/*/LC_MESSAGES/messages.po` and compiled in memory at
start-up (Babel), so a clean clone needs no build step and no compiled files are committed.
`make i18n-extract` / `i18n-update` / `i18n-compile` keep the catalogues in shape.
"""

from __future__ import annotations

import gettext
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path
from typing import Any, Final

from aiogram.types import User
from aiogram.utils.i18n import I18n
from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from loyalty.telegram_users import Person

LOCALES_DIR: Final = Path(__file__).resolve().parent.parent / "locales"
DOMAIN: Final = "messages"
SUPPORTED_LOCALES: Final = ("en", "zh_Hans", "zh_Hant")
LANGUAGE_NAMES: Final = {"en": "English", "zh_Hans": "简体中文", "zh_Hant": "繁體中文"}
# Telegram's setMyCommands takes two-letter codes only; "zh" gets Simplified Chinese and people
# who pick Traditional Chinese get their own chat-scoped menu.
TELEGRAM_COMMAND_LANGUAGES: Final = {"en": None, "zh_Hans": "zh"}
_BABEL_LOCALES: Final = {"en": "en", "zh_Hans": "zh_Hans_CN", "zh_Hant": "zh_Hant_TW"}
_TRADITIONAL: Final = frozenset({"zh-hant", "zh-tw", "zh-hk", "zh-mo"})


def locale_from_language_code(code: str | None, default: str = "en") -> str:
    """Map Telegram's IETF `language_code` (e.g. "zh-hans", "zh-TW", "en-GB") to our locale."""
    if not code:
        return default
    normal = code.strip().lower().replace("_", "-")
    if normal.startswith("zh"):
        if normal in _TRADITIONAL or normal.startswith(("zh-hant", "zh-tw", "zh-hk")):
            return "zh_Hant"
        return "zh_Hans"
    if normal.split("-")[0] == "en":
        return "en"
    return default


def babel_locale(locale: str) -> Locale:
    """The Babel locale used to format dates and money for one of our locales."""
    return Locale.parse(_BABEL_LOCALES.get(locale, "en"))


def load_catalogue(po_path: Path, locale: str) -> gettext.GNUTranslations:
    with po_path.open("rb") as fp:
        catalog = read_po(fp, locale=babel_locale(locale), domain=DOMAIN)
    buffer = BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


class PoI18n(I18n):
    """aiogram's I18n fed from `.po` files compiled in memory."""

    @contextmanager
    def context(self) -> Iterator[I18n]:
        # aiogram's gettext helpers look up `I18n.get_current()`; a subclass would get a context
        # variable of its own, so register under the base class.
        token = I18n.set_current(self)
        try:
            yield self
        finally:
            I18n.reset_current(token)

    def find_locales(self) -> dict[str, gettext.GNUTranslations]:
        translations: dict[str, gettext.GNUTranslations] = {}
        for locale in SUPPORTED_LOCALES:
            po_path = self.path / locale / "LC_MESSAGES" / f"{self.domain}.po"
            if po_path.exists():
                translations[locale] = load_catalogue(po_path, locale)
        missing = [loc for loc in SUPPORTED_LOCALES if loc != "en" and loc not in translations]
        if missing:
            raise RuntimeError(f"missing catalogues in {self.path}: {', '.join(missing)}")
        return translations


def build_i18n(default_locale: str = "en") -> PoI18n:
    return PoI18n(path=LOCALES_DIR, default_locale=default_locale, domain=DOMAIN)


def resolve_locale(data: dict[str, Any], default: str) -> str:
    person: Person | None = data.get("person")
    if person is not None and person.locale:
        return person.locale
    user: User | None = data.get("event_from_user")
    return locale_from_language_code(user.language_code if user else None, default)
