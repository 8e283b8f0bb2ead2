"""Field types shared by the account schemas: exact numbers, currency codes, routing numbers."""

from __future__ import annotations

import decimal
import re
from datetime import UTC, datetime
from functools import cache
from typing import Any

import pycountry
from marshmallow import ValidationError, fields, validate

from app.domain.accounts import ID_PATTERN, ID_RE, ID_RULE

MAX_INTEGER_DIGITS = 15  # a quadrillion, in any currency, is more than any account holds
MAX_PLACES = 4  # enough for every ISO 4217 minor unit (at most 3) and for rates such as 4.125
# Whole, so that a client reading the bound as a float reads it exactly (…999.9999 is 1e15 then).
_LARGEST = 10**MAX_INTEGER_DIGITS - 1


class ExactDecimal(fields.Decimal):
    """A JSON number kept as `Decimal`, digit for digit, from load to dump.

    Strings are refused so that an amount has one spelling on the wire, and the number of digits is
    bounded so that a client cannot make us store (or compute with) a thousand-digit number.
    """

    default_error_messages = {  # noqa: RUF012 (marshmallow merges this dict up the class chain)
        "not_number": "Must be a JSON number.",
        "too_precise": f"At most {MAX_PLACES} decimal places and {MAX_INTEGER_DIGITS} digits "
        "before the decimal point.",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # The rule `_validated` applies, stated in the JSON Schema clients read: a decimal
        # (OpenAPI's format registry) within its digits. Its places are only in the description:
        # `multipleOf: 0.0001` would be exact, but most validators compute it in floats, and
        # then refuse 1200.45 (a quotient of 12004499.999999998).
        stated: dict[str, Any] = {"format": "decimal", "minimum": -_LARGEST, "maximum": _LARGEST}
        # A Range the field validates with states its own bounds (apispec reads them).
        ranges = [rule for rule in self.validators if isinstance(rule, validate.Range)]
        if any(rule.min is not None for rule in ranges):
            del stated["minimum"]
        if any(rule.max is not None for rule in ranges):
            del stated["maximum"]
        self.metadata = {**stated, **self.metadata}

    def _validated(self, value: Any) -> decimal.Decimal:
        if isinstance(value, str):
            raise self.make_error("not_number")
        number = super()._validated(value)
        exponent = number.as_tuple().exponent  # an int: NaN and the infinities were refused above
        if (
            not isinstance(exponent, int)
            or -exponent > MAX_PLACES
            or number.adjusted() >= MAX_INTEGER_DIGITS
        ):
            raise self.make_error("too_precise")
        return number


def validate_id(value: str) -> None:
    if not ID_RE.fullmatch(value):
        raise ValidationError(f"Must be {ID_RULE}.")


def identifier(**kwargs: Any) -> fields.String:
    """A user or account id: safe in a URL path as it is."""
    # JSON Schema patterns are ECMA-262 and unanchored, hence ^…$ for the OpenAPI description.
    metadata = {"pattern": f"^{ID_PATTERN}$", **kwargs.pop("metadata", {})}
    return fields.String(validate=validate_id, metadata=metadata, **kwargs)


# NUL cannot be stored in PostgreSQL text, and a lone surrogate (JSON allows "\ud800") is not a
# character at all: it cannot be written out as UTF-8 again, by any store or in any answer.
_NOT_TEXT = re.compile("[\x00\ud800-\udfff]")


def validate_text(value: str) -> None:
    if _NOT_TEXT.search(value):
        raise ValidationError("Must be text: no NUL character and no lone surrogate.")


#: validate_text's rule, as the JSON Schema pattern clients read (written with escapes: a lone
#: surrogate cannot be written out in JSON itself).
TEXT_PATTERN = r"^[^\x00\uD800-\uDFFF]*$"


def text(max_length: int, **kwargs: Any) -> fields.String:
    """A name people read: 1 to `max_length` characters of Unicode text."""
    metadata = {"pattern": TEXT_PATTERN, **kwargs.pop("metadata", {})}
    return fields.String(
        validate=[validate.Length(min=1, max=max_length), validate_text],
        metadata=metadata,
        **kwargs,
    )


EXACT = (
    f"An exact decimal number: at most {MAX_PLACES} decimal places and {MAX_INTEGER_DIGITS} "
    "digits before the point, written back with the digits it was given."
)


def amount(**kwargs: Any) -> ExactDecimal:
    """A non-negative sum of money, such as a credit limit."""
    kwargs.setdefault("required", True)
    kwargs.setdefault("metadata", {"description": EXACT})
    return ExactDecimal(validate=validate.Range(min=0), **kwargs)


def percentage(**kwargs: Any) -> ExactDecimal:
    """A yearly rate in percent, such as an APR of 19.99."""
    kwargs.setdefault("required", True)
    kwargs.setdefault("metadata", {"description": f"A yearly rate in percent. {EXACT}"})
    return ExactDecimal(validate=validate.Range(min=0, max=100), **kwargs)


@cache
def _iso_4217_codes() -> frozenset[str]:
    return frozenset(currency.alpha_3 for currency in pycountry.currencies)


def validate_currency_code(code: str) -> None:
    if code not in _iso_4217_codes():
        raise ValidationError("Not an ISO 4217 currency code (three capital letters, e.g. USD).")


_ABA_WEIGHTS = (3, 7, 1) * 3


def validate_routing_number(number: str) -> None:
    """ABA routing transit number: nine digits whose weighted sum is a multiple of ten."""
    if not re.fullmatch(r"[0-9]{9}", number):
        raise ValidationError("A routing number is exactly nine digits.")
    if sum(int(digit) * weight for digit, weight in zip(number, _ABA_WEIGHTS, strict=True)) % 10:
        raise ValidationError("Not a valid ABA routing number (the check digit does not match).")


def routing_number(**kwargs: Any) -> fields.String:
    return fields.String(
        required=True,
        validate=validate_routing_number,
        metadata={
            "pattern": "^[0-9]{9}$",
            # A check digit no pattern can state: a format of its own names the rule.
            "format": "aba-routing-number",
            "description": "An ABA routing number: nine digits whose sum, weighted 3, 7, 1, 3, "
            "7, 1, 3, 7, 1, is a multiple of ten.",
        },
        **kwargs,
    )


def currency_code(**kwargs: Any) -> fields.String:
    kwargs.setdefault("required", True)
    metadata = {
        "enum": sorted(_iso_4217_codes()),
        "description": "An ISO 4217 currency code.",
        **kwargs.pop("metadata", {}),
    }
    return fields.String(validate=validate_currency_code, metadata=metadata, **kwargs)


class StrictBoolean(fields.Boolean):
    """Only JSON true and false; marshmallow's Boolean also takes "yes", 1, "on" and the like."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class WholeNumber(fields.Integer):
    """A JSON number without a fraction: 849 or 849.0 (JSON Schema's integers both), never
    849.5, "849" or true."""

    def _validated(self, value: Any) -> int:
        whole = None
        if isinstance(value, int | decimal.Decimal | float) and not isinstance(value, bool):
            try:
                whole = int(value)
            except (ValueError, OverflowError):  # NaN, infinity
                whole = None
        if whole is None or whole != value:
            raise self.make_error("invalid", input=value)
        return super()._validated(whole)


def strict_boolean(**kwargs: Any) -> StrictBoolean:
    kwargs.setdefault("required", True)
    return StrictBoolean(**kwargs)


class UtcDateTime(fields.AwareDateTime):
    """An RFC 3339 date and time with its offset, kept and written in UTC."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        moment: datetime = super()._deserialize(value, attr, data, **kwargs)
        return moment.astimezone(UTC)
