"""`regulars pos key`: a new POS_API_SECRET, created with timestamps (api/pos.py): requests
signed with it must carry X-Regulars-Timestamp within 5 minutes of the server's clock."""

from __future__ import annotations

import secrets

from api.pos import TIMED_KEY_PREFIX


def new_pos_key() -> str:
    return TIMED_KEY_PREFIX + secrets.token_urlsafe(36)
