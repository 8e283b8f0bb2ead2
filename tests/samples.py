"""Valid accounts of every type, as a client would send or a seed file would hold them."""

from __future__ import annotations

import copy
from typing import Any

VALID_ACCOUNTS: dict[str, dict[str, Any]] = {
    "credit": {
        "id": "c1",
        "type": "credit",
        "provider": "Chase",
        "accountName": "Chase Freedom",
        "balance": 1200.45,
        "currency": "USD",
        "status": "open",
        "balanceAsOf": None,
        "connectionId": None,
        "externalId": None,
        "details": {
            "creditLimit": 5000,
            "availableCredit": 3800,
            "apr": 19.99,
            "dueDate": "2025-06-15",
        },
    },
    "loan": {
        "id": "l1",
        "type": "loan",
        "provider": "SoFi",
        "accountName": "Student Loan",
        "balance": 8000,
        "currency": "USD",
        "status": "open",
        "balanceAsOf": None,
        "connectionId": None,
        "externalId": None,
        "details": {"principal": 10000, "interestRate": 4.5, "remainingTermMonths": 12},
    },
    "checking": {
        "id": "k1",
        "type": "checking",
        "provider": "Wells Fargo",
        "accountName": "Wells Fargo Checking",
        "balance": -3.5,
        "currency": "USD",
        "status": "open",
        "balanceAsOf": None,
        "connectionId": None,
        "externalId": None,
        "details": {"overdraftProtection": True, "routingNumber": "121000248"},
    },
    "savings": {
        "id": "s1",
        "type": "savings",
        "provider": "Ally",
        "accountName": "Online Savings",
        "balance": 15230.07,
        "currency": "USD",
        "status": "open",
        "balanceAsOf": None,
        "connectionId": None,
        "externalId": None,
        "details": {"apy": 4.2, "minimumBalance": 0, "routingNumber": "124003116"},
    },
    "investment": {
        "id": "i1",
        "type": "investment",
        "provider": "Fidelity",
        "accountName": "Roth IRA",
        "balance": 49461.25,
        "currency": "EUR",
        "status": "open",
        "balanceAsOf": None,
        "connectionId": None,
        "externalId": None,
        "details": {"subtype": "roth_ira", "holdingsValue": 48250.75, "cashBalance": 1210.5},
    },
}


def valid_account(account_type: str, **changes: Any) -> dict[str, Any]:
    """A fresh copy of the valid account of that type; keys like `details__apr` change details."""
    account = copy.deepcopy(VALID_ACCOUNTS[account_type])
    for key, value in changes.items():
        target, _, name = key.rpartition("__")
        (account[target] if target else account)[name] = value
    return account
