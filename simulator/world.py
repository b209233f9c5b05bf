"""The simulated guests' world: kinds, responses and fatigue, read from ``world.toml``.

The defaults (``simulator/world.toml``) cite their sources in the file itself; this module only
reads and checks them, and can scale the response chances (the sensitivity runs: ×0.5, ×2, or 0
for a world where messages move nobody).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any


class WorldError(Exception):
    """The world file is missing a key or has a value out of range."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Kind:
    name: str
    share: float
    gap_days: float
    gap_shape: float
    gone_after_first: float
    annual_churn: float
    drift_per_year: float
    ticket: float
    ticket_cv: float
    friends: float
    responsiveness: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Response:
    delay_days: float
    window_days: int
    gone_factor: float
    revive: float
    repeat_days: int
    repeat_decay: float
    chance: dict[str, float]

    def of(self, category: str) -> float:
        return self.chance.get(category, self.chance.get("other", 0.0))


@dataclass(frozen=True, slots=True, kw_only=True)
class Fatigue:
    optout_per_message: float
    weekend_factor: float
    per_extra_in_week: float
    block_share: float


@dataclass(frozen=True, slots=True, kw_only=True)
class World:
    currency: str
    timezone: str
    arrival_share: float
    consent_yes: float
    birthday_given: float
    languages: dict[str, float]
    use_coupon_when_visiting: float
    stretch_to_minimum: float
    kinds: tuple[Kind, ...]
    response: Response
    fatigue: Fatigue
    friends_bill: float

    def with_response_scale(self, factor: float) -> World:
        """The same world with every response chance multiplied by `factor` (capped at 1)."""
        chance = {k: min(1.0, v * factor) for k, v in self.response.chance.items()}
        return replace(self, response=replace(self.response, chance=chance))


DEFAULT_WORLD: Traversable = resources.files("simulator").joinpath("world.toml")


def load_world(path: Path | Traversable | None = None) -> World:
    source = path if path is not None else DEFAULT_WORLD
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise WorldError(f"{source}: {exc}") from None
    try:
        return _build(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise WorldError(f"{source}: {exc!r}") from None


def _probability(name: str, value: Any) -> float:
    number = float(value)
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, not {number}")
    return number


def _kind(name: str, raw: dict[str, Any]) -> Kind:
    kind = Kind(
        name=name,
        share=_probability(f"{name}.share", raw["share"]),
        gap_days=float(raw["gap_days"]),
        gap_shape=float(raw["gap_shape"]),
        gone_after_first=_probability(f"{name}.gone_after_first", raw["gone_after_first"]),
        annual_churn=_probability(f"{name}.annual_churn", raw["annual_churn"]),
        drift_per_year=float(raw["drift_per_year"]),
        ticket=float(raw["ticket"]),
        ticket_cv=float(raw["ticket_cv"]),
        friends=_probability(f"{name}.friends", raw["friends"]),
        responsiveness=float(raw["responsiveness"]),
    )
    if kind.gap_days <= 0 or kind.gap_shape <= 0 or kind.ticket <= 0:
        raise ValueError(f"{name}: gap_days, gap_shape and ticket must be positive")
    return kind


def _build(data: dict[str, Any]) -> World:
    world = data["world"]
    kinds = tuple(_kind(name, raw) for name, raw in data["kinds"].items())
    if abs(sum(k.share for k in kinds) - 1.0) > 1e-6:
        raise ValueError("the kinds' shares must sum to 1")
    response = data["response"]
    fatigue = data["fatigue"]
    return World(
        currency=str(world["currency"]),
        timezone=str(world["timezone"]),
        arrival_share=_probability("arrival_share", world["arrival_share"]),
        consent_yes=_probability("consent_yes", world["consent_yes"]),
        birthday_given=_probability("birthday_given", world["birthday_given"]),
        languages={str(k): float(v) for k, v in world["languages"].items()},
        use_coupon_when_visiting=_probability(
            "use_coupon_when_visiting", world["use_coupon_when_visiting"]
        ),
        stretch_to_minimum=float(world["stretch_to_minimum"]),
        friends_bill=float(world["friends_bill"]),
        kinds=kinds,
        response=Response(
            delay_days=float(response["delay_days"]),
            window_days=int(response["window_days"]),
            gone_factor=_probability("gone_factor", response["gone_factor"]),
            revive=_probability("revive", response["revive"]),
            repeat_days=int(response["repeat_days"]),
            repeat_decay=_probability("repeat_decay", response["repeat_decay"]),
            chance={str(k): _probability(k, v) for k, v in response["chance"].items()},
        ),
        fatigue=Fatigue(
            optout_per_message=_probability("optout_per_message", fatigue["optout_per_message"]),
            weekend_factor=float(fatigue["weekend_factor"]),
            per_extra_in_week=float(fatigue["per_extra_in_week"]),
            block_share=_probability("block_share", fatigue["block_share"]),
        ),
    )
