"""Signed QR payloads: what a table code, a member card or a coupon QR carries.

Every QR code Regulars prints or shows is a Telegram deep link, ``https://t.me/<bot>?start=<p>``,
and Telegram allows at most 64 characters of ``A-Za-z0-9_-`` in ``<p>``. The payload is a small
binary record, signed with an HMAC so nobody can forge or alter it, encoded as base64url without
padding. Pure code: no aiogram, no database.

Layout (bytes, before base64url)::

    offset  size  field
    0       1     kind: 1 table, 2 member card, 3 coupon redemption, 4 receipt claim,
                  5 staff invite, 6 referral (other values are reserved for later layouts)
    1       1     key id (0-255): which signing key made the tag (keys rotate, see QRSigner)
    2       n     body, by kind; every integer is an unsigned LEB128 varint (7 bits a byte,
                  least significant group first, high bit = "more follows", minimal length)
                    table           store id, table number
                    member card     member id
                    coupon          coupon id, expiry
                    receipt claim   payment id, expiry
                    staff invite    invite id, expiry
                    referral        member id
                  expiry = whole minutes since 2024-01-01T00:00Z (seconds are dropped when
                  signing: a code never lives longer than asked); the payload is valid while
                  ``now < expiry``
    2+n     16    tag: HMAC-SHA256(key, bytes 0 .. 2+n-1) truncated to 128 bits

Sizes: ids are limited to 0 .. 2**63-1 (the database's BIGINT), so the longest record, a table
code with two ids of 2**63-1, is 2 + 9 + 9 + 16 = 36 bytes = 48 characters. With ids of 2**40:
table 40 characters, card and referral 32, coupon, receipt and staff invite 38 (expiry before
2534; 39 after). A typical table code (store 1, table 12) is 20 bytes = 27 characters. Short
payloads mean small QR codes that scan easily from across a table.

Verification is strict: the text must be base64url in its one canonical spelling (a changed
"unused" low bit in the last character is rejected too), the kind and key id must be known, the
tag must match (constant-time comparison), the body must be consumed exactly with minimal
varints, and an expiring kind must not have expired. Anything else raises :class:`InvalidPayload`
(its ``reason`` says which check failed, for logs — the person sees one friendly message); an
expired code raises :class:`ExpiredPayload`, a subclass, so callers can say "ask for a new one".

Keys: ``key = HMAC-SHA256(SECRET_KEY, b"regulars-qr-v1|" + bytes([key_id]))`` — a key for this
purpose only, never the secret itself. Rotation: start signing with a new key id and keep the old
secret under its old id in ``retired`` so tables printed last year still check in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from loyalty.errors import DomainError

MAX_PAYLOAD_LENGTH = 64
"""Telegram's limit for a ``start`` parameter."""

TAG_SIZE = 16
"""Bytes of the truncated HMAC-SHA256 (128 bits)."""

MAX_ID = 2**63 - 1
EXPIRY_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
_MINUTE = timedelta(minutes=1)
MAX_EXPIRY_MINUTES = (datetime(9999, 12, 31, 23, 59, tzinfo=UTC) - EXPIRY_EPOCH) // _MINUTE
KEY_DERIVATION_LABEL = b"regulars-qr-v1|"
MIN_KEY_SIZE = 16

KIND_TABLE = 1
KIND_CARD = 2
KIND_COUPON = 3
KIND_RECEIPT = 4
KIND_STAFF_INVITE = 5
KIND_REFERRAL = 6
_KINDS = frozenset(
    {KIND_TABLE, KIND_CARD, KIND_COUPON, KIND_RECEIPT, KIND_STAFF_INVITE, KIND_REFERRAL}
)

_HEADER_SIZE = 2
_MAX_VARINT_SIZE = 9  # 63 bits / 7
_PAYLOAD_TEXT = re.compile(r"[A-Za-z0-9_-]+")
_BOT_USERNAME = re.compile(r"[A-Za-z0-9_]{3,64}")


# -- payloads -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TablePayload:
    """A table's printed code: check in at this table of this store. Does not expire."""

    store_id: int
    table: int


@dataclass(frozen=True, slots=True)
class CardPayload:
    """A member's card, shown to the cashier. Does not expire."""

    member_id: int


@dataclass(frozen=True, slots=True)
class CouponPayload:
    """A coupon being redeemed at the counter; short-lived."""

    coupon_id: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class ReceiptPayload:
    """A walk-in payment waiting to be claimed by the diner who scans it."""

    payment_id: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class StaffInvitePayload:
    """An invitation to become staff."""

    invite_id: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class ReferralPayload:
    """A member's personal referral link. Does not expire."""

    member_id: int


