"""Settings from the environment and `.env` (pydantic-settings).

An invalid value ends start-up with one line naming the setting (exit code 2): see
:func:`load_settings`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.numbers import get_currency_name
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from loyalty.policy import DEFAULT_PRESET, PolicyError, load_policy
from models.files import create_secret_file
from ui.locales import SUPPORTED_LOCALES

DEFAULT_TELEGRAM_API_URL = "https://api.telegram.org"
SECRET_FILE_NAME = "secret_key"
MIN_SECRET_LENGTH = 32
SANDBOX_PROVIDER_TOKEN = "sandbox-provider-token"  # the emulator accepts any provider token


class RunMode(StrEnum):
    SANDBOX = "sandbox"
    POLLING = "polling"
    WEBHOOK = "webhook"


class ConfigError(Exception):
    """A setting is invalid; the message is one line naming it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    bot_token: SecretStr | None = None
    telegram_api_url: str = DEFAULT_TELEGRAM_API_URL
    webhook_url: str | None = None
    http_host: str = "0.0.0.0"
    http_port: int = Field(default=8080, ge=1, le=65535)
    data_dir: Path = Path("var")
    database_url: str | None = None
    redis_url: str | None = None
    # validated even when unset: the default preset must load too (a broken install is exit 2)
    policy_file: Path | None = Field(default=None, validate_default=True)
    owner_ids: Annotated[tuple[int, ...], NoDecode] = ()
    store_name: str = Field(default="Regulars Bistro", min_length=1, max_length=64)
    store_timezone: str = "UTC"
    store_currency: str = "USD"
    default_locale: str = "en"
    secret_key: SecretStr | None = None
    payment_provider_token: SecretStr | None = None
    pos_api_secret: SecretStr | None = None
    public_base_url: str | None = None  # how a POS reaches this server (absolute URLs)
    sandbox_host: str = "127.0.0.1"
    sandbox_port: int = Field(default=8080, ge=1, le=65535)
    sandbox_public: bool = False
    """Listen on SANDBOX_HOST even when it is not loopback (bot/exposure.py)."""
    log_level: str = "INFO"
    outbox_rate: int = Field(default=25, ge=1, le=1000)
    """Messages a second for everything the bot sends (Telegram allows about 30 without paid
    broadcasts); above 30 needs PAID_BROADCAST."""
    outbox_lease_seconds: int = Field(default=60, ge=1, le=3600)
    """How long a delivery worker holds the messages it claimed; after a crash they are sent by
    another worker (or after a restart) once this has passed."""
    paid_broadcast: bool = False
    """Send campaigns with allow_paid_broadcast (Telegram Stars for each message beyond 30/s)."""

    @model_validator(mode="after")
    def _rate_within_telegram(self) -> Settings:
        if self.outbox_rate > 30 and not self.paid_broadcast:
            raise ValueError(
                "OUTBOX_RATE above 30 messages a second needs PAID_BROADCAST=true "
                "(Telegram's allow_paid_broadcast)"
            )
        return self

    @field_validator(
        "bot_token",
        "secret_key",
        "webhook_url",
        "redis_url",
        "payment_provider_token",
        "pos_api_secret",
        "public_base_url",
        mode="before",
    )
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("policy_file", "database_url", mode="before")
    @classmethod
    def _blank_path_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        bot_id, sep, rest = value.get_secret_value().partition(":")
        if not sep or not bot_id.isdigit() or not rest:
            raise ValueError("expected the form <bot id>:<secret> given by @BotFather")
        return value

    @field_validator("telegram_api_url", "webhook_url", "public_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")) or len(value) < 10:
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")

    @field_validator("owner_ids", mode="before")
    @classmethod
    def _parse_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = [p.strip() for p in value.replace(";", ",").split(",") if p.strip()]
            ids = []
            for part in parts:
                if not part.lstrip("-").isdigit():
                    raise ValueError(f"{part!r} is not a Telegram user id (digits only)")
                ids.append(int(part))
            return tuple(ids)
        return value

    @field_validator("store_timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a known time zone (e.g. Asia/Shanghai)") from None
        return value

    @field_validator("store_currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        code = value.strip().upper()
        if len(code) != 3 or not code.isalpha() or get_currency_name(code, locale="en") == code:
            raise ValueError(f"{value!r} is not an ISO 4217 currency code (e.g. CNY, USD)")
        return code

    @field_validator("default_locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        if value not in SUPPORTED_LOCALES:
            raise ValueError(f"{value!r} is not one of {', '.join(SUPPORTED_LOCALES)}")
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"{value!r} is not a log level (DEBUG, INFO, WARNING, ERROR)")
        return level

    @field_validator("policy_file")
    @classmethod
    def _policy(cls, value: Path | None) -> Path | None:
        try:
            load_policy(value)
        except PolicyError as exc:
            if value is None:
                why = f"unset, and the default preset {DEFAULT_PRESET!r} cannot be loaded: {exc}"
                raise ValueError(why) from None
            raise ValueError(str(exc)) from None
        return value

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "use sqlite+aiosqlite:///path.sqlite3 or postgresql+asyncpg://user@host/db"
            )
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"{value!r} is not a redis:// URL")
        return value

    @model_validator(mode="after")
    def _secret_when_live(self) -> Settings:
        if self.secret_key is not None and len(self.secret_key) < MIN_SECRET_LENGTH:
            raise _named("secret_key", f"must be at least {MIN_SECRET_LENGTH} characters")
        if self.mode is not RunMode.SANDBOX and self.secret_key is None:
            raise _named(
                "secret_key",
                "is required when BOT_TOKEN is set "
                '(generate one: python -c "import secrets; print(secrets.token_urlsafe(48))")',
            )
        if self.webhook_url is not None and self.bot_token is None:
            raise _named("webhook_url", "needs BOT_TOKEN as well")
        return self

    # -- derived values -------------------------------------------------------------------

    @property
    def mode(self) -> RunMode:
        if self.bot_token is None:
            return RunMode.SANDBOX
        if self.webhook_url is not None:
            return RunMode.WEBHOOK
        return RunMode.POLLING

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'regulars.sqlite3').resolve()}"

    def secret(self) -> bytes:
        if self.secret_key is None:
            raise ConfigError("SECRET_KEY: not loaded (call ensure_sandbox_secret first)")
        return self.secret_key.get_secret_value().encode()

    def effective_payment_token(self) -> str | None:
        """The Telegram Payments provider token for invoices in the chat: PAYMENT_PROVIDER_TOKEN;
        in a sandbox run without it, a test token (the emulator accepts any provider); else None
        (diners are sent to the counter)."""
        if self.payment_provider_token is not None:
            return self.payment_provider_token.get_secret_value()
        if self.bot_token is None:
            return SANDBOX_PROVIDER_TOKEN
        return None

    def effective_pos_secret(self) -> bytes | None:
        """The key POS requests are signed with: POS_API_SECRET; in a sandbox run without it, a
        stable value derived from SECRET_KEY (hex of HMAC(SECRET_KEY, "pos-api")); else None
        (the POS API then answers 503)."""
        if self.pos_api_secret is not None:
            return self.pos_api_secret.get_secret_value().encode()
        if self.mode is RunMode.SANDBOX and self.secret_key is not None:
            return hmac.new(self.secret(), b"pos-api", hashlib.sha256).hexdigest().encode()
        return None


