"""The POS HTTP API: a point-of-sale system registers a walk-in payment and gets back the
one-time receipt-claim QR the diner scans to become a member with that payment credited
(DESIGN.md §3, "Pay-is-membership", way 3).

``POST /api/v1/payments``
    Body (JSON object, at most 16 KiB)::

        {"pos_txn_id": "T-1042", "store_id": 1, "amount": "86.50", "currency": "USD"}

    Headers: ``Content-Type: application/json`` (else ``415``), ``X-Regulars-Timestamp: <Unix
    seconds>`` and ``X-Regulars-Signature: sha256=<hex HMAC-SHA256, keyed with POS_API_SECRET, of
    the timestamp, a ".", and the raw body>`` — or of the raw body alone when no timestamp is
    sent. The signature is checked (constant-time) on the raw bytes *before* the body is parsed.
    In a sandbox run without POS_API_SECRET the key is derived from SECRET_KEY (see
    :meth:`bot.config.Settings.effective_pos_secret`); in a live mode without it every call is
    answered ``503``.

    Replay: a key *created with timestamps* — one made by ``regulars pos key``, which starts with
    ``rts1_`` — requires the timestamp, and a request whose timestamp is more than 5 minutes
    from the server's clock is ``401``: a request someone saw cannot be sent again later. An
    older key (any other form) keeps working without a timestamp; when it sends one, the
    timestamp is covered and checked the same way.

    ``201 {"payment_id", "claim_url", "claim_qr_png_url"}`` for a new payment; the same
    ``pos_txn_id`` again answers ``200`` with the same body (a retried call never records a second
    payment, also when the retries arrive at the same time). The same ``pos_txn_id`` with a
    different store, amount or currency is a client bug and answers ``409``.

    Fields:

    - ``pos_txn_id``: the POS's transaction id, 1-128 characters of printable ASCII (space to
      ``~``): the idempotency key.
    - ``store_id``: a JSON integer (or a string of digits) naming a store.
    - ``amount``: a JSON string such as ``"86.50"`` or a JSON number such as ``86.50``. Numbers are
      read from the raw text as decimals, never through a float. Only ``.`` is a decimal
      separator and there are no thousands separators, signs or exponents in strings: this is a
      machine-to-machine API, so ``"86,50"`` (ambiguous: 86.50 or 8650?) is refused rather than
      guessed. The amount must be positive, written with at most the currency's decimal places
      (``"86.500"`` is refused for USD, as a person's typed amount is: loyalty/money.py) and be at
      most the policy's largest bill for the currency (``max_bill``).
    - ``currency``: the ISO 4217 code of the store's currency (upper case).

    Errors are JSON: ``401 {"error": "unauthorized", "detail"}``, ``413 {"error": "too_large",
    "detail"}``, ``415 {"error": "unsupported_media_type", "detail"}``, ``422 {"error": "invalid",
    "field", "detail"}`` (``field`` is ``"body"`` when the body is not a JSON object, or repeats a
    key), ``409 {"error": "conflict", "field": "pos_txn_id", "detail"}``,
    ``503 {"error": "not_configured", "detail"}``. Nothing is written unless the answer is 201.

``GET /api/v1/payments/{payment_id}/qr.png?sig=<hex>``
    The PNG of the claim QR code, for the POS to print. ``sig`` is a short HMAC of the payment id
    (given out in ``claim_qr_png_url``, so the URL is a capability: ids cannot be enumerated).
    ``401`` for a missing or wrong ``sig``, ``404`` for an unknown payment, ``410`` once the claim
    has expired or the receipt was claimed (or refunded).

Absolute URLs start with PUBLIC_BASE_URL when it is set, else with the origin the request came to.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, NoReturn

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loyalty.clock import Clock
from loyalty.money import currency_precision
from loyalty.payments import PaymentSource, PaymentStatus, Receipt, StoreRef, issue_receipt
from loyalty.policy import Policy
from loyalty.qr import QRSigner, ReceiptPayload, deep_link
from models import queries
from models.tables import Payment, Store
from ui.images import qr_png

log = logging.getLogger(__name__)

PAYMENTS_PATH = "/api/v1/payments"
QR_PATH = "/api/v1/payments/{payment_id}/qr.png"
SIGNATURE_HEADER = "X-Regulars-Signature"
SIGNATURE_PREFIX = "sha256="
TIMESTAMP_HEADER = "X-Regulars-Timestamp"
TIMESTAMP_TOLERANCE = timedelta(minutes=5)
TIMED_KEY_PREFIX = "rts1_"
"""A POS_API_SECRET that starts with this was created with timestamps: they are required."""
MAX_BODY_BYTES = 16 * 1024
MAX_TXN_ID_LENGTH = 128
MAX_DB_ID = 2**31 - 1  # store.id and payment.id are 32-bit integers on PostgreSQL
QR_SIG_BYTES = 16
_QR_KEY_LABEL = b"regulars-pos-qr-url-v1"

_TXN_ID = re.compile(rf"[\x20-\x7e]{{1,{MAX_TXN_ID_LENGTH}}}")
_AMOUNT_TEXT = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_DIGITS = re.compile(r"[0-9]{1,18}")
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_MAX_NUMBER_TEXT = 40


# -- signatures ---------------------------------------------------------------------------


def sign_body(secret: bytes, body: bytes) -> str:
    """The ``X-Regulars-Signature`` value of ``body``: what a POS sends."""
    return SIGNATURE_PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def sign_request(secret: bytes, body: bytes, *, timestamp: int | None) -> str:
    """The ``X-Regulars-Signature`` of a request with ``X-Regulars-Timestamp: timestamp`` (None:
    no timestamp, the body alone is signed)."""
    if timestamp is None:
        return sign_body(secret, body)
    return sign_body(secret, f"{timestamp}.".encode("ascii") + body)


def requires_timestamp(secret: bytes) -> bool:
    return secret.startswith(TIMED_KEY_PREFIX.encode("ascii"))


def signature_matches(
    secret: bytes, body: bytes, header: str | None, *, timestamp: int | None = None
) -> bool:
    if not header:
        return False
    expected = sign_request(secret, body, timestamp=timestamp).encode("ascii")
    given = header.strip().lower().encode("utf-8", "surrogateescape")  # hex in either case
    return hmac.compare_digest(expected, given)


def qr_url_sig(secret: bytes, payment_id: int) -> str:
    """The ``sig`` of a payment's QR image URL (a key of its own, derived from the POS secret)."""
    key = hmac.new(secret, _QR_KEY_LABEL, hashlib.sha256).digest()
    mac = hmac.new(key, str(payment_id).encode("ascii"), hashlib.sha256).digest()
    return mac[:QR_SIG_BYTES].hex()


