"""Exchange rates: kept by every store alike, read from the ECB's own files, and amounts converted
with them exactly, checked against the ECB's published rates for known days."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from app import create_app
from app.adapters.ecb import PACKAGED_HISTORY, RatesFileError, read_rates
from app.adapters.storage.memory_rates import InMemoryRates
from app.entrypoints.http.context import components_of
from app.services.rates import MAX_AGE, DayRates, Rate, RateStore, convert
from tests.conftest import SEED_FILE
from tests.databases import STORE_KINDS, migrated, store_of

FRIDAY, SATURDAY = date(2026, 10, 30), date(2026, 10, 31)


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RateStore]:
    found = store_of(request.param, request, tmp_path, {})
    yield found
    found.close()


def test_a_days_rate_is_the_latest_on_or_before_it(store: RateStore) -> None:
    given = [
        Rate(date(2026, 10, 29), "USD", Decimal("1.113")),
        Rate(FRIDAY, "USD", Decimal("1.1172")),
        Rate(FRIDAY, "JPY", Decimal("175.68")),
    ]
    assert store.store_rates(given) == 3
    assert sorted(store.rates_between({"USD", "JPY", "ARS"}, FRIDAY, SATURDAY), key=str) == sorted(
        given[1:], key=str
    )
    assert store.rates_between({"USD"}, date(2026, 10, 1), date(2026, 10, 29)) == [given[0]]
    assert store.rates_between(set(), FRIDAY, SATURDAY) == []
    read = DayRates.read(store, {"USD", "JPY", "EUR", "ARS"}, date(2026, 10, 28), SATURDAY)
    assert read.of(SATURDAY) == {"EUR": 1, "USD": Decimal("1.1172"), "JPY": Decimal("175.68")}
    assert read.of(date(2026, 10, 29)) == {"EUR": 1, "USD": Decimal("1.113")}
    assert read.of(date(2026, 10, 28)) == {"EUR": 1}
    # Read for a later day, a week-old rate still counts; one older is missing.
    assert DayRates.read(store, {"USD"}, FRIDAY + MAX_AGE, FRIDAY + MAX_AGE).of(
        FRIDAY + MAX_AGE
    ) == {"EUR": 1, "USD": Decimal("1.1172")}
    later = FRIDAY + MAX_AGE + timedelta(days=1)
    assert DayRates.read(store, {"USD"}, later, later).of(later) == {"EUR": 1}
    # Loaded again, or corrected: one rate per currency and day, the last given.
    corrected = Rate(FRIDAY, "USD", Decimal("1.11720"))
    assert store.store_rates([corrected]) == 1
    [kept] = store.rates_between({"USD"}, FRIDAY, FRIDAY)
    assert (kept.per_euro, str(kept.per_euro)) == (Decimal("1.1172"), "1.11720")


def test_days_given_newest_first_are_found_by_range(store: RateStore) -> None:
    # The order of the ECB's history file.
    days = [date(2026, 10, 30) - timedelta(days=n) for n in range(10)]
    store.store_rates(Rate(day, "USD", Decimal(f"1.1{n}")) for n, day in enumerate(days))
    found = store.rates_between({"USD"}, days[7], days[2])
    assert sorted(rate.day for rate in found) == sorted(days[2:8])


@pytest.fixture(scope="module")
def ecb() -> RateStore:
    rates = InMemoryRates()
    rates.store_rates(read_rates(PACKAGED_HISTORY.read_bytes()))
    return rates


@pytest.mark.parametrize(
    ("amounts", "to", "day", "total", "missing"),
    [
        # 100 / 1.1172 = 89.5094…, rounded once to cents.
        ({"USD": Decimal(100)}, "EUR", FRIDAY, Decimal("89.51"), ()),
        # Through the euro on Saturday, with Friday's rates: 100 / 0.8338 * 1.1172 = 133.9889….
        ({"GBP": Decimal(100)}, "USD", SATURDAY, Decimal("133.99"), ()),
        # The yen has no minor unit: 100 / 1.1172 * 175.68 = 15725.03.
        ({"USD": Decimal(100)}, "JPY", FRIDAY, Decimal("15725"), ()),
        # Another day's rates: 2015-03-02, USD 1.1227, GBP 0.7294: (1000 + 1) * 0.7294 = 730.1294.
        (
            {"USD": Decimal("1122.70"), "EUR": Decimal(1)},
            "GBP",
            date(2015, 3, 2),
            Decimal("730.13"),
            (),
        ),
        # A currency the ECB does not publish is named, never taken 1:1.
        ({"USD": Decimal(100), "ARS": Decimal(5000)}, "EUR", FRIDAY, Decimal("89.51"), ("ARS",)),
        # Nor is one whose last rate is more than a week old (the Cypriot pound, gone in 2008).
        ({"CYP": Decimal(10), "EUR": Decimal(1)}, "EUR", FRIDAY, Decimal("1.00"), ("CYP",)),
        # Amounts in the target currency need no rate, even when it has none.
        ({"ARS": Decimal("10.5"), "USD": Decimal(1)}, "ARS", FRIDAY, Decimal("10.50"), ("USD",)),
    ],
)
def test_amounts_are_converted_exactly_with_the_ecbs_rates(
    ecb: RateStore,
    amounts: dict[str, Decimal],
    to: str,
    day: date,
    total: Decimal,
    missing: tuple[str, ...],
) -> None:
    converted = convert(amounts, to, DayRates.read(ecb, {*amounts, to}, day, day).of(day))
    assert (converted.currency, converted.total, converted.missing) == (to, total, missing)
    assert str(converted.total) == str(total)


def test_the_daily_file_and_the_history_read_alike(tmp_path: Path) -> None:
    daily = (PACKAGED_HISTORY.parent / "eurofxref.csv").read_bytes()
    rates = {(rate.currency, rate.day): rate.per_euro for rate in read_rates(daily)}
    assert rates[("USD", FRIDAY)] == Decimal("1.1172")
    assert rates[("GBP", FRIDAY)] == Decimal("0.8338")
    with pytest.raises(RatesFileError, match=r"^x\.csv: not the ECB's rates"):
        list(read_rates(b"day,USD\n2026-10-30,1.1\n", "x.csv"))
    with pytest.raises(RatesFileError, match=r"^x\.csv, line 2, USD: 'one' is not a number$"):
        list(read_rates(b"Date,USD\n2026-10-30,one\n", "x.csv"))
    for broken in (b"PK\x03\x04 no zip", b"Date,USD\n\xff\xfe,1\n", b"Date,USD\n2026-10-30,\x00\n"):
        with pytest.raises(RatesFileError, match=r"^x\.csv[:,] "):
            list(read_rates(broken, "x.csv"))


def test_rates_load_fills_the_database_once_however_often_it_runs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rates.db'}"
    migrated(url).dispose()
    command = [sys.executable, "-m", "app", "rates", "load", "--database-url", url]
    for _ in range(2):
        loaded = subprocess.run(command, capture_output=True, text=True, check=True)
        assert loaded.stdout.endswith(": 221702 rates of 41 currencies, 1999-01-04 to 2026-10-30\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("Date,USD\nyesterday,1.1\n")
    refused = subprocess.run([*command, str(bad)], capture_output=True, text=True)
    assert refused.returncode == 1
    assert refused.stderr == f"Error: {bad}, line 2: 'yesterday' is not a date\n"


class _Serving(http.server.BaseHTTPRequestHandler):
    """Answers GET with the server's `content`, or its `status` when that is not 200."""

    def do_GET(self) -> None:
        served: Any = self.server
        self.send_response(served.status)
        self.end_headers()
        self.wfile.write(served.content)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def rates_server() -> Iterator[Any]:
    server: Any = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Serving)
    server.content, server.status = b"", 200
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.url = f"http://127.0.0.1:{server.server_port}/eurofxref.csv"
    yield server
    server.shutdown()
    server.server_close()


def test_the_schedule_refreshes_the_rates_from_the_ecbs_daily_file(
    rates_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    today = datetime.now(UTC).date()
    rates_server.content = f"Date, USD, JPY,\n{today:%d %B %Y}, 1.2500, 180.00,\n".encode()
    app = create_app({"SEED_DATA": str(SEED_FILE), "RATES_URL": rates_server.url})
    parts = components_of(app)
    assert parts.scheduler is not None
    assert parts.refresh_rates is not None
    parts.scheduler.run_once()
    summary = app.test_client().get("/users/user123/summary?currency=EUR").get_json()
    # user123: 3,400 USD of assets, 9,200.45 of liabilities, at today's 1.25 per euro.
    assert summary["converted"]["missingRates"] == []
    converted = summary["converted"]
    assert (converted["assets"], converted["liabilities"]) == (Decimal(2720), Decimal("7360.36"))

    # The URL failing: said in the log (and tried again a minute later); what was loaded stays.
    rates_server.status, rates_server.content = 503, b""
    parts.scheduler.refresh_rates()
    assert "rates: not refreshed" in caplog.text
    [usd] = parts.rates.rates_between({"USD"}, today, today)
    assert usd.per_euro == Decimal("1.2500")
