"""The POS API against replay and sloppy requests (issue 19, finding 7).

A key made with timestamps (`regulars pos key`: it starts with "rts1_") requires
`X-Regulars-Timestamp`, covered by the signature and within 5 minutes of the server's clock, so
a request seen once cannot be sent again later. An older key works as before, and a timestamp
it sends is covered too. A body that is not declared JSON is 415; a JSON object that repeats a
key is 422 (which of the two values would count?)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import func, select

from api.pos import sign_body, sign_request
from bot.config import load_settings
from bot.http import add_app_routes
from bot.pos_keys import new_pos_key
from bot.services import Services
from loyalty.clock import MovableClock
from models.tables import Payment
from tests.conftest import TEST_SECRET, free_port

PAYMENTS = "/api/v1/payments"
GOOD = {"pos_txn_id": "T-1", "store_id": 1, "amount": "86.50", "currency": "USD"}
TIMED_KEY = new_pos_key()
OLD_KEY = "legacy-pos-secret-0123456789"


@asynccontextmanager
async def pos_server(
    tmp_path: Path, database_url: str, key: str
) -> AsyncIterator[tuple[str, MovableClock, Services]]:
    settings = load_settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_key=TEST_SECRET,
        bot_token="123456:live-token",
        pos_api_secret=key,
    )
    clock = MovableClock()
    services = await Services.start(settings, clock)
    app = web.Application()
    add_app_routes(app, services, settings.mode, bot_username="RegularsLiveBot")
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}", clock, services
    finally:
        await runner.cleanup()
        await services.close()


async def send(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{url}{PAYMENTS}", data=body, headers=headers) as response,
    ):
        return response.status, await response.json()


def timed(key: str, body: bytes, at: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Regulars-Timestamp": str(at),
        "X-Regulars-Signature": sign_request(key.encode(), body, timestamp=at),
    }


async def payments(services: Services) -> int:
    async with services.session_factory() as session:
        return int(await session.scalar(select(func.count()).select_from(Payment)) or 0)


async def test_a_timestamped_key_refuses_replays_and_unstamped_requests(
    tmp_path: Path, database_url: str
) -> None:
    async with pos_server(tmp_path, database_url, TIMED_KEY) as (url, clock, services):
        body = json.dumps(GOOD).encode()
        now = int(clock.now().timestamp())
        # without a timestamp, even correctly signed: refused
        status, answer = await send(
            url,
            body,
            {
                "Content-Type": "application/json",
                "X-Regulars-Signature": sign_body(TIMED_KEY.encode(), body),
            },
        )
        assert (status, answer["error"]) == (401, "unauthorized")
        assert "X-Regulars-Timestamp" in answer["detail"]
        # the timestamp is covered: changing it breaks the signature
        headers = timed(TIMED_KEY, body, now)
        headers["X-Regulars-Timestamp"] = str(now + 1)
        assert (await send(url, body, headers))[0] == 401
        assert await payments(services) == 0

        first = timed(TIMED_KEY, body, now)
        status, answer = await send(url, body, first)
        assert status == 201
        assert (await send(url, body, first))[0] == 200  # a quick retry: the same receipt
        clock.advance(timedelta(minutes=6))
        status, replayed = await send(url, body, first)  # the same request, seen and sent later
        assert (status, replayed["error"]) == (401, "unauthorized")
        assert "minutes from the server's clock" in replayed["detail"]
        future = int(clock.now().timestamp()) + 6 * 60
        assert (await send(url, body, timed(TIMED_KEY, body, future)))[0] == 401
        assert await payments(services) == 1


async def test_an_older_key_still_works_and_its_timestamps_are_covered(
    tmp_path: Path, database_url: str
) -> None:
    async with pos_server(tmp_path, database_url, OLD_KEY) as (url, clock, services):
        body = json.dumps(GOOD).encode()
        plain = {
            "Content-Type": "application/json",
            "X-Regulars-Signature": sign_body(OLD_KEY.encode(), body),
        }
        assert (await send(url, body, plain))[0] == 201
        now = int(clock.now().timestamp())
        stamped = timed(OLD_KEY, body, now)
        assert (await send(url, body, stamped))[0] == 200
        stamped["X-Regulars-Timestamp"] = str(now - 3600)  # an hour old, or tampered
        assert (await send(url, body, stamped))[0] == 401
        assert await payments(services) == 1


async def test_non_json_content_types_are_415_and_repeated_keys_422(
    tmp_path: Path, database_url: str
) -> None:
    async with pos_server(tmp_path, database_url, TIMED_KEY) as (url, clock, services):
        now = int(clock.now().timestamp())
        body = json.dumps(GOOD).encode()
        for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
            headers = timed(TIMED_KEY, body, now)
            if content_type is None:
                del headers["Content-Type"]
            else:
                headers["Content-Type"] = content_type
            status, answer = await send(url, body, headers)
            assert (status, answer["error"]) == (415, "unsupported_media_type"), content_type
        repeated = (
            b'{"pos_txn_id": "T-2", "store_id": 1, "amount": "1.00", "amount": "900.00", '
            b'"currency": "USD"}'
        )
        status, answer = await send(url, repeated, timed(TIMED_KEY, repeated, now))
        assert (status, answer["error"], answer["field"]) == (422, "invalid", "body")
        assert "amount" in answer["detail"]
        assert await payments(services) == 0
        headers = timed(TIMED_KEY, body, now)
        headers["Content-Type"] = "application/json; charset=utf-8"
        assert (await send(url, body, headers))[0] == 201
