"""The bot in a sandbox run: the real dispatcher, the emulator over HTTP, a real database."""

from __future__ import annotations

import asyncio

from bot.config import Settings
from bot.sandbox_run import SANDBOX_CASHIER_ID, SANDBOX_OWNER_ID, SandboxRun, sandbox
from models import queries
from sandbox.client import SandboxClient, button_data

DANA, LI_NA, CHEN_MING = 1_000_101, 1_000_102, 1_000_103


async def test_start_greets_each_person_in_their_phone_language(client: SandboxClient) -> None:
    english = await client.say(DANA, "/start")
    assert english["text"].startswith("Welcome to Noodle Bar, Dana!")
    assert "no sign-up form" in english["text"]
    labels = [b["text"] for row in english["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == ["How it works", "Language"]

    simplified = await client.say(LI_NA, "/start")
    assert simplified["text"].startswith("李娜，欢迎光临Noodle Bar！")
    traditional = await client.say(CHEN_MING, "/start")
    assert traditional["text"].startswith("陳明，歡迎光臨Noodle Bar！")


async def test_how_it_works_button_explains_membership(client: SandboxClient) -> None:
    welcome = await client.say(DANA, "/start")
    await client.press(DANA, welcome["message_id"], button_data(welcome, "How it works"))
    reply = await client.reply_after(DANA, 1)
    lines = [line for line in reply["text"].split("\n") if line]
    assert len(lines) == 3  # membership, tiers, coupons: no list of commands
    assert "you are a member of Noodle Bar" in lines[0]
    assert "(Newcomer → Returning guest → Regular → Loyal)" in lines[1]
    assert "/wallet" in lines[2]
    assert "/redeem" not in reply["text"]


async def test_language_choice_changes_replies_and_command_menu(client: SandboxClient) -> None:
    menu = await client.say(DANA, "/language")
    labels = [b["text"] for row in menu["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == ["✓ English", "简体中文", "繁體中文"]
    before = await client.inbox(DANA)
    answer = await client.press(DANA, menu["message_id"], button_data(menu, "繁體中文"))
    assert answer["update_id"] > 0
    edited = await client.wait_for(
        DANA, lambda ms: ms[-1]["text"].startswith("語言已設為：繁體中文。"), what="the edit"
    )
    assert len(edited) == len(before)  # the menu message was edited, not a new one sent
    assert edited[-1]["reply_markup"] is None

    help_reply = await client.say(DANA, "/help")
    assert help_reply["text"].startswith("我可以為您做這些：")
    menu_commands = await client.commands(DANA)
    assert {c["command"]: c["description"] for c in menu_commands} == {
        "start": "歡迎與簽到",
        "help": "我能做什麼",
        "language": "切換語言",
        "card": "我的會員卡",
        "wallet": "我的優惠券和積分",
        "profile": "生日、語言與優惠",
        "invite": "邀請好友",
        "reserve": "預訂座位",
        "suggest": "向我們提建議",
        "stop": "停止接收優惠",
        "mydata": "下載我的資料",
        "forget": "刪除我的資料",
    }
    # Someone else's menu is untouched: the default English one.
    others = {c["command"]: c["description"] for c in await client.commands(SANDBOX_CASHIER_ID)}
    assert others["language"] == "Change language"


async def test_simplified_chinese_phones_get_the_zh_menu(client: SandboxClient) -> None:
    menu = {c["command"]: c["description"] for c in await client.commands(LI_NA)}
    assert menu["language"] == "切换语言"


async def test_language_choice_survives_a_restart(sandbox_settings: Settings) -> None:
    async with sandbox(sandbox_settings, port=0) as first, SandboxClient(first.url) as client:
        menu = await client.say(DANA, "/language")
        await client.press(DANA, menu["message_id"], button_data(menu, "简体中文"))
        await client.wait_for(DANA, lambda ms: ms[-1]["text"].startswith("语言已设为"))
    async with sandbox(sandbox_settings, port=0) as second, SandboxClient(second.url) as client:
        reply = await client.say(DANA, "/help")
        assert reply["text"].startswith("我可以为您做这些：")


async def test_redelivered_update_has_one_effect(run: SandboxRun, client: SandboxClient) -> None:
    update_id = await client.send(DANA, "/help")
    await client.reply_after(DANA, 0)
    await client.redeliver(update_id)
    await client.say(DANA, "/start")  # handled after the redelivery: a marker
    await asyncio.sleep(0.2)
    texts = [m["text"] for m in await client.inbox(DANA)]
    assert len(texts) == 2, texts
    assert texts[0].startswith("Here is what I can do:")
    assert texts[1].startswith("Welcome to Noodle Bar")
    async with run.services.session_factory() as session:
        assert await queries.count_processed_updates(session) == 2


async def test_roles_are_told_apart(client: SandboxClient) -> None:
    cashier = await client.say(SANDBOX_CASHIER_ID, "/start")
    assert "You are signed in as cashier of Noodle Bar." in cashier["text"]
    owner = await client.say(SANDBOX_OWNER_ID, "/help")
    assert "You are signed in as owner of Noodle Bar." in owner["text"]
    diner = await client.say(DANA, "/help")
    assert "signed in as" not in diner["text"]


async def test_owner_ids_setting_names_the_owner(sandbox_settings: Settings) -> None:
    settings = sandbox_settings.model_copy(update={"owner_ids": (777,)})
    async with sandbox(settings, port=0) as running, SandboxClient(running.url) as client:
        users = (await client.request("GET", "/sandbox/users"))["users"]
        owner = next(u for u in users if u["label"] == "Owner")
        assert owner["id"] == 777
        reply = await client.say(777, "/start")
        assert "signed in as owner" in reply["text"]


async def test_small_talk_and_unknown_codes_get_a_polite_answer(client: SandboxClient) -> None:
    reply = await client.say(DANA, "is the kitchen open?")
    assert reply["text"] == "Sorry, I didn't understand that. Send /help to see what I can do."
    bot = await client.bot()
    await client.open(DANA, f"https://t.me/{bot['username']}?start=t_forged_123")
    invalid = await client.reply_after(DANA, 1)
    assert invalid["text"].startswith("This code is not valid.")
    await client.open(LI_NA, f"https://t.me/{bot['username']}?start=abc")
    invalid_zh = await client.reply_after(LI_NA, 0)
    assert invalid_zh["text"].startswith("此二维码无效")


async def test_blocking_the_bot_is_remembered(run: SandboxRun, client: SandboxClient) -> None:
    await client.say(DANA, "/start")
    await client.block(DANA)

    async def blocked_at() -> object:
        async with run.services.session_factory() as session:
            user = await queries.get_user(session, telegram_id=DANA)
            return user.blocked_at if user else None

    for _ in range(100):
        if await blocked_at() is not None:
            break
        await asyncio.sleep(0.05)
    assert await blocked_at() is not None
    await client.unblock(DANA)
    for _ in range(100):
        if await blocked_at() is None:
            break
        await asyncio.sleep(0.05)
    assert await blocked_at() is None


async def test_moving_the_clock_runs_the_scheduler(client: SandboxClient) -> None:
    await client.say(DANA, "/start")
    quiet = await client.advance_clock(3600)
    assert quiet["jobs"]["forget_old_updates"] == {"removed": 0}
    week = await client.advance_clock(8 * 24 * 3600)
    assert week["jobs"]["forget_old_updates"]["removed"] >= 1
    # the emulator's dates follow the moved clock
    reply = await client.say(DANA, "/help")
    first = (await client.inbox(DANA))[0]
    assert reply["date"] - first["date"] >= 8 * 24 * 3600


async def test_health_check(run: SandboxRun, client: SandboxClient) -> None:
    body = await client.request("GET", "/healthz")
    assert body == {"status": "ok", "mode": "sandbox"}
