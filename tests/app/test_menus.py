"""How the bot presents itself in Telegram, read back from the emulator: the description and
the menus of each language at start, and a staff member's menu following their role."""

from __future__ import annotations

import re

from bot.config import Settings
from bot.sandbox_run import SANDBOX_CASHIER_ID, SANDBOX_OWNER_ID, SandboxRun, sandbox
from bot.telegram_profile import present_bot
from sandbox.client import SandboxClient, button_data

DANA, LI_NA, CHEN_MING = 1_000_101, 1_000_102, 1_000_103
WEI = 7_400_001  # a new cashier who reads Simplified Chinese
DINER_COMMANDS = [
    "start",
    "help",
    "language",
    "card",
    "wallet",
    "profile",
    "invite",
    "reserve",
    "suggest",
    "stop",
    "mydata",
    "forget",
]
CASHIER_TOOLS = ["bill", "redeem"]
MANAGER_TOOLS = [
    "broadcast",
    "newdish",
    "care",
    "reservations",
    "stats",
    "campaigns",
    "feedback",
    "gift",
    "member",
    "grade",
    "tag",
    "refund",
    "export",
    "staff",
]


async def _menu(client: SandboxClient, user_id: int) -> list[str]:
    return [c["command"] for c in await client.commands(user_id)]


async def _profile(run: SandboxRun) -> dict[str, object]:
    bot = run.bot
    found: dict[str, object] = {"button": (await bot.get_chat_menu_button()).type}
    for code in ("", "zh"):
        found[f"description:{code}"] = (
            await bot.get_my_description(language_code=code or None)
        ).description
        found[f"short:{code}"] = (
            await bot.get_my_short_description(language_code=code or None)
        ).short_description
        commands = await bot.get_my_commands(language_code=code or None)
        found[f"commands:{code}"] = [(c.command, c.description) for c in commands]
    return found


async def test_description_and_menus_are_set_in_each_language_at_start(
    run: SandboxRun, client: SandboxClient
) -> None:
    profile = await _profile(run)
    english = str(profile["description:"])
    assert english.startswith("The membership of Noodle Bar, right here in Telegram.")
    assert "no form to fill in" in english
    assert len(english) <= 512
    assert str(profile["description:zh"]).startswith("Noodle Bar的会员，就在Telegram里。")
    assert profile["short:"] == (
        "Noodle Bar membership: pay here, become a member. Points, coupons, treats."
    )
    assert "积分" in str(profile["short:zh"])
    assert len(str(profile["short:zh"])) <= 120
    assert [c for c, _ in profile["commands:"]] == DINER_COMMANDS  # type: ignore[attr-defined]
    assert dict(profile["commands:zh"])["card"] == "我的会员卡"  # type: ignore[call-overload]
    assert profile["button"] == "commands"

    # what each person sees: diners the menu of their phone's language, staff their tools
    assert (await client.commands(LI_NA))[3] == {"command": "card", "description": "我的会员卡"}
    assert await _menu(client, DANA) == DINER_COMMANDS
    assert await _menu(client, SANDBOX_CASHIER_ID) == CASHIER_TOOLS + DINER_COMMANDS
    assert await _menu(client, SANDBOX_OWNER_ID) == (
        CASHIER_TOOLS + MANAGER_TOOLS + ["audit"] + DINER_COMMANDS
    )

    # idempotent: a second start-up sets the same again
    assert await present_bot(run.bot, run.services) == 2  # the owner's and the cashier's chat
    assert await _profile(run) == profile
    assert await _menu(client, SANDBOX_CASHIER_ID) == CASHIER_TOOLS + DINER_COMMANDS


async def test_a_long_store_name_still_fits_the_short_description(
    sandbox_settings: Settings,
) -> None:
    settings = sandbox_settings.model_copy(update={"store_name": "Noodle Bar " + "X" * 53})
    async with sandbox(settings, port=0) as running:
        short = (await running.bot.get_my_short_description()).short_description
        assert short == "Pay here, become a member. Points, coupons, treats."


