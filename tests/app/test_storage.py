"""FSM state storage: Redis when REDIS_URL is set (several replicas share it), memory otherwise."""

from __future__ import annotations

import uuid

from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.fsm.storage.redis import RedisStorage

from bot.factory import build_storage

REDIS_URL = "redis://127.0.0.1:6379/15"


async def test_redis_storage_is_shared_between_replicas() -> None:
    first = build_storage(REDIS_URL)
    second = build_storage(REDIS_URL)
    assert isinstance(first, RedisStorage)
    key = StorageKey(bot_id=1, chat_id=uuid.uuid4().int % 10**9, user_id=7)
    try:
        await first.set_state(key, "Checkout:amount")
        await first.set_data(key, {"bill": "86.50"})
        # another replica sees what the first one wrote
        assert await second.get_state(key) == "Checkout:amount"
        assert await second.get_data(key) == {"bill": "86.50"}
    finally:
        await first.set_state(key, None)
        await first.set_data(key, {})
        await first.close()
        await second.close()


def test_memory_storage_without_redis() -> None:
    assert isinstance(build_storage(None), MemoryStorage)
