"""Files Regulars keeps on disk (DATA_DIR, the SQLite database, the sandbox's secret key) are
private to the user running it from the moment they exist: created with their final mode
(0700 directories, 0600 files) instead of created with the default and chmodded afterwards,
which leaves a moment where anyone on the machine may open them (and keep the descriptor)."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """`path` as a directory; created 0700 when missing (its missing parents too). A directory
    that exists already keeps its mode: it may be shared on purpose (a volume, /tmp)."""
    missing = []
    at = path
    while not at.exists():
        missing.append(at)
        if at.parent == at:
            break
        at = at.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it just now
            directory.mkdir(mode=DIR_MODE)
        os.chmod(directory, DIR_MODE)  # mkdir's mode is cut by the umask; 0700 never widens it
    return path


def private_file(path: Path) -> Path:
    """Create `path` empty and 0600 if it does not exist (SQLite then opens it as an empty
    database, and gives its -wal and -shm files the same mode)."""
    private_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    return path


def create_secret_file(path: Path, text: str) -> str:
    """Write `text` to `path` once, atomically, 0600 from the first byte; return what the file
    holds (another process's text when it won the race: everyone then uses the same key).

    The text goes to a temporary file created 0600 in the same directory, is flushed to disk,
    then linked to `path` (which fails if `path` exists): a reader never sees a half-written key.
    """
    private_dir(path.parent)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return path.read_text(encoding="utf-8")
        return text
    finally:
        temporary.unlink(missing_ok=True)
