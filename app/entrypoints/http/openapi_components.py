"""The OpenAPI components of accounts, written out where marshmallow cannot state them: the
polymorphic `Account` (a `oneOf` joined by a discriminator on `type`, since apispec renders
marshmallow-oneofschema as an empty object, apispec issue #1012), each account type as a client
sends it (to create, to replace, as a merge patch), and the seed file's map of users."""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from marshmallow import Schema

from app.domain.accounts import ID_PATTERN
from app.schemas.accounts import ACCOUNT_SCHEMAS, AccountSchema
from app.schemas.problems import ProblemSchema

COMPONENTS = "#/components/schemas/"


def _seed(account: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "description": "User ids, each with the list of that user's accounts.",
        "propertyNames": {"pattern": f"^{ID_PATTERN}$"},
        "additionalProperties": {"type": "array", "items": account},
    }


_HAND_WRITTEN: dict[str, dict[str, Any]] = {
    "Seed": _seed({"$ref": COMPONENTS + "Account"}),
    # A seed file's accounts are as a client sends them, each with its id.
    "SeedInput": _seed({"$ref": COMPONENTS + "SeedAccount"}),
}


#: Rules across an account type's fields, as JSON Schema states them: a loan's escrow balance
#: is a mortgage's only (LoanAccountSchema.escrow_on_a_mortgage).
ACROSS_FIELDS: dict[str, dict[str, Any]] = {
    "loan": {
        "if": {
            "properties": {"details": {"properties": {"escrowBalance": {"type": "number"}}}},
            "required": ["details"],
        },
        "then": {"properties": {"subtype": {"const": "mortgage"}}, "required": ["subtype"]},
    }
}


def component_name(schema: type[Schema]) -> str:
    return schema.__name__.removesuffix("Schema")


def _one_of(mapping: dict[str, str]) -> dict[str, Any]:
    """Any of the per-type schemas in `mapping` (type -> component), picked by `type`."""
    targets = {account_type: COMPONENTS + name for account_type, name in mapping.items()}
    return {
        "oneOf": [{"$ref": target} for target in targets.values()],
        "discriminator": {"propertyName": "type", "mapping": targets},
    }


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` without null among its types: what a client may send where only a provider's
    sync may leave a value unknown."""
    kinds = schema.get("type")
    if not isinstance(kinds, list):
        return schema
    (kind,) = [kind for kind in kinds if kind != "null"]
    return {**schema, "type": kind}


def _variant(generated: dict[str, Any], drop: set[str], required: bool) -> dict[str, Any]:
    """A copy of an object schema without the properties `drop`, all optional unless
    `required` (then those that were, but `id`)."""
    shown = {name: value for name, value in generated["properties"].items() if name not in drop}
    variant = {**generated, "properties": shown}
    variant.pop("required", None)
    kept = [name for name in generated.get("required", []) if name in shown and name != "id"]
    if required and kept:
        variant["required"] = kept
    return variant


def _account_schemas(spec: APISpec, account_type: str, schema: type[Schema]) -> dict[str, str]:
    """The components of one account type: as answered (`CreditAccount`), as sent to create
    (`…Input`, the id optional), to replace (`…Replacement`, no id: the URL's), in a seed file
    (`…Seed`, with its id) and as a merge patch (`…Patch`, every field optional, the type left
    out: a patch cannot change it). Their names, by variant."""
    name = component_name(schema)
    spec.components.schema(name, schema=schema)
    answered = spec.components.schemas[name]
    # The marshmallow field is dump-only (the registry reads `type`), so apispec would call
    # it read-only; here it is the discriminator, sent and received, with one value.
    answered["properties"]["type"] = {"type": "string", "const": account_type}
    answered["required"] = ["type", *answered.get("required", [])]
    answered["additionalProperties"] = False
    # Each list of values once, by name, rather than a copy in every variant (a generated client
    # would make a type of each copy).
    shared = {"currency": "Currency", "status": "AccountStatus"}
    for field, component in {**shared, "subtype": f"{account_type.title()}Subtype"}.items():
        described = answered["properties"][field]
        listed = {key: described.pop(key) for key in ("type", "enum")}
        if component not in spec.components.schemas:
            spec.components.schema(component, listed)
        answered["properties"][field] = {"$ref": COMPONENTS + component, **described}
    details = answered["properties"]["details"]["$ref"].removeprefix(COMPONENTS)
    generated_details = spec.components.schemas[details]
    sent_details = {
        **generated_details,
        "description": "Every field is there, and known.",
        "additionalProperties": False,
        # Null only where a provider's sync may not know, but for what a statement says
        # (LIABILITY_DETAILS: optional, and null allowed, on any account).
        "properties": {
            field: _not_null(value) if field in generated_details.get("required", []) else value
            for field, value in generated_details["properties"].items()
        },
    }
    spec.components.schema(f"{details}Input", sent_details)
    spec.components.schema(f"{details}Patch", _variant(sent_details, set(), required=False))
    sent = {**answered["properties"], "details": {"$ref": f"{COMPONENTS}{details}Input"}}
    variants = {
        "Input": _variant({**answered, "properties": sent}, set(), required=True),
        "Replacement": _variant({**answered, "properties": sent}, {"id"}, required=True),
        "Patch": _variant(
            {
                **answered,
                "properties": {**sent, "details": {"$ref": f"{COMPONENTS}{details}Patch"}},
            },
            {"id", "type"},
            required=False,
        ),
    }
    variants["Seed"] = {**variants["Input"], "required": ["id", *variants["Input"]["required"]]}
    for whole in ("Input", "Replacement", "Seed"):  # a patch is checked once merged
        variants[whole].update(ACROSS_FIELDS.get(account_type, {}))
    for variant, described in variants.items():
        spec.components.schema(f"{name}{variant}", described)
    return {"": name} | {variant: f"{name}{variant}" for variant in variants}


def register_components(spec: APISpec) -> None:
    """Every account type's components, and the shapes around them."""
    named = {
        str(account_type): _account_schemas(spec, str(account_type), schema)
        for account_type, schema in ACCOUNT_SCHEMAS.items()
    }
    # Registered with its schema, so that fields nesting AccountSchema refer to it; apispec's
    # rendering of it (an object with no properties) is replaced by the oneOf.
    spec.components.schema("Account", schema=AccountSchema)
    spec.components.schemas["Account"] = _one_of({kind: names[""] for kind, names in named.items()})
    for variant, joined in [
        ("Input", "AccountInput"),
        ("Replacement", "AccountReplacement"),
        ("Seed", "SeedAccount"),
    ]:
        spec.components.schema(
            joined, _one_of({kind: names[variant] for kind, names in named.items()})
        )
    spec.components.schema(
        "AccountPatch",
        {
            "description": "A JSON Merge Patch (RFC 7396) of an account of its type: the fields "
            "to change (null removes an optional one), `details` merged key by key; the result "
            "must be a valid account of the same type.",
            "anyOf": [{"$ref": COMPONENTS + names["Patch"]} for names in named.values()],
        },
    )
    spec.components.schema(component_name(ProblemSchema), schema=ProblemSchema)
    for name, written in _HAND_WRITTEN.items():
        spec.components.schema(name, written)