Payload = (
    TablePayload
    | CardPayload
    | CouponPayload
    | ReceiptPayload
    | StaffInvitePayload
    | ReferralPayload
)
ExpiringPayload = CouponPayload | ReceiptPayload | StaffInvitePayload


# -- errors -------------------------------------------------------------------------------


class InvalidPayload(DomainError):
    """The text is not a payload we signed (or no longer accept). Nothing should be written."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"invalid QR payload: {reason}")
        self.reason = reason


class ExpiredPayload(InvalidPayload):
    """A genuine payload whose time is up; ``payload`` says what it was for."""

    def __init__(self, payload: ExpiringPayload) -> None:
        super().__init__("expired")
        self.payload = payload

    @property
    def expires_at(self) -> datetime:
        return self.payload.expires_at


# -- keys and signing ---------------------------------------------------------------------


def derive_key(secret: bytes, key_id: int) -> bytes:
    """The QR signing key for ``key_id`` derived from the deployment's SECRET_KEY."""
    _check_key_id(key_id)
    if not secret:
        raise ValueError("the secret is empty")
    return hmac.new(secret, KEY_DERIVATION_LABEL + bytes([key_id]), hashlib.sha256).digest()


class QRSigner:
    """Signs payloads with the current key; verifies with any key it knows."""

    __slots__ = ("_current_key_id", "_keys")

    def __init__(self, keys: Mapping[int, bytes], current_key_id: int) -> None:
        for key_id, key in keys.items():
            _check_key_id(key_id)
            if len(key) < MIN_KEY_SIZE:
                raise ValueError(f"QR key {key_id} is shorter than {MIN_KEY_SIZE} bytes")
        if current_key_id not in keys:
            raise ValueError(f"no key with the current key id {current_key_id}")
        self._keys = dict(keys)
        self._current_key_id = current_key_id

    @classmethod
    def from_secret(
        cls, secret: bytes, key_id: int = 1, retired: Mapping[int, bytes] | None = None
    ) -> QRSigner:
        """Keys derived from SECRET_KEY; ``retired`` maps old key ids to the old secrets."""
        keys = {key_id: derive_key(secret, key_id)}
        for old_id, old_secret in (retired or {}).items():
            if old_id == key_id:
                raise ValueError(f"key id {key_id} is both current and retired")
            keys[old_id] = derive_key(old_secret, old_id)
        return cls(keys, key_id)

    @property
    def current_key_id(self) -> int:
        return self._current_key_id

    def sign(self, payload: Payload) -> str:
        kind, body = _encode_body(payload)
        signed = bytes([kind, self._current_key_id]) + body
        raw = signed + self._tag(self._keys[self._current_key_id], signed)
        text = base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
        if len(text) > MAX_PAYLOAD_LENGTH:  # pragma: no cover - the id limits make this impossible
            raise ValueError(f"payload of {len(text)} characters exceeds {MAX_PAYLOAD_LENGTH}")
        return text

    def verify(self, text: str, *, now: datetime) -> Payload:
        """The payload ``text`` carries; :class:`InvalidPayload` unless genuine and current."""
        if now.tzinfo is None:
            raise ValueError("verify needs a timezone-aware now")
        raw = _decode_text(text)
        if len(raw) < _HEADER_SIZE + 1 + TAG_SIZE:
            raise InvalidPayload("too short")
        kind, key_id = raw[0], raw[1]
        if kind not in _KINDS:
            raise InvalidPayload("unknown kind")
        key = self._keys.get(key_id)
        if key is None:
            raise InvalidPayload("unknown key id")
        signed, tag = raw[:-TAG_SIZE], raw[-TAG_SIZE:]
        if not hmac.compare_digest(tag, self._tag(key, signed)):
            raise InvalidPayload("bad signature")
        payload = _decode_body(kind, signed[_HEADER_SIZE:])
        if isinstance(payload, CouponPayload | ReceiptPayload | StaffInvitePayload) and (
            now >= payload.expires_at
        ):
            raise ExpiredPayload(payload)
        return payload

    @staticmethod
    def _tag(key: bytes, signed: bytes) -> bytes:
        return hmac.new(key, signed, hashlib.sha256).digest()[:TAG_SIZE]


