"""How a member first came: kept for cohorts (lapse rhythm, campaign results)."""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    TABLE_QR = "table_qr"
    RECEIPT_CLAIM = "receipt_claim"
    REFERRAL = "referral"
    CHAT = "chat"
    CASHIER = "cashier"
