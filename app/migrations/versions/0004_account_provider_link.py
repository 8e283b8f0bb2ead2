"""Accounts gain the link to what a sync brought them from: a connection and the provider's id.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every account there is was added by hand: no link.
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("connection_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("external_id", sa.String(128), nullable=True))
        batch.create_unique_constraint(
            "accounts_connection_external_key", ["connection_id", "external_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_constraint("accounts_connection_external_key", type_="unique")
        batch.drop_column("external_id")
        batch.drop_column("connection_id")
