"""The database schema of the SQL repository (SQLite and PostgreSQL), as SQLAlchemy Core tables.

Alembic migrations in app/migrations/ create it; tests/integration/test_migrations.py checks that
they agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CHAR,
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator, TypeEngine

from app.domain.accounts import DEFAULT_BASE_CURRENCY, AccountStatus, AccountType
from app.domain.connections import UNFINISHED, ConnectionStatus, JobStatus


class ExactNumeric(TypeDecorator[Decimal]):
    """Money, digit for digit: NUMERIC on PostgreSQL, which keeps the scale (1210.50 stays 1210.50);
    text on SQLite, whose NUMERIC would store 1210.50 as the float 1210.5."""

    impl = Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Text())
        return dialect.type_descriptor(Numeric(asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is not None and dialect.name == "sqlite":
            return str(value)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        # psycopg gives a Decimal already; SQLite, the text it was stored as.
        return value if value is None or isinstance(value, Decimal) else Decimal(value)


class UtcDateTime(TypeDecorator[datetime]):
    """A moment in UTC, given back as an aware datetime by both databases (SQLite has no time
    zones: it keeps the UTC time as text, and this puts the zone back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is not None and dialect.name == "sqlite":
            return value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


ACCOUNT_TYPES_SQL = ", ".join(f"'{account_type}'" for account_type in AccountType)
ACCOUNT_STATUSES_SQL = ", ".join(f"'{status}'" for status in AccountStatus)

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Random, new with every write to the user's accounts (see AccountRepository.user_revision);
    # no default, so that no insert can forget it and bring an old value back.
    Column("revision", BigInteger, nullable=False),
    Column("base_currency", CHAR(3), nullable=False, server_default=DEFAULT_BASE_CURRENCY),
)

