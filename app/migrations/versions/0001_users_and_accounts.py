"""Users and their accounts.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.adapters.storage.tables import ExactNumeric

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_table(
        "accounts",
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
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("provider", sa.String(100), nullable=False),
        sa.Column("account_name", sa.String(100), nullable=False),
        sa.Column("balance", ExactNumeric(), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column(
            "last_updated", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "details", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.UniqueConstraint("user_id", "id", name="accounts_user_id_id_key"),
        sa.CheckConstraint(
            "type IN ('credit', 'loan', 'checking', 'savings', 'investment')",
            name="accounts_type_check",
        ),
    )
    op.create_index("accounts_user_id_type_idx", "accounts", ["user_id", "type"])


def downgrade() -> None:
    op.drop_table("accounts")
    op.drop_table("users")