# -- errors -------------------------------------------------------------------------------


def _error(status: int, error: str, detail: str, **extra: Any) -> web.Response:
    return web.json_response({"error": error, **extra, "detail": detail}, status=status)


@dataclass(slots=True)
class _Invalid(Exception):
    field: str
    detail: str


def _invalid(field: str, detail: str) -> NoReturn:
    raise _Invalid(field, detail)


# -- parsing ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    pos_txn_id: str
    store_id: int
    amount: Decimal
    currency: str


def _parse_int(text: str) -> int:
    if len(text) > _MAX_NUMBER_TEXT:
        raise ValueError("number too long")
    return int(text)


def _parse_decimal(text: str) -> Decimal:
    if len(text) > _MAX_NUMBER_TEXT:
        raise ValueError("number too long")
    return Decimal(text)


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not allowed")


class _RepeatedKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refused when it names a key twice (which value would count?)."""
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise _RepeatedKey(f"the key {key[:40]!r} appears more than once")
        data[key] = value
    return data


def parse_body(body: bytes) -> PaymentRequest:
    """The request's fields, checked one by one; :class:`_Invalid` names the first bad one."""
    try:
        data = json.loads(
            body,
            parse_float=_parse_decimal,
            parse_int=_parse_int,
            parse_constant=_reject_constant,
            object_pairs_hook=_unique_keys,
        )
    except _RepeatedKey as exc:
        _invalid("body", str(exc))
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError too
        _invalid("body", f"not valid JSON: {exc}"[:200])
    if not isinstance(data, dict):
        _invalid("body", "expected a JSON object")
    return PaymentRequest(
        pos_txn_id=_txn_id(data),
        store_id=_store_id(data),
        amount=_amount(data),
        currency=_currency(data),
    )


