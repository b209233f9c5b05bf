"""A removed cashier who opens their old invitation again (issue 19, finding 8) is told the
truth: nothing is granted, and the invitation says so."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlmodel import col

from models.tables import Role, Staff
from tests.app.cast import OWNER, Cast, cast

__all__ = ["cast"]

NEWCOMER = 2_000_201


async def test_a_removed_cashier_reopening_their_invite_is_not_welcomed(cast: Cast) -> None:
    app = cast.app
    owner = cast.user(OWNER)
    carl = app.user(NEWCOMER, "en", "Carl")
    said = await app.press(owner, "inv:cashier")
    link = next(s.text for s in said if "start=" in s.text)
    payload = re.search(r"start=([A-Za-z0-9_-]+)", link)
    assert payload is not None
    joined = await app.say(carl, f"/start {payload.group(1)}")
    assert joined[0].text.startswith("Welcome to the team of Noodle Bar! You are now a cashier.")
    async with app.services.session_factory() as session:
        row = await session.scalar(select(col(Staff.id)).where(col(Staff.telegram_id) == NEWCOMER))
    await app.press(owner, f"rms:{row}")

    again = await app.say(carl, f"/start {payload.group(1)}")

    assert [s.text for s in again] == [
        "This invitation was used, and your staff role has since been removed: nothing was "
        "granted. Ask the restaurant for a new invitation if you are joining again."
    ]
    help_text = await app.say(carl, "/help")
    assert "/bill" not in help_text[0].text  # still a diner
    async with app.services.session_factory() as session:
        active = await session.scalar(
            select(col(Staff.id)).where(
                col(Staff.telegram_id) == NEWCOMER, col(Staff.revoked_at).is_(None)
            )
        )
    assert active is None


async def test_reopening_an_invite_while_still_on_the_staff_says_the_current_role(
    cast: Cast,
) -> None:
    app = cast.app
    owner = cast.user(OWNER)
    carl = app.user(NEWCOMER, "en", "Carl")
    said = await app.press(owner, "inv:cashier")
    payload = re.search(r"start=([A-Za-z0-9_-]+)", next(s.text for s in said if "start=" in s.text))
    assert payload is not None
    await app.say(carl, f"/start {payload.group(1)}")
    async with app.services.session_factory() as session, session.begin():
        row = await session.scalar(select(Staff).where(col(Staff.telegram_id) == NEWCOMER))
        assert row is not None
        row.role = Role.MANAGER.value  # promoted since
    again = await app.say(carl, f"/start {payload.group(1)}")
    assert "You are now a manager" in again[0].text
