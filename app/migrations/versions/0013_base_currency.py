"""Each user's base currency, which their totals are converted into.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("base_currency", sa.CHAR(3), nullable=False, server_default="USD")
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("base_currency")
