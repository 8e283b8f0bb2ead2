"""HTTP routes for an account's balance history: the series, and past balances entered by hand
on an account added by hand (app/services/history.py)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from flask import Blueprint, Response, url_for

from app.adapters.queue.running import utcnow
from app.domain.errors import InvalidData
from app.entrypoints.http.context import repository
from app.entrypoints.http.contract import Answer, Body, contract
from app.entrypoints.http.http import (
    invalid_query,
    json_object_body,
    json_response,
    query,
)
from app.entrypoints.http.idempotency import idempotent
from app.schemas.errors import load
from app.schemas.history import BalanceHistorySchema, SeriesQuerySchema, ValuationSchema
from app.services import history as service
from app.services.history import Span

blueprint = Blueprint("balances", __name__)

BALANCES_ROUTE = "/users/<id:user_id>/accounts/<id:account_id>/balances"
#: The range a series covers when `from` is left out.
DEFAULT_SPAN = timedelta(days=30)

_query_schema = SeriesQuerySchema()
_history_schema = BalanceHistorySchema()
_valuation_schema = ValuationSchema()


@blueprint.get(BALANCES_ROUTE)
@contract(
    "The account's balance over time: a point at `to` and at every interval before it.",
    [Answer(200, "The series, in the account's currency.", BalanceHistorySchema)],
    description="Each point is the last balance recorded on or before its day (UTC): every "
    "change of the balance (a sync, at the provider's balanceAsOf; a write; a valuation) is "
    "recorded on its day, the latest of a day winning. A range backwards, or of more than "
    f"{service.MAX_POINTS} points, is a 400.",
    query=SeriesQuerySchema,
    conditional_read=True,
)
def balance_history(user_id: str, account_id: str) -> Response:
    asked = query(_query_schema)
    today = utcnow().date()
    account, points = service.balance_series(
        repository(), user_id, account_id, asked_span(asked, today), today
    )
    shown = {
        "account_id": account.id,
        "currency": account.currency,
        "interval": asked["interval"],
        "points": points,
    }
    return json_response(_history_schema.dump(shown))


def asked_span(asked: Mapping[str, Any], today: date) -> Span:
    """The days a series' query (SeriesQuerySchema) asks for; a 400 for a bad range."""
    end: date = asked.get("end") or today
    try:
        return Span(asked.get("start") or end - DEFAULT_SPAN, end, asked["interval"])
    except InvalidData as refused:  # of the query: a 400, as every bad query parameter is
        raise invalid_query(str(refused), refused.errors) from None


@blueprint.post(BALANCES_ROUTE)
@contract(
    "Enter a past balance of an account added by hand (a valuation); that day's is replaced.",
    [Answer(201, "Recorded.", ValuationSchema, location=True)],
    description="409 `provider-owned` on a synced account, whose history its syncs write; "
    "today's balance is the account's own, changed by a PATCH.",
    body=Body(ValuationSchema),
    errors=[409],
)
@idempotent
def record_valuation(user_id: str, account_id: str) -> Response:
    asked = load(_valuation_schema, json_object_body())
    day, balance = asked["day"], asked["balance"]
    service.record_valuation(repository(), user_id, account_id, day, balance, utcnow().date())
    where = url_for(".delete_valuation", user_id=user_id, account_id=account_id, day=day)
    return json_response(_valuation_schema.dump(asked), 201, {"Location": where})


@blueprint.delete(f"{BALANCES_ROUTE}/<day:day>")
@contract(
    "Remove the balance entered for a day on an account added by hand.",
    [Answer(204, "Removed.")],
    errors=[409],
)
def delete_valuation(user_id: str, account_id: str, day: date) -> Response:
    service.delete_valuation(repository(), user_id, account_id, day)
    return Response(status=204)
