"""The simulated guests: when each comes, what they spend, how they answer a message.

A guest is a renewal process: after each visit the next planned visit is drawn (a gamma gap
around the kind's rhythm, stretched by its drift), until the guest leaves for good (a churn time
drawn up front; a passer-by may leave after the first visit). A delivered message may bring a
visit forward (and may bring back a guest who had left); every marketing message may also end
marketing for them (/stop, or blocking the bot).

Common random numbers: each guest draws from its own streams, one per purpose, seeded from
(seed, guest, purpose) — so under every policy the same guest has the same rhythm, the same
bills and the same dice for answering messages, and policies differ only by what they send.
Nothing here knows any policy: guests see only the messages the real engine delivered.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from simulator.world import Kind, World

TELEGRAM_ID_BASE = 7_000_000_000


def stream(seed: int, guest: int, purpose: str) -> random.Random:
    """A random stream of its own for one guest and one purpose (common random numbers)."""
    digest = hashlib.sha256(f"{seed}:{guest}:{purpose}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


class Quit(StrEnum):
    NONE = ""
    STOPPED = "stopped"  # /stop: marketing off
    BLOCKED = "blocked"  # blocked the bot: Telegram answers 403


@dataclass(slots=True)
class Guest:
    index: int
    kind: Kind
    first_day: int
    lunch: bool
    consent: bool
    birthday: date | None
    language: str
    churn_day: float
    gone_after_first: bool
    rhythm: random.Random
    bills: random.Random
    answers: random.Random
    patience: random.Random
    next_visit: float | None = None
    pulled: float | None = None
    gone: bool = False
    quit: Quit = Quit.NONE
    visits: int = 0
    member_id: int | None = None
    coupon_until: int = -1
    """The last day a coupon the guest was told about may still be usable (they look then)."""
    heard: list[tuple[int, str]] = field(default_factory=list)
    """(day, category) of each marketing message delivered."""

    @property
    def telegram_id(self) -> int:
        return TELEGRAM_ID_BASE + self.index

    def visits_on(self, day: int) -> bool:
        """Does the guest come on `day` (planned, or brought forward by a message)?"""
        if self.visits == 0:
            return day == self.first_day
        if not self.gone and day >= self.churn_day:
            self.gone = True
        due = [t for t in (self.pulled, None if self.gone else self.next_visit) if t is not None]
        return bool(due) and min(due) < day + 0.5  # on the nearest day: gaps unbiased

    def visited(self, day: int) -> None:
        """Plan the next visit after today's (and leave, if this was a passer-by's only one)."""
        self.visits += 1
        self.pulled = None
        years = max(0.0, (day - self.first_day) / 365.0)
        mean = self.kind.gap_days * math.exp(self.kind.drift_per_year * years)
        gap = self.rhythm.gammavariate(self.kind.gap_shape, mean / self.kind.gap_shape)
        self.next_visit = day + max(1.0, gap)
        if self.visits == 1 and self.gone_after_first:
            self.gone = True

    def bill(self, world: World) -> float:
        """Today's bill before any coupon (lognormal around the kind's ticket; friends double)."""
        sigma2 = math.log(1.0 + self.kind.ticket_cv**2)
        amount = self.bills.lognormvariate(math.log(self.kind.ticket) - sigma2 / 2, sigma2**0.5)
        if self.bills.random() < self.kind.friends:
            amount *= world.friends_bill
        return round(max(1.0, amount), 2)

    def hears(self, world: World, *, day: int, category: str, weekend: bool) -> Quit:
        """A marketing message was delivered today: maybe come sooner; maybe quit marketing.

        Every call draws the same number of random numbers, so the streams stay aligned between
        policies as far as the messages allow."""
        response = world.response
        u, delay, revive = (
            self.answers.random(),
            self.answers.expovariate(1.0 / response.delay_days),
            self.answers.random(),
        )
        repeats = sum(1 for d, c in self.heard if c == category and day - d < response.repeat_days)
        in_week = sum(1 for d, _ in self.heard if day - d < 7)
        self.heard.append((day, category))
        chance = response.of(category) * self.kind.responsiveness
        chance *= response.repeat_decay**repeats
        if self.gone:
            chance *= response.gone_factor
        if u < chance:
            at = day + 0.5 + min(delay, float(response.window_days))
            if self.gone and revive < response.revive:  # back for good (for as long again)
                self.gone = False
                self.next_visit = None
                self.churn_day = day + (self.churn_day - self.first_day)
            planned = self.next_visit if self.next_visit is not None else math.inf
            if at < planned or self.gone:
                self.pulled = at if self.pulled is None else min(self.pulled, at)
        return self._tires(world, weekend=weekend, in_week=in_week)

    def _tires(self, world: World, *, weekend: bool, in_week: int) -> Quit:
        fatigue = world.fatigue
        u, how = self.patience.random(), self.patience.random()
        chance = fatigue.optout_per_message * fatigue.per_extra_in_week**in_week
        if weekend:
            chance *= fatigue.weekend_factor
        if self.quit is Quit.NONE and u < chance:
            self.quit = Quit.BLOCKED if how < fatigue.block_share else Quit.STOPPED
            return self.quit
        return Quit.NONE


def make_guests(world: World, *, count: int, days: int, seed: int) -> list[Guest]:
    """`count` guests, the same ones for every policy of a run with this seed."""
    guests = []
    kinds = world.kinds
    languages = sorted(world.languages.items())
    for index in range(count):
        setup = stream(seed, index, "setup")
        kind = setup.choices(kinds, weights=[k.share for k in kinds])[0]
        first_day = setup.randrange(max(1, int(days * world.arrival_share)))
        hazard = -math.log(1.0 - min(kind.annual_churn, 0.999999)) / 365.0
        churn_after = setup.expovariate(hazard) if hazard > 0 else math.inf
        birthday = date(2000, setup.randint(1, 12), setup.randint(1, 28))
        guests.append(
            Guest(
                index=index,
                kind=kind,
                first_day=first_day,
                lunch=setup.random() < 0.5,
                consent=setup.random() < world.consent_yes,
                birthday=birthday if setup.random() < world.birthday_given else None,
                language=setup.choices(
                    [name for name, _ in languages], weights=[w for _, w in languages]
                )[0],
                churn_day=first_day + churn_after,
                gone_after_first=setup.random() < kind.gone_after_first,
                rhythm=stream(seed, index, "rhythm"),
                bills=stream(seed, index, "bills"),
                answers=stream(seed, index, "answers"),
                patience=stream(seed, index, "patience"),
            )
        )
    return guests
