"""Accounts gain a status (open or closed) and the time their balance was true.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from app.adapters.storage.tables import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every account there is was open, and nobody said when its balance was true.
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("status", sa.String(8), nullable=False, server_default="open"))
        batch.add_column(sa.Column("balance_as_of", UtcDateTime(), nullable=True))
        batch.create_check_constraint("accounts_status_check", "status IN ('open', 'closed')")


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_constraint("accounts_status_check", type_="check")
        batch.drop_column("balance_as_of")
        batch.drop_column("status")
