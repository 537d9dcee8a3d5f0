"""User-defined attributes: validating their definitions and coercing values to stored JSON.

Administrators define attributes at run time, so their rules are data; a bad rule is reported as
field violations at definition time, never discovered later when a value fails to save.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from decimal import Decimal

from services.parties.domain.errors import DomainValueError
from services.parties.domain.text import clean_text

TEXT = "TEXT"
NUMBER = "NUMBER"
DECIMAL = "DECIMAL"
DATE = "DATE"
BOOL = "BOOL"
ENUM = "ENUM"
VALUE_TYPES: tuple[str, ...] = (TEXT, NUMBER, DECIMAL, DATE, BOOL, ENUM)
PARTY_KINDS: tuple[str, ...] = ("person", "organization", "group")

TEXT_MAX = 4000
PATTERN_MAX = 500
NAME_MAX = 200
ENUM_VALUES_MAX = 200
ENUM_VALUE_MAX = 100
_NUMBER_TEXT_MAX = 100
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

_CODE = re.compile(r"[a-z][a-z0-9_]{1,62}")
_INTEGER = re.compile(r"[+-]?[0-9]+")
# Plain positional notation only: exponents would let "1e999999999" through as a "number".
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class AttributeRules:
    """The validation rules of one attribute definition, as stored with it.

    Bounds are strings so that DECIMAL bounds stay exact; empty means "no rule".
    """

    value_type: str
    max_length: int = 0
    pattern: str = ""
    min: str = ""
    max: str = ""
    allowed_values: tuple[str, ...] = ()


def _parse_bound(text: str, value_type: str) -> Decimal:
    """Parse a min/max bound; NUMBER bounds must be integers, since NUMBER values are."""
    if len(text) > _NUMBER_TEXT_MAX:
        raise DomainValueError(f"at most {_NUMBER_TEXT_MAX} characters")
    if value_type == NUMBER:
        if not _INTEGER.fullmatch(text):
            raise DomainValueError("must be an integer")
    elif not _DECIMAL.fullmatch(text):
        raise DomainValueError("must be a decimal number such as 12.50")
    return Decimal(text)


def validate_definition(code: str, name: str, rules: AttributeRules, applies_to: list[str]) -> list[tuple[str, str]]:
    """Every problem with an attribute definition at once, as (field, reason) pairs.

    All problems are reported together (not the first one) so an administrator fixes a form in one
    round trip. Rules that do not apply to the value type are refused rather than ignored, so that
    nobody believes a pattern guards a NUMBER attribute.
    """
    errors: list[tuple[str, str]] = []
    if not isinstance(code, str) or not code.isascii() or not _CODE.fullmatch(code):
        errors.append(("code", "must be 2-63 characters of a-z, 0-9 and _, starting with a letter"))
    try:
        if not clean_text(name, max_length=NAME_MAX):
            errors.append(("name", "must not be empty"))
    except DomainValueError as exc:
        errors.append(("name", exc.reason))

    value_type = rules.value_type
    known_type = value_type in VALUE_TYPES
    if not known_type:
        errors.append(("value_type", "must be one of: " + ", ".join(VALUE_TYPES)))

    if not 0 <= rules.max_length <= TEXT_MAX:
        errors.append(("validation.max_length", f"must be between 0 and {TEXT_MAX}"))
    elif rules.max_length and known_type and value_type != TEXT:
        errors.append(("validation.max_length", "is only allowed for TEXT"))

    if rules.pattern:
        if known_type and value_type != TEXT:
            errors.append(("validation.pattern", "is only allowed for TEXT"))
        elif len(rules.pattern) > PATTERN_MAX:
            errors.append(("validation.pattern", f"at most {PATTERN_MAX} characters"))
        else:
            try:
                re.compile(rules.pattern)
            except (re.error, RecursionError, OverflowError) as exc:
                errors.append(("validation.pattern", f"is not a valid regular expression: {exc}"))

    bounds: dict[str, Decimal] = {}
    for field, text in (("validation.min", rules.min), ("validation.max", rules.max)):
        if not text:
            continue
        if known_type and value_type not in (NUMBER, DECIMAL):
            errors.append((field, "is only allowed for NUMBER and DECIMAL"))
            continue
        try:
            bounds[field] = _parse_bound(text, value_type)
        except DomainValueError as exc:
            errors.append((field, exc.reason))
    if len(bounds) == 2 and bounds["validation.min"] > bounds["validation.max"]:
        errors.append(("validation.max", "must not be less than min"))

    errors.extend(_check_allowed_values(rules, value_type, known_type))

    if not applies_to:
        errors.append(("applies_to", "must name at least one of: " + ", ".join(PARTY_KINDS)))
    for kind in applies_to:
        if kind not in PARTY_KINDS:
            expected = ", ".join(PARTY_KINDS)
            errors.append(("applies_to", f"unknown party kind {kind!r}; expected one of: {expected}"))
    if len(set(applies_to)) != len(applies_to):
        errors.append(("applies_to", "must not repeat a party kind"))
    return errors


def _check_allowed_values(rules: AttributeRules, value_type: str, known_type: bool) -> list[tuple[str, str]]:
    field = "validation.allowed_values"
    values = rules.allowed_values
    if value_type != ENUM:
        return [(field, "is only allowed for ENUM")] if values and known_type else []
    if not values:
        return [(field, "an ENUM needs at least one value")]
    if len(values) > ENUM_VALUES_MAX:
        return [(field, f"at most {ENUM_VALUES_MAX} values")]
    errors: list[tuple[str, str]] = []
    for i, value in enumerate(values, start=1):
        try:
            cleaned = clean_text(value, max_length=ENUM_VALUE_MAX)
        except DomainValueError as exc:
            errors.append((field, f"value {i}: {exc.reason}"))
            continue
        if not cleaned:
            errors.append((field, f"value {i}: must not be empty"))
        elif cleaned != value:
            errors.append((field, f"value {i}: must not have surrounding or repeated spaces"))
    if len(set(values)) != len(values):
        errors.append((field, "values must be distinct"))
    return errors


def _type_error(value_type: str) -> DomainValueError:
    article = "an" if value_type[0] in "AEIOU" else "a"
    return DomainValueError(f"expects {article} {value_type} value")


def _check_bounds(rules: AttributeRules, number: Decimal | int) -> None:
    # Bounds were validated with the definition; a corrupt one is a server bug, so let it raise.
    if rules.min and number < Decimal(rules.min):
        raise DomainValueError(f"must be at least {rules.min}")
    if rules.max and number > Decimal(rules.max):
        raise DomainValueError(f"must be at most {rules.max}")


def _coerce_text(rules: AttributeRules, value: object) -> str:
    if not isinstance(value, str):
        raise _type_error(TEXT)
    limit = rules.max_length or TEXT_MAX
    text = clean_text(value, max_length=limit, allow_newlines=True)
    if rules.pattern and not re.fullmatch(rules.pattern, text):
        raise DomainValueError("does not match the required format")
    return text


def _coerce_number(rules: AttributeRules, value: object) -> int:
    # bool is an int subclass; True is not a number anybody meant to send.
    if not isinstance(value, int) or isinstance(value, bool):
        raise _type_error(NUMBER)
    if not INT64_MIN <= value <= INT64_MAX:
        raise DomainValueError("must fit in a 64-bit integer")
    _check_bounds(rules, value)
    return value


def _coerce_decimal(rules: AttributeRules, value: object) -> str:
    # Floats are refused: they are not exact, and money and measurements must be (house rule 6).
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise _type_error(DECIMAL)
    if isinstance(value, str):
        text = clean_text(value, max_length=_NUMBER_TEXT_MAX)
        if not _DECIMAL.fullmatch(text):
            raise DomainValueError("must be a decimal number such as 12.50")
        number = Decimal(text)
    else:
        number = Decimal(value)
    if not number.is_finite():
        raise DomainValueError("must be a finite number")
    if number.adjusted() > _NUMBER_TEXT_MAX or len(number.as_tuple().digits) > _NUMBER_TEXT_MAX:
        raise DomainValueError(f"at most {_NUMBER_TEXT_MAX} digits")
    _check_bounds(rules, number)
    if number.is_zero():
        number = abs(number)  # "-0.00" and "0.00" are the same stored value
    return format(number, "f")


def _coerce_date(value: object) -> str:
    if isinstance(value, datetime.datetime):
        raise DomainValueError("expects a DATE value, not a timestamp")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, str):
        text = value.strip()
        if _ISO_DATE.fullmatch(text):
            try:
                return datetime.date.fromisoformat(text).isoformat()
            except ValueError:
                raise DomainValueError("is not a real calendar date") from None
    raise _type_error(DATE)


def _coerce_enum(rules: AttributeRules, value: object) -> str:
    if not isinstance(value, str):
        raise _type_error(ENUM)
    text = clean_text(value, max_length=ENUM_VALUE_MAX + 1)
    if text not in rules.allowed_values:
        raise DomainValueError("must be one of: " + ", ".join(rules.allowed_values))
    return text


def coerce_value(rules: AttributeRules, value: object) -> str | int | bool | None:
    """Check a value against its attribute's rules and return the canonical JSON-storable form.

    ``None`` passes through as ``None`` (clearing a value); whether that is allowed is the caller's
    call. DECIMAL keeps its scale ("12.50" stays "12.50") because the scale the user chose is data;
    DATE accepts a ``datetime.date`` or an ISO "YYYY-MM-DD" string, since JSON clients send strings.
    TEXT is cleaned like every other text (trimmed, NUL and control characters refused), newlines kept.
    """
    if value is None:
        return None
    kind = rules.value_type
    if kind == TEXT:
        return _coerce_text(rules, value)
    if kind == NUMBER:
        return _coerce_number(rules, value)
    if kind == DECIMAL:
        return _coerce_decimal(rules, value)
    if kind == DATE:
        return _coerce_date(value)
    if kind == BOOL:
        if not isinstance(value, bool):
            raise _type_error(BOOL)
        return value
    if kind == ENUM:
        return _coerce_enum(rules, value)
    raise DomainValueError(f"unknown value type {kind!r}")
