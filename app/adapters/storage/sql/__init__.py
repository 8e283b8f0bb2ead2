"""Users and accounts in SQLite or PostgreSQL, through SQLAlchemy Core: one store, by aggregate
(accounts, connections and jobs, keys, exchange rates, the whole store), over the tables of
tables.py."""

from __future__ import annotations

from app.adapters.storage.sql.accounts import SqlAccounts
from app.adapters.storage.sql.administration import SqlAdministration
from app.adapters.storage.sql.connections import SqlConnections
from app.adapters.storage.sql.history import SqlHistory
from app.adapters.storage.sql.keys import SqlKeys
from app.adapters.storage.sql.rates import SqlRates
from app.adapters.storage.sql.rows import account_row, list_query
from app.services.repositories import Store


class SqlAccountRepository(
    SqlAccounts, SqlConnections, SqlKeys, SqlAdministration, SqlHistory, SqlRates, Store
):
    """Every interface of a store, on one database; balance history and exchange rates too."""


__all__ = ["SqlAccountRepository", "account_row", "list_query"]
