"""What several processes sending with one bot token share through Redis (`REDIS_URL`): Telegram's
one-second window and per-chat interval, its 429 pauses, and the scheduler's leadership.

Each process keeps its own `RateBudget` (its replies first, its pacing); `SharedWindow` adds the
limits that hold for the token as a whole, whoever sends. The window is a sorted set of the sends
of the last second: a send enters it at its grant, scored as in flight (its grant plus a lease, so
a process that dies mid-send frees its slots after the lease), and its score becomes the time of
its answer when the answer comes; it leaves one second later. That is the same rule the local
budget applies ("from grant until a second after the answer"), over all processes. Time is the
Redis server's, so the processes' clocks need not agree.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any, Final

from redis.asyncio import Redis

log = logging.getLogger(__name__)

IN_FLIGHT_LEASE_MS: Final = 30_000
"""How long a send may stay unanswered before its slot is taken as free (its process died)."""
PER_CHAT_MS: Final = 1_000
MAX_POLL_S: Final = 0.05
"""A refused send asks again after at most this long (sooner when the window says so)."""

# KEYS: window, pause, chat (unused without a chat); ARGV: limit, token, lease, has_chat
# Returns 0 (granted) or how many ms to wait before asking again.
_TAKE: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local paused = redis.call('PTTL', KEYS[2])
if paused > 0 then return paused end
if ARGV[4] == '1' then
  local busy = redis.call('PTTL', KEYS[3])
  if busy > 0 then return busy end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 1000)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  local wait = tonumber(oldest[2]) + 1000 - now
  if wait < 1 then wait = 1 end
  return wait
end
local lease = tonumber(ARGV[3])
redis.call('ZADD', KEYS[1], now + lease, ARGV[2])
redis.call('PEXPIRE', KEYS[1], lease + 2000)
if ARGV[4] == '1' then redis.call('SET', KEYS[3], ARGV[2], 'PX', lease) end
return 0
"""

# KEYS: window, chat; ARGV: token, has_chat, per-chat interval
_GIVE_BACK: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], 'XX', now, ARGV[1])
if ARGV[2] == '1' and redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[1], 'PX', tonumber(ARGV[3]))
end
return 0
"""

# KEYS: pause; ARGV: ms. The longer pause wins.
_PAUSE: Final = """
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', tonumber(ARGV[1]))
end
return 0
"""

# KEYS: leader; ARGV: me. Deletes the key only if `me` holds it.
_RESIGN: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS: leader; ARGV: me, ttl. 1 when `me` holds (or has just taken) the lease.
_LEAD: Final = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
  return 1
end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
  return 1
end
return 0
"""


class SharedWindow:
    """Telegram's limits for one bot token across every process that sends with it."""

    def __init__(self, redis: Redis, *, namespace: str, per_second: int) -> None:
        self.redis = redis
        self.per_second = max(1, per_second)
        self._window = f"{namespace}:window"
        self._pause = f"{namespace}:pause"
        self._chat = f"{namespace}:chat:"
        self._take: Any = redis.register_script(_TAKE)
        self._give_back: Any = redis.register_script(_GIVE_BACK)
        self._pause_script: Any = redis.register_script(_PAUSE)

    async def take(self, chat_id: int | None = None) -> str:
        """Wait until the token's window (and `chat_id`'s interval) has room; the slot's token,
        to `give_back` with the answer."""
        token = secrets.token_hex(8)
        has_chat = "1" if chat_id is not None else "0"
        keys = [self._window, self._pause, f"{self._chat}{chat_id}"]
        while True:
            wait_ms = int(
                await self._take(
                    keys=keys, args=[self.per_second, token, IN_FLIGHT_LEASE_MS, has_chat]
                )
            )
            if wait_ms == 0:
                return token
            await asyncio.sleep(min(wait_ms / 1000, MAX_POLL_S))

    async def give_back(self, token: str, chat_id: int | None = None) -> None:
        """The send holding `token` was answered (or gave up): it leaves the window a second
        from now, and its chat may be sent to again a second from now."""
        has_chat = "1" if chat_id is not None else "0"
        await self._give_back(
            keys=[self._window, f"{self._chat}{chat_id}"], args=[token, has_chat, PER_CHAT_MS]
        )

    async def pause(self, seconds: float) -> None:
        """Telegram said 429 to one process: every process waits."""
        await self._pause_script(keys=[self._pause], args=[max(1, int(seconds * 1000))])


class LeaderLease:
    """At most one process runs the scheduler's jobs: the one holding a Redis key, renewed at
    each of its job runs (the most frequent job runs every minute, the key lasts three, so the
    lead stays put); if the leader dies, another takes over once the key expires, if it stops
    cleanly, at once."""

    def __init__(self, redis: Redis, *, namespace: str, ttl_seconds: float = 180.0) -> None:
        self.redis = redis
        self.key = f"{namespace}:scheduler-leader"
        self.me = secrets.token_hex(8)
        self.ttl_ms = int(ttl_seconds * 1000)
        self._lead: Any = redis.register_script(_LEAD)
        self._resign: Any = redis.register_script(_RESIGN)

    async def held(self) -> bool:
        """True when this process leads (taking the lead if nobody holds it)."""
        try:
            return bool(await self._lead(keys=[self.key], args=[self.me, self.ttl_ms]))
        except Exception:  # Redis unreachable: run nothing rather than run twice
            log.exception("scheduler leadership: Redis unreachable; jobs skipped")
            return False

    async def resign(self) -> None:
        """Give the lead up at once (a clean stop), so another process need not wait."""
        await self._resign(keys=[self.key], args=[self.me])
