"""Shared by the browser tests and their fixtures."""

from __future__ import annotations

import asyncio
import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from playwright.sync_api import ViewportSize

from sandbox.emulator import BotAPIEmulator

T = TypeVar("T")

DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}


def get_json(url: str, *, timeout: float = 5) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.load(response)


def post_json(url: str, body: Any, *, timeout: float = 5) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)


@dataclass(frozen=True)
class ChatServer:
    """The emulator and the web chat alone (no app), served from a background event loop."""

    url: str
    emulator: BotAPIEmulator
    loop: asyncio.AbstractEventLoop

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine (e.g. a Bot API call on the emulator) on the server's loop."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=10)

    def post(self, path: str, body: Any) -> Any:
        return post_json(f"{self.url}{path}", body)


@dataclass(frozen=True)
class RunningApp:
    """The app started by `regulars run` in sandbox mode, with its combined output in `log`."""

    url: str
    bot: dict[str, Any]
    log: Path
    process: subprocess.Popen[bytes]

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def api(self, path: str) -> Any:
        """GET a control API path; a failure says why, with the app's output."""
        try:
            return get_json(f"{self.url}{path}")
        except (OSError, ValueError) as exc:
            state = (
                f"exited with code {self.process.returncode}"
                if self.process.poll() is not None
                else "still running"
            )
            raise AssertionError(
                f"GET {path} failed ({exc}); the app is {state}. Its output:\n{self.output()}"
            ) from exc
