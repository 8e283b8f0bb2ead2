"""Sync jobs: each request to sync a connection, and how it went.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from app.adapters.storage.tables import UNFINISHED_SQL, UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sync_jobs",
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
        sa.Column("connection_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("accounts_added", sa.Integer(), nullable=False),
        sa.Column("accounts_updated", sa.Integer(), nullable=False),
        sa.Column("accounts_closed", sa.Integer(), nullable=False),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("finished_at", UtcDateTime(), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("user_id", "id", name="sync_jobs_user_id_id_key"),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed')",
            name="sync_jobs_status_check",
        ),
    )
    op.create_index(
        "sync_jobs_one_unfinished_idx",
        "sync_jobs",
        ["user_id", "connection_id"],
        unique=True,
        postgresql_where=sa.text(UNFINISHED_SQL),
        sqlite_where=sa.text(UNFINISHED_SQL),
    )


def downgrade() -> None:
    op.drop_table("sync_jobs")
