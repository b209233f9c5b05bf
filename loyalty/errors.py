"""Domain errors. Handlers map each to a message in the user's language (handlers/errors.py)."""

from __future__ import annotations


class DomainError(Exception):
    """Something the person asked for cannot be done; nothing was written."""


class UnsupportedLocale(DomainError):
    def __init__(self, locale: str) -> None:
        super().__init__(f"unsupported locale {locale!r}")
        self.locale = locale


class NotAllowed(DomainError):
    """The person's role does not allow this."""
