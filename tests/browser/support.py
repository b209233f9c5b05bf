"""Shared by the browser tests and their fixtures."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import ViewportSize

DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}


def get_json(url: str, *, timeout: float = 5) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.load(response)


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
