"""The fuzzing harness, POS side (issue 19): random bodies and headers against the real HTTP
API. Whatever arrives, the answer is one of the documented statuses with a JSON error body
(never a 500), and a payment is written only by a 201."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final

import aiohttp
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from api.pos import sign_request
from bot.services import Services
from loyalty.clock import MovableClock
from tests.app.test_pos_replay import TIMED_KEY, payments, pos_server

DOCUMENTED: Final = {200, 201, 401, 409, 413, 415, 422}
KEYS: Final = ("pos_txn_id", "store_id", "amount", "currency")
GOOD: Final[dict[str, Any]] = {
    "pos_txn_id": "T-1",
    "store_id": 1,
    "amount": "86.50",
    "currency": "USD",
}


@pytest.fixture
async def server(
    tmp_path: Path, database_url: str
) -> AsyncIterator[tuple[str, MovableClock, Services]]:
    async with pos_server(tmp_path, database_url, TIMED_KEY) as running:
        yield running


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(["86.50", "0", "-1", "1e3", "86,50", "９", "USD", "usd", "T-1", "1"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["fields", "fields", "fields", "object", "raw", "repeated"]))
    if kind == "raw":
        return draw(st.binary(max_size=200))
    if kind == "object":
        return json.dumps(draw(json_values)).encode()
    body = dict(GOOD)
    body["pos_txn_id"] = draw(st.sampled_from(["T-1", "T-2"]) | st.uuids().map(str))
    for key in draw(st.lists(st.sampled_from([*KEYS, "extra"]), max_size=3)):
        if draw(st.booleans()):
            body.pop(key, None)
        else:
            body[key] = draw(json_values)
    text = json.dumps(body)
    if kind == "repeated":
        key = draw(st.sampled_from(KEYS))
        text = text[:-1] + f', "{key}": {json.dumps(draw(json_values))}' + "}"
    return text.encode()


@st.composite
def headers(draw: st.DrawFn, body: bytes, now: int) -> dict[str, str]:
    out: dict[str, str] = {}
    content_type = draw(
        st.sampled_from(
            [
                "application/json",
                "application/json",
                "application/json; charset=utf-8",
                "application/json; charset=latin-1",
                "APPLICATION/JSON",
                "text/plain",
                "multipart/form-data; boundary=x",
                "",
                None,
            ]
        )
    )
    if content_type is not None:
        out["Content-Type"] = content_type
    stamp = draw(
        st.sampled_from([now, now, now - 299, now + 299, now - 301, now + 301, None, "x", "-5"])
        | st.integers(-(10**15), 10**15)
    )
    if stamp is not None:
        out["X-Regulars-Timestamp"] = str(stamp)
    signed_at = stamp if isinstance(stamp, int) and stamp >= 0 else None
    signature = draw(st.sampled_from(["right", "right", "right", "body only", "none", "junk"]))
    if signature == "right":
        out["X-Regulars-Signature"] = sign_request(TIMED_KEY.encode(), body, timestamp=signed_at)
    elif signature == "body only":
        out["X-Regulars-Signature"] = sign_request(TIMED_KEY.encode(), body, timestamp=None)
    elif signature == "junk":
        out["X-Regulars-Signature"] = draw(
            st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80)
        )
    return out


@settings(
    max_examples=int(os.environ.get("REGULARS_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_any_pos_request(
    server: tuple[str, MovableClock, Services],
    data: st.DataObject,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, clock, services = server
    body = data.draw(bodies(), label="body")
    sent = data.draw(headers(body, int(clock.now().timestamp())), label="headers")
    before = await payments(services)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{url}/api/v1/payments", data=body, headers=sent) as response,
        ):
            status = response.status
            answer = await response.json(content_type=None)
    event(str(status))
    what = (body, sent, status, answer)
    assert status in DOCUMENTED, what
    assert ("error" in answer) == (status >= 400), what
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], what
    assert await payments(services) == before + (1 if status == 201 else 0), what
