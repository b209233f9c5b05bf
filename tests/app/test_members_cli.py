"""`regulars members explain` and `regulars members refresh` as processes, on a real database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from loyalty.channels import Channel
from loyalty.payments import Payer, PaymentSource, StoreRef, record_payment
from loyalty.policy import load_preset
from loyalty.stores import ensure_default_store
from models.db import create_engine, create_session_factory
from models.migrate import upgrade
from tests.conftest import run_regulars

FIRST = datetime(2026, 11, 1, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
AT = "2026-11-23T04:00:00+00:00"


async def seed(database_url: str) -> None:
    """Dana: three lunches ten days apart, paid at the POS."""
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        factory = create_session_factory(engine)
        async with factory() as session, session.begin():
            info = await ensure_default_store(
                session, name="Noodle Bar", timezone="Asia/Shanghai", currency="CNY", now=FIRST
            )
        store = StoreRef(id=info.id, timezone=info.timezone)
        for day in (0, 10, 20):
            async with factory() as session, session.begin():
                await record_payment(
                    session,
                    source=PaymentSource.POS,
                    external_id=f"lunch-{day}",
                    store=store,
                    amount=Decimal("86.50"),
                    currency="CNY",
                    payer=Payer(telegram_id=101, first_name="Dana", channel=Channel.TABLE_QR),
                    policy=load_preset("frequency"),
                    now=FIRST + timedelta(days=day),
                )
    finally:
        await engine.dispose()


async def test_explain_shows_the_numbers_behind_tier_interval_and_due_dates(
    app_env: dict[str, str], database_url: str
) -> None:
    await seed(database_url)
    done = run_regulars(app_env, "members", "explain", "1", "--at", AT)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Member 1 · Dana · joined 2026-11-01 12:00 CST via table_qr" in out
    assert "Tier: occasional\n" in out
    assert "in the last 90 days: 3 visits, spend CN¥259.50, 0 referrals" in out
    assert "occasional   visits ≥ 2 (has 3 ✓)  → met" in out
    assert "regular      visits ≥ 4 (has 3 ✗)  → not met" in out
    assert "next: regular before 2027-01-30 12:00 CST: 1 more visits" in out
    assert "Gaps (days): 10.0, 10.0" in out
    assert "first return after 10.000 days" in out
    assert (
        "Cohort table_qr × occasional: typical gap 30.000 days (median of 0 members; default)"
        in out
    )
    assert "recency weights (half-life 2 visits): 0.707, 1.000; own weighted gap 10.000" in out
    # (2·10 + 1·30) / 3 = 16.667; the floor from the quick second visit is 25
    assert (
        "Expected interval: (2 × own 10.000 + 1 × cohort 30.000) / (2 + 1), at least the floor "
        "25.000 = 25.000 days (own rhythm 67%, cohort 33%)" in out
    )
    # lapsed 1.5 × 25 = 37.5 days after 21 Nov 12:00
    assert "lapsed 2026-12-29 00:00 CST (1.5×)" in out
    assert "Stage now: active" in out
    # steady gaps of 10: cooling if the gap now running passes 12.5 days (21 Nov + 12.5)
    assert "Turn: none\n  cooling if no visit by 2026-12-04 00:00 CST" in out
    assert "Next expected visit: 2026-12-16 12:00 CST" in out  # 21 Nov + 25 days
    assert "Unanswered offers in a row: 0 of 2\n" in out


async def test_refresh_then_explain_and_bad_input(
    app_env: dict[str, str], database_url: str
) -> None:
    await seed(database_url)
    done = run_regulars(app_env, "members", "refresh", "--at", AT, "--batch-size", "10")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "members": 1,
        "batches": 1,
        "norms": 25,  # 5 channels × (4 tiers + the first return)
        "upgrades": 0,
        "downgrades": 0,
    }
    missing = run_regulars(app_env, "members", "explain", "99")
    assert missing.returncode == 2
    assert missing.stderr.strip() == "regulars members explain: no member 99"
    bad = run_regulars(app_env, "members", "explain", "1", "--at", "yesterday")
    assert bad.returncode == 2
    assert "--at must be an ISO date and time, not 'yesterday'" in bad.stderr
