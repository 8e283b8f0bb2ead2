"""The JSON shapes of users: a new one, as sent, and one with its account count, as answered."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.schemas.fields import identifier


class NewUserSchema(Schema):
    id = identifier()  # generated when left out


class UserSchema(Schema):
    id = fields.String(required=True, data_key="userId")
    account_count = fields.Integer(
        required=True, validate=validate.Range(min=0), data_key="accountCount"
    )
