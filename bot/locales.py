"""Our locales and how Telegram's language codes map to them (no aiogram import: cheap to load)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from babel import Locale

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
