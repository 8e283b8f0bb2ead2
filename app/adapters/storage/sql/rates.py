"""Exchange rates in the SQL store (app/services/rates.py)."""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterable
from datetime import date

from sqlalchemy import bindparam, select

from app.adapters.storage.sql.base import DIALECT_INSERTS, SqlBase, replacing
from app.adapters.storage.tables import exchange_rates
from app.services.rates import Rate, RateStore

#: Rows per statement when loading: the history is some 220,000.
_BATCH = 5000


class SqlRates(SqlBase, RateStore):
    def store_rates(self, rates: Iterable[Rate]) -> int:
        inserting = DIALECT_INSERTS[self.dialect](exchange_rates)
        statement = replacing(inserting, ["currency", "day"], ["per_euro"])
        given = 0
        with self._transaction() as connection:
            pending = iter(rates)
            while batch := list(itertools.islice(pending, _BATCH)):
                connection.execute(
                    statement,
                    [{"currency": r.currency, "day": r.day, "per_euro": r.per_euro} for r in batch],
                )
                given += len(batch)
        return given

    def rates_between(self, currencies: Collection[str], start: date, end: date) -> list[Rate]:
        if not currencies:
            return []
        asked = {"currencies": sorted(currencies), "start": start, "end": end}
        with self._reading() as connection:
            rows = connection.execute(_BETWEEN, asked).all()
        return [Rate(*row) for row in rows]


#: Built once, with bound parameters: building a statement costs more than this one's run.
_BETWEEN = select(exchange_rates.c.day, exchange_rates.c.currency, exchange_rates.c.per_euro).where(
    exchange_rates.c.currency.in_(bindparam("currencies", expanding=True)),
    exchange_rates.c.day.between(
        bindparam("start", type_=exchange_rates.c.day.type),
        bindparam("end", type_=exchange_rates.c.day.type),
    ),
)
