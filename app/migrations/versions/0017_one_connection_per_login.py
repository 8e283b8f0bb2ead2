"""A fingerprint of each connection's login (its accounts when linked), one connection per user,
provider, institution and fingerprint: the same login is not linked twice.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.add_column(sa.Column("fingerprint", sa.String(64), nullable=True))
        batch.create_unique_constraint(
            "connections_login_key", ["user_id", "provider", "institution_id", "fingerprint"]
        )


def downgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.drop_constraint("connections_login_key", type_="unique")
        batch.drop_column("fingerprint")
