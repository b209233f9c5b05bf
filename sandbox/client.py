"""An HTTP client for the emulator's control API: people typing, tapping, paying, and reading
their chat. Used by the demo, the tests and the benchmarks."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable
from typing import Any

import aiohttp

Message = dict[str, Any]


class SandboxError(RuntimeError):
    pass


class SandboxClient:
    def __init__(self, base_url: str, session: aiohttp.ClientSession | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._own_session = session is None

    async def __aenter__(self) -> SandboxClient:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise SandboxError("use `async with SandboxClient(...)`")
        return self._session

    async def request(self, method: str, path: str, payload: Any = None) -> Any:
        async with self.session.request(method, f"{self.base_url}{path}", json=payload) as resp:
            body = await resp.json(content_type=None)
            if resp.status >= 400:
                raise SandboxError(f"{method} {path} → {resp.status}: {body}")
            return body

    # -- people -------------------------------------------------------------------------------

    async def bot(self) -> dict[str, Any]:
        return dict(await self.request("GET", "/sandbox/bot"))

    async def add_user(
        self, user_id: int, first_name: str, language_code: str = "en", **extra: Any
    ) -> dict[str, Any]:
        payload = {"id": user_id, "first_name": first_name, "language_code": language_code}
        return dict(await self.request("POST", "/sandbox/users", payload | extra))

    async def send(self, user_id: int, text: str) -> int:
        body = await self.request("POST", f"/sandbox/users/{user_id}/send", {"text": text})
        return int(body["update_id"])

    async def send_photo(self, user_id: int, data: bytes, caption: str | None = None) -> int:
        """The person sends a photo (JPEG, PNG or WebP bytes); returns the update id."""
        payload: dict[str, Any] = {"photo_base64": base64.b64encode(data).decode("ascii")}
        if caption is not None:
            payload["caption"] = caption
        body = await self.request("POST", f"/sandbox/users/{user_id}/send_photo", payload)
        return int(body["update_id"])

    async def open(self, user_id: int, url: str) -> int:
        body = await self.request("POST", f"/sandbox/users/{user_id}/open", {"url": url})
        return int(body["update_id"])

    async def codes(self) -> list[dict[str, str]]:
        """The printed codes to scan: kind, label, deep link and payload of each."""
        return list((await self.request("GET", "/sandbox/codes"))["codes"])

    async def history(self, user_id: int) -> list[Message]:
        """Both sides of the chat, as the web chat shows it."""
        return list((await self.request("GET", f"/sandbox/users/{user_id}/history"))["messages"])

    async def press(self, user_id: int, message_id: int, data: str) -> dict[str, Any]:
        payload = {"message_id": message_id, "data": data}
        return dict(await self.request("POST", f"/sandbox/users/{user_id}/press", payload))

    async def pay(self, user_id: int, message_id: int) -> dict[str, Any]:
        payload = {"message_id": message_id}
        return dict(await self.request("POST", f"/sandbox/users/{user_id}/pay", payload))

    async def block(self, user_id: int) -> None:
        await self.request("POST", f"/sandbox/users/{user_id}/block", {})

    async def unblock(self, user_id: int) -> None:
        await self.request("POST", f"/sandbox/users/{user_id}/unblock", {})

    async def inbox(self, user_id: int) -> list[Message]:
        body = await self.request("GET", f"/sandbox/users/{user_id}/inbox")
        return list(body["messages"])

    async def file(self, file_id: str) -> bytes:
        """The bytes of a file in the chat (a photo or a document), by its file_id."""
        path = f"/sandbox/files/{file_id}"
        async with self.session.get(f"{self.base_url}{path}") as resp:
            if resp.status >= 400:
                raise SandboxError(f"GET {path} → {resp.status}: {await resp.text()}")
            return await resp.read()

    async def commands(self, user_id: int) -> list[dict[str, str]]:
        body = await self.request("GET", f"/sandbox/users/{user_id}/commands")
        return list(body["commands"])

    async def stats(self) -> dict[str, Any]:
        return dict(await self.request("GET", "/sandbox/stats"))

    async def redeliver(self, update_id: int) -> None:
        await self.request("POST", "/sandbox/redeliver", {"update_id": update_id})

    async def advance_clock(self, seconds: float) -> dict[str, Any]:
        return dict(await self.request("POST", "/sandbox/clock", {"advance_seconds": seconds}))

    # -- waiting for the bot ------------------------------------------------------------------

    async def wait_for(
        self,
        user_id: int,
        predicate: Callable[[list[Message]], bool],
        *,
        timeout: float = 10.0,
        what: str = "the bot's reply",
    ) -> list[Message]:
        deadline = time.monotonic() + timeout
        messages = await self.inbox(user_id)
        while not predicate(messages):
            if time.monotonic() > deadline:
                last = messages[-1].get("text") if messages else None
                raise SandboxError(f"timed out waiting for {what} (last message: {last!r})")
            await asyncio.sleep(0.05)
            messages = await self.inbox(user_id)
        return messages

    async def reply_after(
        self, user_id: int, count_before: int, *, timeout: float = 10.0
    ) -> Message:
        """Wait until the chat has more than `count_before` bot messages; return the newest."""
        messages = await self.wait_for(user_id, lambda ms: len(ms) > count_before, timeout=timeout)
        return messages[-1]

    async def say(self, user_id: int, text: str, *, timeout: float = 10.0) -> Message:
        """Send a text and return the bot's next message."""
        before = len(await self.inbox(user_id))
        await self.send(user_id, text)
        return await self.reply_after(user_id, before, timeout=timeout)


def button_data(message: Message, label_contains: str) -> str:
    """The callback data of the inline button whose label contains `label_contains`."""
    markup = message.get("reply_markup") or {}
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if label_contains in button.get("text", "") and "callback_data" in button:
                return str(button["callback_data"])
    raise SandboxError(f"no button {label_contains!r} in message {message.get('message_id')}")