def _required(data: dict[str, Any], field: str) -> Any:
    if field not in data or data[field] is None:
        _invalid(field, "is required")
    return data[field]


def _txn_id(data: dict[str, Any]) -> str:
    value = _required(data, "pos_txn_id")
    if not isinstance(value, str):
        _invalid("pos_txn_id", "must be a string")
    if not _TXN_ID.fullmatch(value):
        _invalid("pos_txn_id", f"must be 1-{MAX_TXN_ID_LENGTH} characters of printable ASCII")
    return value


def _store_id(data: dict[str, Any]) -> int:
    value = _required(data, "store_id")
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        _invalid("store_id", "must be an integer")
    if not 1 <= value <= MAX_DB_ID:
        _invalid("store_id", "unknown store")
    return value


def _amount(data: dict[str, Any]) -> Decimal:
    value = _required(data, "amount")
    if isinstance(value, str):
        if not _AMOUNT_TEXT.fullmatch(value) or len(value) > _MAX_NUMBER_TEXT:
            _invalid(
                "amount",
                'must be a decimal number with "." as the decimal separator, e.g. "86.50"',
            )
        amount = Decimal(value)
    elif isinstance(value, bool):
        _invalid("amount", 'must be a decimal number, e.g. "86.50"')
    elif isinstance(value, int | Decimal):
        amount = Decimal(value)
    else:
        _invalid("amount", 'must be a decimal number, e.g. "86.50"')
    if not amount.is_finite() or amount <= 0:
        _invalid("amount", "must be greater than zero")
    return amount


def _currency(data: dict[str, Any]) -> str:
    value = _required(data, "currency")
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
        _invalid("currency", "must be an ISO 4217 code in upper case, e.g. USD")
    return value


def _check_amount(amount: Decimal, currency: str, max_bill: Decimal) -> Decimal:
    """The amount at the currency's precision; :class:`_Invalid` when it is not one."""
    places = currency_precision(currency)
    exponent = amount.as_tuple().exponent
    assert isinstance(exponent, int)  # finite: checked by _amount
    if -exponent > places:
        _invalid("amount", f"{currency} amounts have at most {places} decimal places")
    if amount > max_bill:
        _invalid("amount", f"must be at most {max_bill} {currency}")
    return amount.quantize(Decimal(1).scaleb(-places))


# -- handlers -----------------------------------------------------------------------------


def _unauthorized(
    request: web.Request, secret: bytes, body: bytes, *, now: datetime
) -> web.Response | None:
    """401 unless the signature (and the timestamp it covers) holds; None when it does."""
    stamp = request.headers.get(TIMESTAMP_HEADER)
    timestamp = int(stamp) if stamp is not None and _UNIX_SECONDS.fullmatch(stamp) else None
    problem = ""
    if stamp is None and requires_timestamp(secret):
        problem = f"missing {TIMESTAMP_HEADER} (this key was created with timestamps)"
    elif stamp is not None and timestamp is None:
        problem = f"{TIMESTAMP_HEADER} must be Unix seconds"
    elif not signature_matches(
        secret, body, request.headers.get(SIGNATURE_HEADER), timestamp=timestamp
    ):
        covered = "the timestamp, a '.' and the body" if stamp is not None else "the body"
        problem = (
            f"missing or wrong {SIGNATURE_HEADER} "
            f"(sha256=<hex HMAC-SHA256 of {covered} with POS_API_SECRET>)"
        )
    elif timestamp is not None:
        drift = abs(now.timestamp() - timestamp)
        if drift > TIMESTAMP_TOLERANCE.total_seconds():
            problem = (
                f"{TIMESTAMP_HEADER} is more than "
                f"{int(TIMESTAMP_TOLERANCE.total_seconds() // 60)} minutes from the "
                "server's clock (a replayed request, or a clock to set right)"
            )
    if not problem:
        return None
    log.warning("POS API call refused from %s: %s", request.remote, problem)
    return _error(401, "unauthorized", problem)


