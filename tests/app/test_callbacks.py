"""Forged and malformed button data (issue 19, finding 4): refused quietly by one parse layer.

A client can put anything in a callback query. Whatever it sends, the person gets "This button
is no longer valid." in their language, the log gets one WARNING line and no traceback, and
nothing is written."""

from __future__ import annotations

import logging
import pkgutil
from importlib import import_module

import pytest
from aiogram.filters.callback_data import CallbackData

import handlers
import ui.keyboards
from tests.app.cast import CASHIER, DINER_EN, DINER_HANS, MANAGER, OWNER, Cast, cast
from ui.keyboards.registry import ALL, BY_PREFIX

__all__ = ["cast"]

INVALID = "This button is no longer valid."
HUGE = "9" * 20

FORGED = [
    "inv:xyz",
    "inv:",
    "inv:owner",
    f"wu:{HUGE}",
    f"bc:{HUGE}",
    f"fb:{HUGE}:1",
    f"fb:1:{HUGE}",
    f"bca:send:{HUGE}",
    "bca:xyz:1",
    f"bcv:{HUGE}:en",
    f"rms:{HUGE}",
    f"fbh:{HUGE}",
    f"aud:{HUGE}:0",
    f"bct:1:{HUGE}",
    "bct:6:-99999999999",
    "wu:-1",
    "wu: 1",
    "wu:١",
    "rc:",
    "cc:" + "x" * 60,
    "fb:1:6",
    "bday:13:1",
    "consent:yes",
    "lang:xx",
    "prof:explode",
    "nope:1",
    ":",
    "",
]


@pytest.mark.parametrize("who", [DINER_EN, DINER_HANS, CASHIER, MANAGER, OWNER])
async def test_forged_button_data_is_refused_quietly(
    cast: Cast, who: int, caplog: pytest.LogCaptureFixture
) -> None:
    app = cast.app
    person = cast.user(who)
    before = await app.rows()
    for data in FORGED:
        caplog.clear()
        with caplog.at_level(logging.INFO):
            said = await app.press(person, data)
        assert [(s.method, s.text) for s in said] == [("answer", cast.tr(who, INVALID))], data
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1, (data, [r.getMessage() for r in warnings])
        assert warnings[0].name == "handlers.callbacks"
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR], data
        assert not [r for r in caplog.records if r.exc_info], data
    assert await app.rows() == before


async def test_buttons_we_make_still_work(cast: Cast) -> None:
    """The bounds refuse nothing the bot itself packs: Dana rates her visit with the stars
    she was sent, the owner turns the audit pages."""
    said = await cast.app.press(cast.user(DINER_EN), f"fb:{cast.visit}:4")
    assert "Thank you" in said[0].text or any("Thank you" in s.text for s in said)
    said = await cast.app.press(cast.user(OWNER), "aud:0:0")
    assert all(s.text != INVALID for s in said)


def test_every_callback_data_is_registered_once() -> None:
    """The parse layer knows every CallbackData of the bot (one defined anywhere else, or left
    out of the registry, would be refused as malformed), and no two share a prefix."""
    found: set[type[CallbackData]] = set()
    for package in (ui.keyboards, handlers):
        for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            module = import_module(info.name)
            for value in vars(module).values():
                if (
                    isinstance(value, type)
                    and issubclass(value, CallbackData)
                    and value is not CallbackData
                ):
                    found.add(value)
    assert found == set(ALL)
    assert len(BY_PREFIX) == len(ALL)


@pytest.mark.parametrize("data", ["per:s:newcomer", "per:c:yesterday"])
async def test_a_period_no_picker_offers_is_a_stale_button(cast: Cast, data: str) -> None:
    """Well-formed, but no /stats or /campaigns picker ever offered this period (found by the
    button fuzzer: the report handler raised on it)."""
    before = await cast.app.rows()
    said = await cast.app.press(cast.user(OWNER), data)
    assert [(s.method, s.text) for s in said] == [
        ("answer", cast.tr(OWNER, "This button is no longer active."))
    ]
    assert await cast.app.rows() == before
