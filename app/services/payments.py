"""What is due: each card's and loan's next payment within a number of days, and any overdue.

A card's payment is its statement's: due on its `dueDate`, the last statement balance to pay in
full, the minimum payment at least. A loan's is its next payment. Closed accounts owe nothing
here, and a due date passed without the account being overdue is a paid statement, not listed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from app.domain.accounts import Account, AccountStatus, CreditDetails, LoanDetails


@dataclass(frozen=True)
class PaymentDue:
    account: Account
    due_date: date
    #: What to pay: a card's last statement balance, a loan's next payment; None if unknown.
    amount_due: Decimal | None
    minimum: Decimal | None
    overdue: bool


def payments_due(accounts: Iterable[Account], today: date, within_days: int) -> list[PaymentDue]:
    """Those due from `today` through `within_days` later, and any overdue; soonest first."""
    last = today + timedelta(days=within_days)
    found = [
        due
        for account in accounts
        if account.status is AccountStatus.OPEN
        and (due := _next_payment(account)) is not None
        and (due.overdue or today <= due.due_date <= last)
    ]
    return sorted(found, key=lambda due: (due.due_date, due.account.id))


#: Where each kind of details says when its next payment is due, what it is, and its least.
_NEXT_PAYMENT = {
    CreditDetails: ("due_date", "last_statement_balance", "minimum_payment"),
    LoanDetails: ("next_payment_due_date", "next_payment_amount", "next_payment_amount"),
}


def _next_payment(account: Account) -> PaymentDue | None:
    details = account.details
    if not isinstance(details, CreditDetails | LoanDetails):
        return None
    due_date, amount_due, minimum = (
        getattr(details, name) for name in _NEXT_PAYMENT[type(details)]
    )
    if due_date is None:
        return None
    return PaymentDue(account, due_date, amount_due, minimum, details.is_overdue is True)
