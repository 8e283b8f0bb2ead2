"""Sliding windows as app/adapters/shared_counts.py weighs everyone's counts between exchanges."""

from __future__ import annotations

import pytest

from app.adapters.shared_counts import _Count


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (600.0, 4 + 10),  # the window just began: all of the previous one still counts
        (630.0, 4 * 0.5 + 10),  # halfway: half of it
        (660.0, 10.0),  # the next window begins: this one becomes the previous, whole
        (690.0, 10 * 0.5),
        (720.0, 0.0),  # two windows on: nothing known still counts
    ],
)
def test_everyones_count_slides_with_the_clock(now: float, expected: float) -> None:
    # Read in window 10 of 60 s (600 to 660): 10 requests in it, 4 in the one before.
    count = _Count(window=60, index=10, current=10, previous=4)
    assert count.everyone(now) == pytest.approx(expected)