async def test_traditional_chinese_readers_get_their_own_menu_once_they_write(
    client: SandboxClient,
) -> None:
    # Telegram's menus go by two-letter codes: before writing, "zh" (Simplified) is all there is
    before = {c["command"]: c["description"] for c in await client.commands(CHEN_MING)}
    assert before["language"] == "切换语言"
    await client.say(CHEN_MING, "/start")
    after = {c["command"]: c["description"] for c in await client.commands(CHEN_MING)}
    assert after["language"] == "切換語言"
    assert after["card"] == "我的會員卡"
    assert list(after) == DINER_COMMANDS


async def _invite_link(client: SandboxClient) -> str:
    menu = await client.say(SANDBOX_OWNER_ID, "/staff")
    before = len(await client.inbox(SANDBOX_OWNER_ID))
    await client.press(SANDBOX_OWNER_ID, menu["message_id"], button_data(menu, "Invite a cashier"))
    invite = await client.reply_after(SANDBOX_OWNER_ID, before)
    found = re.search(r"https://t\.me/\S+", invite["text"])
    assert found is not None, invite["text"]
    return found.group(0)


async def test_a_new_cashier_gets_the_cashier_tools_and_loses_them_when_removed(
    client: SandboxClient,
) -> None:
    await client.add_user(WEI, "魏", language_code="zh-hans")
    assert await _menu(client, WEI) == DINER_COMMANDS

    link = await _invite_link(client)
    await client.open(WEI, link)
    welcome = await client.reply_after(WEI, 0)
    assert "收银员" in welcome["text"]
    menu = {c["command"]: c["description"] for c in await client.commands(WEI)}
    assert list(menu) == CASHIER_TOOLS + DINER_COMMANDS  # no manager's tools
    assert menu["redeem"] == "按券码核销优惠券"  # in her language
    assert menu["card"] == "我的会员卡"

    staff = await client.say(SANDBOX_OWNER_ID, "/staff")
    before = len(await client.inbox(SANDBOX_OWNER_ID))
    await client.press(SANDBOX_OWNER_ID, staff["message_id"], button_data(staff, "Remove 魏"))
    await client.reply_after(SANDBOX_OWNER_ID, before)
    await client.wait_for(WEI, lambda ms: len(ms) >= 2, what="the notice of removal")
    menu = {c["command"]: c["description"] for c in await client.commands(WEI)}
    assert list(menu) == DINER_COMMANDS  # back to the diners' menu of her language
    assert menu["card"] == "我的会员卡"


async def test_a_cashier_who_picks_a_language_keeps_the_tools(client: SandboxClient) -> None:
    choice = await client.say(SANDBOX_CASHIER_ID, "/language")
    await client.press(SANDBOX_CASHIER_ID, choice["message_id"], button_data(choice, "繁體中文"))
    await client.wait_for(
        SANDBOX_CASHIER_ID, lambda ms: ms[-1]["text"].startswith("語言已設為"), what="the edit"
    )
    menu = {c["command"]: c["description"] for c in await client.commands(SANDBOX_CASHIER_ID)}
    assert list(menu) == CASHIER_TOOLS + DINER_COMMANDS
    assert menu["card"] == "我的會員卡"


async def test_a_diner_who_picks_their_phones_language_again_follows_telegram_again(
    client: SandboxClient,
) -> None:
    choice = await client.say(DANA, "/language")
    await client.press(DANA, choice["message_id"], button_data(choice, "简体中文"))
    await client.wait_for(DANA, lambda ms: ms[-1]["text"].startswith("语言已设为"))
    assert (await client.commands(DANA))[3]["description"] == "我的会员卡"
    choice = await client.say(DANA, "/language")
    await client.press(DANA, choice["message_id"], button_data(choice, "English"))
    await client.wait_for(DANA, lambda ms: ms[-1]["text"].startswith("Language set"))
    commands = await client.request("GET", f"/sandbox/users/{DANA}/commands")
    assert commands["scope"] == "default"  # no menu of her own: the English one of her phone
