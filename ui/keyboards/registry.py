"""Every CallbackData of the bot, by prefix: what `handlers.callbacks` checks each button press
against. A new CallbackData goes in `ALL` (tests/app/test_callbacks.py finds any that does not)."""

from __future__ import annotations

from typing import Final

from aiogram.filters.callback_data import CallbackData

from ui.keyboards.audit import AuditNav
from ui.keyboards.care import CareAct, WhyAnswer
from ui.keyboards.console import (
    BroadcastAct,
    BroadcastAt,
    BroadcastVersion,
    SegmentDone,
    SegmentPick,
    TagPick,
)
from ui.keyboards.feedback import AdoptSuggestion, MarkHandled, RateVisit, SuggestAbout
from ui.keyboards.grades import GradeSet, LabelToggle
from ui.keyboards.pay import CashierCancel, CashierConfirm, PayStart
from ui.keyboards.periods import PeriodPick
from ui.keyboards.profile import BirthdayPick, ConsentChoice, ForgetChoice, ProfileAction
from ui.keyboards.reports import CampaignsPage
from ui.keyboards.reservations import (
    ReserveAnswer,
    ReserveDay,
    ReserveDecide,
    ReserveParty,
    ReservePropose,
    ReserveStart,
    ReserveTime,
)
from ui.keyboards.staff import InviteRole, RemoveStaff
from ui.keyboards.start import LanguageChoice, Menu
from ui.keyboards.wallet import BillCoupon, CouponConfirm, WalletExchange, WalletUse

ALL: Final[tuple[type[CallbackData], ...]] = (
    AuditNav,
    CareAct,
    WhyAnswer,
    PeriodPick,
    BroadcastAct,
    BroadcastAt,
    BroadcastVersion,
    SegmentDone,
    SegmentPick,
    TagPick,
    MarkHandled,
    RateVisit,
    SuggestAbout,
    CashierCancel,
    CashierConfirm,
    PayStart,
    BirthdayPick,
    ConsentChoice,
    ForgetChoice,
    ProfileAction,
    CampaignsPage,
    InviteRole,
    RemoveStaff,
    LanguageChoice,
    Menu,
    BillCoupon,
    CouponConfirm,
    WalletExchange,
    WalletUse,
    GradeSet,
    LabelToggle,
    AdoptSuggestion,
    ReserveAnswer,
    ReserveDay,
    ReserveDecide,
    ReserveParty,
    ReservePropose,
    ReserveStart,
    ReserveTime,
)
BY_PREFIX: Final[dict[str, type[CallbackData]]] = {kind.__prefix__: kind for kind in ALL}
