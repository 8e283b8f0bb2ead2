"""Balance history's terms: the steps a series may take."""

from __future__ import annotations

from enum import StrEnum


class Interval(StrEnum):
    """How far apart a series' points are."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"
