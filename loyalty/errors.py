"""Domain errors. Handlers map each to a message in the user's language (handlers/errors.py)."""

from __future__ import annotations


class DomainError(Exception):
    """Something the person asked for cannot be done; nothing was written."""


class Problem(DomainError):
    """A request refused for a reason the person can act on; `reason`, a short key, picks the
    message (handlers/errors.py and the handlers word each one)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnsupportedLocale(DomainError):
    def __init__(self, locale: str) -> None:
        super().__init__(f"unsupported locale {locale!r}")
        self.locale = locale


class NotAllowed(DomainError):
    """The person's role does not allow this."""
