"""A connection's provider item id (what webhooks name) and its next scheduled sync; a sync
job's attempts and lease; the webhook deliveries already acted on.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from app.adapters.storage.tables import UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.add_column(sa.Column("item_id", sa.String(128), nullable=False, server_default=""))
        batch.add_column(sa.Column("next_sync_at", UtcDateTime(), nullable=True))
    with op.batch_alter_table("sync_jobs") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("lease_until", UtcDateTime(), nullable=True))
    op.create_index("connections_provider_item_idx", "connections", ["provider", "item_id"])
    op.create_index("connections_next_sync_at_idx", "connections", ["next_sync_at"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_webhook_deliveries_expires_at", "webhook_deliveries", ["expires_at"])


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    with op.batch_alter_table("sync_jobs") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("attempts")
    op.drop_index("connections_next_sync_at_idx", "connections")
    op.drop_index("connections_provider_item_idx", "connections")
    with op.batch_alter_table("connections") as batch:
        batch.drop_column("next_sync_at")
        batch.drop_column("item_id")
