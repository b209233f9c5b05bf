"""Shared fixtures: a real database per test (a SQLite file, or a fresh PostgreSQL database when
TEST_DATABASE_URL is set), settings pointing at it, and free ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "").strip()
TEST_SECRET = "test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"


def pytest_report_header() -> str:
    where = make_url(TEST_DATABASE_URL).render_as_string() if TEST_DATABASE_URL else "SQLite files"
    return f"regulars: database under test = {where}"


def run_regulars(
    env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`regulars ARGS` as its own process from the repository root, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def database_url(tmp_path: Path) -> AsyncIterator[str]:
    """A database nobody else uses, dropped afterwards."""
    if not TEST_DATABASE_URL:
        yield f"sqlite+aiosqlite:///{tmp_path / 'regulars.sqlite3'}"
        return
    url = make_url(TEST_DATABASE_URL)
    name = f"regulars_t_{uuid.uuid4().hex[:12]}"
    admin_dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        admin = await asyncpg.connect(admin_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
def app_env(tmp_path: Path, database_url: str) -> dict[str, str]:
    """Environment for running `regulars` as a subprocess: no inherited Regulars settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "BOT_TOKEN",
            "WEBHOOK_URL",
            "DATABASE_URL",
            "REDIS_URL",
            "OWNER_IDS",
            "SECRET_KEY",
            "POLICY_FILE",
            "TELEGRAM_API_URL",
        }
    }
    env.update(
        {
            "DATA_DIR": str(tmp_path / "data"),
            "DATABASE_URL": database_url,
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


@pytest.fixture
def python() -> str:
    return sys.executable
