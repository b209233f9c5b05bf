"""Stored files: photos and documents the bot sent or people sent, served back by file_id or
file_path."""

from __future__ import annotations

import io
import mimetypes
import secrets
import struct
import warnings
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from PIL import Image, UnidentifiedImageError

# Telegram keeps a photo in several sizes; the largest side of each is at most this.
_PHOTO_SIDES = (90, 320, 800, 1280)
_DEFAULT_PHOTO = (800, 600)
# The sizes Telegram makes of a photo a person sends (s, m, x, y, w), smaller than the original.
_USER_PHOTO_SIDES = (90, 320, 800, 1280, 2560)
# Telegram's limits for a photo: 10 MB, width + height at most 10,000, sides at most 20:1.
MAX_PHOTO_BYTES = 10 * 1024 * 1024
_MAX_PHOTO_SIDES_SUM = 10_000
_MAX_PHOTO_RATIO = 20
_USER_PHOTO_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


@dataclass(eq=False, slots=True)
class StoredFile:
    """One file_id: its bytes (or only the URL it was sent by) and what Telegram reports."""

    file_id: str
    file_unique_id: str
    kind: str  # "photo" or "document"
    data: bytes | None
    url: str | None
    mime_type: str
    file_name: str | None
    file_path: str
    width: int = 0
    height: int = 0
    group: list[StoredFile] = field(default_factory=list)

    @property
    def file_size(self) -> int | None:
        return len(self.data) if self.data is not None else None

    def photo_size(self) -> dict[str, Any]:
        size: dict[str, Any] = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "width": self.width,
            "height": self.height,
        }
        if self.data is not None:
            size["file_size"] = self._scaled_size()
        return size

    def _scaled_size(self) -> int:
        assert self.data is not None
        largest = self.group[-1] if self.group else self
        if largest is self or not largest.width or largest.data is not self.data:
            return len(self.data)
        ratio = (self.width * self.height) / max(1, largest.width * largest.height)
        return max(1, round(len(self.data) * ratio))

    def document(self) -> dict[str, Any]:
        result: dict[str, Any] = {"file_id": self.file_id, "file_unique_id": self.file_unique_id}
        if self.file_name:
            result["file_name"] = self.file_name
        result["mime_type"] = self.mime_type
        if self.file_size is not None:
            result["file_size"] = self.file_size
        return result

    def file_object(self) -> dict[str, Any]:
        """The ``File`` object getFile answers."""
        result: dict[str, Any] = {"file_id": self.file_id, "file_unique_id": self.file_unique_id}
        if self.data is not None:
            result["file_size"] = self._scaled_size() if self.kind == "photo" else len(self.data)
        result["file_path"] = self.file_path
        return result


class PhotoError(ValueError):
    """Bytes a person tried to send as a photo that Telegram would not take; says why."""


@dataclass(frozen=True, slots=True)
class PhotoSizeData:
    """One size of a photo a person sent: its own bytes and what they show."""

    data: bytes
    mime_type: str
    width: int
    height: int


def user_photo_sizes(data: bytes) -> list[PhotoSizeData]:
    """Check `data` as a photo a person sends and make Telegram's sizes of it, smallest first.

    The largest size is `data` itself, unchanged; the smaller ones are JPEG thumbnails whose
    largest side is 90, 320, 800, 1280 or 2560 pixels (those below the original's). Raises
    :class:`PhotoError` for anything that is not a JPEG, PNG or WebP image within Telegram's
    limits for photos."""
    if not data:
        raise PhotoError("the photo is empty")
    if len(data) > MAX_PHOTO_BYTES:
        raise PhotoError(
            f"the photo is {len(data):,} bytes; Telegram takes photos up to 10 MB "
            f"({MAX_PHOTO_BYTES:,} bytes)"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                mime = _USER_PHOTO_FORMATS.get(image.format or "")
                if mime is None:
                    raise PhotoError(
                        f"the photo must be a JPEG, PNG or WebP image, not {image.format}"
                    )
                width, height = image.size
                _check_dimensions(width, height)
                image.load()  # decodes every pixel: a truncated or corrupt file fails here
                thumbnails = [
                    _thumbnail(image, side)
                    for side in _USER_PHOTO_SIDES
                    if side < max(width, height)
                ]
    except PhotoError:
        raise
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        ValueError,
        SyntaxError,
    ) as error:
        raise PhotoError(f"the photo is not a readable JPEG, PNG or WebP image ({error})") from None
    return [*thumbnails, PhotoSizeData(data, mime, width, height)]


def _check_dimensions(width: int, height: int) -> None:
    if width < 1 or height < 1 or width + height > _MAX_PHOTO_SIDES_SUM:
        raise PhotoError(
            f"the photo is {width}×{height}; Telegram takes photos whose width and height add "
            f"up to at most {_MAX_PHOTO_SIDES_SUM:,} pixels"
        )
    if max(width, height) > _MAX_PHOTO_RATIO * min(width, height):
        raise PhotoError(
            f"the photo is {width}×{height}; Telegram takes photos whose sides are at most "
            f"{_MAX_PHOTO_RATIO}:1"
        )


