"""Reading Bot API parameters the way Telegram does.

Telegram accepts every parameter from the query string, a JSON body, a urlencoded form or a
multipart form. In forms every value is a string, so numbers, booleans and nested objects arrive
as text (aiogram sends nested objects JSON-encoded); the getters below coerce per parameter.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .errors import ApiError, bad_request

_INT = re.compile(r"^\s*[-+]?\d+\s*$")
_TRUE = {"true", "1", "yes", "on"}


@dataclass(frozen=True, slots=True)
class Upload:
    """A file sent as a multipart part."""

    data: bytes
    filename: str | None
    content_type: str | None


class Params:
    """The parameters of one Bot API call."""

    def __init__(
        self, values: Mapping[str, Any], uploads: Mapping[str, Upload] | None = None
    ) -> None:
        self._values = {key: value for key, value in values.items() if value is not None}
        self._uploads = dict(uploads or {})

    def __contains__(self, name: str) -> bool:
        return self.raw(name) is not None

    def raw(self, name: str) -> Any:
        """The value as sent; an empty string counts as absent."""
        value = self._values.get(name)
        if isinstance(value, str) and value == "":
            return None
        return value

    def text(self, name: str) -> str | None:
        """A string parameter (numbers and booleans are turned into their text)."""
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        return json.dumps(value, ensure_ascii=False)

    def integer(self, name: str, error: str | None = None) -> int | None:
        """An integer parameter; ``error`` is the Bad Request detail for a malformed value."""
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and _INT.match(value):
            return int(value)
        raise bad_request(error or f"invalid {name} specified")

    def number(self, name: str) -> float | None:
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise bad_request(f"invalid {name} specified")

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float):
            return value != 0
        if isinstance(value, str):
            return value.strip().lower() in _TRUE
        return default

    def json(self, name: str, what: str | None = None) -> Any:
        """An object or array parameter, given as JSON text (forms) or as JSON (JSON bodies)."""
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(f"can't parse {what or name} JSON object") from None
        return value

    def upload(self, name: str) -> Upload | None:
        """A multipart file sent under ``name`` or referenced as ``attach://<part>``."""
        if name in self._uploads:
            return self._uploads[name]
        value = self.raw(name)
        if isinstance(value, str) and value.startswith("attach://"):
            part = value[len("attach://") :]
            if part not in self._uploads:
                raise bad_request(f'can\'t find attached file "{part}"')
            return self._uploads[part]
        return None

    def has_upload(self, name: str) -> bool:
        return name in self._uploads


async def read_params(request: web.Request) -> Params:
    """Collect the parameters of a Bot API request from the query string and the body."""
    values: dict[str, Any] = dict(request.query)
    uploads: dict[str, Upload] = {}
    if request.can_read_body:
        content_type = request.content_type
        if content_type == "application/json":
            body = await request.read()
            if body.strip():
                try:
                    decoded = json.loads(body)
                except ValueError:
                    raise bad_request("can't parse JSON encoded request body") from None
                if not isinstance(decoded, dict):
                    raise bad_request("JSON encoded request body must be an object")
                values.update(decoded)
        elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            try:
                form = await request.post()
            except ValueError as error:
                raise ApiError(400, f"Bad Request: can't parse request body: {error}") from None
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    uploads[key] = Upload(
                        data=value.file.read(),
                        filename=value.filename,
                        content_type=value.content_type,
                    )
                else:
                    values[key] = value
    return Params(values, uploads)
