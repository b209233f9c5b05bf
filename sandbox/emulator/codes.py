"""Printed codes: the QR codes lying around the room (table stickers, cards, coupons), by payload.

The app registers what it prints — a kind, a label a person understands and the deep link — and
the emulator keeps ``start payload -> code``. When a person opens a link, the web chat shows the
code's label ("Scanned: Table 3 at …") instead of the raw ``/start <payload>``; the payload's
meaning comes from this registry only, never from decoding it (the emulator knows nothing of the
app's payload format).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .errors import ControlError

MAX_LABEL = 128
_KIND = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


@dataclass(frozen=True, slots=True)
class PrintedCode:
    kind: str
    label: str
    url: str
    payload: str

    def control(self) -> dict[str, str]:
        """The code as ``GET /sandbox/codes`` lists it."""
        return {"kind": self.kind, "label": self.label, "url": self.url, "payload": self.payload}


def check_kind(kind: Any) -> str:
    if not isinstance(kind, str) or not _KIND.match(kind):
        raise ControlError(400, "kind must be 1-32 lowercase letters, digits or _ (e.g. 'table')")
    return kind


def check_label(label: Any) -> str:
    if not isinstance(label, str) or not 1 <= len(label.strip()) <= MAX_LABEL:
        raise ControlError(400, f"label must be a string of 1-{MAX_LABEL} characters")
    return label.strip()


class CodeBook:
    """The registered codes, grouped by kind in the order the kinds were first registered."""

    def __init__(self) -> None:
        self._kinds: dict[str, dict[str, PrintedCode]] = {}

    def add(self, code: PrintedCode) -> None:
        self._kinds.setdefault(code.kind, {})[code.payload] = code

    def replace(self, kind: str, codes: list[PrintedCode]) -> None:
        """The codes of ``kind`` are now exactly ``codes`` (an empty list clears the kind)."""
        self._kinds[kind] = {code.payload: code for code in codes}

    def find(self, payload: str) -> PrintedCode | None:
        for codes in self._kinds.values():
            code = codes.get(payload)
            if code is not None:
                return code
        return None

    def all(self) -> list[PrintedCode]:
        return [code for codes in self._kinds.values() for code in codes.values()]
