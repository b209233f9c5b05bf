"""Every user-facing string in the source reaches the catalogues.

Read with `ast`, not with Babel's extractor: on Python 3.11 Babel does not look inside f-strings,
so `f"{amount}\\n{_('Send /cancel to stop.')}"` never reached messages.pot and a Chinese diner
read that sentence in English while the catalogue checks (tests/app/test_i18n.py) passed. Here
every call of a gettext function anywhere in the production packages is found, and:

* none sits inside an f-string, and each is given string literals (translate, then `.format()`);
* each literal is in messages.pot and translated, non-empty and not fuzzy, in every catalogue;
* a Telegram send or a button gets no English literal that bypasses gettext;
* babel.cfg extracts from every production package.
"""

from __future__ import annotations

import ast
import configparser
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.resources.abc import Traversable

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from tests.conftest import ROOT
from ui.locales import LOCALES_DIR, SUPPORTED_LOCALES, babel_locale

# Everything shipped but the sandbox (the Telegram stand-in speaks English to developers).
PRODUCTION = ("api", "bot", "handlers", "loyalty", "models", "scheduler", "ui")
SINGULAR = frozenset({"_", "__", "gettext", "lazy_gettext"})
PLURAL = frozenset({"ngettext", "lazy_ngettext"})
# Packages that talk to people on Telegram (bot/ also prints English for the operator's shell).
TELEGRAM_FACING = ("handlers", "scheduler", "ui")
# Methods and keywords that put text in front of a person on Telegram.
SENDS = frozenset(
    {
        "answer",
        "reply",
        "send_message",
        "edit_text",
        "edit_message_text",
        "answer_photo",
        "send_photo",
        "answer_document",
        "send_document",
        "edit_caption",
        "answer_callback_query",
    }
)
TEXT_KEYWORDS = frozenset({"text", "caption", "description"})


@dataclass(frozen=True)
class Literal:
    msgid: str
    plural: str | None
    where: str


def _sources(packages: tuple[str, ...] = PRODUCTION) -> Iterator[tuple[str, ast.Module]]:
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = str(path.relative_to(ROOT))
            yield name, ast.parse(path.read_text(encoding="utf-8"), filename=name)


def _callee(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _gettext_calls(tree: ast.AST) -> Iterator[tuple[ast.Call, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _callee(node)
            if name in SINGULAR or name in PLURAL:
                yield node, name


def _text(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _scan() -> tuple[list[Literal], list[str]]:
    """Every literal passed to gettext, and every call that breaks the rules."""
    literals: list[Literal] = []
    problems: list[str] = []
    for name, tree in _sources():
        for fstring in (n for n in ast.walk(tree) if isinstance(n, ast.JoinedStr)):
            for call, function in _gettext_calls(fstring):
                problems.append(f"{name}:{call.lineno}: {function}() inside an f-string")
        for call, function in _gettext_calls(tree):
            where = f"{name}:{call.lineno}"
            wanted = 2 if function in PLURAL else 1
            texts = [_text(arg) for arg in call.args[:wanted]]
            if len(texts) < wanted or any(text is None for text in texts):
                problems.append(f"{where}: {function}() of {ast.unparse(call)[:80]} (not literals)")
                continue
            singular, *plural = (str(text) for text in texts)
            literals.append(Literal(singular, plural[0] if plural else None, where))
    return literals, problems


def _catalogue(path: Traversable, locale: str | None = None) -> Catalog:
    with path.open("rb") as fp:
        return read_po(fp, locale=babel_locale(locale) if locale else None)


LITERALS, PROBLEMS = _scan()


def test_the_scan_sees_the_source() -> None:
    # The scan itself: a test that finds nothing would pass on anything.
    assert len(LITERALS) > 300
    assert any(literal.plural for literal in LITERALS)
    assert "Choose your language:" in {literal.msgid for literal in LITERALS}


def test_gettext_gets_literals_and_never_sits_inside_an_f_string() -> None:
    assert PROBLEMS == [], "translate a literal, then .format() it:\n" + "\n".join(PROBLEMS)


def test_every_literal_is_in_the_template() -> None:
    template = _catalogue(LOCALES_DIR / "messages.pot")
    missing = []
    for literal in LITERALS:
        message = template.get(literal.msgid)
        if message is None or (literal.plural and message.id != (literal.msgid, literal.plural)):
            missing.append(f"{literal.where}: {literal.msgid!r}")
    assert not missing, "run `make i18n-extract i18n-update` and translate:\n" + "\n".join(missing)


@pytest.mark.parametrize("locale", [loc for loc in SUPPORTED_LOCALES if loc != "en"])
def test_every_literal_is_translated(locale: str) -> None:
    catalogue = _catalogue(LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po", locale)
    untranslated = []
    for literal in LITERALS:
        message = catalogue.get(literal.msgid)
        strings = message.string if message is not None else None
        forms = [strings] if isinstance(strings, str) else list(strings or [])
        if message is None or message.fuzzy or not forms or not all(f.strip() for f in forms):
            untranslated.append(f"{literal.where}: {literal.msgid!r}")
    assert not untranslated, f"not translated in {locale}:\n" + "\n".join(untranslated)


def _english_in(node: ast.expr) -> Iterator[str]:
    """String constants with letters in `node`, outside gettext calls (f-string parts too)."""
    if isinstance(node, ast.Call) and _callee(node) in SINGULAR | PLURAL:
        return
    text = _text(node)
    if text is not None and any(ch.isascii() and ch.isalpha() for ch in text):
        yield text
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.expr) and not isinstance(child, ast.Call):
            yield from _english_in(child)


def _english_sent(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
        shown: list[ast.expr] = [kw.value for kw in call.keywords if kw.arg in TEXT_KEYWORDS]
        if _callee(call) in SENDS:
            shown += call.args
        for arg in shown:
            for text in _english_in(arg):
                yield call.lineno, text


def test_the_english_detector_sees_literals_around_gettext() -> None:
    flagged = ast.parse(
        "message.answer('Thanks!')\n"
        "query.message.edit_text(f'{done} See /help')\n"
        "InlineKeyboardButton(text='Pay ' + label, callback_data='pay')\n"
        "bot.send_message(chat, _('x') + ' more')\n"
    )
    passed = ast.parse(
        "message.answer(_('Thanks!'))\n"
        "message.answer(amount + '\\n' + _('Send /cancel to stop.'))\n"
        "InlineKeyboardButton(text=_('Pay'), callback_data='pay:1')\n"
        "message.answer('\\n'.join(lines))\n"
    )
    assert [line for line, _text in _english_sent(flagged)] == [1, 2, 3, 4]
    assert list(_english_sent(passed)) == []


def test_no_english_literal_is_sent_around_gettext() -> None:
    found = [
        f"{name}:{line}: {text!r}"
        for name, tree in _sources(TELEGRAM_FACING)
        for line, text in _english_sent(tree)
    ]
    assert found == [], "send these through _():\n" + "\n".join(found)


def test_babel_extracts_from_every_production_package() -> None:
    config = configparser.RawConfigParser()
    config.read(ROOT / "babel.cfg", encoding="utf-8")
    covered = {section.split(":", 1)[1].strip() for section in config.sections()}
    assert {f"{package}/**.py" for package in PRODUCTION} <= covered
