"""Each account's balance by day, going with its account; today's balance of every account is
its first entry.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from app.adapters.storage.tables import ExactNumeric

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    history = op.create_table(
        "balance_history",
        sa.Column(
            "account_pk",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            sa.ForeignKey("accounts.pk", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("balance", ExactNumeric(), nullable=False),
        sa.PrimaryKeyConstraint("account_pk", "day", name="balance_history_pkey"),
    )
    accounts = sa.table("accounts", sa.column("pk"), sa.column("balance"))
    today = datetime.now(UTC).date()
    op.execute(
        history.insert().from_select(
            ["account_pk", "day", "balance"],
            sa.select(accounts.c.pk, sa.literal(today, sa.Date), accounts.c.balance),
        )
    )


def downgrade() -> None:
    op.drop_table("balance_history")
