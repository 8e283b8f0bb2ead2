"""The JSON shape of a merge of two accounts: which one goes into the one the URL names."""

from __future__ import annotations

from marshmallow import Schema

from app.schemas.fields import identifier


class MergeSchema(Schema):
    account_id = identifier(
        required=True,
        data_key="accountId",
        metadata={"description": "The account added by hand, merged into this one and gone."},
    )
