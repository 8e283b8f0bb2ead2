"""The full account model: subtype, mask, official name, nickname, available balance, and the
user's hidden and include-in-net-worth choices. An investment's subtype moves out of its details.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from app.adapters.storage.tables import ExactNumeric

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Each type's general subtype, for the accounts there are: nothing said more than their type. An
# investment's was in its details; its former values are all current ones but roth_ira.
_SUBTYPE_BY_TYPE = """UPDATE accounts SET subtype = CASE type WHEN 'credit' THEN 'credit_card'
    WHEN 'loan' THEN 'other' WHEN 'checking' THEN 'checking' WHEN 'savings' THEN 'savings' END
    WHERE type <> 'investment'"""
_INVESTMENT_SUBTYPE = {
    "postgresql": """UPDATE accounts SET subtype = COALESCE(CASE details->>'subtype'
        WHEN 'roth_ira' THEN 'roth' ELSE details->>'subtype' END, 'other'),
        details = details - 'subtype' WHERE type = 'investment'""",
    "sqlite": """UPDATE accounts SET subtype = COALESCE(CASE json_extract(details, '$.subtype')
        WHEN 'roth_ira' THEN 'roth' ELSE json_extract(details, '$.subtype') END, 'other'),
        details = json_remove(details, '$.subtype') WHERE type = 'investment'""",
}
# Back into an investment's details, as one of the six it could name then.
_INVESTMENT_DETAILS = {
    "postgresql": """UPDATE accounts SET details = jsonb_set(details, '{subtype}', to_jsonb(CASE
        subtype WHEN 'roth' THEN 'roth_ira' WHEN 'brokerage' THEN 'brokerage' WHEN 'ira' THEN
        'ira' WHEN '401k' THEN '401k' WHEN '529' THEN '529' WHEN 'hsa' THEN 'hsa'
        ELSE 'brokerage' END)) WHERE type = 'investment'""",
    "sqlite": """UPDATE accounts SET details = json_set(details, '$.subtype', CASE subtype
        WHEN 'roth' THEN 'roth_ira' WHEN 'brokerage' THEN 'brokerage' WHEN 'ira' THEN 'ira'
        WHEN '401k' THEN '401k' WHEN '529' THEN '529' WHEN 'hsa' THEN 'hsa'
        ELSE 'brokerage' END) WHERE type = 'investment'""",
}


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("subtype", sa.String(32), nullable=True))
        batch.add_column(sa.Column("mask", sa.String(4), nullable=True))
        batch.add_column(sa.Column("official_name", sa.String(200), nullable=True))
        batch.add_column(sa.Column("nickname", sa.String(100), nullable=True))
        batch.add_column(sa.Column("available_balance", ExactNumeric(), nullable=True))
        batch.add_column(
            sa.Column("hidden", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column(
                "include_in_net_worth", sa.Boolean(), nullable=False, server_default=sa.true()
            )
        )
    op.execute(_SUBTYPE_BY_TYPE)
    op.execute(_INVESTMENT_SUBTYPE[op.get_bind().dialect.name])
    with op.batch_alter_table("accounts") as batch:
        batch.alter_column("subtype", existing_type=sa.String(32), nullable=False)


def downgrade() -> None:
    op.execute(_INVESTMENT_DETAILS[op.get_bind().dialect.name])
    with op.batch_alter_table("accounts") as batch:
        for column in (
            "include_in_net_worth",
            "hidden",
            "available_balance",
            "nickname",
            "official_name",
            "mask",
            "subtype",
        ):
            batch.drop_column(column)
