"""The sandbox's control API acts as anyone, the owner included, so it listens on loopback only
unless SANDBOX_PUBLIC=true says otherwise, and says so at start (issue 19, finding 9)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.sandbox_run import sandbox
from tests.conftest import TEST_SECRET


def listening_on(port: int) -> set[str]:
    """The IPv4 addresses a TCP socket listens on at `port` (from /proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, port_hex = local.split(":")
        if state == "0A" and int(port_hex, 16) == port:
            found.add(".".join(str(int(address[i : i + 2], 16)) for i in (6, 4, 2, 0)))
    return found


def settings(tmp_path: Path, database_url: str, **extra: object) -> object:
    return load_settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_key=TEST_SECRET,
        bot_token=None,
        webhook_url=None,
        **extra,
    )


async def test_an_open_host_is_not_used_without_sandbox_public(
    tmp_path: Path, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """SANDBOX_HOST=0.0.0.0 (what a container image sets) alone: loopback, and a warning."""
    with caplog.at_level(logging.WARNING):
        async with sandbox(
            settings(tmp_path, database_url, sandbox_host="0.0.0.0"),  # type: ignore[arg-type]
            port=0,
        ) as run:
            port = int(run.url.rsplit(":", 1)[1])
            assert listening_on(port) == {"127.0.0.1"}
            assert run.url.startswith("http://127.0.0.1:")
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("SANDBOX_HOST=0.0.0.0 ignored" in m and "SANDBOX_PUBLIC=true" in m for m in warned)


async def test_sandbox_public_listens_where_asked_and_warns(
    tmp_path: Path, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        async with sandbox(
            settings(  # type: ignore[arg-type]
                tmp_path, database_url, sandbox_host="0.0.0.0", sandbox_public=True
            ),
            port=0,
        ) as run:
            port = int(run.url.rsplit(":", 1)[1])
            assert listening_on(port) == {"0.0.0.0"}
            assert run.url.startswith("http://127.0.0.1:")  # the bot itself talks to loopback
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("SANDBOX_PUBLIC=true" in m and "acts as anyone" in m for m in warned), warned


async def test_the_default_is_loopback_without_a_warning(
    tmp_path: Path, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        async with sandbox(settings(tmp_path, database_url), port=0) as run:  # type: ignore[arg-type]
            assert listening_on(int(run.url.rsplit(":", 1)[1])) == {"127.0.0.1"}
    assert not [r for r in caplog.records if "SANDBOX" in r.getMessage()]
