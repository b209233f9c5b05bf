"""/newdish through the emulator: the manager adds a dish, members are invited per tier (a free
tasting, bring friends, an announcement), tastes that match come first and tastes that do not
are left alone; a member picks their taste in /profile."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlmodel import col

from bot.sandbox_run import SANDBOX_CASHIER_ID, SANDBOX_OWNER_ID, SandboxRun
from models.tables import AuditLog, Coupon, Dish, Member
from sandbox.client import SandboxClient
from tests.app.test_broadcast import a_photo, edited, telegram_ids, texts, ticked
from tests.app.test_delivery import at_noon, drain, members
from tests.app.test_member import press


async def test_a_new_dish_invites_each_tier_its_way(run: SandboxRun, client: SandboxClient) -> None:
    await at_noon(run)
    ids = await members(run, client, 5, [True])
    loyal, vegetarian = ids[0], ids[4]
    people = await telegram_ids(run, ids)
    async with run.services.session_factory() as session, session.begin():
        for member_id, tier in zip(
            ids, ["loyal", "regular", "occasional", "occasional", "loyal"], strict=True
        ):
            await session.execute(
                update(Member).where(col(Member.id) == member_id).values(tier=tier)
            )
        await session.execute(
            update(Member).where(col(Member.id) == vegetarian).values(taste_tags=",vegetarian,")
        )

    # the fan says they like spicy food, in their profile
    profile = await client.say(people[3], "/profile")
    assert "Taste: not set" in profile["text"]
    await press(client, people[3], profile, "My taste")
    picker = await edited(client, people[3], profile, lambda m: "What do you like?" in str(m))
    await press(client, people[3], picker, "Spicy")
    picker = await edited(client, people[3], picker, ticked("Spicy"))
    await press(client, people[3], picker, "Back")
    profile = await edited(client, people[3], picker, lambda m: "Taste: Spicy" in str(m))

    # diners and cashiers cannot add dishes
    for who in (people[0], SANDBOX_CASHIER_ID):
        refused = await client.say(who, "/newdish")
        assert refused["text"] == "Sorry, this is only for the restaurant's staff."

    owner = SANDBOX_OWNER_ID
    assert (await client.say(owner, "/newdish"))["text"].startswith("A new dish!")
    too_long = await client.say(owner, "x" * 65)
    assert too_long["text"] == "The name can be at most 64 characters. Please shorten it."
    await client.say(owner, "Mapo tofu")
    await client.say(owner, "Silken tofu in a numbing chilli sauce.")
    asked = await client.say(owner, "no photo today")
    assert asked["text"] == "Please send a photo, or /skip."
    before = len(await client.inbox(owner))
    await client.send_photo(owner, a_photo())
    tags = await client.reply_after(owner, before)
    assert tags["text"].startswith("Which tastes does it have?")
    await press(client, owner, tags, "Spicy")
    tags = await edited(client, owner, tags, ticked("Spicy"))
    await press(client, owner, tags, "Save and invite members")
    saved = await edited(client, owner, tags, lambda m: "is saved" in str(m))
    assert "• Loyal: a free tasting" in saved["text"]
    assert "• Regular: an invitation to bring friends" in saved["text"]
    assert "Members who like Spicy first." in saved["text"]

    await run.scheduler.run_due()
    await run.scheduler.run_due()  # a second run plans nothing more
    await drain(run)

    def invitation(messages: list[str]) -> list[str]:
        return [t for t in messages if t.startswith("New at Noodle Bar: Mapo tofu!")]

    got = [invitation(texts(await client.inbox(p))) for p in people]
    photos = [m for m in await client.inbox(people[0]) if m.get("photo")]
    assert [await client.file(m["photo"]["file_id"]) for m in photos] == [a_photo()]
    assert [len(g) for g in got] == [1, 1, 1, 1, 0]  # the vegetarian is left alone
    assert "Your free tasting: Free: Mapo tofu" in got[0][0]
    assert "/invite gives you a link" in got[1][0]
    assert "Come and try it" in got[2][0]
    assert "You told us you like Spicy: this one is for you." in got[3][0]
    assert "You told us you like" not in got[2][0]

    wallet = await client.say(people[0], "/wallet")
    assert "Free: Mapo tofu" in wallet["text"]
    async with run.services.session_factory() as session:
        coupons = (await session.execute(select(Coupon))).scalars().all()
        dish = await session.scalar(select(Dish))
        audit = (await session.execute(select(col(AuditLog.action)))).scalars().all()
    assert [(c.member_id, c.dish_name, c.kind) for c in coupons] == [(loyal, "Mapo tofu", "dish")]
    assert dish is not None
    assert dish.tags == ",spicy,"
    assert "dish.add" in audit
