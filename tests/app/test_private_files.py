"""What Regulars keeps on disk is private from the first byte (issue 19, finding 6): DATA_DIR
is created 0700, the SQLite database (and its WAL files) 0600, and the sandbox's secret key is
written 0600 in one step: no moment where another user of the machine could read it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from bot.config import SECRET_FILE_NAME, ensure_sandbox_secret, load_settings
from bot.services import Services
from loyalty.clock import SystemClock


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask() -> object:
    """The usual umask (022): files default to 0644 and directories to 0755."""
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.mark.usefixtures("loose_umask")
async def test_data_dir_database_and_secret_are_private_from_the_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = ensure_sandbox_secret(
        load_settings(_env_file=None, data_dir=data, database_url=None, secret_key=None)
    )
    assert mode(data) == 0o700
    assert mode(data / SECRET_FILE_NAME) == 0o600
    assert [p.name for p in data.iterdir()] == [SECRET_FILE_NAME]  # no temporary file left
    services = await Services.start(settings, SystemClock())
    try:
        files = sorted(p.name for p in data.iterdir())
        assert "regulars.sqlite3" in files
        for name in files:
            assert mode(data / name) == 0o600, name
    finally:
        await services.close()
    # a second start reads the same key
    again = ensure_sandbox_secret(
        load_settings(_env_file=None, data_dir=data, database_url=None, secret_key=None)
    )
    assert again.secret() == settings.secret()


@pytest.mark.usefixtures("loose_umask")
def test_the_secret_is_never_readable_while_it_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every file the secret passes through is created 0600 (not chmodded afterwards)."""
    created: list[tuple[str, int]] = []
    real_open = os.open

    def spying_open(
        path: str | os.PathLike[str], flags: int, mode: int = 0o777, **kw: object
    ) -> int:
        if flags & os.O_CREAT:
            created.append((os.fspath(path), mode))
        return real_open(path, flags, mode, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", spying_open)
    ensure_sandbox_secret(
        load_settings(_env_file=None, data_dir=tmp_path / "d", database_url=None, secret_key=None)
    )
    assert created, "the secret was not created with os.open"
    assert all(m == 0o600 for _, m in created), created
