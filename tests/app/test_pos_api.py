"""The POS HTTP API over real HTTP: the in-process sandbox serves it (tests/app/conftest.py)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import func, select

from api.pos import MAX_BODY_BYTES, qr_url_sig, sign_body
from bot.config import RunMode, Settings, load_settings
from bot.http import add_app_routes
from bot.sandbox_run import SandboxRun, sandbox
from bot.services import Services
from loyalty.clock import MovableClock
from loyalty.payments import Channel, Payer, StoreRef, claim_receipt
from loyalty.qr import ReceiptPayload
from models.tables import Payment
from sandbox.client import SandboxClient
from tests.conftest import TEST_SECRET
from ui.images import SANDBOX_BOT_USERNAME, qr_png

PAYMENTS = "/api/v1/payments"
GOOD = {"pos_txn_id": "T-1042", "store_id": 1, "amount": "86.50", "currency": "USD"}


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def pos_secret(run: SandboxRun) -> bytes:
    secret = run.services.settings.effective_pos_secret()
    assert secret is not None
    return secret


def encode(payload: Any) -> bytes:
    return payload if isinstance(payload, bytes) else json.dumps(payload).encode()


async def post(
    http: aiohttp.ClientSession,
    base_url: str,
    secret: bytes | None,
    payload: Any,
    *,
    signature: str | None = None,
) -> tuple[int, bytes]:
    body = encode(payload)
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Regulars-Signature"] = signature
    elif secret is not None:
        headers["X-Regulars-Signature"] = sign_body(secret, body)
    async with http.post(f"{base_url}{PAYMENTS}", data=body, headers=headers) as response:
        return response.status, await response.read()


async def pay(http: aiohttp.ClientSession, run: SandboxRun, payload: Any) -> tuple[int, Any]:
    status, raw = await post(http, run.url, pos_secret(run), payload)
    return status, json.loads(raw)


async def payment_rows(run: SandboxRun) -> list[Payment]:
    async with run.services.session_factory() as session:
        return list((await session.execute(select(Payment))).scalars())


async def count_payments(run: SandboxRun) -> int:
    async with run.services.session_factory() as session:
        return int(await session.scalar(select(func.count()).select_from(Payment)) or 0)


def start_param(claim_url: str) -> str:
    parts = urlsplit(claim_url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "t.me", f"/{SANDBOX_BOT_USERNAME}")
    (value,) = parse_qs(parts.query)["start"]
    return value


# -- creating a payment -------------------------------------------------------------------


async def test_new_payment_then_the_same_call_again(
    run: SandboxRun, http: aiohttp.ClientSession
) -> None:
    secret = pos_secret(run)
    first_status, first = await post(http, run.url, secret, GOOD)
    assert first_status == 201, first
    body = json.loads(first)
    assert list(body) == ["payment_id", "claim_url", "claim_qr_png_url"]
    assert isinstance(body["payment_id"], int)
    assert body["claim_url"].startswith(f"https://t.me/{SANDBOX_BOT_USERNAME}?start=")
    assert body["claim_qr_png_url"] == (
        f"{run.url}/api/v1/payments/{body['payment_id']}/qr.png"
        f"?sig={qr_url_sig(secret, body['payment_id'])}"
    )

    again_status, again = await post(http, run.url, secret, GOOD)
    assert again_status == 200
    assert again == first  # byte for byte

    (row,) = await payment_rows(run)
    assert row.id == body["payment_id"]
    assert (row.source, row.external_id, row.store_id) == ("pos", "T-1042", 1)
    assert (row.amount, row.currency, row.status) == (Decimal("86.50"), "USD", "awaiting_claim")
    assert row.member_id is None
    ttl = run.services.policy.payments.receipt_claim_ttl_minutes
    assert row.claim_expires_at is not None
    assert row.claim_expires_at - row.created_at == timedelta(minutes=ttl)


async def test_claim_url_carries_a_signed_receipt_payload(
    run: SandboxRun, http: aiohttp.ClientSession
) -> None:
    status, body = await pay(http, run, GOOD)
    assert status == 201
    payload = run.services.signer.verify(
        start_param(body["claim_url"]), now=run.services.clock.now()
    )
    (row,) = await payment_rows(run)
    assert row.claim_expires_at is not None
    assert payload == ReceiptPayload(
        payment_id=body["payment_id"],
        expires_at=row.claim_expires_at.replace(second=0, microsecond=0),
    )


async def test_ten_identical_calls_at_once_record_one_payment(
    run: SandboxRun, http: aiohttp.ClientSession
) -> None:
    secret = pos_secret(run)
    payload = GOOD | {"pos_txn_id": "rush-hour-7"}
    results = await asyncio.gather(*(post(http, run.url, secret, payload) for _ in range(10)))
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] * 9 + [201], results
    assert len({raw for _, raw in results}) == 1  # every answer is the same body
    assert await count_payments(run) == 1


async def test_different_transactions_are_different_payments(
    run: SandboxRun, http: aiohttp.ClientSession
) -> None:
    one = await pay(http, run, GOOD)
    two = await pay(http, run, GOOD | {"pos_txn_id": "T-1043"})
    assert one[0] == two[0] == 201
    assert one[1]["payment_id"] != two[1]["payment_id"]
    assert await count_payments(run) == 2


async def test_same_transaction_with_other_details_is_a_conflict(
    run: SandboxRun, http: aiohttp.ClientSession
) -> None:
    assert (await pay(http, run, GOOD))[0] == 201
    status, body = await pay(http, run, GOOD | {"amount": "86.51"})
    assert status == 409
    assert body["error"] == "conflict"
    assert body["field"] == "pos_txn_id"
    # the same amount written differently is the same call
    status, _ = await pay(http, run, GOOD | {"amount": 86.5})
    assert status == 200
    assert await count_payments(run) == 1


@pytest.mark.parametrize(
    ("amount", "stored"),
    [
        ("86.50", Decimal("86.50")),
        ("86.5", Decimal("86.50")),
        ("86", Decimal("86.00")),
        (86, Decimal("86.00")),
        ("0.01", Decimal("0.01")),
        ("10000", Decimal("10000.00")),
    ],
)
async def test_amount_as_string_or_number(
    run: SandboxRun, http: aiohttp.ClientSession, amount: Any, stored: Decimal
) -> None:
    status, body = await pay(http, run, GOOD | {"amount": amount})
    assert status == 201, body
    (row,) = await payment_rows(run)
    assert row.amount == stored


async def test_number_amounts_are_read_from_the_raw_text_not_a_float(
    run: SandboxRun, http: aiohttp.ClientSession
) -> None:
    # 0.1 + 0.2 style trouble: as a float 9999.99 is 9999.98999...; as text it is exact.
    raw = b'{"pos_txn_id": "T-float", "store_id": 1, "amount": 9999.99, "currency": "USD"}'
    status, answer = await post(http, run.url, pos_secret(run), raw)
    assert status == 201, answer
    (row,) = await payment_rows(run)
    assert row.amount == Decimal("9999.99")


# -- refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case",
    ["missing", "empty", "other secret", "other body", "not hex", "no prefix", "sha1"],
)
async def test_a_call_without_a_valid_signature_is_refused(
    run: SandboxRun, http: aiohttp.ClientSession, case: str
) -> None:
    body = encode(GOOD)
    secret = pos_secret(run)
    signature = {
        "missing": None,
        "empty": "",
        "other secret": sign_body(b"not-the-pos-secret", body),
        "other body": sign_body(secret, encode(GOOD | {"amount": "1.00"})),
        "not hex": "sha256=" + "zz" * 32,
        "no prefix": sign_body(secret, body).removeprefix("sha256="),
        "sha1": "sha1=" + hmac.new(secret, body, hashlib.sha1).hexdigest(),
    }[case]
    headers = {} if signature is None else {"X-Regulars-Signature": signature}
    async with http.post(f"{run.url}{PAYMENTS}", data=body, headers=headers) as response:
        assert response.status == 401
        answer = await response.json()
    assert answer["error"] == "unauthorized"
    assert "X-Regulars-Signature" in answer["detail"]
    assert await count_payments(run) == 0


async def test_signature_hex_may_be_upper_case(
    run: SandboxRun, http: aiohttp.ClientSession
) -> None:
    body = encode(GOOD)
    signature = "sha256=" + sign_body(pos_secret(run), body).removeprefix("sha256=").upper()
    status, _ = await post(http, run.url, None, body, signature=signature)
    assert status == 201


async def test_the_signature_is_checked_before_the_body_is_read_as_json(
    run: SandboxRun, http: aiohttp.ClientSession
) -> None:
    status, answer = await post(http, run.url, None, b"{not json", signature="sha256=00")
    assert status == 401  # not 422: an unsigned caller learns nothing about the body
    status, answer = await post(http, run.url, pos_secret(run), b"{not json")
    assert status == 422
    assert json.loads(answer)["field"] == "body"


LONG_ID = "x" * 129


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"pos_txn_id": None}, "pos_txn_id"),
        ({"pos_txn_id": ""}, "pos_txn_id"),
        ({"pos_txn_id": LONG_ID}, "pos_txn_id"),
        ({"pos_txn_id": "T-10\n42"}, "pos_txn_id"),
        ({"pos_txn_id": "收据-1"}, "pos_txn_id"),
        ({"pos_txn_id": 1042}, "pos_txn_id"),
        ({"store_id": None}, "store_id"),
        ({"store_id": "one"}, "store_id"),
        ({"store_id": 1.5}, "store_id"),
        ({"store_id": True}, "store_id"),
        ({"store_id": 0}, "store_id"),
        ({"store_id": 999}, "store_id"),
        ({"store_id": 2**40}, "store_id"),
        ({"amount": None}, "amount"),
        ({"amount": ""}, "amount"),
        ({"amount": "86,50"}, "amount"),
        ({"amount": "1,234.50"}, "amount"),
        ({"amount": " 86.50"}, "amount"),
        ({"amount": "$86.50"}, "amount"),
        ({"amount": "+86.50"}, "amount"),
        ({"amount": "-86.50"}, "amount"),
        ({"amount": -86.5}, "amount"),
        ({"amount": "0"}, "amount"),
        ({"amount": 0}, "amount"),
        ({"amount": "0.00"}, "amount"),
        ({"amount": "86.505"}, "amount"),
        ({"amount": 86.505}, "amount"),
        ({"amount": "86.500"}, "amount"),
        ({"amount": "1e3"}, "amount"),
        ({"amount": "NaN"}, "amount"),
        ({"amount": "Infinity"}, "amount"),
        ({"amount": "８６.５０"}, "amount"),
        ({"amount": True}, "amount"),
        ({"amount": ["86.50"]}, "amount"),
        ({"amount": "10000.01"}, "amount"),
        ({"amount": "1" + "0" * 30}, "amount"),
        ({"currency": None}, "currency"),
        ({"currency": "EUR"}, "currency"),
        ({"currency": "usd"}, "currency"),
        ({"currency": "US"}, "currency"),
        ({"currency": 840}, "currency"),
    ],
)
async def test_each_invalid_field_is_named_and_nothing_is_written(
    run: SandboxRun, http: aiohttp.ClientSession, change: dict[str, Any], field: str
) -> None:
    payload = {k: v for k, v in (GOOD | change).items() if v is not None}
    status, body = await pay(http, run, payload)
    assert status == 422, body
    assert body["error"] == "invalid"
    assert body["field"] == field
    assert body["detail"]
    assert await count_payments(run) == 0


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b'"a string"',
        b"\xff\xfe\x00garbage",
        b'{"pos_txn_id": "T-1", "store_id": 1, "amount": NaN, "currency": "USD"}',
        b'{"pos_txn_id": "T-1", "store_id": 1, "amount": 1' + b"0" * 5000 + b', "currency": "USD"}',
    ],
)
async def test_a_body_that_is_not_a_json_object_is_refused(
    run: SandboxRun, http: aiohttp.ClientSession, raw: bytes
) -> None:
    status, answer = await post(http, run.url, pos_secret(run), raw)
    assert status == 422, answer
    body = json.loads(answer)
    assert (body["error"], body["field"]) == ("invalid", "body")
    assert await count_payments(run) == 0


async def test_a_json_number_amount_with_a_comma_cannot_even_be_sent(
    run: SandboxRun, http: aiohttp.ClientSession
) -> None:
    # "86,50" as a JSON number is not JSON at all: the body is refused as a whole.
    raw = b'{"pos_txn_id": "T-1", "store_id": 1, "amount": 86,50, "currency": "USD"}'
    status, answer = await post(http, run.url, pos_secret(run), raw)
    assert status == 422
    assert json.loads(answer)["field"] == "body"


async def test_an_oversized_body_is_refused(run: SandboxRun, http: aiohttp.ClientSession) -> None:
    payload = GOOD | {"note": "x" * MAX_BODY_BYTES}
    status, answer = await post(http, run.url, pos_secret(run), payload)
    assert status == 413
    assert json.loads(answer)["error"] == "too_large"
    assert await count_payments(run) == 0


async def test_unknown_fields_are_ignored(run: SandboxRun, http: aiohttp.ClientSession) -> None:
    status, _ = await pay(http, run, GOOD | {"cashier": "Ann", "table": 4})
    assert status == 201


async def test_store_id_may_be_a_string_of_digits(
    run: SandboxRun, http: aiohttp.ClientSession
) -> None:
    status, _ = await pay(http, run, GOOD | {"store_id": "1"})
    assert status == 201


async def test_calls_are_logged_without_secrets(
    run: SandboxRun, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="api.pos")
    secret = pos_secret(run)
    signature = sign_body(secret, encode(GOOD))
    await pay(http, run, GOOD)
    await post(http, run.url, None, GOOD, signature="sha256=" + "0" * 64)
    text = caplog.text
    assert "T-1042" in text
    assert "refused" in text
    assert secret.decode() not in text
    assert signature.removeprefix("sha256=") not in text


# -- the QR image -------------------------------------------------------------------------


async def test_the_qr_png_url_serves_the_claim_qr(
    run: SandboxRun, http: aiohttp.ClientSession
) -> None:
    _, body = await pay(http, run, GOOD)
    async with http.get(body["claim_qr_png_url"]) as response:
        assert response.status == 200
        assert response.content_type == "image/png"
        png = await response.read()
    assert png == qr_png(body["claim_url"])


@pytest.mark.parametrize("case", ["missing", "wrong", "another payment's"])
async def test_the_qr_png_needs_its_signature(
    run: SandboxRun, http: aiohttp.ClientSession, case: str
) -> None:
    _, body = await pay(http, run, GOOD)
    _, other = await pay(http, run, GOOD | {"pos_txn_id": "T-other"})
    base = body["claim_qr_png_url"].partition("?")[0]
    url = {
        "missing": base,
        "wrong": f"{base}?sig={'0' * 32}",
        "another payment's": f"{base}?{urlsplit(other['claim_qr_png_url']).query}",
    }[case]
    async with http.get(url) as response:
        assert response.status == 401
        assert (await response.json())["error"] == "unauthorized"


async def test_the_qr_png_of_an_unknown_payment_is_not_found(
    run: SandboxRun, http: aiohttp.ClientSession
) -> None:
    sig = qr_url_sig(pos_secret(run), 4242)
    async with http.get(f"{run.url}/api/v1/payments/4242/qr.png?sig={sig}") as response:
        assert response.status == 404
        assert (await response.json())["error"] == "not_found"


async def test_the_qr_png_is_gone_once_the_claim_expired(
    run: SandboxRun, http: aiohttp.ClientSession, client: SandboxClient
) -> None:
    _, body = await pay(http, run, GOOD)
    await client.advance_clock(7201)  # the default claim lives 120 minutes
    async with http.get(body["claim_qr_png_url"]) as response:
        assert response.status == 410
        assert (await response.json())["error"] == "gone"
    # a retry of the original call still gets its answer, and still records nothing new
    status, again = await pay(http, run, GOOD)
    assert (status, again) == (200, body)
    assert await count_payments(run) == 1


async def test_the_qr_png_is_gone_once_the_receipt_was_claimed(
    run: SandboxRun, http: aiohttp.ClientSession
) -> None:
    _, body = await pay(http, run, GOOD)
    services = run.services
    async with services.session_factory() as session, session.begin():
        outcome = await claim_receipt(
            session,
            payment_id=body["payment_id"],
            store=StoreRef(services.store.id, services.store.timezone),
            payer=Payer(telegram_id=1_000_101, first_name="Dana", channel=Channel.RECEIPT_CLAIM),
            policy=services.policy,
            now=services.clock.now(),
        )
    assert outcome.enrolled
    async with http.get(body["claim_qr_png_url"]) as response:
        assert response.status == 410


# -- configuration ------------------------------------------------------------------------


async def test_public_base_url_makes_the_qr_png_url(
    sandbox_settings: Settings, http: aiohttp.ClientSession
) -> None:
    settings = sandbox_settings.model_copy(update={"public_base_url": "https://pos.example.com"})
    async with sandbox(settings, port=0) as running:
        status, body = await pay(http, running, GOOD)
    assert status == 201
    assert body["claim_qr_png_url"].startswith(
        f"https://pos.example.com/api/v1/payments/{body['payment_id']}/qr.png?sig="
    )


def test_the_sandbox_pos_secret_is_derived_from_the_secret_key(tmp_path: Path) -> None:
    settings = load_settings(_env_file=None, data_dir=tmp_path, secret_key=TEST_SECRET)
    expected = hmac.new(TEST_SECRET.encode(), b"pos-api", hashlib.sha256).hexdigest()
    assert settings.effective_pos_secret() == expected.encode()
    explicit = load_settings(
        _env_file=None, data_dir=tmp_path, secret_key=TEST_SECRET, pos_api_secret="pos-secret-1"
    )
    assert explicit.effective_pos_secret() == b"pos-secret-1"
    live = load_settings(
        _env_file=None, data_dir=tmp_path, secret_key=TEST_SECRET, bot_token="123:abc"
    )
    assert live.mode is RunMode.POLLING
    assert live.effective_pos_secret() is None


@asynccontextmanager
async def live_http(settings: Settings) -> AsyncIterator[str]:
    """The app's HTTP side as a live mode builds it (no emulator, no bot): its base URL."""
    assert settings.mode is not RunMode.SANDBOX
    services = await Services.start(settings, MovableClock())
    app = web.Application()
    add_app_routes(app, services, settings.mode, bot_username="RegularsLiveBot")
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    try:
        await site.start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
        await services.close()