async def _signed_body(request: web.Request, secret: bytes, clock: Clock) -> bytes | web.Response:
    """The request's body if it is small enough, signed with the secret (and, when stamped or
    the key requires it, within TIMESTAMP_TOLERANCE of the clock) and declared as JSON; else
    the answer (413, 401, 415)."""
    body = await _read_limited(request)
    if body is None:
        log.warning("POS API call refused: body over %d bytes", MAX_BODY_BYTES)
        return _error(413, "too_large", f"the body is larger than {MAX_BODY_BYTES} bytes")
    refused = _unauthorized(request, secret, body, now=clock.now())
    if refused is not None:
        return refused
    if not _is_json(request):  # after the signature: strangers learn nothing
        log.warning("POS API call refused: content type %r", request.content_type)
        return _error(415, "unsupported_media_type", "the body must be sent as application/json")
    return body


async def _repeated_otherwise(
    session: AsyncSession, receipt: Receipt, *, pos_txn_id: str, store: Store, amount: Decimal
) -> web.Response | None:
    """A repeated pos_txn_id is a retry only with the same store, amount and currency: else 409."""
    payment = await session.get(Payment, receipt.payment_id)
    assert payment is not None
    if (payment.store_id, payment.amount, payment.currency) == (store.id, amount, store.currency):
        return None
    log.warning(
        "POS payment %r repeated with other details: payment %s has %s %s at store %s",
        pos_txn_id,
        payment.id,
        payment.amount,
        payment.currency,
        payment.store_id,
    )
    return _error(
        409,
        "conflict",
        f"pos_txn_id {pos_txn_id!r} was recorded with another store, amount or currency",
        field="pos_txn_id",
    )


@dataclass(frozen=True, slots=True)
class PosDeps:
    """What the POS API needs from the running app (the composition root builds it)."""

    session_factory: async_sessionmaker[AsyncSession]
    clock: Clock
    policy: Policy
    signer: QRSigner
    secret: bytes | None  # POS_API_SECRET; None: the API answers 503
    public_base_url: str | None  # how a POS reaches this server; None: the request's origin
    bot_username: str


