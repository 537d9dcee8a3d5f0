"""Phones, e-mail, messenger handles, addresses."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.parties.domain.contacts import (
    address_key,
    normalize_address,
    normalize_email,
    normalize_messenger_handle,
    normalize_phone,
    phone_region,
)
from services.parties.domain.errors import DomainValueError

# --- phones ---


@pytest.mark.parametrize(
    "raw",
    [
        "8 (916) 123-45-67",
        "+7 916 123 45 67",
        "89161234567",
        "+7(916)123-45-67",
        "7 916 123 45 67",
        "9161234567",
    ],
)
def test_russian_mobile_forms(raw: str) -> None:
    assert normalize_phone(raw) == "+79161234567"


def test_moscow_landline() -> None:
    assert normalize_phone("8 (495) 123-45-67") == "+74951234567"


def test_kazakhstan_shares_plus_seven() -> None:
    e164 = normalize_phone("+7 701 123 45 67")
    assert e164 == "+77011234567"
    assert phone_region(e164) == "KZ"
    assert phone_region("+79161234567") == "RU"


def test_other_default_region() -> None:
    assert normalize_phone("030 1234567", "DE") == "+49301234567"
    assert phone_region("+49301234567") == "DE"


def test_international_prefix_from_russia() -> None:
    assert normalize_phone("8 10 49 30 1234567") == "+49301234567"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "must not be empty"),
        ("8 916 123-45-6", "not a valid phone number"),
        ("8 916 123-45-678", "wrong number of digits"),
        ("+7 916 123 45 67 89 01 23", "too many digits"),
        ("123", "too few digits"),
        ("+999 123 456 789", "not a phone number|unknown country code"),
        ("+7 916 123 45 67 ext 5", "may contain only digits"),
        ("1-800-FLOWERS", "may contain only digits"),
        ("+7 000 000 00 00", "not a valid phone number"),
        ("9" * 41, "at most 40 characters"),
        ("8 916\x00 123 45 67", "control character"),
        ("'; DROP TABLE parties; --", "may contain only digits"),
    ],
)
def test_phone_rejected(raw: str, reason: str) -> None:
    with pytest.raises(DomainValueError, match=reason):
        normalize_phone(raw)


def test_phone_ten_thousand_characters() -> None:
    with pytest.raises(DomainValueError, match="at most 40"):
        normalize_phone("1" * 10_000)


def test_phone_unknown_default_region() -> None:
    with pytest.raises(DomainValueError, match="unknown default region"):
        normalize_phone("9161234567", "XX")


def test_phone_region_requires_e164() -> None:
    with pytest.raises(DomainValueError, match=r"E\.164"):
        phone_region("89161234567")


@given(st.integers(min_value=9_000_000_000, max_value=9_999_999_999))
def test_phone_idempotent(national: int) -> None:
    try:
        once = normalize_phone(f"8{national}")
    except DomainValueError:
        return
    assert normalize_phone(once) == once
    assert normalize_phone(once, "DE") == once


# --- e-mail ---


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Ivan.Petrov@Example.COM ", "ivan.petrov@example.com"),
        ("first+tag@sub.example.co.uk", "first+tag@sub.example.co.uk"),
        ("ivan@пример.рф", "ivan@xn--e1afmkfd.xn--p1ai"),
        ("ivan@ПРИМЕР.РФ", "ivan@xn--e1afmkfd.xn--p1ai"),
        ("ivan@xn--e1afmkfd.xn--p1ai", "ivan@xn--e1afmkfd.xn--p1ai"),
        ("Иван@example.com", "иван@example.com"),
        ("o'brien@example.ie", "o'brien@example.ie"),
        ("a@example.com.", "a@example.com"),
    ],
)
def test_email_valid(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected
    assert normalize_email(expected) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "must not be empty"),
        ("ivan.example.com", "exactly one '@'"),
        ("a@b@example.com", "exactly one '@'"),
        ("ivan petrov@example.com", "must not contain spaces"),
        ("@example.com", "before '@' is empty"),
        ("ivan@", "domain is empty"),
        ("ivan@localhost", "must contain a dot"),
        ("ivan@-bad.com", "domain labels"),
        ("ivan@bad_.com", "domain labels"),
        ("ivan@exa mple.com", "must not contain spaces"),
        ("ivan@1.2.3.4", "not an IP address"),
        ("ivan@[1.2.3.4]", "domain labels"),
        (".ivan@example.com", "misplaced dot"),
        ("iv..an@example.com", "misplaced dot"),
        ('"ivan"@example.com', "not allowed"),
        ("iv(an)@example.com", "not allowed"),
        ("x" * 65 + "@example.com", "at most 64"),
        ("a@" + "b" * 64 + ".com", "domain labels"),
        ("a@" + ".".join(["b" * 60] * 5) + ".com", "at most 254"),
        ("iv\x00an@example.com", "control character"),
        ("a@пример..рф", "internationalized"),
        ("'; DROP TABLE parties; --", "must not contain spaces"),
        ("x';DROP--@example.com", "not allowed"),
    ],
)
def test_email_rejected(raw: str, reason: str) -> None:
    with pytest.raises(DomainValueError, match=reason):
        normalize_email(raw)


def test_email_ten_thousand_characters() -> None:
    with pytest.raises(DomainValueError, match="at most 254"):
        normalize_email("a" * 10_000 + "@example.com")


_local = st.text(alphabet="abcXYZ019.+_-", min_size=1, max_size=20)
_label = st.from_regex(r"[a-zA-Zа-я0-9]{1,10}", fullmatch=True)


@given(_local, st.lists(_label, min_size=1, max_size=3), st.sampled_from(["com", "ru", "рф"]))
def test_email_idempotent(local: str, labels: list[str], tld: str) -> None:
    try:
        once = normalize_email(f"{local}@{'.'.join([*labels, tld])}")
    except DomainValueError:
        return
    assert normalize_email(once) == once
    assert once == once.lower()
    assert once.isascii()


# --- messengers ---


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("@Ivan_Petrov", "ivan_petrov"), ("durov", "durov"), ("A2345", "a2345"), ("a" * 32, "a" * 32)],
)
def test_telegram_valid(raw: str, expected: str) -> None:
    assert normalize_messenger_handle("TELEGRAM", raw) == expected


@pytest.mark.parametrize("raw", ["abcd", "a" * 33, "1durov", "_durov", "du-rov", "дуров", "@", "", "du rov", "@@durov"])
def test_telegram_rejected(raw: str) -> None:
    with pytest.raises(DomainValueError):
        normalize_messenger_handle("TELEGRAM", raw)


def test_telegram_reason() -> None:
    with pytest.raises(DomainValueError, match="5-32 characters"):
        normalize_messenger_handle("TELEGRAM", "abc")


@pytest.mark.parametrize("messenger", ["WHATSAPP", "VIBER", "viber"])
def test_phone_messengers(messenger: str) -> None:
    assert normalize_messenger_handle(messenger, "8 916 123-45-67") == "+79161234567"


def test_phone_messenger_invalid_number() -> None:
    with pytest.raises(DomainValueError):
        normalize_messenger_handle("WHATSAPP", "@ivan")


def test_unknown_messenger() -> None:
    with pytest.raises(DomainValueError, match="TELEGRAM, WHATSAPP, VIBER"):
        normalize_messenger_handle("ICQ", "12345")


# --- addresses ---


def _address(**overrides: str) -> dict[str, str]:
    fields = dict(
        country_code="ru",
        postal_code="123456",
        region="Московская обл.",
        city="  Москва ",
        street="ул. Ленина",
        house="5",
        flat="12",
        full_text="",
    )
    fields.update(overrides)
    return normalize_address(**fields)


def test_russian_address_composed() -> None:
    parts = _address()
    assert parts == {
        "country_code": "RU",
        "postal_code": "123456",
        "region": "Московская обл.",
        "city": "Москва",
        "street": "ул. Ленина",
        "house": "5",
        "flat": "12",
        "full_text": "123456, Московская обл., Москва, ул. Ленина, д. 5, кв. 12",
    }


def test_russian_prefixes_not_doubled_and_empty_parts_skipped() -> None:
    parts = _address(postal_code="", region="", house="д. 5к2", flat="")
    assert parts["full_text"] == "Москва, ул. Ленина, д. 5к2"


def test_full_text_given_is_kept() -> None:
    assert _address(full_text="Москва, Кремль")["full_text"] == "Москва, Кремль"


def test_foreign_address_plain() -> None:
    parts = normalize_address("de", "10115", "", "Berlin", "Invalidenstraße", "117", "", "")
    assert parts["full_text"] == "10115, Berlin, Invalidenstraße, 117"
    parts = normalize_address("GB", "sw1a 1aa", "", "London", "Downing St", "10", "", "")
    assert parts["postal_code"] == "SW1A 1AA"


def test_full_text_only() -> None:
    parts = normalize_address("KZ", "", "", "", "", "", "", "Алматы, пр. Абая 10")
    assert parts["city"] == "" and parts["full_text"] == "Алматы, пр. Абая 10"


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"country_code": ""}, "country_code", "is required"),
        ({"country_code": "XX"}, "country_code", "ISO 3166-1"),
        ({"country_code": "RUS"}, "country_code", "ISO 3166-1"),
        ({"country_code": "001"}, "country_code", "ISO 3166-1"),
        ({"postal_code": "12345"}, "postal_code", "6 digits"),
        ({"postal_code": "12345A"}, "postal_code", "6 digits"),
        ({"city": "", "full_text": " "}, "city", "city or full_text is required"),
        ({"street": "x" * 201}, "street", "at most 200"),
        ({"full_text": "x" * 501}, "full_text", "at most 500"),
        ({"house": "5\x00"}, "house", "control character"),
        ({"region": "x" * 10_000}, "region", "at most 200"),
    ],
)
def test_address_rejected(overrides: dict[str, str], field: str, reason: str) -> None:
    with pytest.raises(DomainValueError, match=reason) as info:
        _address(**overrides)
    assert info.value.field == field


def test_composed_too_long() -> None:
    with pytest.raises(DomainValueError) as info:
        _address(region="р" * 200, street="с" * 200, house="д" * 200)
    assert info.value.field == "full_text"


def test_address_sql_text_is_just_text() -> None:
    assert _address(street="'; DROP TABLE parties; --")["street"] == "'; DROP TABLE parties; --"


def test_address_idempotent() -> None:
    once = _address()
    assert normalize_address(**once) == once


def test_address_key_unifies_spellings() -> None:
    a = _address(region="", city="г. Москва", street="улица Лёнина", house="дом 5", flat="квартира 12")
    b = _address(region="", city="город москва", street="ул.Ленина", house="д.5", flat="кв. 12")
    assert address_key(a) == address_key(b) == "ru г москва ул ленина д 5 кв 12"


def test_address_key_prospekt_and_letter_digit_split() -> None:
    a = normalize_address("RU", "", "", "Москва", "пр-т Мира", "5а", "", "")
    b = normalize_address("RU", "", "", "Москва", "проспект Мира", "5 А", "", "")
    c = normalize_address("RU", "", "", "Москва", "пр-кт Мира", "5-а", "", "")
    assert address_key(a) == address_key(b) == address_key(c) == "ru москва пр мира 5 а"


def test_address_key_from_full_text() -> None:
    a = normalize_address("RU", "", "", "", "", "", "", "Москва, ул. Ленина, д. 5")
    b = normalize_address("RU", "", "", "", "", "", "", "москва улица ленина дом 5")
    assert address_key(a) == address_key(b) == "ru москва ул ленина д 5"
