"""What the matcher sees of a party: a flat, already normalized, hashable record.

The matcher does not take the service's party objects or protobuf messages: a plain frozen dataclass
keeps the core independent of storage and transport, makes records cheap to pickle to worker processes,
and lets the same code check a party being created, a whole register and an incoming file.

Two ways in: build ``MatchRecord`` directly from values the register already normalized (E.164 phones,
lower-case e-mails, canonical identifiers, ``address_key`` strings), or call ``person_record`` /
``organization_record`` with raw values, which normalizes them with the domain's own functions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from services.parties.domain.contacts import address_key, normalize_address, normalize_email, normalize_phone
from services.parties.domain.errors import DomainValueError
from services.parties.domain.identifiers import OTHER, normalize_identifier, normalize_other_type
from services.parties.domain.names import clean_name_part
from services.parties.domain.text import clean_text

PERSON = "person"
ORGANIZATION = "organization"
KINDS = frozenset({PERSON, ORGANIZATION})
MALE = "male"
FEMALE = "female"
GENDERS = frozenset({"", MALE, FEMALE})

RawAddress = str | Mapping[str, str]


@dataclass(frozen=True, slots=True)
class MatchRecord:
    """One party as the matcher compares it; every value is already in its canonical form.

    ``identifiers`` are ``(type, value)`` with the register's types ("INN", "OGRN", "OGRNIP", "KPP",
    "SNILS", "PASSPORT") or ``"OTHER:<SCHEME>"`` for any other scheme ("OTHER:DE-VAT"). ``addresses``
    are comparison strings such as ``address_key`` returns. ``country`` (ISO 3166-1 alpha-2) is the
    party's home country, used to read phone numbers typed without a country code.
    """

    party_id: str
    kind: str
    last_name: str = ""
    first_name: str = ""
    patronymic: str = ""
    legal_name: str = ""
    short_name: str = ""
    legal_form: str = ""
    birth_date: date | None = None
    gender: str = ""
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    identifiers: tuple[tuple[str, str], ...] = ()
    addresses: tuple[str, ...] = ()
    country: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise DomainValueError('must be "person" or "organization"', field="kind")
        if self.gender not in GENDERS:
            # Spellings such as "M", "GENDER_FEMALE" or "unspecified" are mapped; anything else is refused.
            gender = _GENDER_WORDS.get(self.gender.strip().casefold())
            if gender is None:
                raise DomainValueError('must be "male", "female" or empty', field="gender")
            object.__setattr__(self, "gender", gender)


# --- building records from raw values -------------------------------------------------------------

_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_GENDER_WORDS = {
    "": "",
    "m": MALE,
    "male": MALE,
    "м": MALE,
    "муж": MALE,
    "мужской": MALE,
    "gender_male": MALE,
    "f": FEMALE,
    "female": FEMALE,
    "ж": FEMALE,
    "жен": FEMALE,
    "женский": FEMALE,
    "gender_female": FEMALE,
    "unspecified": "",
    "gender_unspecified": "",
}
_NAME_MAX = 1000


class _Collector:
    """Runs normalizers, dropping or raising on bad values depending on ``strict``.

    Lenient is the default because a matcher must still find the duplicate of a record with one bad
    phone number; strict is for callers that validate and match in one go and want the first error.
    """

    def __init__(self, strict: bool) -> None:
        self.strict = strict

    def one(self, field: str, func: Callable[..., Any], *args: Any) -> Any:
        try:
            return func(*args)
        except DomainValueError as exc:
            if self.strict:
                raise DomainValueError(exc.reason, field=f"{field}.{exc.field}" if exc.field else field) from None
            return None

    def many(self, field: str, func: Callable[..., Any], values: Iterable[Any], *extra: Any) -> tuple[Any, ...]:
        out: list[Any] = []
        for i, value in enumerate(values):
            result = self.one(f"{field}[{i}]", func, value, *extra)
            if result and result not in out:
                out.append(result)
        return tuple(out)


def _phone(raw: str, region: str) -> str:
    # Values from the register are already E.164: re-parsing them would only cost time.
    text = raw.strip() if isinstance(raw, str) else raw
    if isinstance(text, str) and _E164.fullmatch(text):
        return text
    return normalize_phone(raw, region)


def _identifier(item: tuple[str, str]) -> tuple[str, str]:
    id_type, value = item
    kind = clean_text(id_type, max_length=80).upper()
    if kind.startswith(OTHER + ":"):
        scheme = normalize_other_type(kind.split(":", 1)[1])
        return f"{OTHER}:{scheme}", normalize_identifier(OTHER, value, scheme)
    if kind == OTHER:
        raise DomainValueError('an "OTHER" identifier needs its scheme: "OTHER:<SCHEME>"')
    return kind, normalize_identifier(kind, value)


def _address(raw: RawAddress, country: str) -> str:
    if isinstance(raw, Mapping):
        parts = dict.fromkeys(
            ("country_code", "postal_code", "region", "city", "street", "house", "flat", "full_text"), ""
        )
        parts.update({k: v for k, v in raw.items() if k in parts and v})
        parts["country_code"] = parts["country_code"] or country
        return address_key(normalize_address(**parts))
    text = clean_text(raw, max_length=1000)
    if not text:
        raise DomainValueError("must not be empty")
    return address_key({"country_code": country, "full_text": text})


def _birth_date(raw: date | str | None) -> date | None:
    if raw is None or isinstance(raw, date):
        return raw
    text = raw.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise DomainValueError("must be a date (YYYY-MM-DD)") from None


def _gender(raw: str) -> str:
    gender = _GENDER_WORDS.get(raw.strip().casefold())
    if gender is None:
        raise DomainValueError('must be "male", "female" or empty')
    return gender


def _name(raw: str) -> str:
    return clean_name_part(raw)


def _org_name(raw: str) -> str:
    return clean_text(raw, max_length=_NAME_MAX)


def _country(raw: str) -> str:
    code = raw.strip().upper()
    if code and not (len(code) == 2 and code.isascii() and code.isalpha()):
        raise DomainValueError("must be an ISO 3166-1 alpha-2 country code")
    return code


def _common(
    c: _Collector,
    country: str,
    phones: Iterable[str],
    emails: Iterable[str],
    identifiers: Iterable[tuple[str, str]],
    addresses: Iterable[RawAddress],
) -> dict[str, Any]:
    code = c.one("country", _country, country) or ""
    region = code or "RU"
    return {
        "country": code,
        "phones": c.many("phones", _phone, phones, region),
        "emails": c.many("emails", normalize_email, emails),
        "identifiers": c.many("identifiers", _identifier, identifiers),
        "addresses": c.many("addresses", _address, addresses, code),
    }


def person_record(
    party_id: str,
    *,
    last_name: str = "",
    first_name: str = "",
    patronymic: str = "",
    birth_date: date | str | None = None,
    gender: str = "",
    phones: Iterable[str] = (),
    emails: Iterable[str] = (),
    identifiers: Iterable[tuple[str, str]] = (),
    addresses: Iterable[RawAddress] = (),
    country: str = "",
    strict: bool = False,
) -> MatchRecord:
    """A person's ``MatchRecord`` from raw values, normalized with the register's own rules.

    Phones without a country code are read in ``country`` (Russia when it is empty); ``addresses`` are
    free text or dicts of ``normalize_address`` parts; identifiers are ``(type, value)`` pairs, foreign
    ones as ``("OTHER:<SCHEME>", value)``. Bad values are dropped unless ``strict``, when the first one
    raises ``DomainValueError`` whose ``field`` names it ("phones[1]").
    """
    c = _Collector(strict)
    return MatchRecord(
        party_id=party_id,
        kind=PERSON,
        last_name=c.one("last_name", _name, last_name) or "",
        first_name=c.one("first_name", _name, first_name) or "",
        patronymic=c.one("patronymic", _name, patronymic) or "",
        birth_date=c.one("birth_date", _birth_date, birth_date),
        gender=c.one("gender", _gender, gender) or "",
        **_common(c, country, phones, emails, identifiers, addresses),
    )


def organization_record(
    party_id: str,
    *,
    legal_name: str = "",
    short_name: str = "",
    legal_form: str = "",
    phones: Iterable[str] = (),
    emails: Iterable[str] = (),
    identifiers: Iterable[tuple[str, str]] = (),
    addresses: Iterable[RawAddress] = (),
    country: str = "",
    strict: bool = False,
) -> MatchRecord:
    """An organization's ``MatchRecord`` from raw values; see ``person_record`` for the conventions.

    Names are kept as written, with their legal form and quotes: the matcher strips those itself, so
    "ООО «Ромашка»", "Romashka LLC" and a bare "Ромашка" with ``legal_form="ООО"`` all compare equal.
    """
    c = _Collector(strict)
    return MatchRecord(
        party_id=party_id,
        kind=ORGANIZATION,
        legal_name=c.one("legal_name", _org_name, legal_name) or "",
        short_name=c.one("short_name", _org_name, short_name) or "",
        legal_form=c.one("legal_form", _org_name, legal_form) or "",
        **_common(c, country, phones, emails, identifiers, addresses),
    )
