"""A manager's broadcast: a segment and a message → a preview with the real audience → sent now,
at a time, or cancelled.

The broadcast is a Campaign of kind "broadcast" from the moment the manager has written it
(status "draft"), so every button of the preview carries only its id: a button pressed twice,
or after a restart, acts on what the database says — a draft is scheduled once, a broadcast
already sent cannot be "sent now" again, a cancelled one never goes out.

    draft ──schedule──▶ scheduled ──(its time; the broadcasts job)──▶ planning ──▶ sending
      └──cancel──▶ cancelled ◀──cancel── (scheduled / planning / sending: what is not sent yet)

Planning goes through the same outbox as every campaign (consent, blocked, the weekly cap
across all marketing, quiet hours → deferred, the control group) a page of members at a time,
each page its own transaction; planning again after a crash adds nothing (dedupe keys).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from loyalty import outbox
from loyalty.audiences import LOCALES, Segment, member_ids
from loyalty.errors import NotAllowed, Problem
from loyalty.outbox import PlanResult, Recipient
from loyalty.policy import Policy
from models import queries
from models.tables import Campaign, OutboxMessage

KIND = "broadcast"
DRAFT, SCHEDULED, PLANNING, SENDING = "draft", "scheduled", "planning", "sending"
CANCELLED = "cancelled"
MAX_TEXT, MAX_CAPTION = 4096, 1024
LATEST = timedelta(days=90)
"""How far ahead a broadcast may be scheduled."""
PAGE = 1000


class BroadcastProblem(Problem):
    """empty, too_long, caption_too_long, unknown, unknown_language, not_draft, past, too_far,
    finished."""

    def __init__(self, reason: str, *, status: str | None = None) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True, slots=True)
class Broadcast:
    id: int
    status: str
    segment: Segment
    text: str
    photo: str | None
    holdout_share: float
    versions: dict[str, str]
    """The text for readers of other languages ({locale: text}); the rest get `text`."""
    scheduled_at: datetime | None
    created_by: int | None


def _view(campaign: Campaign) -> Broadcast:
    assert campaign.id is not None
    return Broadcast(
        id=campaign.id,
        status=campaign.status,
        segment=Segment.from_json(campaign.audience),
        text=campaign.text,
        photo=campaign.photo,
        holdout_share=campaign.holdout_share,
        versions=_versions(campaign),
        scheduled_at=campaign.scheduled_at,
        created_by=campaign.created_by,
    )


def _versions(campaign: Campaign) -> dict[str, str]:
    return dict(json.loads(campaign.versions)) if campaign.versions else {}


def check_text(text: str, *, photo: str | None) -> str:
    """The message as it will go out; raises BroadcastProblem for an empty or too long one."""
    text = text.strip()
    if not text:
        raise BroadcastProblem("empty")
    if photo is not None and len(text) > MAX_CAPTION:
        raise BroadcastProblem("caption_too_long")
    if len(text) > MAX_TEXT:
        raise BroadcastProblem("too_long")
    return text


async def create_draft(
    session: AsyncSession,
    *,
    segment: Segment,
    text: str,
    photo: str | None,
    created_by: int,
    policy: Policy,
    now: datetime,
) -> Broadcast:
    segment.check(policy)
    text = check_text(text, photo=photo)
    campaign = Campaign(
        kind=KIND,
        period=f"{now:%Y%m%d%H%M%S}-{secrets.token_hex(4)}",
        name=" ".join(text.split())[:64],
        holdout_share=policy.campaigns.holdout_share,
        status=DRAFT,
        created_at=now,
        created_by=created_by,
        audience=segment.to_json(),
        text=text,
        photo=photo,
    )
    session.add(campaign)
    await session.flush()
    return _view(campaign)


def within(broadcast: Broadcast, reach: frozenset[int] | None) -> bool:
    """Whether someone who reaches the stores `reach` (None: every store) may act on it: a
    manager only on broadcasts kept to their own stores."""
    stores = broadcast.segment.stores
    return reach is None or (bool(stores) and set(stores) <= reach)


async def get(
    session: AsyncSession, *, broadcast_id: int, reach: frozenset[int] | None = None
) -> Broadcast:
    """The broadcast, for someone who reaches the stores `reach` (NotAllowed otherwise), as the
    database has it now (the conditional updates here bypass the session's copy)."""
    campaign = await session.get(Campaign, broadcast_id, populate_existing=True)
    if campaign is None or campaign.kind != KIND:
        raise BroadcastProblem("unknown")
    broadcast = _view(campaign)
    if not within(broadcast, reach):
        raise NotAllowed(f"broadcast {broadcast_id} is for other stores")
    return broadcast


async def scheduled(
    session: AsyncSession, *, reach: frozenset[int] | None = None
) -> list[Broadcast]:
    """Broadcasts waiting for their time (soonest first) that someone reaching `reach` sees."""
    rows = await session.execute(
        select(Campaign)
        .where(col(Campaign.kind) == KIND, col(Campaign.status) == SCHEDULED)
        .order_by(col(Campaign.scheduled_at))
    )
    return [b for b in map(_view, rows.scalars().all()) if within(b, reach)]


async def preview(
    sessions: async_sessionmaker[AsyncSession],
    *,
    broadcast_id: int,
    policy: Policy,
    now: datetime,
    default_locale: str,
) -> PlanResult:
    """What sending it now would do, member by member, exactly as the planner decides
    (queued now, deferred by quiet hours, control group, no consent, at the weekly cap,
    unreachable) — nothing is written. Each page of members is read in a short transaction of
    its own: on SQLite (one connection per process) diners' updates go on between pages."""
    async with sessions() as session:
        campaign = await session.get(Campaign, broadcast_id)
    if campaign is None or campaign.kind != KIND:
        raise BroadcastProblem("unknown")
    segment = Segment.from_json(campaign.audience)
    total = PlanResult()
    after = 0
    while True:
        async with sessions() as session, session.begin():
            ids = await member_ids(
                session,
                segment=segment,
                policy=policy,
                now=now,
                default_locale=default_locale,
                after_id=after,
                limit=PAGE,
            )
            if not ids:
                return total
            total.add(
                await outbox.plan(
                    session,
                    campaign=campaign,
                    audience=await outbox.recipients(session, member_ids=ids),
                    render=_as_written(campaign, lambda person: ""),  # not called: a dry run
                    policy=policy,
                    now=now,
                    photo=campaign.photo,
                    dry_run=True,
                )
            )
        after = ids[-1]


async def set_version(
    session: AsyncSession, *, broadcast_id: int, locale: str, text: str
) -> Broadcast:
    """The draft's text for readers of `locale` (a second press of the same language replaces
    it). Members whose language has no version get the text as first written."""
    campaign = await session.get(Campaign, broadcast_id, with_for_update=True)
    if campaign is None or campaign.kind != KIND:
        raise BroadcastProblem("unknown")
    if campaign.status != DRAFT:
        raise BroadcastProblem("not_draft", status=campaign.status)
    if locale not in LOCALES:
        raise BroadcastProblem("unknown_language")
    versions = _versions(campaign)
    versions[locale] = check_text(text, photo=campaign.photo)
    campaign.versions = json.dumps(versions, ensure_ascii=False, sort_keys=True)
    await session.flush()
    return _view(campaign)


async def toggle_control_group(
    session: AsyncSession, *, broadcast_id: int, policy: Policy
) -> Broadcast:
    """No control group (a notice everyone must get), or the policy's share again."""
    campaign = await session.get(Campaign, broadcast_id)
    if campaign is None or campaign.kind != KIND:
        raise BroadcastProblem("unknown")
    share = 0.0 if campaign.holdout_share > 0 else policy.campaigns.holdout_share
    changed = await session.execute(
        update(Campaign)
        .where(col(Campaign.id) == broadcast_id, col(Campaign.status) == DRAFT)
        .values(holdout_share=share)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise await _not_draft(session, broadcast_id)
    return await get(session, broadcast_id=broadcast_id)


async def schedule(
    session: AsyncSession, *, broadcast_id: int, at: datetime, by: int, now: datetime
) -> Broadcast:
    """Send the draft at `at` (now or later); once: a second press finds it no longer a draft."""
    if at < now - timedelta(minutes=1):
        raise BroadcastProblem("past")
    if at > now + LATEST:
        raise BroadcastProblem("too_far")
    at = max(at, now)
    changed = await session.execute(
        update(Campaign)
        .where(col(Campaign.id) == broadcast_id, col(Campaign.status) == DRAFT)
        .values(status=SCHEDULED, scheduled_at=at)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise await _not_draft(session, broadcast_id)
    await queries.add_audit(
        session,
        actor_telegram_id=by,
        action="broadcast.send" if at <= now else "broadcast.schedule",
        detail=f"campaign={broadcast_id} at={at.isoformat()}",
        now=now,
    )
    return await get(session, broadcast_id=broadcast_id)


@dataclass(frozen=True, slots=True)
class Cancelled:
    was: str
    messages: int
    """Messages taken back from the outbox (not sent yet)."""


async def cancel(session: AsyncSession, *, broadcast_id: int, by: int, now: datetime) -> Cancelled:
    """Stop it: a draft or a scheduled broadcast never goes out; one already going out stops
    with what is not sent yet."""
    campaign = await session.get(Campaign, broadcast_id, with_for_update=True)
    if campaign is None or campaign.kind != KIND:
        raise BroadcastProblem("unknown")
    was = campaign.status
    if was == CANCELLED:
        raise BroadcastProblem("finished", status=was)
    changed = await session.execute(
        update(Campaign)
        .where(col(Campaign.id) == broadcast_id, col(Campaign.status) == was)
        .values(status=CANCELLED, finished_at=now)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise BroadcastProblem("finished", status=CANCELLED)
    messages = await _take_back(session, campaign_id=broadcast_id)
    if was != DRAFT:
        await queries.add_audit(
            session,
            actor_telegram_id=by,
            action="broadcast.cancel",
            detail=f"campaign={broadcast_id} was={was} messages={messages}",
            now=now,
        )
    return Cancelled(was=was, messages=messages)


async def _take_back(session: AsyncSession, *, campaign_id: int) -> int:
    taken = await session.execute(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.campaign_id) == campaign_id,
            col(OutboxMessage.status) == outbox.PENDING,
        )
        .values(status=outbox.CANCELLED)
        .execution_options(synchronize_session=False)
    )
    return int(taken.rowcount)  # type: ignore[attr-defined]


async def _not_draft(session: AsyncSession, broadcast_id: int) -> BroadcastProblem:
    campaign = await session.get(Campaign, broadcast_id)
    if campaign is None or campaign.kind != KIND:
        return BroadcastProblem("unknown")
    await session.refresh(campaign)
    return BroadcastProblem("not_draft", status=campaign.status)


# -- planning (the broadcasts job) -------------------------------------------------------------


async def due(session: AsyncSession, *, now: datetime) -> list[int]:
    """Broadcasts whose time has come, and any whose planning a crash interrupted."""
    rows = await session.execute(
        select(col(Campaign.id))
        .where(
            col(Campaign.kind) == KIND,
            (col(Campaign.status) == PLANNING)
            | ((col(Campaign.status) == SCHEDULED) & (col(Campaign.scheduled_at) <= now)),
        )
        .order_by(col(Campaign.scheduled_at))
    )
    return [i for i in rows.scalars().all() if i is not None]


async def start_planning(session: AsyncSession, *, broadcast_id: int) -> bool:
    """scheduled → planning (False if it was cancelled meanwhile; True if already planning)."""
    campaign = await session.get(Campaign, broadcast_id)
    if campaign is None or campaign.status not in (SCHEDULED, PLANNING):
        return False
    campaign.status = PLANNING
    return True


async def plan_page(
    session: AsyncSession,
    *,
    broadcast_id: int,
    after_id: int,
    policy: Policy,
    now: datetime,
    default_locale: str,
    locale_of: Callable[[Recipient], str],
) -> tuple[PlanResult, int | None]:
    """Plan one page of the audience (`locale_of`: which language a member reads); returns the
    result and the last member id planned (None when the audience is done, or the broadcast was
    cancelled meanwhile). The campaign row is locked for the page, so a cancel waits for it and
    then takes back what it planned."""
    campaign = await session.get(Campaign, broadcast_id, with_for_update=True)
    if campaign is None or campaign.status != PLANNING:
        return PlanResult(), None
    ids = await member_ids(
        session,
        segment=Segment.from_json(campaign.audience),
        policy=policy,
        now=now,
        default_locale=default_locale,
        after_id=after_id,
        limit=PAGE,
    )
    if not ids:
        campaign.status = SENDING
        return PlanResult(), None
    result = await outbox.plan(
        session,
        campaign=campaign,
        audience=await outbox.recipients(session, member_ids=ids),
        render=_as_written(campaign, locale_of),
        policy=policy,
        now=now,
        photo=campaign.photo,
    )
    return result, ids[-1]


def _as_written(campaign: Campaign, locale_of: Callable[[Recipient], str]) -> outbox.Render:
    """A manager's broadcast goes out as they wrote it: the version in the member's language,
    else the text as first written."""
    versions = _versions(campaign)

    async def render(person: Recipient, holdout: bool) -> tuple[str, int | None]:
        return versions.get(locale_of(person), campaign.text), None

    return render
