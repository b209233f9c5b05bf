"""Gettext for the bot: catalogues are read straight from `locales/*/LC_MESSAGES/messages.po`.

Compiling happens in memory at start-up (Babel), so a clean clone needs no build step and no
compiled files are committed. `make i18n-extract` / `i18n-update` / `i18n-compile` keep the
catalogues in shape.
"""

from __future__ import annotations

import gettext
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path

from aiogram.utils.i18n import I18n
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from bot.locales import (
    DOMAIN,
    LANGUAGE_NAMES,
    LOCALES_DIR,
    SUPPORTED_LOCALES,
    TELEGRAM_COMMAND_LANGUAGES,
    babel_locale,
    locale_from_language_code,
)

__all__ = [
    "LANGUAGE_NAMES",
    "SUPPORTED_LOCALES",
    "TELEGRAM_COMMAND_LANGUAGES",
    "PoI18n",
    "babel_locale",
    "build_i18n",
    "load_catalogue",
    "locale_from_language_code",
]


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
