"""The effective policy written back as TOML: what `regulars policy show` prints.

Every key is written, defaults and preset values included, so an owner sees what is in force
and can copy the output to a file of their own: it loads back to the same policy.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from decimal import Decimal
from typing import Any

from loyalty.policy import Policy, QuietHours

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def policy_to_toml(policy: Policy, *, source: str) -> str:
    lines = [f"# The policy in force ({source}), every key written out.", ""]
    _table(lines, (), _plain(policy))
    return "\n".join(lines).rstrip() + "\n"


def _plain(value: Any) -> Any:
    """Dataclasses to dicts (None values left out: TOML has no null), keeping scalars typed."""
    if isinstance(value, QuietHours):
        return str(value)
    if is_dataclass(value) and not isinstance(value, type):
        out = {}
        for field in fields(value):
            item = getattr(value, field.name)
            if item is not None:
                out[field.name] = _plain(item)
        return out
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    return value


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _is_section(value: Any) -> bool:
    """Written under a header of its own ([table] or [[array of tables]]), not as `key = …`."""
    return isinstance(value, dict) or _is_table_array(value)


def _table(lines: list[str], path: tuple[str, ...], table: dict[str, Any]) -> None:
    scalars = {k: v for k, v in table.items() if not _is_section(v)}
    for key, value in scalars.items():
        lines.append(f"{_key(key)} = {_value(value)}")
    if scalars:
        lines.append("")
    for key, value in table.items():
        header = ".".join(_key(k) for k in (*path, key))
        if isinstance(value, dict):
            # A table holding only sub-tables needs no header of its own.
            if not value or not all(_is_section(v) for v in value.values()):
                lines.append(f"[{header}]")
            _table(lines, (*path, key), value)
        elif _is_table_array(value):
            for item in value:
                lines.append(f"[[{header}]]")
                _table(lines, (*path, key), item)


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")
