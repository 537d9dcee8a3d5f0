"""Attribute definitions and value coercion."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.parties.domain.attributes import AttributeRules, coerce_value, validate_definition
from services.parties.domain.errors import DomainValueError


def fields(
    code: str = "loyalty_tier",
    name: str = "Loyalty tier",
    applies_to: list[str] | None = None,
    **rules: object,
) -> dict[str, str]:
    rules.setdefault("value_type", "TEXT")
    errors = validate_definition(code, name, AttributeRules(**rules), applies_to or ["person"])  # type: ignore[arg-type]
    return dict(errors)


# --- definitions ---


def test_valid_definitions() -> None:
    assert fields() == {}
    assert fields(value_type="TEXT", max_length=20, pattern=r"[A-Z]{2}\d+") == {}
    assert fields(value_type="NUMBER", min="0", max="100") == {}
    assert fields(value_type="DECIMAL", min="-1.5", max="12.50") == {}
    assert fields(value_type="ENUM", allowed_values=("gold", "silver")) == {}
    assert fields(value_type="DATE") == {}
    assert fields(value_type="BOOL", applies_to=["person", "organization", "group"]) == {}


@pytest.mark.parametrize("code", ["a", "Loyalty", "1tier", "tier-1", "тир", "t" * 64, "_x", ""])
def test_bad_code(code: str) -> None:
    assert "code" in fields(code=code)


def test_good_code_limits() -> None:
    assert fields(code="ab") == {} and fields(code="a" * 63) == {}


def test_name() -> None:
    assert fields(name="  ")["name"] == "must not be empty"
    assert fields(name="x" * 201)["name"] == "at most 200 characters"
    assert "control character" in fields(name="a\x00")["name"]


def test_value_type() -> None:
    assert fields(value_type="FLOAT")["value_type"] == "must be one of: TEXT, NUMBER, DECIMAL, DATE, BOOL, ENUM"


def test_max_length() -> None:
    assert "between 0 and 4000" in fields(max_length=4001)["validation.max_length"]
    assert "between 0 and 4000" in fields(max_length=-1)["validation.max_length"]
    assert fields(value_type="NUMBER", max_length=5)["validation.max_length"] == "is only allowed for TEXT"


def test_pattern() -> None:
    assert "not a valid regular expression" in fields(pattern="([a-z]")["validation.pattern"]
    assert fields(pattern="a" * 501)["validation.pattern"] == "at most 500 characters"
    assert fields(value_type="NUMBER", pattern=r"\d+")["validation.pattern"] == "is only allowed for TEXT"


def test_bounds() -> None:
    assert fields(value_type="NUMBER", min="1.5")["validation.min"] == "must be an integer"
    assert fields(value_type="DECIMAL", max="1e3")["validation.max"] == "must be a decimal number such as 12.50"
    assert fields(value_type="DECIMAL", max="NaN")["validation.max"] == "must be a decimal number such as 12.50"
    assert fields(value_type="DECIMAL", min="10", max="9.99")["validation.max"] == "must not be less than min"
    assert fields(value_type="DECIMAL", min="10.0", max="10") == {}
    assert fields(value_type="TEXT", min="1")["validation.min"] == "is only allowed for NUMBER and DECIMAL"
    assert "at most 100" in fields(value_type="DECIMAL", min="1" * 101)["validation.min"]


def test_allowed_values() -> None:
    key = "validation.allowed_values"
    assert fields(value_type="ENUM")[key] == "an ENUM needs at least one value"
    assert fields(value_type="ENUM", allowed_values=("a", "a"))[key] == "values must be distinct"
    assert fields(value_type="ENUM", allowed_values=("a", ""))[key] == "value 2: must not be empty"
    assert fields(value_type="ENUM", allowed_values=("a", "x" * 101))[key] == "value 2: at most 100 characters"
    assert "surrounding" in fields(value_type="ENUM", allowed_values=(" a",))[key]
    assert fields(value_type="ENUM", allowed_values=tuple(map(str, range(201))))[key] == "at most 200 values"
    assert fields(value_type="ENUM", allowed_values=tuple(map(str, range(200)))) == {}
    assert fields(value_type="TEXT", allowed_values=("a",))[key] == "is only allowed for ENUM"


def test_applies_to() -> None:
    assert "unknown party kind 'robot'" in fields(applies_to=["robot"])["applies_to"]
    assert fields(applies_to=["person", "person"])["applies_to"] == "must not repeat a party kind"
    errors = validate_definition("x1", "X", AttributeRules("TEXT"), [])
    assert errors == [("applies_to", "must name at least one of: person, organization, group")]


def test_all_errors_reported_together() -> None:
    errors = validate_definition("1", "", AttributeRules("NUMBER", pattern="x", min="a", max="b"), ["robot"])
    assert {f for f, _ in errors} == {
        "code",
        "name",
        "validation.pattern",
        "validation.min",
        "validation.max",
        "applies_to",
    }


# --- coercion ---


def test_text() -> None:
    rules = AttributeRules("TEXT")
    assert coerce_value(rules, "  hello   world ") == "hello world"
    assert coerce_value(rules, "line 1\nline 2") == "line 1\nline 2"
    assert coerce_value(rules, "'; DROP TABLE parties; --") == "'; DROP TABLE parties; --"
    assert coerce_value(rules, "x" * 4000) == "x" * 4000
    with pytest.raises(DomainValueError, match="at most 4000 characters"):
        coerce_value(rules, "x" * 10_000)
    with pytest.raises(DomainValueError, match=r"control character \(U\+0000\)"):
        coerce_value(rules, "a\x00b")
    with pytest.raises(DomainValueError, match="expects a TEXT value"):
        coerce_value(rules, 5)


def test_text_max_length_and_pattern() -> None:
    rules = AttributeRules("TEXT", max_length=5, pattern=r"[A-Z]{2}\d+")
    assert coerce_value(rules, "AB12") == "AB12"
    with pytest.raises(DomainValueError, match="does not match"):
        coerce_value(rules, "AB12x")  # fullmatch, not search
    with pytest.raises(DomainValueError, match="at most 5 characters"):
        coerce_value(rules, "AB1234")


def test_number() -> None:
    rules = AttributeRules("NUMBER", min="0", max="10")
    assert coerce_value(rules, 0) == 0
    assert coerce_value(rules, 10) == 10
    with pytest.raises(DomainValueError) as info:
        coerce_value(rules, -1)
    assert str(info.value) == "must be at least 0"
    with pytest.raises(DomainValueError, match="must be at most 10"):
        coerce_value(rules, 11)
    for bad in (True, 1.0, "1", Decimal(1)):
        with pytest.raises(DomainValueError, match="expects a NUMBER value"):
            coerce_value(rules, bad)
    with pytest.raises(DomainValueError, match="64-bit"):
        coerce_value(AttributeRules("NUMBER"), 2**63)


def test_decimal() -> None:
    rules = AttributeRules("DECIMAL", min="0", max="100.00")
    assert coerce_value(rules, "12.50") == "12.50"
    assert coerce_value(rules, " 007.5 ") == "7.5"
    assert coerce_value(rules, ".5") == "0.5"
    assert coerce_value(rules, "+1") == "1"
    assert coerce_value(rules, "-0.00") == "0.00"
    assert coerce_value(rules, "100.000") == "100.000"
    assert coerce_value(rules, Decimal("1E+1")) == "10"
    assert coerce_value(rules, 3) == "3"
    with pytest.raises(DomainValueError, match="must be at least 0"):
        coerce_value(rules, "-0.01")
    with pytest.raises(DomainValueError, match=r"must be at most 100\.00"):
        coerce_value(rules, "100.01")
    for bad in ("NaN", "Infinity", "1e5", "1,5", "", "abc"):
        with pytest.raises(DomainValueError, match="decimal number"):
            coerce_value(rules, bad)
    for bad_value in (Decimal("NaN"), Decimal("-Infinity")):
        with pytest.raises(DomainValueError, match="finite"):
            coerce_value(rules, bad_value)
    with pytest.raises(DomainValueError, match="expects a DECIMAL value"):
        coerce_value(rules, 1.5)
    with pytest.raises(DomainValueError, match="at most 100 digits"):
        coerce_value(AttributeRules("DECIMAL"), Decimal("1E+1000000"))


@given(st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-(10**12), max_value=10**12))
def test_decimal_round_trip(value: Decimal) -> None:
    rules = AttributeRules("DECIMAL")
    text = coerce_value(rules, format(value, "f"))
    assert isinstance(text, str)
    assert Decimal(text) == value
    assert "e" not in text.lower()
    assert coerce_value(rules, text) == text


def test_date() -> None:
    rules = AttributeRules("DATE")
    assert coerce_value(rules, datetime.date(2024, 2, 29)) == "2024-02-29"
    assert coerce_value(rules, "2024-02-29") == "2024-02-29"
    with pytest.raises(DomainValueError, match="real calendar date"):
        coerce_value(rules, "2023-02-29")
    with pytest.raises(DomainValueError, match="not a timestamp"):
        coerce_value(rules, datetime.datetime(2024, 1, 1, 12, 0))
    for bad in ("20240229", "29.02.2024", 20240229):
        with pytest.raises(DomainValueError, match="expects a DATE value"):
            coerce_value(rules, bad)


def test_bool() -> None:
    rules = AttributeRules("BOOL")
    assert coerce_value(rules, True) is True
    assert coerce_value(rules, False) is False
    for bad in (1, "true"):
        with pytest.raises(DomainValueError, match="expects a BOOL value"):
            coerce_value(rules, bad)


def test_enum() -> None:
    rules = AttributeRules("ENUM", allowed_values=("gold", "silver"))
    assert coerce_value(rules, "gold") == "gold"
    assert coerce_value(rules, " silver ") == "silver"
    with pytest.raises(DomainValueError) as info:
        coerce_value(rules, "Gold")
    assert str(info.value) == "must be one of: gold, silver"
    with pytest.raises(DomainValueError, match="expects an ENUM value"):
        coerce_value(rules, 1)
    with pytest.raises(DomainValueError):
        coerce_value(rules, "g" * 10_000)


def test_none_and_unknown_type() -> None:
    assert coerce_value(AttributeRules("TEXT"), None) is None
    with pytest.raises(DomainValueError, match="unknown value type"):
        coerce_value(AttributeRules("FLOAT"), 1)
