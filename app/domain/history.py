"""Balance history's terms: a point of it, and the steps a series may take."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum

#: An account's balance on a day.
Point = tuple[date, Decimal]


class Interval(StrEnum):
    """How far apart a series' points are."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"
