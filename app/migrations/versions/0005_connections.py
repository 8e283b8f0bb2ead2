"""Provider connections: a user's login at an institution, that accounts are synced from.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from app.adapters.storage.tables import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "connections",
        sa.Column(
            "pk",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column(
            "user_id", sa.String(64), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("institution_id", sa.String(64), nullable=False),
        sa.Column("institution_name", sa.String(100), nullable=False),
        sa.Column("sealed_token", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("last_successful_sync", UtcDateTime(), nullable=True),
        sa.Column("last_failed_sync", UtcDateTime(), nullable=True),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("user_id", "id", name="connections_user_id_id_key"),
        sa.CheckConstraint(
            "status IN ('healthy', 'syncing', 'login_required', 'error', 'disconnected')",
            name="connections_status_check",
        ),
    )


def downgrade() -> None:
    op.drop_table("connections")
