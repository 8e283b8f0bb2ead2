"""Finished sync jobs are pruned by age, the latest of each connection kept: indexes for both.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("sync_jobs_finished_at_idx", "sync_jobs", ["finished_at"])
    op.create_index(
        "sync_jobs_connection_created_idx", "sync_jobs", ["user_id", "connection_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("sync_jobs_connection_created_idx", "sync_jobs")
    op.drop_index("sync_jobs_finished_at_idx", "sync_jobs")
