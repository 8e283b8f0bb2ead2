"""On PostgreSQL, balance history partitioned by month (app/adapters/storage/sql/partitions.py):
its rows moved into a partitioned table, with a month's partition from its oldest row's month
through MONTHS_AHEAD after this one. SQLite keeps one table.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

from app.adapters.storage.sql.partitions import DEFAULT, PARENT, make_months
from app.adapters.storage.tables import ExactNumeric

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

#: Months made ahead of this one (the schedule keeps making them).
MONTHS_AHEAD = 3
_OLD = "balance_history_unpartitioned"


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != "postgresql":
        return
    op.rename_table(PARENT, _OLD)
    op.execute(f"ALTER TABLE {_OLD} RENAME CONSTRAINT balance_history_pkey TO {_OLD}_pkey")
    op.execute(
        f"ALTER TABLE {_OLD} RENAME CONSTRAINT balance_history_account_pk_fkey TO {_OLD}_fkey"
    )
    op.create_table(
        PARENT,
        sa.Column(
            "account_pk",
            sa.BigInteger(),
            sa.ForeignKey("accounts.pk", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("balance", ExactNumeric(), nullable=False),
        # The balance in the key's index: a range is read from the index alone.
        sa.PrimaryKeyConstraint(
            "account_pk", "day", name="balance_history_pkey", postgresql_include=["balance"]
        ),
        postgresql_partition_by="RANGE (day)",
    )
    op.execute(f"CREATE TABLE {DEFAULT} PARTITION OF {PARENT} DEFAULT")
    today = datetime.now(UTC).date()
    oldest = connection.scalar(sa.text("SELECT min(day) FROM balance_history_unpartitioned"))
    make_months(connection, oldest or today, today + timedelta(days=31 * MONTHS_AHEAD))
    op.execute(
        "INSERT INTO balance_history SELECT account_pk, day, balance "
        "FROM balance_history_unpartitioned"
    )
    op.drop_table(_OLD)


def downgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != "postgresql":
        return
    op.execute(f"CREATE TABLE {_OLD} (LIKE {PARENT} INCLUDING DEFAULTS)")
    op.execute("INSERT INTO balance_history_unpartitioned SELECT * FROM balance_history")
    op.drop_table(PARENT)  # and its partitions
    op.rename_table(_OLD, PARENT)
    op.create_primary_key("balance_history_pkey", PARENT, ["account_pk", "day"])
    op.create_foreign_key(None, PARENT, "accounts", ["account_pk"], ["pk"], ondelete="CASCADE")
