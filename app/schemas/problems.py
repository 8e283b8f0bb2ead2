"""The JSON shape of every error: RFC 9457 problem details, with this service's extensions."""

from __future__ import annotations

from marshmallow import Schema, fields


class ProblemErrorSchema(Schema):
    field = fields.String(metadata={"description": "Path in the body, such as `details.apr`."})
    parameter = fields.String(metadata={"description": "Query parameter."})
    detail = fields.String(required=True)


class ProblemSchema(Schema):
    class Meta:
        description = "RFC 9457 problem details."

    type = fields.String(required=True, metadata={"format": "uri"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    errors = fields.List(fields.Nested(ProblemErrorSchema))
    allowed_types = fields.List(fields.String(), data_key="allowedTypes")
    allowed_subtypes = fields.List(fields.String(), data_key="allowedSubtypes")
    allowed_statuses = fields.List(fields.String(), data_key="allowedStatuses")
    checks = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": "Readiness: each dependency's state."},
    )
    provider_code = fields.String(
        data_key="providerCode",
        metadata={"description": "Of a provider's refusal or failure: the provider's error code."},
    )
    connection_id = fields.String(
        data_key="connectionId",
        metadata={"description": "Of `already-linked`: the connection the login is already."},
    )
    request_id = fields.String(
        data_key="requestId",
        metadata={"description": "Of a 500: quote it to find the failure in the logs."},
    )
