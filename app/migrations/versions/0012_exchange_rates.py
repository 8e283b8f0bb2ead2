"""The ECB's reference rates, by currency and day.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from app.adapters.storage.tables import ExactNumeric

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exchange_rates",
        sa.Column("currency", sa.CHAR(3), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("per_euro", ExactNumeric(), nullable=False),
        sa.PrimaryKeyConstraint("currency", "day", name="exchange_rates_pkey"),
    )


def downgrade() -> None:
    op.drop_table("exchange_rates")
