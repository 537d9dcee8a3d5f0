"""Official identifiers of parties (Russian tax, registration, pension and passport numbers).

Check digits are verified here because a mistyped INN that reaches the database becomes a duplicate
party that nobody can find by its real number. Numbers are stored in their bare digit form so that
uniqueness and lookups work however the user formatted them.
"""

from __future__ import annotations

import random
import re

from stdnum.exceptions import InvalidChecksum, ValidationError
from stdnum.ru import inn as stdnum_inn
from stdnum.ru import ogrn as stdnum_ogrn

from services.parties.domain.errors import DomainValueError
from services.parties.domain.text import clean_text

INN = "INN"
OGRN = "OGRN"
OGRNIP = "OGRNIP"
KPP = "KPP"
SNILS = "SNILS"
PASSPORT = "PASSPORT"
OTHER = "OTHER"

ID_TYPES: frozenset[str] = frozenset({INN, OGRN, OGRNIP, KPP, SNILS, PASSPORT, OTHER})
# A KPP identifies a tax registration point, and the branches of one company (or unrelated small
# companies registered at the same office) routinely share it, so it cannot be a unique key.
UNIQUE_TYPES: frozenset[str] = ID_TYPES - {KPP}

PERSON = "person"
ORGANIZATION = "organization"

_SEPARATORS = re.compile(r"[\s\-.\u2010-\u2015\u2212№]+")
_DIGITS = re.compile(r"[0-9]+")
_KPP = re.compile(r"[0-9]{4}[0-9A-Z]{2}[0-9]{3}")
_OTHER_TYPE = re.compile(r"[A-Z0-9_-]{1,40}")
_RAW_MAX = 64
_OTHER_VALUE_MAX = 64
_CHECKSUM_REASON = "check digit does not match"
# SNILS numbers up to 001-001-998 were issued before the checksum rule existed.
_SNILS_UNCHECKED_MAX = 1_001_998


def _bare_digits(value: str, expected: str) -> str:
    """Strip the separators people type (spaces, dashes, dots, "№") and insist on digits only."""
    text = clean_text(value, max_length=_RAW_MAX)
    compact = _SEPARATORS.sub("", text)
    if not compact:
        raise DomainValueError("must not be empty")
    if not _DIGITS.fullmatch(compact) or not compact.isascii():
        raise DomainValueError(f"must be {expected} (digits only)")
    return compact


def _normalize_inn(value: str) -> str:
    digits = _bare_digits(value, "10 digits for an organization or 12 for a person")
    if len(digits) not in (10, 12):
        raise DomainValueError("must be 10 digits for an organization or 12 digits for a person")
    if digits.startswith("00"):
        # Region code 00 does not exist; this is what "0000000000" (which passes the checksum) hits.
        raise DomainValueError("region code 00 does not exist")
    try:
        stdnum_inn.validate(digits)
    except InvalidChecksum:
        raise DomainValueError(_CHECKSUM_REASON) from None
    except ValidationError as exc:  # pragma: no cover - length and digits were checked above
        raise DomainValueError(str(exc)) from None
    return digits


def _normalize_ogrn(value: str) -> str:
    digits = _bare_digits(value, "13 digits")
    if len(digits) == 15:
        raise DomainValueError("must be 13 digits (15-digit numbers are OGRNIP)")
    if len(digits) != 13:
        raise DomainValueError("must be 13 digits")
    if digits[0] not in "15":
        raise DomainValueError("must start with 1 or 5 (legal entity)")
    try:
        stdnum_ogrn.validate(digits)
    except InvalidChecksum:
        raise DomainValueError(_CHECKSUM_REASON) from None
    except ValidationError as exc:  # pragma: no cover - length and first digit were checked above
        raise DomainValueError(str(exc)) from None
    return digits


def ogrnip_check_digit(first14: str) -> str:
    """The OGRNIP check digit: the remainder mod 13, then mod 10.

    python-stdnum stops at mod 13, which yields "10".."12" for about 3 in 13 numbers and so rejects
    valid OGRNIPs; the Federal Tax Service rule takes the last digit of the remainder.
    """
    return str(int(first14) % 13 % 10)


def _normalize_ogrnip(value: str) -> str:
    digits = _bare_digits(value, "15 digits")
    if len(digits) == 13:
        raise DomainValueError("must be 15 digits (13-digit numbers are OGRN)")
    if len(digits) != 15:
        raise DomainValueError("must be 15 digits")
    if digits[0] != "3":
        raise DomainValueError("must start with 3 (individual entrepreneur)")
    if digits[-1] != ogrnip_check_digit(digits[:14]):
        raise DomainValueError(_CHECKSUM_REASON)
    return digits


def _normalize_kpp(value: str) -> str:
    text = clean_text(value, max_length=_RAW_MAX)
    compact = _SEPARATORS.sub("", text).upper()
    if not compact:
        raise DomainValueError("must not be empty")
    if len(compact) != 9:
        raise DomainValueError("must be 9 characters")
    if not compact.isascii() or not _KPP.fullmatch(compact):
        raise DomainValueError("must be 4 digits, 2 digits or letters A-Z, then 3 digits")
    return compact


def snils_check_number(first9: str) -> str:
    """The two SNILS check digits per the Pension Fund algorithm (weights 9..1, reduced mod 101)."""
    total = sum(int(d) * w for d, w in zip(first9, range(9, 0, -1), strict=True))
    if total < 100:
        check = total
    elif total in (100, 101):
        check = 0
    else:
        check = total % 101
        if check == 100:
            check = 0
    return f"{check:02d}"


