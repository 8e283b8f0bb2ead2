"""The JSON shapes of what is due: the query, and the payments answered."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, pre_dump, validate

from app.domain.accounts import AccountType
from app.schemas.fields import EXACT, ExactDecimal

#: The furthest ahead one may ask (a year).
MAX_WITHIN_DAYS = 366


class PaymentsQuerySchema(Schema):
    within = fields.Integer(
        load_default=30,
        validate=validate.Range(min=0, max=MAX_WITHIN_DAYS),
        metadata={"description": "How many days ahead, from today (UTC)."},
    )


class PaymentSchema(Schema):
    account_id = fields.String(required=True, data_key="accountId")
    account_name = fields.String(required=True, data_key="accountName")
    provider = fields.String(required=True)
    type = fields.Enum(AccountType, by_value=True, required=True)
    currency = fields.String(required=True)
    due_date = fields.Date(required=True, data_key="dueDate")
    amount_due = ExactDecimal(
        required=True,
        allow_none=True,
        data_key="amountDue",
        metadata={
            "description": "A card's last statement balance (paid in full, no interest), a "
            f"loan's next payment; null if not known. {EXACT}"
        },
    )
    minimum_payment = ExactDecimal(
        required=True, allow_none=True, data_key="minimumPayment", metadata={"description": EXACT}
    )
    overdue = fields.Boolean(required=True)

    @pre_dump
    def _flat(self, due: Any, **_: Any) -> dict[str, Any]:
        """From app/services/payments.py's PaymentDue."""
        account = due.account
        return {
            "account_id": account.id,
            "account_name": account.nickname or account.account_name,
            "provider": account.provider,
            "type": account.type,
            "currency": account.currency,
            "due_date": due.due_date,
            "amount_due": due.amount_due,
            "minimum_payment": due.minimum,
            "overdue": due.overdue,
        }


class PaymentsSchema(Schema):
    user_id = fields.String(required=True, data_key="userId")
    within = fields.Integer(required=True)
    payments = fields.List(
        fields.Nested(PaymentSchema),
        required=True,
        metadata={"description": "Soonest first; overdue ones whenever they were due."},
    )
