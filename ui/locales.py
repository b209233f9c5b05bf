"""Our locales, how Telegram's language codes map to them, and gettext fed from the `.po` files.

Catalogues are read straight from `ui/catalogues/*/LC_MESSAGES/messages.po` and compiled in memory
at start-up (Babel), so a clean clone needs no build step and no compiled files are committed. They
are package data, read through `importlib.resources`, so an installed wheel finds them wherever it
runs. `make i18n-extract` / `i18n-update` / `i18n-compile` keep the catalogues in shape.
"""

from __future__ import annotations

import gettext
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from importlib.resources.abc import Traversable
from io import BytesIO
from typing import Any, Final

from aiogram.types import User
from aiogram.utils.i18n import I18n
from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from loyalty.telegram_users import Person

LOCALES_DIR: Final[Traversable] = files("ui") / "catalogues"
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


def load_catalogue(po_path: Traversable, locale: str) -> gettext.GNUTranslations:
    with po_path.open("rb") as fp:
        catalog = read_po(fp, locale=babel_locale(locale), domain=DOMAIN)
    buffer = BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


class CatalogueError(RuntimeError):
    """A catalogue the app needs is missing (a broken install); the message names where."""


def catalogue_path(locale: str, catalogues: Traversable) -> Traversable:
    return catalogues / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def check_catalogues(catalogues: Traversable | None = None) -> None:
    """Raise :class:`CatalogueError` unless every translated locale has its `.po` file."""
    where = LOCALES_DIR if catalogues is None else catalogues
    missing = [
        str(catalogue_path(loc, where))
        for loc in SUPPORTED_LOCALES
        if loc != "en" and not catalogue_path(loc, where).is_file()
    ]
    if missing:
        raise CatalogueError(f"missing catalogues (a broken install?): {', '.join(missing)}")


class PoI18n(I18n):
    """aiogram's I18n fed from `.po` files compiled in memory."""

    def __init__(
        self, *, catalogues: Traversable, default_locale: str = "en", domain: str = DOMAIN
    ) -> None:
        self.catalogues = catalogues  # read by find_locales, which the base __init__ calls
        super().__init__(path=str(catalogues), default_locale=default_locale, domain=domain)

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
        check_catalogues(self.catalogues)
        translations: dict[str, gettext.GNUTranslations] = {}
        for locale in SUPPORTED_LOCALES:
            po_path = catalogue_path(locale, self.catalogues)
            if po_path.is_file():
                translations[locale] = load_catalogue(po_path, locale)
        return translations


def build_i18n(default_locale: str = "en") -> PoI18n:
    return PoI18n(catalogues=LOCALES_DIR, default_locale=default_locale, domain=DOMAIN)


def resolve_locale(data: dict[str, Any], default: str) -> str:
    person: Person | None = data.get("person")
    if person is not None and person.locale:
        return person.locale
    user: User | None = data.get("event_from_user")
    return locale_from_language_code(user.language_code if user else None, default)
