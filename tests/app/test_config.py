"""Settings: a bad value stops start-up with one clear line and exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, RunMode, ensure_sandbox_secret, load_settings
from tests.conftest import run_regulars


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("STORE_TIMEZONE", "Mars/Olympus", "not a known time zone"),
        ("STORE_CURRENCY", "XYZ", "not an ISO 4217 currency"),
        ("SANDBOX_PORT", "eighty", "'eighty'"),
        ("SANDBOX_PORT", "70000", "70000"),
        ("OWNER_IDS", "42,alice", "'alice' is not a Telegram user id"),
        ("DATABASE_URL", "mysql://root@localhost/x", "sqlite+aiosqlite"),
        ("BOT_TOKEN", "not-a-token", "<bot id>:<secret>"),
        ("DEFAULT_LOCALE", "fr", "not one of en, zh_Hans, zh_Hant"),
        ("POLICY_FILE", "/nonexistent/policy.toml", "does not exist"),
    ],
)
def test_bad_setting_exits_2_with_one_line(
    name: str, value: str, says: str, app_env: dict[str, str]
) -> None:
    env = app_env | {name: value}
    result = run_regulars(env, "run")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"invalid setting {name}:"), lines[0]
    assert says in lines[0]


def test_live_mode_requires_a_secret(app_env: dict[str, str]) -> None:
    env = app_env | {"BOT_TOKEN": "123456:ABCdef"}
    result = run_regulars(env, "run")
    assert result.returncode == 2
    assert result.stderr.strip().startswith("invalid setting SECRET_KEY: is required")


def test_modes_follow_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("BOT_TOKEN", "WEBHOOK_URL", "SECRET_KEY"):
        monkeypatch.delenv(var, raising=False)
    assert load_settings().mode is RunMode.SANDBOX
    secret = "s" * 40
    assert load_settings(bot_token="1:x", secret_key=secret).mode is RunMode.POLLING
    webhook = load_settings(
        bot_token="1:x", secret_key=secret, webhook_url="https://example.com/hook"
    )
    assert webhook.mode is RunMode.WEBHOOK
    with pytest.raises(ConfigError, match="invalid setting WEBHOOK_URL: needs BOT_TOKEN"):
        load_settings(webhook_url="https://example.com/hook")


def test_owner_ids_are_read_from_a_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OWNER_IDS", "11, 22;33")
    assert load_settings().owner_ids == (11, 22, 33)


def test_sandbox_secret_is_created_once_and_kept(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, secret_key=None)
    first = ensure_sandbox_secret(settings)
    second = ensure_sandbox_secret(load_settings(data_dir=tmp_path, secret_key=None))
    assert first.secret() == second.secret()
    assert len(first.secret()) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