def _normalize_snils(value: str) -> str:
    digits = _bare_digits(value, "11 digits")
    if len(digits) != 11:
        raise DomainValueError("must be 11 digits")
    if int(digits[:9]) > _SNILS_UNCHECKED_MAX and digits[9:] != snils_check_number(digits[:9]):
        raise DomainValueError(_CHECKSUM_REASON)
    return digits


def _normalize_passport(value: str) -> str:
    digits = _bare_digits(value, "10 digits: 4-digit series and 6-digit number")
    if len(digits) != 10:
        raise DomainValueError("must be 10 digits: 4-digit series and 6-digit number")
    return digits


def normalize_other_type(other_type: str) -> str:
    """Upper-case a free identifier type code so "vat_de" and "VAT_DE" are the same kind of number."""
    code = clean_text(other_type, max_length=_RAW_MAX).upper()
    if not code:
        raise DomainValueError("is required when the type is OTHER", field="other_type")
    if not code.isascii() or not _OTHER_TYPE.fullmatch(code):
        raise DomainValueError("must be 1-40 characters of A-Z, 0-9, _ and -", field="other_type")
    return code


def _normalize_other(value: str) -> str:
    # Foreign numbers keep their case: we do not know whether case is significant for them.
    text = clean_text(value, max_length=_OTHER_VALUE_MAX)
    if not text:
        raise DomainValueError("must not be empty")
    if not text.isprintable():
        raise DomainValueError("must contain only printable characters")
    return text


_NORMALIZERS = {
    INN: _normalize_inn,
    OGRN: _normalize_ogrn,
    OGRNIP: _normalize_ogrnip,
    KPP: _normalize_kpp,
    SNILS: _normalize_snils,
    PASSPORT: _normalize_passport,
    OTHER: _normalize_other,
}


def normalize_identifier(id_type: str, value: str, other_type: str = "") -> str:
    """Validate an identifier and return its canonical stored form.

    Errors about ``other_type`` carry ``field="other_type"`` (``""`` means the value itself), so the
    caller can point at the right sub-field; use ``normalize_other_type`` to get the canonical code.
    ``other_type`` is refused for the typed numbers rather than silently dropped.
    """
    normalizer = _NORMALIZERS.get(id_type)
    if normalizer is None:
        raise DomainValueError(f"unknown identifier type {id_type!r}")
    if id_type == OTHER:
        normalize_other_type(other_type)
    elif other_type:
        raise DomainValueError("is only allowed when the type is OTHER", field="other_type")
    return normalizer(value)


def identifier_kinds(id_type: str, normalized_value: str) -> frozenset[str]:
    """Which party kinds may hold this identifier, so an INN of a person cannot land on a company.

    Groups hold no official identifiers: they are our own construct, not a legal subject.
    """
    if id_type == INN:
        return frozenset({ORGANIZATION}) if len(normalized_value) == 10 else frozenset({PERSON})
    if id_type in (OGRN, KPP):
        return frozenset({ORGANIZATION})
    if id_type in (OGRNIP, SNILS, PASSPORT):
        return frozenset({PERSON})
    if id_type == OTHER:
        return frozenset({PERSON, ORGANIZATION})
    raise DomainValueError(f"unknown identifier type {id_type!r}")


# --- generators for demo data and benchmarks --------------------------------------------------------


def _digits(rng: random.Random, count: int) -> str:
    return "".join(str(rng.randrange(10)) for _ in range(count))


def _region(rng: random.Random) -> str:
    return f"{rng.randint(1, 99):02d}"


def make_inn(kind: str, rng: random.Random) -> str:
    """A valid INN: 10 digits for kind "organization", 12 for "person"."""
    if kind == ORGANIZATION:
        body = _region(rng) + _digits(rng, 7)
        return body + stdnum_inn.calc_company_check_digit(body)
    if kind == PERSON:
        body = _region(rng) + _digits(rng, 8)
        return body + stdnum_inn.calc_personal_check_digits(body)
    raise DomainValueError('kind must be "person" or "organization"')


def make_ogrn(rng: random.Random) -> str:
    """A valid 13-digit OGRN of a legal entity (first digit 1 or 5)."""
    body = rng.choice("15") + f"{rng.randint(2, 99):02d}" + _region(rng) + _digits(rng, 7)
    return body + stdnum_ogrn.calc_check_digit(body + "0")


def make_ogrnip(rng: random.Random) -> str:
    """A valid 15-digit OGRNIP of an individual entrepreneur (first digit 3)."""
    body = "3" + f"{rng.randint(4, 99):02d}" + _region(rng) + _digits(rng, 9)
    return body + ogrnip_check_digit(body)


def make_kpp(rng: random.Random, region: str | None = None) -> str:
    """A well-formed KPP; ``region`` (two digits) fixes the tax office's region."""
    if region is None:
        region = _region(rng)
    elif not (len(region) == 2 and region.isascii() and region.isdigit()):
        raise DomainValueError("region must be 2 digits")
    office = region + f"{rng.randint(1, 99):02d}"
    reason = rng.choice(("01", "01", "01", "43", "45", "AA", "AB"))
    return office + reason + f"{rng.randint(1, 999):03d}"


def make_snils(rng: random.Random) -> str:
    """A valid 11-digit SNILS from the checked range (above 001-001-998)."""
    body = f"{rng.randint(_SNILS_UNCHECKED_MAX + 1, 999_999_999):09d}"
    return body + snils_check_number(body)


def make_passport(rng: random.Random) -> str:
    """A well-formed Russian internal passport number: region + year series, then 6 digits."""
    return _region(rng) + f"{rng.randint(0, 99):02d}" + f"{rng.randint(1, 999_999):06d}"
