"""The field types every CallbackData is made of: bounded and validated, so that a button's data
is either one we could have made or refused before any handler runs.

Telegram hands back whatever a client puts in a callback query (up to 64 bytes). aiogram's
``CallbackData.unpack`` builds the model with pydantic, and a ``ValueError`` there makes the
filter not match: `handlers.callbacks` then answers "this button is no longer valid" and logs
one WARNING line. So the rules below are the whole parse layer:

- ids are ASCII digits within a 32-bit database id (PostgreSQL's ``integer``); 0 only where a
  field says so (``Id0``: "none", a default page);
- times are whole Unix seconds between 2000 and 2100;
- words (tier, tag, template keys, tokens) are short ASCII from a fixed alphabet;
- choices are ``Literal`` values, so an unknown action can never fall into an ``else`` branch;
- booleans are "0" or "1", as aiogram packs them.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Final

from pydantic import BeforeValidator, Field

MAX_ID: Final = 2**31 - 1
"""The largest id a row can have (32-bit integer columns on PostgreSQL)."""
MIN_UNIX: Final = 946_684_800  # 2000-01-01T00:00:00Z
MAX_UNIX: Final = 4_102_444_800  # 2100-01-01T00:00:00Z

_DIGITS = re.compile(r"[0-9]{1,10}")
_WORD = re.compile(r"[A-Za-z0-9_-]*")


def _ascii_int(value: Any) -> Any:
    """A packed number: ASCII digits only (no sign, spaces, underscores, exponents or other
    scripts' digits), at most ten of them; ints pass through for pack()."""
    if isinstance(value, bool):
        raise ValueError("not a number")
    if isinstance(value, str):
        if not _DIGITS.fullmatch(value):
            raise ValueError("not a plain number")
        return int(value)
    return value


def _ascii_bool(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if value in ("0", "1"):
        return value == "1"
    raise ValueError("not 0 or 1")


def _word(value: Any) -> Any:
    if isinstance(value, str) and not _WORD.fullmatch(value):
        raise ValueError("not a plain word")
    return value


Id = Annotated[int, BeforeValidator(_ascii_int), Field(ge=1, le=MAX_ID)]
"""A row id."""
Id0 = Annotated[int, BeforeValidator(_ascii_int), Field(ge=0, le=MAX_ID)]
"""A row id, or 0 for "none" / "from the start"."""
UnixTime = Annotated[int, BeforeValidator(_ascii_int), Field(ge=MIN_UNIX, le=MAX_UNIX)]
Flag = Annotated[bool, BeforeValidator(_ascii_bool)]
Key = Annotated[str, BeforeValidator(_word), Field(min_length=1, max_length=32)]
"""A key of the policy (tier, tag, coupon template) or of the app (a stage, a store id)."""
KeyOrEmpty = Annotated[str, BeforeValidator(_word), Field(max_length=32)]
Token = Annotated[str, BeforeValidator(_word), Field(min_length=8, max_length=24)]
"""A one-time token (``secrets.token_urlsafe(9..12)``)."""
Month = Annotated[int, BeforeValidator(_ascii_int), Field(ge=1, le=12)]
DayOrZero = Annotated[int, BeforeValidator(_ascii_int), Field(ge=0, le=31)]
Stars = Annotated[int, BeforeValidator(_ascii_int), Field(ge=1, le=5)]
DayNumber = Annotated[int, BeforeValidator(_ascii_int), Field(ge=20000101, le=21001231)]
"""A calendar day as YYYYMMDD."""
ClockTime = Annotated[int, BeforeValidator(_ascii_int), Field(ge=0, le=2359)]
"""A time of day as HHMM."""
Small = Annotated[int, BeforeValidator(_ascii_int), Field(ge=0, le=99)]
"""A small count (a party's size)."""