class _NamedError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _named(field: str, message: str) -> _NamedError:
    return _NamedError(field, message)


def _format_error(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    field = str(error["loc"][0]) if error["loc"] else ""
    message = str(error["msg"])
    ctx = error.get("ctx") or {}
    original = ctx.get("error")
    if isinstance(original, _NamedError):
        field = original.field
        message = str(original)
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    value = error.get("input")
    if field and error["type"] in {"int_parsing", "less_than_equal", "greater_than_equal"}:
        message = f"{value!r}: {message}"
    return (
        f"invalid setting {field.upper()}: {message}" if field else f"invalid settings: {message}"
    )


def load_settings(**overrides: Any) -> Settings:
    """Read the settings; raise :class:`ConfigError` with one clear line when one is invalid."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_format_error(exc)) from None


def ensure_sandbox_secret(settings: Settings) -> Settings:
    """In a sandbox run, create the secret once and keep it in DATA_DIR so QR codes stay valid."""
    if settings.secret_key is not None:
        return settings
    path = settings.data_dir / SECRET_FILE_NAME
    if path.exists():
        key = path.read_text(encoding="utf-8").strip()
    else:  # 0600 from the first byte, written atomically (models/files.py)
        key = create_secret_file(path, secrets.token_urlsafe(48) + "\n").strip()
    if len(key) < MIN_SECRET_LENGTH:
        raise ConfigError(f"invalid setting SECRET_KEY: the key in {path} is too short")
    return settings.model_copy(update={"secret_key": SecretStr(key)})
