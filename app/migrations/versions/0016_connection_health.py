"""What a connection's health needs beyond its status: when the user's consent to the provider
ends, and whether the provider has accounts of the login not synced yet.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from app.adapters.storage.tables import UtcDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.add_column(sa.Column("consent_expires_at", UtcDateTime(), nullable=True))
        batch.add_column(
            sa.Column(
                "new_accounts_available", sa.Boolean, nullable=False, server_default=sa.false()
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.drop_column("new_accounts_available")
        batch.drop_column("consent_expires_at")