def deep_link(bot_username: str, payload_text: str) -> str:
    """``https://t.me/<bot>?start=<payload>``: what the QR code holds."""
    username = bot_username.removeprefix("@")
    if not _BOT_USERNAME.fullmatch(username):
        raise ValueError(f"{bot_username!r} is not a Telegram bot username")
    if len(payload_text) > MAX_PAYLOAD_LENGTH or not _PAYLOAD_TEXT.fullmatch(payload_text):
        raise ValueError("a start parameter is 1-64 characters of A-Z a-z 0-9 _ -")
    return f"https://t.me/{username}?start={payload_text}"


# -- encoding -----------------------------------------------------------------------------


def _check_key_id(key_id: int) -> None:
    if not 0 <= key_id <= 255:
        raise ValueError(f"key id {key_id} is not in 0-255")


def _encode_body(payload: Payload) -> tuple[int, bytes]:
    match payload:
        case TablePayload(store_id=store_id, table=table):
            return KIND_TABLE, _varint(store_id) + _varint(table)
        case CardPayload(member_id=member_id):
            return KIND_CARD, _varint(member_id)
        case CouponPayload(coupon_id=coupon_id, expires_at=expires_at):
            return KIND_COUPON, _varint(coupon_id) + _varint(_minutes(expires_at))
        case ReceiptPayload(payment_id=payment_id, expires_at=expires_at):
            return KIND_RECEIPT, _varint(payment_id) + _varint(_minutes(expires_at))
        case StaffInvitePayload(invite_id=invite_id, expires_at=expires_at):
            return KIND_STAFF_INVITE, _varint(invite_id) + _varint(_minutes(expires_at))
        case ReferralPayload(member_id=member_id):
            return KIND_REFERRAL, _varint(member_id)
    raise TypeError(f"not a QR payload: {payload!r}")


def _decode_body(kind: int, body: bytes) -> Payload:
    reader = _Reader(body)
    payload: Payload
    if kind == KIND_TABLE:
        payload = TablePayload(store_id=reader.uint(), table=reader.uint())
    elif kind == KIND_CARD:
        payload = CardPayload(member_id=reader.uint())
    elif kind == KIND_COUPON:
        payload = CouponPayload(coupon_id=reader.uint(), expires_at=reader.expiry())
    elif kind == KIND_RECEIPT:
        payload = ReceiptPayload(payment_id=reader.uint(), expires_at=reader.expiry())
    elif kind == KIND_STAFF_INVITE:
        payload = StaffInvitePayload(invite_id=reader.uint(), expires_at=reader.expiry())
    elif kind == KIND_REFERRAL:
        payload = ReferralPayload(member_id=reader.uint())
    else:  # pragma: no cover - verify checks the kind first
        raise InvalidPayload("unknown kind")
    reader.finish()
    return payload


def _decode_text(text: str) -> bytes:
    if not isinstance(text, str):
        raise InvalidPayload("not text")
    if not text:
        raise InvalidPayload("empty")
    if len(text) > MAX_PAYLOAD_LENGTH:
        raise InvalidPayload("too long")
    if not _PAYLOAD_TEXT.fullmatch(text):
        raise InvalidPayload("bad characters")
    if len(text) % 4 == 1:
        raise InvalidPayload("malformed")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidPayload("malformed") from None
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != text:
        raise InvalidPayload("malformed")  # not the canonical spelling of these bytes
    return raw


def _varint(value: int) -> bytes:
    if not 0 <= value <= MAX_ID:
        raise ValueError(f"{value} is outside 0..2**63-1")
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _minutes(expires_at: datetime) -> int:
    if expires_at.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware")
    minutes = (expires_at - EXPIRY_EPOCH) // _MINUTE
    if not 0 <= minutes <= MAX_EXPIRY_MINUTES:
        raise ValueError(f"expiry {expires_at.isoformat()} is outside 2024-01-01 .. 9999-12-31")
    return minutes


class _Reader:
    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def uint(self) -> int:
        value = 0
        for index in range(_MAX_VARINT_SIZE):
            if self._pos >= len(self._data):
                raise InvalidPayload("malformed")
            byte = self._data[self._pos]
            self._pos += 1
            value |= (byte & 0x7F) << (7 * index)
            if not byte & 0x80:
                if byte == 0 and index > 0:
                    raise InvalidPayload("malformed")  # not the minimal encoding
                return value
        raise InvalidPayload("malformed")  # longer than 63 bits

    def expiry(self) -> datetime:
        minutes = self.uint()
        if minutes > MAX_EXPIRY_MINUTES:
            raise InvalidPayload("malformed")
        return EXPIRY_EPOCH + minutes * _MINUTE

    def finish(self) -> None:
        if self._pos != len(self._data):
            raise InvalidPayload("malformed")
