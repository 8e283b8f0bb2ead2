"""HTTP route for a user's net worth over time, in one currency (app/services/net_worth.py)."""

from __future__ import annotations

from flask import Blueprint, Response

from app.adapters.queue.running import utcnow
from app.entrypoints.http.balances import asked_span
from app.entrypoints.http.context import components, repository
from app.entrypoints.http.contract import Answer, contract
from app.entrypoints.http.http import json_response, query
from app.schemas.summary import NetWorthQuerySchema, NetWorthSeriesSchema
from app.services.history import MAX_POINTS
from app.services.net_worth import net_worth_series

blueprint = Blueprint("net_worth", __name__)

_query_schema = NetWorthQuerySchema()
_series_schema = NetWorthSeriesSchema()


@blueprint.get("/users/<id:user_id>/net-worth")
@contract(
    "The user's net worth over time in one currency: a point at `to` and every interval before.",
    [Answer(200, "The series.", NetWorthSeriesSchema)],
    description="Each point counts the accounts the summary counts (open, `includeInNetWorth`; "
    "credit and loans as liabilities), each with its balance of that day (its history), and "
    "converts them with that day's ECB rates. A currency with no rate that day is named in "
    "the point's `missingRates` and left out, never taken 1:1. The point of today is the "
    "summary's `converted` total. A range backwards, or of more than "
    f"{MAX_POINTS} points, is a 400.",
    query=NetWorthQuerySchema,
    conditional_read=True,
)
def net_worth(user_id: str) -> Response:
    asked = query(_query_schema)
    today = utcnow().date()
    span = asked_span(asked, today)
    currency, points = net_worth_series(
        repository(), components().rates, user_id, span, today, asked.get("currency")
    )
    shown = {
        "user_id": user_id,
        "currency": currency,
        "interval": span.interval,
        "points": points,
    }
    return json_response(_series_schema.dump(shown))
