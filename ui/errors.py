"""What a person is told when their request fails: a domain error in their language."""

from __future__ import annotations

from aiogram.utils.i18n import gettext as _

from loyalty.bills import BillProblem
from loyalty.errors import NotAllowed, UnsupportedLocale
from loyalty.payments import ReceiptProblem, RefundProblem
from loyalty.staff import InviteProblem, StaffGone
from loyalty.visits import UnknownTable
from ui.texts import invalid_code_text


def error_text(exc: Exception) -> str:
    """A domain error as the person reads it; any other error as an apology."""
    if isinstance(exc, UnsupportedLocale):
        return _("That language is not available.")
    if isinstance(exc, NotAllowed):
        return _("Sorry, this is only for the restaurant's staff.")
    if isinstance(exc, UnknownTable):
        return invalid_code_text()
    if isinstance(exc, ReceiptProblem):
        if exc.reason == "used":
            return _("This receipt has already been claimed.")
        if exc.reason == "expired":
            return _("This receipt QR code has expired. Please ask the cashier for a new one.")
        return _("This receipt is not valid. Please ask the cashier.")
    if isinstance(exc, InviteProblem):
        if exc.reason == "used":
            return _("This invitation has already been used.")
        if exc.reason == "expired":
            return _("This invitation has expired. Please ask for a new one.")
        if exc.reason == "revoked":
            return _(
                "This invitation was used, and your staff role has since been removed: nothing "
                "was granted. Ask the restaurant for a new invitation if you are joining again."
            )
        return _("This invitation is not valid.")
    if isinstance(exc, StaffGone):
        return _("This person is no longer on the staff.")
    if isinstance(exc, RefundProblem):
        if exc.reason == "already":
            return _("This payment was already refunded.")
        if exc.reason == "unclaimed":
            return _("This receipt was never claimed: there is nothing to reverse.")
        return _("There is no payment with that number.")
    if isinstance(exc, BillProblem):
        return _("This bill is not valid. Please tap Pay again.")
    return _("Sorry, something went wrong on our side. Please try again in a moment.")
