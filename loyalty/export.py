"""`/export`: the restaurant's data as CSV files — members, visits, payments, coupons.

Built from SQL in batches (keyset pagination on the primary key, `batch_size` rows a query), one
row at a time into the file, never as ORM objects for the whole table: 100k members are 100
small queries and the file's bytes, not 100k objects in memory.

The files are for spreadsheets and scripts:

- UTF-8 with a byte-order mark, so Excel opens Chinese names correctly;
- column headers are English snake_case on purpose — machine-readable names that stay the same
  whoever exports, in every language (the chat around the files is translated, the files not);
- money as plain decimal strings with the currency's places ("106.50", "1200"), never floats;
- timestamps in ISO 8601, UTC ("2026-11-23T04:00:00+00:00"); dates as YYYY-MM-DD;
- free text that starts like a spreadsheet formula gets a leading apostrophe (see `_text`).

Who sees what: owners export every store, with personal data. A manager exports the stores they
manage (Staff.store_id) without personal data (member name and birthday; there is no phone),
unless the policy's `export.managers_see_personal_data` says otherwise. An erased member
(Member.erased_at) never carries personal data. Every export is in the audit log
(`record_export`, in the caller's transaction).
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from loyalty import roles
from loyalty.audiences import tags_of
from loyalty.errors import NotAllowed
from loyalty.money import plain_amount
from loyalty.policy import Policy
from models import queries
from models.tables import Coupon, DiningTable, Member, Payment, Role, Store, Visit

BATCH_SIZE = 1000
BOM = b"\xef\xbb\xbf"
KINDS = ("members", "visits", "payments", "coupons")


@dataclass(frozen=True, slots=True)
class ExportScope:
    store_ids: frozenset[int] | None
    """The stores exported; None: all of them (owners)."""
    personal_data: bool


@dataclass(frozen=True, slots=True)
class ExportFile:
    kind: str
    """One of KINDS."""
    filename: str
    data: bytes
    rows: int
    """Data rows, the header not counted."""


async def scope_for(
    session: AsyncSession, *, telegram_id: int, role: Role, policy: Policy
) -> ExportScope:
    """What this person may export; NotAllowed below a manager (or a manager of no store)."""
    stores = await roles.managed_stores(session, telegram_id=telegram_id, role=role)
    if stores is None:
        return ExportScope(store_ids=None, personal_data=True)
    if not stores:
        raise NotAllowed("export")
    return ExportScope(store_ids=stores, personal_data=policy.export.managers_see_personal_data)


async def build_files(
    sessions: async_sessionmaker[AsyncSession],
    *,
    scope: ExportScope,
    now: datetime,
    batch_size: int = BATCH_SIZE,
) -> list[ExportFile]:
    """The four files. Each batch is read in its own short transaction from `sessions`, so a
    long export never holds a connection (on SQLite: the process's only one) for long; the
    caller must not hold one either. Rows written meanwhile may or may not be in the files;
    no row is in them twice."""
    stamp = now.astimezone(UTC).strftime("%Y%m%d-%H%M")
    files = []
    for kind in KINDS:
        data, rows = await csv_bytes(table_rows(sessions, kind=kind, scope=scope, batch=batch_size))
        files.append(ExportFile(kind, f"{kind}-{stamp}.csv", data, rows))
    return files


async def record_export(
    session: AsyncSession,
    *,
    telegram_id: int,
    scope: ExportScope,
    files: Sequence[ExportFile],
    now: datetime,
) -> None:
    """The export's line in the audit log: who, which stores, with personal data or not, and
    how many rows of each file."""
    stores = "all" if scope.store_ids is None else ",".join(map(str, sorted(scope.store_ids)))
    counts = " ".join(f"{f.kind}={f.rows}" for f in files)
    await queries.add_audit(
        session,
        actor_telegram_id=telegram_id,
        action="export",
        detail=f"stores={stores} personal={'yes' if scope.personal_data else 'no'} {counts}",
        now=now,
    )


async def csv_bytes(rows: AsyncIterator[Sequence[str]]) -> tuple[bytes, int]:
    """A CSV file (BOM, then the header, then the rows) and its number of data rows."""
    out = io.BytesIO()
    out.write(BOM)
    text = io.StringIO()
    writer = csv.writer(text)
    count = -1  # the first row is the header
    async for row in rows:
        writer.writerow(row)
        count += 1
        if text.tell() > 64 * 1024:
            out.write(text.getvalue().encode("utf-8"))
            text.seek(0)
            text.truncate()
    out.write(text.getvalue().encode("utf-8"))
    return out.getvalue(), max(count, 0)


def table_rows(
    sessions: async_sessionmaker[AsyncSession],
    *,
    kind: str,
    scope: ExportScope,
    batch: int = BATCH_SIZE,
) -> AsyncIterator[list[str]]:
    """The header, then one row per record of `kind`, as strings."""
    if kind == "members":
        return _members(sessions, scope, batch)
    if kind == "visits":
        return _visits(sessions, scope, batch)
    if kind == "payments":
        return _payments(sessions, scope, batch)
    if kind == "coupons":
        return _coupons(sessions, scope, batch)
    raise ValueError(f"unknown export {kind!r}")


# -- the tables --------------------------------------------------------------------------------


async def _members(
    sessions: async_sessionmaker[AsyncSession], scope: ExportScope, batch: int
) -> AsyncIterator[list[str]]:
    personal = ["display_name", "birthday"] if scope.personal_data else []
    yield [
        "member_id",
        "store_id",
        *personal,
        "tier",
        "visit_count",
        "total_spend",
        "currency",
        "points_balance",
        "acquisition_channel",
        "referrer_member_id",
        "marketing_consent",
        "enrolled_at",
        "first_visit_at",
        "last_visit_at",
        "erased_at",
        "manual_tier",
        "manual_tier_until",
        "manual_tier_reason",
        "labels",
    ]
    query = select(
        col(Member.id),
        col(Member.store_id),
        col(Member.display_name),
        col(Member.birthday),
        col(Member.tier),
        col(Member.visit_count),
        col(Member.total_spend),
        col(Store.currency),
        col(Member.points_balance),
        col(Member.acquisition_channel),
        col(Member.referrer_member_id),
        col(Member.marketing_consent),
        col(Member.enrolled_at),
        col(Member.first_visit_at),
        col(Member.last_visit_at),
        col(Member.erased_at),
        col(Member.manual_tier),
        col(Member.manual_tier_until),
        col(Member.manual_tier_reason),
        col(Member.labels),
    ).join(Store, col(Store.id) == col(Member.store_id))
    async for r in _batches(sessions, query, col(Member.id), col(Member.store_id), scope, batch):
        shown: list[str] = []
        if scope.personal_data:  # an erased member has none, whoever asks
            erased = r.erased_at is not None
            shown = ["", ""] if erased else [_text(r.display_name), _date(r.birthday)]
        yield [
            str(r.id),
            str(r.store_id),
            *shown,
            r.tier,
            str(r.visit_count),
            _money(r.total_spend, r.currency),
            r.currency,
            str(r.points_balance),
            r.acquisition_channel,
            _int(r.referrer_member_id),
            _bool(r.marketing_consent),
            _time(r.enrolled_at),
            _time(r.first_visit_at),
            _time(r.last_visit_at),
            _time(r.erased_at),
            r.manual_tier or "",  # a manager's grade (loyalty.grades); its end date below
            _time(r.manual_tier_until),
            _text(r.manual_tier_reason),
            ",".join(tags_of(r.labels)),
        ]


async def _visits(
    sessions: async_sessionmaker[AsyncSession], scope: ExportScope, batch: int
) -> AsyncIterator[list[str]]:
    yield ["visit_id", "member_id", "store_id", "table", "payment_id", "at", "voided_at"]
    query = select(
        col(Visit.id),
        col(Visit.member_id),
        col(Visit.store_id),
        col(DiningTable.number),
        col(Visit.payment_id),
        col(Visit.at),
        col(Visit.voided_at),
    ).outerjoin(DiningTable, col(DiningTable.id) == col(Visit.table_id))
    async for r in _batches(sessions, query, col(Visit.id), col(Visit.store_id), scope, batch):
        yield [
            str(r.id),
            str(r.member_id),
            str(r.store_id),
            _int(r.number),
            _int(r.payment_id),
            _time(r.at),
            _time(r.voided_at),
        ]


async def _payments(
    sessions: async_sessionmaker[AsyncSession], scope: ExportScope, batch: int
) -> AsyncIterator[list[str]]:
    yield [
        "payment_id",
        "store_id",
        "member_id",
        "source",
        "external_id",
        "amount",
        "currency",
        "status",
        "refusal",
        "table",
        "cashier_telegram_id",
        "points_awarded",
        "referral_points",
        "created_at",
        "credited_at",
        "refunded_at",
    ]
    query = select(
        col(Payment.id),
        col(Payment.store_id),
        col(Payment.member_id),
        col(Payment.source),
        col(Payment.external_id),
        col(Payment.amount),
        col(Payment.currency),
        col(Payment.status),
        col(Payment.refusal),
        col(DiningTable.number),
        col(Payment.cashier_telegram_id),
        col(Payment.points_awarded),
        col(Payment.referral_points),
        col(Payment.created_at),
        col(Payment.credited_at),
        col(Payment.refunded_at),
    ).outerjoin(DiningTable, col(DiningTable.id) == col(Payment.table_id))
    async for r in _batches(sessions, query, col(Payment.id), col(Payment.store_id), scope, batch):
        yield [
            str(r.id),
            str(r.store_id),
            _int(r.member_id),
            r.source,
            _text(r.external_id),
            _money(r.amount, r.currency),
            r.currency,
            r.status,
            r.refusal or "",
            _int(r.number),
            _int(r.cashier_telegram_id),
            str(r.points_awarded),
            str(r.referral_points),
            _time(r.created_at),
            _time(r.credited_at),
            _time(r.refunded_at),
        ]


async def _coupons(
    sessions: async_sessionmaker[AsyncSession], scope: ExportScope, batch: int
) -> AsyncIterator[list[str]]:
    """Coupons without their codes (a code is what a coupon is used with, not a figure).
    `value` is money off for kinds "amount" and "dish", a percentage for "percent"."""
    yield [
        "coupon_id",
        "member_id",
        "store_id",
        "template",
        "kind",
        "value",
        "min_spend",
        "cap",
        "currency",
        "campaign",
        "dish_name",
        "issued_by",
        "issued_at",
        "valid_until",
        "status",
        "redeemed_at",
        "redeemed_by",
        "bill_amount",
        "discount",
        "payment_id",
    ]
    query = select(
        col(Coupon.id),
        col(Coupon.member_id),
        col(Coupon.store_id),
        col(Coupon.template),
        col(Coupon.kind),
        col(Coupon.value),
        col(Coupon.min_spend),
        col(Coupon.cap),
        col(Coupon.currency),
        col(Coupon.campaign),
        col(Coupon.dish_name),
        col(Coupon.issued_by),
        col(Coupon.issued_at),
        col(Coupon.valid_until),
        col(Coupon.status),
        col(Coupon.redeemed_at),
        col(Coupon.redeemed_by),
        col(Coupon.bill_amount),
        col(Coupon.discount),
        col(Coupon.payment_id),
    )
    async for r in _batches(sessions, query, col(Coupon.id), col(Coupon.store_id), scope, batch):
        cur = r.currency
        yield [
            str(r.id),
            str(r.member_id),
            str(r.store_id),
            r.template,
            r.kind,
            _plain(r.value) if r.kind == "percent" else _money(r.value, cur),
            _money(r.min_spend, cur),
            _money(r.cap, cur),
            r.currency,
            r.campaign or "",
            _text(r.dish_name),
            _int(r.issued_by),
            _time(r.issued_at),
            _time(r.valid_until),
            r.status,
            _time(r.redeemed_at),
            _int(r.redeemed_by),
            _money(r.bill_amount, cur),
            _money(r.discount, cur),
            _int(r.payment_id),
        ]


async def _batches(
    sessions: async_sessionmaker[AsyncSession],
    query: Select[Any],
    key: Any,
    store: Any,
    scope: ExportScope,
    batch: int,
) -> AsyncIterator[Any]:
    """The rows of `query` in order of `key` (the primary key), `batch` per statement, each
    statement in its own short transaction."""
    if scope.store_ids is not None:
        query = query.where(store.in_(sorted(scope.store_ids)))
    last: int | None = None
    while True:
        page = query if last is None else query.where(key > last)
        async with sessions() as session, session.begin():
            rows = (await session.execute(page.order_by(key).limit(batch))).all()
        for row in rows:
            yield row
        if len(rows) < batch:
            return
        last = rows[-1][0]


# -- values as text ----------------------------------------------------------------------------


def _money(amount: Decimal | None, currency: str) -> str:
    """A plain decimal string with the currency's places: "106.50", never a float."""
    return "" if amount is None else plain_amount(amount, currency)


def _plain(value: Decimal | None) -> str:
    """A decimal as written, without trailing zeros ("10", "12.5")."""
    if value is None:
        return ""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _text(value: str | None) -> str:
    """Free text someone typed (a diner's Telegram name, a POS's transaction id, a dish): a
    leading = + - @ would make Excel run it as a formula (CSV injection), so such a value is
    written with a leading apostrophe, which spreadsheets show as text."""
    if not value:
        return ""
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


def _time(at: datetime | None) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds") if at is not None else ""


def _date(day: date | None) -> str:
    return day.isoformat() if day is not None else ""


def _int(value: int | None) -> str:
    return "" if value is None else str(value)


def _bool(value: bool | None) -> str:
    return "" if value is None else "true" if value else "false"
