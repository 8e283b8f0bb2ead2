"""Syncing: what a provider says about a connection's accounts, turned into ours and stored.

The rules: a provider's account becomes one of our five types by its type and subtype (Plaid's
lists); the provider's current balance is the balance and its as-of time is `balanceAsOf`; what
the provider does not say is left unknown (null), never made up; accounts are matched by
(connectionId, externalId), so a sync run twice, or delivered twice, changes nothing the second
time; an account the provider stops returning is closed, never deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from app.domain.accounts import (
    SUBTYPES,
    Account,
    AccountStatus,
    AccountType,
    CheckingDetails,
    CreditDetails,
    Details,
    InvestmentDetails,
    LoanDetails,
    SavingsDetails,
)
from app.services.providers import Liability, ProviderAccount
from app.services.repositories import AccountRepository, SyncOutcome

# Plaid's depository subtypes that are savings rather than checking accounts.
_SAVINGS_SUBTYPES = frozenset({"savings", "cd", "money market", "hsa"})
# Plaid's subtypes (snake_cased) that are ours under another name; the rest are ours as they are,
# or, unknown here, the type's catch-all.
_SUBTYPE_ALIASES = {
    AccountType.CHECKING: {"paypal": "prepaid", "ebt": "prepaid"},
    AccountType.CREDIT: {"paypal": "credit_card"},
    AccountType.LOAN: {
        "home_equity": "heloc",
        "line_of_credit": "heloc",
        "commercial": "business",
        "construction": "business",
        "consumer": "personal",
        "loan": "personal",
    },
    AccountType.INVESTMENT: {"401a": "401k", "retirement": "pension"},
}
_CATCH_ALL = {AccountType.LOAN: "other", AccountType.INVESTMENT: "other"}
_NAME_LENGTH = 100


def account_type(provider_account: ProviderAccount) -> AccountType | None:
    """Ours for the provider's type and subtype; None for what this service holds no type for
    (Plaid's `other`)."""
    kind, subtype = provider_account.type, provider_account.subtype or ""
    if kind == "depository":
        return AccountType.SAVINGS if subtype in _SAVINGS_SUBTYPES else AccountType.CHECKING
    return {
        "credit": AccountType.CREDIT,
        "loan": AccountType.LOAN,
        "investment": AccountType.INVESTMENT,
    }.get(kind)


def _details(kind: AccountType, provider_account: ProviderAccount) -> Details:
    balances = provider_account.balances
    owed = provider_account.liability or Liability()
    paid: dict[str, Any] = {
        "last_payment_amount": owed.last_payment_amount,
        "last_payment_date": owed.last_payment_date,
        "is_overdue": owed.is_overdue,
    }
    if kind is AccountType.CREDIT:
        available = balances.available
        if available is None and balances.limit is not None and balances.current is not None:
            available = balances.limit - balances.current
        return CreditDetails(
            balances.limit,
            # Over the limit, nothing is available: not a negative amount.
            None if available is None else max(Decimal(0), available),
            owed.purchase_apr,
            owed.next_payment_due_date,
            cash_advance_apr=owed.cash_advance_apr,
            balance_transfer_apr=owed.balance_transfer_apr,
            last_statement_balance=owed.last_statement_balance,
            last_statement_date=owed.last_statement_date,
            minimum_payment=owed.minimum_payment,
            **paid,
        )
    if kind is AccountType.LOAN:
        return LoanDetails(
            None,
            owed.interest_rate,
            None,
            origination_date=owed.origination_date,
            origination_principal=owed.origination_principal,
            next_payment_due_date=owed.next_payment_due_date,
            next_payment_amount=owed.next_payment_amount,
            expected_payoff_date=owed.expected_payoff_date,
            escrow_balance=owed.escrow_balance,
            **paid,
        )
    if kind is AccountType.SAVINGS:
        return SavingsDetails(None, None, None)
    if kind is AccountType.INVESTMENT:
        return InvestmentDetails(balances.current, None)
    return CheckingDetails(None, None)


def subtype(kind: AccountType, provider_subtype: str | None) -> str:
    """Ours for the provider's subtype of an account of ours of `kind`."""
    said = (provider_subtype or "").lower().replace(" ", "_")
    said = _SUBTYPE_ALIASES.get(kind, {}).get(said, said)
    return said if said in SUBTYPES[kind] else _CATCH_ALL.get(kind, SUBTYPES[kind][0])


def to_account(
    provider_account: ProviderAccount, connection_id: str, institution_name: str, account_id: str
) -> Account | None:
    """Our account for the provider's, stored under `account_id` if it is new; None when it
    cannot be one of ours (a type we do not hold, or no balance or currency to show)."""
    kind = account_type(provider_account)
    balances = provider_account.balances
    if kind is None or balances.current is None or balances.currency is None:
        return None
    return Account(
        id=account_id,
        provider=institution_name[:_NAME_LENGTH],
        account_name=(provider_account.name or provider_account.official_name or "?")[
            :_NAME_LENGTH
        ],
        balance=balances.current,
        currency=balances.currency,
        details=_details(kind, provider_account),
        subtype=subtype(kind, provider_account.subtype),
        mask=_mask(provider_account.mask),
        official_name=(provider_account.official_name or "")[:200] or None,
        available_balance=balances.available,
        status=AccountStatus.OPEN,
        balance_as_of=balances.as_of,
        connection_id=connection_id,
        external_id=provider_account.external_id,
    )


def _mask(said: str | None) -> str | None:
    """The provider's mask when it is one (the last 2 to 4 letters or digits); never more."""
    if said is None:
        return None
    kept = "".join(character for character in said if character.isascii() and character.isalnum())
    return kept[-4:] if len(kept) >= 2 else None


def store_sync(
    repository: AccountRepository,
    user_id: str,
    connection_id: str,
    institution_name: str,
    provider_accounts: Sequence[ProviderAccount],
    new_id: Callable[[], str],
    limit: int | None = None,
) -> SyncOutcome:
    """Stores what the provider said, all of it at once (see the module's rules). Raises
    TooManyAccounts, storing nothing, when the user would hold more than `limit` accounts."""
    accounts = [
        account
        for provider_account in provider_accounts
        if (account := to_account(provider_account, connection_id, institution_name, new_id()))
        is not None
    ]
    return repository.apply_sync(user_id, connection_id, accounts, limit)
