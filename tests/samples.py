"""Valid accounts of every type, as a client would send or a seed file would hold them; the sync
policy the sync tests share."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

from app.services.aggregation import SyncPolicy

VALID_ACCOUNTS: dict[str, dict[str, Any]] = {
    "credit": {
        "id": "c1",
        "type": "credit",
        "subtype": "credit_card",
        "provider": "Chase",
        "accountName": "Chase Freedom",
        "officialName": None,
        "nickname": None,
        "mask": "4821",
        "balance": 1200.45,
        "availableBalance": 3800,
        "currency": "USD",
        "status": "open",
        "balanceAsOf": None,
        "connectionId": None,
        "externalId": None,
        "hidden": False,
        "includeInNetWorth": True,
        "details": {
            "creditLimit": 5000,
            "availableCredit": 3800,
            "apr": 19.99,
            "dueDate": "2025-06-15",
            "cashAdvanceApr": 27.99,
            "lastStatementBalance": 1100.45,
            "lastStatementDate": "2025-05-20",
            "minimumPayment": 35,
            "lastPaymentAmount": 200,
            "lastPaymentDate": "2025-05-01",
            "isOverdue": False,
        },
    },
    "loan": {
        "id": "l1",
        "type": "loan",
        "subtype": "student",
        "provider": "SoFi",
        "accountName": "Student Loan",
        "officialName": None,
        "nickname": None,
        "mask": None,
        "balance": 8000,
        "availableBalance": None,
        "currency": "USD",
        "status": "open",
        "balanceAsOf": None,
        "connectionId": None,
        "externalId": None,
        "hidden": False,
        "includeInNetWorth": True,
        "details": {
            "principal": 10000,
            "interestRate": 4.5,
            "remainingTermMonths": 12,
            "originationDate": "2020-09-01",
            "originationPrincipal": 12000,
            "nextPaymentDueDate": "2025-06-20",
            "nextPaymentAmount": 180.5,
            "expectedPayoffDate": "2029-06-20",
            "lastPaymentAmount": 180.5,
            "lastPaymentDate": "2025-05-20",
            "isOverdue": False,
        },
    },
    "checking": {
        "id": "k1",
        "type": "checking",
        "subtype": "checking",
        "provider": "Wells Fargo",
        "accountName": "Wells Fargo Checking",
        "officialName": None,
        "nickname": None,
        "mask": "7730",
        "balance": -3.5,
        "availableBalance": 0,
        "currency": "USD",
        "status": "open",
        "balanceAsOf": None,
        "connectionId": None,
        "externalId": None,
        "hidden": False,
        "includeInNetWorth": True,
        "details": {"overdraftProtection": True, "routingNumber": "121000248"},
    },
    "savings": {
        "id": "s1",
        "type": "savings",
        "subtype": "savings",
        "provider": "Ally",
        "accountName": "Online Savings",
        "officialName": None,
        "nickname": None,
        "mask": "3318",
        "balance": 15230.07,
        "availableBalance": 15230.07,
        "currency": "USD",
        "status": "open",
        "balanceAsOf": None,
        "connectionId": None,
        "externalId": None,
        "hidden": False,
        "includeInNetWorth": True,
        "details": {"apy": 4.2, "minimumBalance": 0, "routingNumber": "124003116"},
    },
    "investment": {
        "id": "i1",
        "type": "investment",
        "subtype": "roth",
        "provider": "Fidelity",
        "accountName": "Roth IRA",
        "officialName": None,
        "nickname": None,
        "mask": "6604",
        "balance": 49461.25,
        "availableBalance": None,
        "currency": "EUR",
        "status": "open",
        "balanceAsOf": None,
        "connectionId": None,
        "externalId": None,
        "hidden": False,
        "includeInNetWorth": True,
        "details": {"holdingsValue": 48250.75, "cashBalance": 1210.5},
    },
}


def valid_account(account_type: str, **changes: Any) -> dict[str, Any]:
    """A fresh copy of the valid account of that type; keys like `details__apr` change details."""
    account = copy.deepcopy(VALID_ACCOUNTS[account_type])
    for key, value in changes.items():
        target, _, name = key.rpartition("__")
        (account[target] if target else account)[name] = value
    return account


#: Hourly syncs, three attempts, backoff from 2 s, a 30 s lease, and 10 minutes to wait queued.
POLICY = SyncPolicy(
    interval=timedelta(hours=1),
    max_attempts=3,
    retry_base=2.0,
    retry_cap=60.0,
    lease=timedelta(seconds=30),
    queued_timeout=timedelta(minutes=10),
)
