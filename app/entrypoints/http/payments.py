"""HTTP route for what a user has to pay soon, across their cards and loans
(app/services/payments.py)."""

from __future__ import annotations

from flask import Blueprint, Response

from app.adapters.queue.running import utcnow
from app.entrypoints.http.context import repository
from app.entrypoints.http.contract import Answer, contract
from app.entrypoints.http.http import json_response, query
from app.schemas.payments import PaymentsQuerySchema, PaymentsSchema
from app.services.payments import payments_due

blueprint = Blueprint("payments", __name__)

_query_schema = PaymentsQuerySchema()
_payments_schema = PaymentsSchema()


@blueprint.get("/users/<id:user_id>/payments")
@contract(
    "What is due in the next `within` days across the user's cards and loans, soonest first.",
    [Answer(200, "The payments.", PaymentsSchema)],
    description="A card's payment is its statement's (`dueDate`, the last statement balance, "
    "the minimum payment), a loan's its next payment. Overdue payments (`isOverdue`) are listed "
    "whenever they were due; a due date passed without one is a paid statement, and closed "
    "accounts owe nothing here.",
    query=PaymentsQuerySchema,
    conditional_read=True,
)
def payments(user_id: str) -> Response:
    within: int = query(_query_schema)["within"]
    found = payments_due(repository().list_accounts(user_id), utcnow().date(), within)
    return json_response(
        _payments_schema.dump({"user_id": user_id, "within": within, "payments": found})
    )
