"""The JSON shapes of a user's net worth: today's summary, and the series over time."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, pre_dump

from app.domain.accounts import AccountType
from app.schemas.fields import EXACT, ExactDecimal, currency_code
from app.schemas.history import SeriesQuerySchema, SeriesSchema


class TypeTotalSchema(Schema):
    count = fields.Integer(required=True)
    total = ExactDecimal(required=True, metadata={"description": EXACT})


class CurrencySummarySchema(Schema):
    currency = fields.String(required=True)
    assets = ExactDecimal(
        required=True,
        metadata={
            "description": "Checking, savings and investment balances (an overdraft "
            "counts as a negative asset)."
        },
    )
    liabilities = ExactDecimal(
        required=True, metadata={"description": "Credit and loan balances: what is owed."}
    )
    net_worth = ExactDecimal(
        required=True, data_key="netWorth", metadata={"description": "assets - liabilities."}
    )
    by_type = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(TypeTotalSchema),
        required=True,
        data_key="byType",
        metadata={
            "description": "Per account type: the accounts counted, and their balances' sum."
        },
    )
    closed_accounts = fields.Integer(
        required=True,
        data_key="closedAccounts",
        metadata={"description": "Closed accounts in this currency, counted nowhere else."},
    )
    excluded_accounts = fields.Integer(
        required=True,
        data_key="excludedAccounts",
        metadata={"description": "Open accounts the user leaves out (`includeInNetWorth: false`)."},
    )

    @pre_dump
    def _flat(self, summary: Any, **_: Any) -> dict[str, Any]:
        """From app/services/summary.py's CurrencySummary."""
        return {
            "currency": summary.currency,
            "assets": summary.assets,
            "liabilities": summary.liabilities,
            "net_worth": summary.net_worth,
            "by_type": {str(kind): summary.by_type[kind] for kind in AccountType},
            "closed_accounts": summary.closed,
            "excluded_accounts": summary.left_out,
        }


class ConvertedTotalsSchema(Schema):
    """Every currency's totals as one (app/services/summary.py's ConvertedTotal)."""

    assets = ExactDecimal(required=True, metadata={"description": EXACT})
    liabilities = ExactDecimal(required=True, metadata={"description": EXACT})
    net_worth = ExactDecimal(
        required=True, data_key="netWorth", metadata={"description": "assets - liabilities."}
    )
    missing_rates = fields.List(
        fields.String(),
        required=True,
        data_key="missingRates",
        metadata={
            "description": "Currencies with no exchange rate that day (none published, or "
            "the last more than 7 days before): left out of these totals, never taken 1:1."
        },
    )


class ConvertedTotalSchema(ConvertedTotalsSchema):
    currency = fields.String(required=True)
    rates_of = fields.Date(
        required=True,
        data_key="ratesOf",
        metadata={"description": "The day whose rates were used."},
    )


class NetWorthPointSchema(ConvertedTotalsSchema):
    rates_of = fields.Date(
        required=True,
        data_key="date",
        metadata={"description": "The day: its balances, converted with its rates."},
    )


class NetWorthQuerySchema(SeriesQuerySchema):
    currency = currency_code(
        required=False,
        metadata={
            "description": "The currency to add up in (the user's base currency when left out)."
        },
    )


class _Points(fields.List[Any]):
    """NetWorthPointSchema's list, written without marshmallow's work per field: 0.4 ms instead
    of 5 ms for two years of days (bench/history.py). tests/unit/test_schemas.py holds the two
    writings equal."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return [
            {
                "assets": point.assets,
                "liabilities": point.liabilities,
                "netWorth": point.net_worth,
                "missingRates": list(point.missing_rates),
                "date": point.rates_of.isoformat(),
            }
            for point in value
        ]


class NetWorthSeriesSchema(SeriesSchema):
    user_id = fields.String(required=True, data_key="userId")
    points = _Points(
        fields.Nested(NetWorthPointSchema),
        required=True,
        metadata={
            "description": "Oldest first, from the first day any counted account has a "
            "balance; the last is the summary's converted total when `to` is today."
        },
    )


class SummaryQuerySchema(Schema):
    """The summary's query parameters."""

    currency = currency_code(
        required=False,
        metadata={"description": "Also add everything up in this currency (`converted`)."},
    )


class SummarySchema(Schema):
    user_id = fields.String(required=True, data_key="userId")
    currencies = fields.List(
        fields.Nested(CurrencySummarySchema),
        required=True,
        metadata={"description": "One per currency the user holds, never added together."},
    )
    converted = fields.Nested(
        ConvertedTotalSchema,
        metadata={"description": "With `?currency=`: all of them in that currency, today."},
    )