@dataclass(frozen=True, slots=True)
class PosApi:
    services: PosDeps

    @property
    def secret(self) -> bytes | None:
        return self.services.secret

    def base_url(self, request: web.Request) -> str:
        configured = self.services.public_base_url
        return configured if configured else str(request.url.origin())

    def claim_url(self, payment_id: int, expires_at: datetime) -> str:
        payload = self.services.signer.sign(ReceiptPayload(payment_id, expires_at))
        return deep_link(self.services.bot_username, payload)

    def qr_png_url(self, request: web.Request, secret: bytes, payment_id: int) -> str:
        path = QR_PATH.format(payment_id=payment_id)
        return f"{self.base_url(request)}{path}?sig={qr_url_sig(secret, payment_id)}"

    async def create_payment(self, request: web.Request) -> web.Response:
        secret = self.secret
        if secret is None:
            log.warning("POS API call refused: POS_API_SECRET is not configured")
            return _not_configured()
        body = await _signed_body(request, secret, self.services.clock)
        if isinstance(body, web.Response):
            return body
        try:
            fields = parse_body(body)
        except _Invalid as bad:
            log.info("POS payment refused: %s %s", bad.field, bad.detail)
            return _error(422, "invalid", bad.detail, field=bad.field)

        services = self.services
        async with services.session_factory() as session, session.begin():
            store = await queries.get_store(session, store_id=fields.store_id)
            try:
                if store is None or store.id is None:
                    _invalid("store_id", "unknown store")
                if fields.currency != store.currency:
                    _invalid("currency", f"must be {store.currency}, the store's currency")
                amount = _check_amount(
                    fields.amount, store.currency, services.policy.max_bill_for(store.currency)
                )
            except _Invalid as bad:
                log.info("POS payment %r refused: %s %s", fields.pos_txn_id, bad.field, bad.detail)
                return _error(422, "invalid", bad.detail, field=bad.field)
            receipt = await issue_receipt(
                session,
                source=PaymentSource.POS,
                external_id=fields.pos_txn_id,
                store=StoreRef(store.id, store.timezone),
                amount=amount,
                currency=store.currency,
                policy=services.policy,
                now=services.clock.now(),
            )
            if not receipt.created:
                conflict = await _repeated_otherwise(
                    session, receipt, pos_txn_id=fields.pos_txn_id, store=store, amount=amount
                )
                if conflict is not None:
                    return conflict
        body_out = {
            "payment_id": receipt.payment_id,
            "claim_url": self.claim_url(receipt.payment_id, receipt.expires_at),
            "claim_qr_png_url": self.qr_png_url(request, secret, receipt.payment_id),
        }
        log.info(
            "POS payment %r: %s %s at store %s → payment %s (%s)",
            fields.pos_txn_id,
            amount,
            receipt.currency,
            fields.store_id,
            receipt.payment_id,
            "new" if receipt.created else "repeat",
        )
        return web.json_response(body_out, status=201 if receipt.created else 200)

    async def claim_qr(self, request: web.Request) -> web.Response:
        secret = self.secret
        if secret is None:
            return _not_configured()
        text = request.match_info["payment_id"]
        payment_id = int(text) if _DIGITS.fullmatch(text) else 0
        sig = request.query.get("sig", "")
        if not hmac.compare_digest(
            qr_url_sig(secret, payment_id).encode("ascii"),
            sig.encode("utf-8", "surrogateescape"),
        ):
            log.warning("POS QR refused: bad sig for payment %r from %s", text, request.remote)
            return _error(401, "unauthorized", "missing or wrong sig")
        services = self.services
        async with services.session_factory() as session, session.begin():
            payment = (
                await session.get(Payment, payment_id) if 1 <= payment_id <= MAX_DB_ID else None
            )
            if payment is None or payment.source != PaymentSource.POS.value:
                return _error(404, "not_found", "no such payment")
            expires_at = payment.claim_expires_at
            status = payment.status
        if status != PaymentStatus.AWAITING_CLAIM.value:
            log.info("POS QR of payment %s: gone (%s)", payment_id, status)
            return _error(410, "gone", "the receipt was already claimed")
        # The QR payload keeps whole minutes only: it stops working at the minute, so does this.
        if expires_at is None or services.clock.now() >= _whole_minute(expires_at):
            log.info("POS QR of payment %s: gone (expired)", payment_id)
            return _error(410, "gone", "the claim has expired")
        png = await asyncio.to_thread(qr_png, self.claim_url(payment_id, expires_at))
        log.info("POS QR of payment %s served", payment_id)
        return web.Response(
            body=png, content_type="image/png", headers={"Cache-Control": "no-store"}
        )


def _is_json(request: web.Request) -> bool:
    """Declared as JSON (``application/json``, with a charset or not); aiohttp reads a missing
    header as ``application/octet-stream``."""
    return request.content_type == "application/json" and request.charset in (None, "utf-8")


def _whole_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _not_configured() -> web.Response:
    return _error(
        503,
        "not_configured",
        "POS_API_SECRET is not configured: set it to enable the POS API",
    )


async def _read_limited(request: web.Request) -> bytes | None:
    """The raw body, or None when it is larger than :data:`MAX_BODY_BYTES`."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(MAX_BODY_BYTES + 1 - size)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None


def add_pos_routes(app: web.Application, deps: PosDeps) -> None:
    api = PosApi(deps)
    app.router.add_post(PAYMENTS_PATH, api.create_payment)
    app.router.add_get(QR_PATH, api.claim_qr)
