"""Signed QR payloads: they round-trip, fit Telegram's start parameter, and cannot be forged,
altered, confused with another kind or used after they expire."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import re
import string
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from loyalty.errors import DomainError
from loyalty.qr import (
    CardPayload,
    CouponPayload,
    ExpiredPayload,
    InvalidPayload,
    Payload,
    QRSigner,
    ReceiptPayload,
    ReferralPayload,
    StaffInvitePayload,
    TablePayload,
    deep_link,
)

SECRET = b"qr-test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
OTHER_SECRET = b"another-deployment-secret-0123456789-abcdefghijklmnop"
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
LATER = datetime(2031, 12, 31, 23, 59, tzinfo=UTC)
BIG = 2**40
START_PARAMETER = re.compile(r"^[A-Za-z0-9_-]+$")
ALPHABET = string.ascii_letters + string.digits + "_-"


def every_kind(big: int = BIG, expires_at: datetime = LATER) -> list[Payload]:
    return [
        TablePayload(store_id=big, table=big),
        CardPayload(member_id=big),
        CouponPayload(coupon_id=big, expires_at=expires_at),
        ReceiptPayload(payment_id=big, expires_at=expires_at),
        StaffInvitePayload(invite_id=big, expires_at=expires_at),
        ReferralPayload(member_id=big),
    ]


@pytest.fixture
def signer() -> QRSigner:
    return QRSigner.from_secret(SECRET)


def recode(text: str, change: bytes | None = None, *, kind: int | None = None) -> str:
    """Decode, rewrite bytes, encode again: how a forger would edit a payload."""
    raw = bytearray(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    if kind is not None:
        raw[0] = kind
    if change is not None:
        raw = bytearray(change)
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


@pytest.mark.parametrize("big", [0, 1, 127, 128, 2**31, BIG, 2**63 - 1])
def test_every_kind_round_trips_within_telegrams_limits(signer: QRSigner, big: int) -> None:
    for payload in every_kind(big):
        text = signer.sign(payload)
        assert len(text) <= 64, (payload, text)
        assert START_PARAMETER.match(text), text
        assert signer.verify(text, now=NOW) == payload


def test_lengths_at_the_largest_tested_ids(signer: QRSigner) -> None:
    lengths = {type(p).__name__: len(signer.sign(p)) for p in every_kind(BIG)}
    assert lengths == {
        "TablePayload": 40,
        "CardPayload": 32,
        "CouponPayload": 38,
        "ReceiptPayload": 38,
        "StaffInvitePayload": 38,
        "ReferralPayload": 32,
    }
    # A typical table code is short, so its QR code stays small.
    assert len(signer.sign(TablePayload(store_id=1, table=12))) == 27


def test_payloads_are_deterministic_and_distinct(signer: QRSigner) -> None:
    texts = [signer.sign(p) for p in every_kind(7)]
    assert texts == [signer.sign(p) for p in every_kind(7)]
    assert len(set(texts)) == len(texts)
    # card and referral share a body shape; the kind still tells them apart
    assert signer.verify(texts[1], now=NOW) == CardPayload(member_id=7)
    assert signer.verify(texts[5], now=NOW) == ReferralPayload(member_id=7)


def test_any_changed_character_is_rejected(signer: QRSigner) -> None:
    for payload in every_kind(BIG) + every_kind(3):
        text = signer.sign(payload)
        for position, original in enumerate(text):
            for replacement in ALPHABET:
                if replacement == original:
                    continue
                forged = text[:position] + replacement + text[position + 1 :]
                with pytest.raises(InvalidPayload):
                    signer.verify(forged, now=NOW)


def test_another_deployments_payload_is_rejected(signer: QRSigner) -> None:
    other = QRSigner.from_secret(OTHER_SECRET)
    for payload in every_kind():
        with pytest.raises(InvalidPayload) as raised:
            signer.verify(other.sign(payload), now=NOW)
        assert raised.value.reason == "bad signature"


def test_a_card_cannot_pass_for_a_table(signer: QRSigner) -> None:
    card = signer.sign(CardPayload(member_id=5))
    result = signer.verify(card, now=NOW)
    assert isinstance(result, CardPayload)
    assert not isinstance(result, TablePayload)
    # rewriting the kind byte (to every other kind) breaks the signature
    for kind in range(256):
        if kind == 2:
            continue
        with pytest.raises(InvalidPayload):
            signer.verify(recode(card, kind=kind), now=NOW)
    # a table-shaped body under a card's signature does not verify either
    table = signer.sign(TablePayload(store_id=5, table=5))
    card_raw = base64.urlsafe_b64decode(card + "==")
    table_raw = base64.urlsafe_b64decode(table + "=" * (-len(table) % 4))
    spliced = table_raw[:-16] + card_raw[-16:]
    with pytest.raises(InvalidPayload):
        signer.verify(recode(table, spliced), now=NOW)


def test_a_correctly_signed_but_unknown_kind_is_rejected() -> None:
    key = hmac.new(SECRET, b"regulars-qr-v1|\x01", hashlib.sha256).digest()
    signed = bytes([99, 1, 5])
    raw = signed + hmac.new(key, signed, hashlib.sha256).digest()[:16]
    text = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    with pytest.raises(InvalidPayload) as raised:
        QRSigner.from_secret(SECRET).verify(text, now=NOW)
    assert raised.value.reason == "unknown kind"


def test_the_key_derivation_is_the_documented_one() -> None:
    """Printed codes must survive a refactoring: pin the derivation and the layout."""
    key = hmac.new(SECRET, b"regulars-qr-v1|\x01", hashlib.sha256).digest()
    signed = bytes([1, 1, 1, 12])  # table, key 1, store 1, table 12
    raw = signed + hmac.new(key, signed, hashlib.sha256).digest()[:16]
    text = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    signer = QRSigner.from_secret(SECRET)
    assert signer.sign(TablePayload(store_id=1, table=12)) == text
    assert signer.verify(text, now=NOW) == TablePayload(store_id=1, table=12)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("A" * 65, "too long"),
        ("a" * 200, "too long"),
        ("AAAA AAAA", "bad characters"),
        ("AAAA+AAA", "bad characters"),
        ("AAAA/AAA", "bad characters"),
        ("AAAA=", "bad characters"),
        ("AAAAAAAA\n", "bad characters"),
        ("桌子十二", "bad characters"),
        ("AAAAAAAAé", "bad characters"),
        ("ＡＡＡＡ", "bad characters"),
        ("A", "malformed"),
        ("AAAAA", "malformed"),
        ("AAAA", "too short"),
        ("A" * 64, "unknown kind"),
        ("hello-world_this-is-not-a-codeA", "unknown kind"),
        ("hello-world_this-is-not-a-code", "malformed"),  # stray bits in the last character
    ],
)
def test_garbage_is_rejected_with_a_reason(signer: QRSigner, text: str, reason: str) -> None:
    with pytest.raises(InvalidPayload) as raised:
        signer.verify(text, now=NOW)
    assert raised.value.reason == reason
    assert isinstance(raised.value, DomainError)


def test_truncated_payloads_are_rejected(signer: QRSigner) -> None:
    for payload in every_kind():
        text = signer.sign(payload)
        for end in range(len(text)):
            with pytest.raises(InvalidPayload):
                signer.verify(text[:end], now=NOW)
        for start in range(1, len(text)):
            with pytest.raises(InvalidPayload):
                signer.verify(text[start:], now=NOW)


def test_random_mutations_only_ever_raise_invalid_payload(signer: QRSigner) -> None:
    rng = random.Random(20240601)
    genuine = [signer.sign(p) for p in every_kind()] + [signer.sign(p) for p in every_kind(9)]
    noise = ALPHABET + "=+/ .~\x00\n\t€桌😀é"
    for _ in range(20_000):
        text = list(rng.choice(genuine))
        for _ in range(rng.randint(1, 4)):
            action = rng.randrange(4)
            position = rng.randrange(len(text) + 1)
            if action == 0 and text:
                del text[min(position, len(text) - 1)]
            elif action == 1:
                text.insert(position, rng.choice(noise))
            elif action == 2 and text:
                text[min(position, len(text) - 1)] = rng.choice(ALPHABET)
            else:
                text = text[: rng.randrange(len(text) + 1)]
        candidate = "".join(text)
        if candidate in genuine:
            continue
        try:
            signer.verify(candidate, now=NOW)
        except InvalidPayload:
            continue
        pytest.fail(f"a mutated payload verified: {candidate!r}")


def test_random_garbage_only_ever_raises_invalid_payload(signer: QRSigner) -> None:
    rng = random.Random(7)
    for _ in range(20_000):
        length = rng.randint(0, 80)
        pool = ALPHABET if rng.random() < 0.8 else ALPHABET + "€桌 +/=\u200b"
        text = "".join(rng.choice(pool) for _ in range(length))
        with pytest.raises(InvalidPayload):
            signer.verify(text, now=NOW)
    # random well-formed records under a real header: the signature stops them
    for _ in range(5_000):
        raw = bytes([rng.randint(1, 6), 1]) + rng.randbytes(rng.randint(1, 30))
        with pytest.raises(InvalidPayload):
            signer.verify(recode("AAAA", raw), now=NOW)


def test_expiry_at_minute_resolution(signer: QRSigner) -> None:
    expires_at = datetime(2025, 6, 1, 12, 5, tzinfo=UTC)
    for payload in every_kind(42, expires_at=expires_at)[2:5]:
        text = signer.sign(payload)
        assert signer.verify(text, now=expires_at - timedelta(minutes=1)) == payload
        assert signer.verify(text, now=expires_at - timedelta(microseconds=1)) == payload
        for now in (expires_at, expires_at + timedelta(seconds=1), expires_at + timedelta(days=9)):
            with pytest.raises(ExpiredPayload) as raised:
                signer.verify(text, now=now)
            assert isinstance(raised.value, InvalidPayload)
            assert raised.value.reason == "expired"
            assert raised.value.payload == payload
            assert raised.value.expires_at == expires_at


def test_seconds_are_dropped_so_a_code_never_outlives_its_expiry(signer: QRSigner) -> None:
    asked = datetime(2025, 6, 1, 12, 5, 59, tzinfo=UTC)
    text = signer.sign(CouponPayload(coupon_id=1, expires_at=asked))
    verified = signer.verify(text, now=NOW)
    assert isinstance(verified, CouponPayload)
    assert verified.expires_at == datetime(2025, 6, 1, 12, 5, tzinfo=UTC)
    # another zone, same instant
    shanghai = asked.astimezone(ZoneInfo("Asia/Shanghai"))
    assert signer.sign(CouponPayload(coupon_id=1, expires_at=shanghai)) == text


def test_tables_cards_and_referrals_do_not_expire(signer: QRSigner) -> None:
    far = datetime(9000, 1, 1, tzinfo=UTC)
    for payload in (every_kind()[0], every_kind()[1], every_kind()[5]):
        assert signer.verify(signer.sign(payload), now=far) == payload


def test_key_rotation_keeps_old_codes_working(signer: QRSigner) -> None:
    old_table = signer.sign(TablePayload(store_id=1, table=3))
    rotated = QRSigner.from_secret(OTHER_SECRET, key_id=2, retired={1: SECRET})
    assert rotated.current_key_id == 2
    assert rotated.verify(old_table, now=NOW) == TablePayload(store_id=1, table=3)
    new_table = rotated.sign(TablePayload(store_id=1, table=3))
    assert new_table != old_table
    assert rotated.verify(new_table, now=NOW) == TablePayload(store_id=1, table=3)
    # the old deployment does not know key 2
    with pytest.raises(InvalidPayload) as raised:
        signer.verify(new_table, now=NOW)
    assert raised.value.reason == "unknown key id"
    # once the old key is dropped, its codes stop working
    with pytest.raises(InvalidPayload) as raised:
        QRSigner.from_secret(OTHER_SECRET, key_id=2).verify(old_table, now=NOW)
    assert raised.value.reason == "unknown key id"


def test_the_key_id_is_signed(signer: QRSigner) -> None:
    """Two keys from the same secret: moving a tag to the other key id does not verify."""
    both = QRSigner.from_secret(SECRET, key_id=2, retired={1: SECRET})
    text = signer.sign(CardPayload(member_id=1))
    assert both.verify(text, now=NOW) == CardPayload(member_id=1)
    raw = bytearray(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    raw[1] = 2
    with pytest.raises(InvalidPayload) as raised:
        both.verify(recode(text, bytes(raw)), now=NOW)
    assert raised.value.reason == "bad signature"


def test_signer_configuration_mistakes_are_caught() -> None:
    with pytest.raises(ValueError, match="current key id"):
        QRSigner({1: b"k" * 32}, current_key_id=2)
    with pytest.raises(ValueError, match="shorter"):
        QRSigner({1: b"short"}, current_key_id=1)
    with pytest.raises(ValueError, match="0-255"):
        QRSigner.from_secret(SECRET, key_id=256)
    with pytest.raises(ValueError, match="both current and retired"):
        QRSigner.from_secret(SECRET, key_id=1, retired={1: OTHER_SECRET})


def test_signing_rejects_values_it_cannot_carry(signer: QRSigner) -> None:
    with pytest.raises(ValueError, match="outside"):
        signer.sign(TablePayload(store_id=-1, table=1))
    with pytest.raises(ValueError, match="outside"):
        signer.sign(CardPayload(member_id=2**63))
    with pytest.raises(ValueError, match="timezone-aware"):
        signer.sign(CouponPayload(coupon_id=1, expires_at=datetime(2026, 1, 1)))
    with pytest.raises(ValueError, match="outside"):
        signer.sign(CouponPayload(coupon_id=1, expires_at=datetime(2020, 1, 1, tzinfo=UTC)))
    with pytest.raises(ValueError, match="timezone-aware"):
        signer.verify(signer.sign(CardPayload(member_id=1)), now=datetime(2026, 1, 1))


def test_deep_link(signer: QRSigner) -> None:
    text = signer.sign(TablePayload(store_id=1, table=12))
    assert deep_link("RegularsSandboxBot", text) == f"https://t.me/RegularsSandboxBot?start={text}"
    assert deep_link("@RegularsSandboxBot", text).startswith("https://t.me/RegularsSandboxBot?")
    with pytest.raises(ValueError, match="username"):
        deep_link("not a bot", text)
    with pytest.raises(ValueError, match="start parameter"):
        deep_link("RegularsSandboxBot", "a" * 65)
    with pytest.raises(ValueError, match="start parameter"):
        deep_link("RegularsSandboxBot", "a b")
