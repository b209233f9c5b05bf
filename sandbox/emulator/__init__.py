"""A local stand-in for the Telegram Bot API (see :class:`BotAPIEmulator`)."""

from .base import Described, generate_token
from .core import BotAPIEmulator
from .errors import ApiError, ControlError

__all__ = ["ApiError", "BotAPIEmulator", "ControlError", "Described", "generate_token"]
