"""The JSON shape of a new user."""

from __future__ import annotations

from marshmallow import Schema

from app.schemas.fields import identifier


class NewUserSchema(Schema):
    id = identifier()  # generated when left out
