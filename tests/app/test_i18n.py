"""Catalogues: complete in every language, in step with the source, placeholders intact."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from babel.messages.pofile import read_po

from tests.conftest import ROOT
from ui.locales import (
    LOCALES_DIR,
    SUPPORTED_LOCALES,
    babel_locale,
    build_i18n,
    locale_from_language_code,
)

TRANSLATED = [loc for loc in SUPPORTED_LOCALES if loc != "en"]
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def _catalog(locale: str):  # type: ignore[no-untyped-def]
    with (LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as fp:
        return read_po(fp, locale=babel_locale(locale))


def _source_msgids(tmp_path) -> set[str]:  # type: ignore[no-untyped-def]
    pot = tmp_path / "fresh.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_",
            "-k",
            "__",
            "-k",
            "lazy_gettext",
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as fp:
        return {str(m.id) for m in read_po(fp) if m.id}


def test_template_is_in_step_with_the_source(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with (LOCALES_DIR / "messages.pot").open("rb") as fp:
        committed = {str(m.id) for m in read_po(fp) if m.id}
    fresh = _source_msgids(tmp_path)
    assert fresh - committed == set(), "run `make i18n-extract i18n-update` and translate"
    assert committed - fresh == set(), "stale strings in messages.pot: run `make i18n-extract`"


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_string_is_translated(locale: str) -> None:
    with (LOCALES_DIR / "messages.pot").open("rb") as fp:
        wanted = {m.id for m in read_po(fp) if m.id}
    catalog = _catalog(locale)
    translated = {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy}
    missing = wanted - translated.keys()
    assert not missing, f"{locale} lacks: {sorted(missing)}"
    for msgid, msgstr in translated.items():
        assert set(PLACEHOLDER.findall(str(msgid))) == set(PLACEHOLDER.findall(str(msgstr))), (
            f"{locale}: placeholders differ in {msgid!r}"
        )


def test_catalogues_load_and_differ() -> None:
    i18n = build_i18n()
    english = i18n.gettext("Choose your language:", locale="en")
    simplified = i18n.gettext("Choose your language:", locale="zh_Hans")
    traditional = i18n.gettext("Choose your language:", locale="zh_Hant")
    assert english == "Choose your language:"
    assert simplified == "请选择语言："
    assert traditional == "請選擇語言："


@pytest.mark.parametrize(
    ("code", "locale"),
    [
        (None, "en"),
        ("en", "en"),
        ("en-GB", "en"),
        ("zh-hans", "zh_Hans"),
        ("zh-CN", "zh_Hans"),
        ("zh", "zh_Hans"),
        ("zh-hant", "zh_Hant"),
        ("zh-TW", "zh_Hant"),
        ("zh-HK", "zh_Hant"),
        ("fr", "en"),
    ],
)
def test_telegram_language_codes_map_to_our_locales(code: str | None, locale: str) -> None:
    assert locale_from_language_code(code) == locale