def live_settings(tmp_path: Path, database_url: str, **extra: Any) -> Settings:
    return load_settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_key=TEST_SECRET,
        bot_token="123456:live-token",
        **extra,
    )


async def test_a_live_mode_without_pos_secret_answers_503(
    tmp_path: Path, database_url: str, http: aiohttp.ClientSession
) -> None:
    settings = live_settings(tmp_path, database_url)
    sandbox_like = hmac.new(settings.secret(), b"pos-api", hashlib.sha256).hexdigest().encode()
    async with live_http(settings) as url:
        status, raw = await post(http, url, sandbox_like, GOOD)
        assert status == 503
        body = json.loads(raw)
        assert body["error"] == "not_configured"
        assert "POS_API_SECRET is not configured" in body["detail"]
        async with http.get(f"{url}/api/v1/payments/1/qr.png?sig=00") as response:
            assert response.status == 503


async def test_a_live_mode_with_pos_secret_takes_payments(
    tmp_path: Path, database_url: str, http: aiohttp.ClientSession
) -> None:
    settings = live_settings(tmp_path, database_url, pos_api_secret="live-pos-secret-42")
    async with live_http(settings) as url:
        status, raw = await post(http, url, b"live-pos-secret-42", GOOD)
        assert status == 201, raw
        body = json.loads(raw)
        assert body["claim_url"].startswith("https://t.me/RegularsLiveBot?start=")
        assert body["claim_qr_png_url"].startswith(f"{url}/api/v1/payments/")
        async with http.get(body["claim_qr_png_url"]) as response:
            assert response.status == 200
            assert await response.read() == qr_png(body["claim_url"])
