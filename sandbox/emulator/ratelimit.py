"""Sliding one-second windows for the optional flood limits on sending methods."""

from __future__ import annotations

import math
import time
from collections import deque

_WINDOW = 1.0


class RateLimiter:
    def __init__(self, global_per_second: int | None, per_chat_per_second: int | None) -> None:
        self.global_per_second = global_per_second
        self.per_chat_per_second = per_chat_per_second
        self._global: deque[float] = deque()
        self._chats: dict[int, deque[float]] = {}

    @staticmethod
    def _retry(window: deque[float], limit: int | None, now: float) -> float:
        while window and window[0] <= now - _WINDOW:
            window.popleft()
        if limit is None or len(window) < limit:
            return 0.0
        return window[len(window) - limit] + _WINDOW - now

    def hit(self, chat_id: int) -> int | None:
        """Count one send; ``None`` when allowed, else the retry_after (whole seconds, >= 1)."""
        now = time.monotonic()
        chat_window = self._chats.setdefault(chat_id, deque())
        wait = max(
            self._retry(self._global, self.global_per_second, now),
            self._retry(chat_window, self.per_chat_per_second, now),
        )
        if wait > 0:
            return max(1, math.ceil(wait))
        self._global.append(now)
        chat_window.append(now)
        return None
