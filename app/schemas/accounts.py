"""The JSON shape of accounts: one schema per account type, joined by one registry keyed on `type`.

The same schemas load the seed file and dump responses, so what the service accepts and what it
answers cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import is_dataclass
from typing import Any, ClassVar

from marshmallow import (
    Schema,
    ValidationError,
    fields,
    post_dump,
    post_load,
    pre_load,
    validate,
    validates_schema,
)
from marshmallow.fields import Field
from marshmallow_oneofschema import OneOfSchema

from app.domain.accounts import (
    ALL_SUBTYPES,
    LIABILITY_DETAILS,
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
from app.schemas.fields import (
    EXACT,
    ExactDecimal,
    StrictBoolean,
    UtcDateTime,
    WholeNumber,
    amount,
    currency_code,
    identifier,
    percentage,
    routing_number,
    strict_boolean,
    text,
)


class DetailsSchema(Schema):
    """The `details` of one account type, loaded into that type's dataclass.

    Every field must be there, but what a statement says (LIABILITY_DETAILS, which any
    account may leave unknown); null is allowed here, and BaseAccountSchema refuses it on an
    account added by hand (only a synced account may not know the other details).
    """

    details_class: ClassVar[type[Details]]

    class Meta:
        description = (
            "Every field is there, but what a statement says (what is owed and when), which may "
            "be left out or null on any account. Otherwise null only on a synced account "
            "(`connectionId` set), for what its provider does not say."
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.allow_none = True

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Details:
        return self.details_class(**data)

    @post_dump
    def _leave_out_what_no_statement_said(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        """What a statement would say, when nobody said it, is left out: an account's JSON keeps
        the shape it had before these details were known."""
        for name in LIABILITY_DETAILS & self.fields.keys():
            key = self.fields[name].data_key or name
            if data.get(key, False) is None:
                del data[key]
        return data


def _owed(make: Callable[..., Field[Any]], key: str, description: str, **kwargs: Any) -> Field[Any]:
    """One of LIABILITY_DETAILS: what a statement says is owed and when; may be left out (null:
    not known) on any account."""
    described = {"description": f"{description} Left out or null: not known."}
    return make(required=False, load_default=None, data_key=key, metadata=described, **kwargs)


def _owed_date(key: str, description: str) -> Field[Any]:
    return _owed(fields.Date, key, description)


def _owed_amount(key: str, description: str) -> Field[Any]:
    return _owed(amount, key, f"{description} {EXACT}")


class CreditDetailsSchema(DetailsSchema):
    details_class = CreditDetails

    credit_limit = amount(data_key="creditLimit")
    available_credit = amount(data_key="availableCredit")
    apr = percentage(
        metadata={"description": f"The purchase APR: a yearly rate in percent. {EXACT}"}
    )
    due_date = fields.Date(
        required=True, data_key="dueDate", metadata={"description": "When the next payment is due."}
    )
    cash_advance_apr = _owed(percentage, "cashAdvanceApr", "The cash advance APR, in percent.")
    balance_transfer_apr = _owed(
        percentage, "balanceTransferApr", "The balance transfer APR, in percent."
    )
    last_statement_balance = _owed_amount(
        "lastStatementBalance",
        "What the last statement said was owed: paid by the due date in full, no interest.",
    )
    last_statement_date = _owed_date("lastStatementDate", "When the last statement was issued.")
    minimum_payment = _owed_amount("minimumPayment", "The least to pay by the due date.")
    last_payment_amount = _owed_amount("lastPaymentAmount", "The last payment made.")
    last_payment_date = _owed_date("lastPaymentDate", "When the last payment was made.")
    is_overdue = _owed(strict_boolean, "isOverdue", "Whether a payment is past its due date.")


class LoanDetailsSchema(DetailsSchema):
    details_class = LoanDetails

    principal = amount(metadata={"description": f"What is left to pay. {EXACT}"})
    interest_rate = percentage(data_key="interestRate")
    remaining_term_months = WholeNumber(
        required=True,
        validate=validate.Range(min=0, max=1200),
        data_key="remainingTermMonths",
    )
    origination_date = _owed_date("originationDate", "When the loan was made.")
    origination_principal = _owed_amount("originationPrincipal", "What was borrowed.")
    next_payment_due_date = _owed_date("nextPaymentDueDate", "When the next payment is due.")
    next_payment_amount = _owed_amount("nextPaymentAmount", "What the next payment is.")
    expected_payoff_date = _owed_date("expectedPayoffDate", "When the loan will be paid off.")
    escrow_balance = _owed_amount(
        "escrowBalance",
        "A mortgage's escrow account (what is held for taxes and insurance); on a loan of any "
        "other subtype, a 422.",
    )
    last_payment_amount = _owed_amount("lastPaymentAmount", "The last payment made.")
    last_payment_date = _owed_date("lastPaymentDate", "When the last payment was made.")
    is_overdue = _owed(strict_boolean, "isOverdue", "Whether a payment is past its due date.")


class CheckingDetailsSchema(DetailsSchema):
    details_class = CheckingDetails

    overdraft_protection = strict_boolean(data_key="overdraftProtection")
    routing_number = routing_number(data_key="routingNumber")


class SavingsDetailsSchema(DetailsSchema):
    details_class = SavingsDetails

    apy = percentage()
    minimum_balance = amount(data_key="minimumBalance")
    routing_number = routing_number(data_key="routingNumber")


class InvestmentDetailsSchema(DetailsSchema):
    details_class = InvestmentDetails

    holdings_value = amount(data_key="holdingsValue")
    cash_balance = amount(data_key="cashBalance")


class BaseAccountSchema(Schema):
    """The fields every account has; each subclass adds the `details` of one account type."""

    id = identifier(required=True)
    # Loaded by the registry below (which picks the subclass from it); dumped from Account.type.
    type = fields.Enum(AccountType, by_value=True, dump_only=True)
    # Each type's own list, in its subclass (subtype_field); declared here for its place.
    subtype = fields.String()
    provider = text(100, required=True)
    account_name = text(100, required=True, data_key="accountName")
    official_name = text(
        200,
        allow_none=True,
        load_default=None,
        data_key="officialName",
        metadata={"description": "The institution's full name for the account."},
    )
    nickname = text(
        100,
        allow_none=True,
        load_default=None,
        metadata={"description": "The user's own name for it; theirs even on a synced account."},
    )
    mask = fields.String(
        allow_none=True,
        load_default=None,
        validate=validate.Regexp(r"^[A-Za-z0-9]{2,4}$", error="Must be 2 to 4 letters or digits."),
        metadata={
            "description": "The last 2 to 4 characters of the account number, never the whole.",
            "pattern": "^[A-Za-z0-9]{2,4}$",
        },
    )
    # A balance may be below zero: an overdrawn checking account, a credit card paid beyond it.
    balance = ExactDecimal(required=True, metadata={"description": EXACT})
    available_balance = ExactDecimal(
        allow_none=True,
        load_default=None,
        data_key="availableBalance",
        metadata={
            "description": f"What can be spent or withdrawn now; null where the institution "
            f"gives none. {EXACT}"
        },
    )
    currency = currency_code()
    status = fields.Enum(
        AccountStatus,
        by_value=fields.String,
        load_default=AccountStatus.OPEN,
        metadata={"description": "`closed` accounts are kept, with their last balance."},
    )
    balance_as_of = UtcDateTime(
        allow_none=True,
        load_default=None,
        data_key="balanceAsOf",
        metadata={"description": "When the balance was true (RFC 3339, answered in UTC)."},
    )
    connection_id = fields.String(
        allow_none=True,
        load_default=None,
        data_key="connectionId",
        metadata={"description": "The connection a sync brought it from; null if added by hand."},
    )
    external_id = fields.String(
        allow_none=True,
        load_default=None,
        data_key="externalId",
        metadata={"description": "The provider's id for it; null if added by hand."},
    )
    hidden = StrictBoolean(
        load_default=False,
        metadata={"description": "The user's: hide it from the list the app shows."},
    )
    include_in_net_worth = StrictBoolean(
        load_default=True,
        data_key="includeInNetWorth",
        metadata={"description": "The user's: count it in net worth (GET …/summary)."},
    )

    @validates_schema(skip_on_field_errors=False)
    def known_details_unless_synced(self, data: dict[str, Any], **_: Any) -> None:
        details = data.get("details")
        # Not loaded when it had errors of its own: those are reported already.
        if data.get("connection_id") is not None or not is_dataclass(details):
            return
        wire_names = {
            name: field.data_key or name
            for name, field in self.fields["details"].schema.fields.items()  # type: ignore[attr-defined]
        }
        unknown = {
            wire_names[name]: ["Field may not be null."]
            for name in wire_names
            if getattr(details, name) is None and name not in LIABILITY_DETAILS
        }
        if unknown:
            raise ValidationError({"details": unknown})

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Account:
        return Account(**data)


def subtype_field(account_type: AccountType) -> fields.String:
    allowed = SUBTYPES[account_type]
    return fields.String(
        load_default=allowed[0],
        validate=validate.OneOf(allowed, error=f"Must be one of: {', '.join(allowed)}."),
        metadata={"description": f"`{allowed[0]}` when left out."},
    )


class CreditAccountSchema(BaseAccountSchema):
    subtype = subtype_field(AccountType.CREDIT)
    details = fields.Nested(CreditDetailsSchema, required=True)


class LoanAccountSchema(BaseAccountSchema):
    subtype = subtype_field(AccountType.LOAN)
    details = fields.Nested(LoanDetailsSchema, required=True)

    @validates_schema(skip_on_field_errors=True)
    def escrow_on_a_mortgage(self, data: dict[str, Any], **_: Any) -> None:
        escrow = getattr(data.get("details"), "escrow_balance", None)
        subtype = data.get("subtype") or SUBTYPES[AccountType.LOAN][0]
        if escrow is not None and subtype != "mortgage":
            message = f"A mortgage's only: this loan's subtype is {subtype}."
            raise ValidationError({"details": {"escrowBalance": [message]}})


class CheckingAccountSchema(BaseAccountSchema):
    subtype = subtype_field(AccountType.CHECKING)
    details = fields.Nested(CheckingDetailsSchema, required=True)


class SavingsAccountSchema(BaseAccountSchema):
    subtype = subtype_field(AccountType.SAVINGS)
    details = fields.Nested(SavingsDetailsSchema, required=True)


#: The subtypes investment details had before the subtype moved to the account; each as it is
#: named now.
_FORMER_INVESTMENT_SUBTYPES = {"roth_ira": "roth"}


class InvestmentAccountSchema(BaseAccountSchema):
    subtype = subtype_field(AccountType.INVESTMENT)
    details = fields.Nested(InvestmentDetailsSchema, required=True)

    @pre_load
    def subtype_from_details(self, data: Any, **_: Any) -> Any:
        """An investment's subtype used to be `details.subtype`: still taken from there (older
        seed files and clients), and always answered at the top."""
        details = data.get("details") if isinstance(data, dict) else None
        if not isinstance(details, dict) or "subtype" not in details:
            return data
        rest = {name: value for name, value in details.items() if name != "subtype"}
        former = details["subtype"]
        moved = {**data, "details": rest}
        if "subtype" not in data and former is not None:
            moved["subtype"] = _FORMER_INVESTMENT_SUBTYPES.get(former, former)
        return moved


ACCOUNT_SCHEMAS: dict[AccountType, type[BaseAccountSchema]] = {
    AccountType.CREDIT: CreditAccountSchema,
    AccountType.LOAN: LoanAccountSchema,
    AccountType.CHECKING: CheckingAccountSchema,
    AccountType.SAVINGS: SavingsAccountSchema,
    AccountType.INVESTMENT: InvestmentAccountSchema,
}


class AccountSchema(OneOfSchema):  # type: ignore[misc]  # marshmallow-oneofschema ships no types
    """Any account: `type` picks the per-type schema, on load and on dump."""

    # Instances, not classes: OneOfSchema would otherwise build a new schema for every account.
    type_schemas: ClassVar = {str(kind): schema() for kind, schema in ACCOUNT_SCHEMAS.items()}

    def get_obj_type(self, obj: Account) -> str:
        return str(obj.type)

    def get_data_type(self, data: dict[str, Any]) -> str | None:
        data_type = super().get_data_type(data)
        if data_type is None or (isinstance(data_type, str) and data_type in self.type_schemas):
            return data_type  # None lets OneOfSchema report the missing field
        raise ValidationError({"type": [f"Must be one of: {', '.join(AccountType)}."]})


class UserAccountsSchema(Schema):
    user_id = fields.String(required=True, data_key="userId")
    accounts = fields.List(fields.Nested(AccountSchema), required=True)


class AccountFilterSchema(Schema):
    """The list's query parameters."""

    type = fields.List(
        fields.Enum(AccountType, by_value=fields.String),
        metadata={
            "description": "Only accounts of these types (their union). Also accepted "
            "comma-separated: `?type=credit,loan`."
        },
    )
    subtype = fields.List(
        fields.String(validate=validate.OneOf(ALL_SUBTYPES)),
        metadata={
            "description": "Only accounts of these subtypes (their union), in the same forms: "
            "`?subtype=mortgage,student`."
        },
    )
    status = fields.List(
        fields.Enum(AccountStatus, by_value=fields.String),
        metadata={
            "description": "Only accounts of these statuses, in the same forms. Every status "
            "when left out: closed accounts are listed too."
        },
    )
