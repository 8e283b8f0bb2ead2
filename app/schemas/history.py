"""The JSON shapes of balance history: the series asked for, as answered, and a past balance
entered by hand (a valuation)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, pre_dump

from app.domain.history import Interval
from app.schemas.fields import EXACT, ExactDecimal


class SeriesQuerySchema(Schema):
    """A series' query parameters: its days."""

    start = fields.Date(
        data_key="from",
        metadata={"description": "The first day (30 days before `to` when left out)."},
    )
    end = fields.Date(
        data_key="to",
        metadata={
            "description": "The last day, which always has a point (today, UTC, when left out)."
        },
    )
    interval = fields.Enum(
        Interval,
        by_value=True,
        load_default=Interval.DAY,
        metadata={"description": "A point at `to`, and one every interval before it."},
    )


class BalancePointSchema(Schema):
    day = fields.Date(required=True, data_key="date")
    balance = ExactDecimal(
        required=True,
        metadata={"description": f"The last balance recorded on or before the day. {EXACT}"},
    )


class SeriesSchema(Schema):
    """What every series answers beside its points."""

    currency = fields.String(required=True)
    interval = fields.Enum(Interval, by_value=True, required=True)


class BalanceHistorySchema(SeriesSchema):
    account_id = fields.String(required=True, data_key="accountId")
    points = fields.List(
        fields.Nested(BalancePointSchema),
        required=True,
        metadata={"description": "Oldest first; none before the first balance recorded."},
    )

    @pre_dump
    def _points(self, shown: dict[str, Any], **_: Any) -> dict[str, Any]:
        return {
            **shown,
            "points": [{"day": day, "balance": value} for day, value in shown["points"]],
        }


class ValuationSchema(Schema):
    """A past balance of an account entered by hand."""

    day = fields.Date(required=True, data_key="date", metadata={"description": "A past day."})
    balance = ExactDecimal(required=True, metadata={"description": EXACT})