accounts = Table(
    "accounts",
    metadata,
    # A surrogate key that only grows: ordering by it lists accounts in the order they were added.
    Column(
        "pk", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("user_id", String(64), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("id", String(64), nullable=False),
    Column("type", String(16), nullable=False),
    Column("provider", String(100), nullable=False),
    Column("account_name", String(100), nullable=False),
    Column("balance", ExactNumeric(), nullable=False),
    Column("currency", CHAR(3), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("last_updated", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("details", JSON().with_variant(JSONB(), "postgresql"), nullable=False),
    Column("status", String(8), nullable=False, server_default="open"),
    Column("balance_as_of", UtcDateTime(), nullable=True),
    # Where a sync brought the account from; NULL for accounts added by hand (and NULLs never
    # collide, so the constraint below binds synced accounts only).
    Column("connection_id", String(64), nullable=True),
    Column("external_id", String(128), nullable=True),
    Column("subtype", String(32), nullable=False),
    Column("mask", String(4), nullable=True),
    Column("official_name", String(200), nullable=True),
    Column("nickname", String(100), nullable=True),
    Column("available_balance", ExactNumeric(), nullable=True),
    Column("hidden", Boolean, nullable=False, server_default=false()),
    Column("include_in_net_worth", Boolean, nullable=False, server_default=true()),
    UniqueConstraint("user_id", "id", name="accounts_user_id_id_key"),
    UniqueConstraint("connection_id", "external_id", name="accounts_connection_external_key"),
    CheckConstraint(f"type IN ({ACCOUNT_TYPES_SQL})", name="accounts_type_check"),
    CheckConstraint(f"status IN ({ACCOUNT_STATUSES_SQL})", name="accounts_status_check"),
    Index("accounts_user_id_type_idx", "user_id", "type"),
)


# Each account's balance by day (app/services/history.py); it goes with its account.
balance_history = Table(
    "balance_history",
    metadata,
    Column(
        "account_pk",
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("accounts.pk", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("day", Date, nullable=False),
    Column("balance", ExactNumeric(), nullable=False),
    # On PostgreSQL by month (app/adapters/storage/sql/partitions.py), the balance in the key's
    # index: a range is read from the index alone.
    PrimaryKeyConstraint(
        "account_pk", "day", name="balance_history_pkey", postgresql_include=["balance"]
    ),
    postgresql_partition_by="RANGE (day)",
)


# The ECB's reference rates: units of `currency` per euro on `day` (app/services/rates.py).
exchange_rates = Table(
    "exchange_rates",
    metadata,
    Column("currency", CHAR(3), nullable=False),
    Column("day", Date, nullable=False),
    Column("per_euro", ExactNumeric(), nullable=False),
    # A day's rate is the latest on or before it: the key's order finds it.
    PrimaryKeyConstraint("currency", "day", name="exchange_rates_pkey"),
)


CONNECTION_STATUSES_SQL = ", ".join(f"'{status}'" for status in ConnectionStatus)

connections = Table(
    "connections",
    metadata,
    # Only grows: ordering by it lists connections in the order they were linked.
    Column(
        "pk", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("user_id", String(64), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("id", String(64), nullable=False),
    Column("provider", String(32), nullable=False),
    Column("institution_id", String(64), nullable=False),
    Column("institution_name", String(100), nullable=False),
    # Encrypted before it gets here; never in clear.
    Column("sealed_token", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("last_successful_sync", UtcDateTime(), nullable=True),
    Column("last_failed_sync", UtcDateTime(), nullable=True),
    Column("error_code", String(64), nullable=True),
    Column("error_message", Text, nullable=True),
    Column("version", BigInteger, nullable=False),
    # The provider's id for the login, which its webhooks name.
    Column("item_id", String(128), nullable=False, server_default=""),
    Column("next_sync_at", UtcDateTime(), nullable=True),
    Column("consent_expires_at", UtcDateTime(), nullable=True),
    Column("new_accounts_available", Boolean, nullable=False, server_default=false()),
    Column("fingerprint", String(64), nullable=True),
    UniqueConstraint("user_id", "id", name="connections_user_id_id_key"),
    # The same login linked twice, however close together, ends as one connection.
    UniqueConstraint(
        "user_id", "provider", "institution_id", "fingerprint", name="connections_login_key"
    ),
    CheckConstraint(f"status IN ({CONNECTION_STATUSES_SQL})", name="connections_status_check"),
    Index("connections_provider_item_idx", "provider", "item_id"),
    Index("connections_next_sync_at_idx", "next_sync_at"),
)

# Idempotency keys of POST requests, per owner (the user), with the first answer (24 hours).
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("owner", String(64), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    # Which request holds the key (random, per attempt): only it may record the answer.
    Column("holder", String(32), nullable=True),
    Column("status", String(12), nullable=False),
    Column("answer_status", Integer, nullable=True),
    Column("answer_body", LargeBinary, nullable=True),
    Column("answer_headers", JSON, nullable=True),
    Column("lease_until", UtcDateTime(), nullable=True),
    Column("expires_at", UtcDateTime(), nullable=False, index=True),
)

# Webhook deliveries already acted on, kept as long as their timestamp could pass the window:
# the same delivery twice is a replay.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("expires_at", UtcDateTime(), nullable=False, index=True),
)


JOB_STATUSES_SQL = ", ".join(f"'{status}'" for status in JobStatus)
UNFINISHED_SQL = " OR ".join(f"status = '{status}'" for status in sorted(UNFINISHED))

sync_jobs = Table(
    "sync_jobs",
    metadata,
    Column(
        "pk", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("user_id", String(64), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("id", String(64), nullable=False),
    Column("connection_id", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("accounts_added", Integer, nullable=False),
    Column("accounts_updated", Integer, nullable=False),
    Column("accounts_closed", Integer, nullable=False),
    Column("error_code", String(64), nullable=True),
    Column("error_message", Text, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime(), nullable=True),
    Column("version", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("lease_until", UtcDateTime(), nullable=True),
    Column("again", Boolean, nullable=False, server_default=false()),
    UniqueConstraint("user_id", "id", name="sync_jobs_user_id_id_key"),
    CheckConstraint(f"status IN ({JOB_STATUSES_SQL})", name="sync_jobs_status_check"),
    # Pruning (app/services/retention.py): by age, the latest of each connection kept.
    Index("sync_jobs_finished_at_idx", "finished_at"),
    Index("sync_jobs_connection_created_idx", "user_id", "connection_id", "created_at"),
    # At most one unfinished job per connection, whoever asks at the same time.
    Index(
        "sync_jobs_one_unfinished_idx",
        "user_id",
        "connection_id",
        unique=True,
        postgresql_where=text(UNFINISHED_SQL),
        sqlite_where=text(UNFINISHED_SQL),
    ),
)
