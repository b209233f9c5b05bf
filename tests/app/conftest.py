from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from bot.sandbox_run import SandboxRun, sandbox
from sandbox.client import SandboxClient
from tests.conftest import TEST_SECRET


@pytest.fixture
def sandbox_settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_key=TEST_SECRET,
        bot_token=None,
        webhook_url=None,
        owner_ids=(),
        store_name="Noodle Bar",
    )


@pytest.fixture
async def run(sandbox_settings: Settings) -> AsyncIterator[SandboxRun]:
    async with sandbox(sandbox_settings, port=0) as running:
        yield running


@pytest.fixture
async def client(run: SandboxRun) -> AsyncIterator[SandboxClient]:
    async with SandboxClient(run.url) as sandbox_client:
        yield sandbox_client