def _thumbnail(image: Image.Image, side: int) -> PhotoSizeData:
    """A JPEG of `image` whose largest side is `side`, transparency on white."""
    small = image.copy()
    small.thumbnail((side, side), Image.Resampling.LANCZOS)
    if small.mode in ("RGBA", "LA", "PA") or "transparency" in small.info:
        rgba = small.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        small = flat
    else:
        small = small.convert("RGB")
    out = io.BytesIO()
    small.save(out, "JPEG", quality=85)
    return PhotoSizeData(out.getvalue(), "image/jpeg", small.width, small.height)


def image_info(data: bytes) -> tuple[str, int, int] | None:
    """(mime type, width, height) of a PNG, JPEG, GIF or WebP image; None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return "image/png", width, height
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return "image/gif", width, height
    if data.startswith(b"\xff\xd8"):
        size = _jpeg_size(data)
        return ("image/jpeg", *size) if size else None
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        size = _webp_size(data)
        return ("image/webp", *size) if size else None
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        i += 2 + length
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    if chunk == b"VP8 " and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def _new_file_id(kind: str) -> str:
    prefix = "AgACAgIAAxkDAAI" if kind == "photo" else "BQACAgIAAxkDAAI"
    return prefix + secrets.token_urlsafe(48)[:56]


def _new_unique_id(kind: str) -> str:
    return ("AQAD" if kind == "photo" else "AgAD") + secrets.token_urlsafe(9)[:12]


_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
}


class FileStore:
    """Every file the bot sent, by file_id and by file_path."""

    def __init__(self) -> None:
        self._by_id: dict[str, StoredFile] = {}
        self._by_path: dict[str, StoredFile] = {}
        self._counter = 0

    def get(self, file_id: str) -> StoredFile | None:
        return self._by_id.get(file_id)

    def by_path(self, file_path: str) -> StoredFile | None:
        return self._by_path.get(file_path)

    def _register(self, stored: StoredFile) -> StoredFile:
        self._by_id[stored.file_id] = stored
        self._by_path[stored.file_path] = stored
        return stored

    def _next_path(self, folder: str, extension: str) -> str:
        self._counter += 1
        return f"{folder}/file_{self._counter}{extension}"

    def add_photo(
        self, data: bytes | None, url: str | None, info: tuple[str, int, int] | None
    ) -> list[StoredFile]:
        """Store a photo; returns its sizes, smallest first (all share the same bytes)."""
        mime, width, height = info or ("image/jpeg", *_DEFAULT_PHOTO)
        extension = _EXTENSIONS.get(mime, ".jpg")
        largest_side = max(width, height, 1)
        sizes: list[StoredFile] = []
        for side in _PHOTO_SIDES:
            scale = min(1.0, side / largest_side)
            sized = StoredFile(
                file_id=_new_file_id("photo"),
                file_unique_id=_new_unique_id("photo"),
                kind="photo",
                data=data,
                url=url,
                mime_type=mime,
                file_name=None,
                file_path=self._next_path("photos", extension),
                width=max(1, round(width * scale)),
                height=max(1, round(height * scale)),
            )
            sizes.append(self._register(sized))
            if scale >= 1.0:
                break
        for sized in sizes:
            sized.group = sizes
        return sizes

    def add_user_photo(self, sizes: list[PhotoSizeData]) -> list[StoredFile]:
        """Store the sizes of a photo a person sent (see :func:`user_photo_sizes`), each with
        its own bytes and file_id; returns them smallest first."""
        stored: list[StoredFile] = []
        for size in sizes:
            sized = StoredFile(
                file_id=_new_file_id("photo"),
                file_unique_id=_new_unique_id("photo"),
                kind="photo",
                data=size.data,
                url=None,
                mime_type=size.mime_type,
                file_name=None,
                file_path=self._next_path("photos", _EXTENSIONS.get(size.mime_type, ".jpg")),
                width=size.width,
                height=size.height,
            )
            stored.append(self._register(sized))
        for sized in stored:
            sized.group = stored
        return stored

    def add_document(
        self, data: bytes | None, url: str | None, file_name: str | None, mime_type: str | None
    ) -> StoredFile:
        if not mime_type or mime_type == "application/octet-stream":
            guessed = mimetypes.guess_type(file_name or "")[0]
            mime_type = guessed or mime_type or "application/octet-stream"
        extension = ""
        if file_name and "." in file_name:
            extension = "." + file_name.rsplit(".", 1)[1][:10]
        stored = StoredFile(
            file_id=_new_file_id("document"),
            file_unique_id=_new_unique_id("document"),
            kind="document",
            data=data,
            url=url,
            mime_type=mime_type,
            file_name=file_name,
            file_path=self._next_path("documents", extension),
        )
        return self._register(stored)


def file_response(stored: StoredFile) -> web.StreamResponse:
    if stored.data is None:
        if stored.url:
            raise web.HTTPFound(stored.url)
        raise web.HTTPNotFound()
    headers = {"Cache-Control": "max-age=3600"}
    if stored.file_name:
        safe = stored.file_name.replace('"', "").replace("\\", "")
        headers["Content-Disposition"] = f'inline; filename="{safe}"'
    return web.Response(body=stored.data, content_type=stored.mime_type, headers=headers)
