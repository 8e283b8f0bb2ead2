"""The JSON shapes of users: a new one, as sent, and one with its account count, as answered."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.schemas.fields import currency_code, identifier


class NewUserSchema(Schema):
    id = identifier()  # generated when left out


class UserSchema(Schema):
    id = fields.String(required=True, data_key="userId")
    account_count = fields.Integer(
        required=True, validate=validate.Range(min=0), data_key="accountCount"
    )
    base_currency = currency_code(
        data_key="baseCurrency",
        metadata={"description": "What their totals are converted into (ISO 4217)."},
    )


class UserPatchSchema(Schema):
    """A merge patch of a user: what may change."""

    base_currency = currency_code(required=False, data_key="baseCurrency")


class UserListQuerySchema(Schema):
    """The user list's query parameters."""

    after = identifier(
        metadata={"description": "Only the ids after this one (the last page's `next`)."}
    )
    limit = fields.Integer(
        load_default=20,
        validate=validate.Range(min=1, max=100),
        metadata={"description": "At most this many."},
    )


class UserListSchema(Schema):
    users = fields.List(
        fields.String(), required=True, metadata={"description": "User ids, in id order."}
    )
    next = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "The `after` of the next page; null on the last."},
    )
