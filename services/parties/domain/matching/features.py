"""Per-record features computed once, so that comparing a pair is a handful of lookups.

A batch run compares each record with tens of candidates, and the check on create compares one record
with every candidate the blocks return: transliterating, stemming and tokenizing inside the pair loop
would multiply that work by the number of pairs. Everything a comparator needs is prepared here.
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from typing import NamedTuple

from services.parties.domain.identifiers import KPP, OTHER, PASSPORT
from services.parties.domain.matching.namekeys import (
    fold,
    legal_form_class,
    name_key,
    org_name_parts,
    surname_stem,
)
from services.parties.domain.matching.records import FEMALE, MALE, PERSON, MatchRecord
from services.parties.domain.names import search_key

# Mailbox providers: sharing one of these domains says nothing, sharing a company's own domain does.
PUBLIC_EMAIL_DOMAINS = frozenset(
    {
        "gmail.com", "mail.ru", "yandex.ru", "bk.ru", "inbox.ru", "list.ru", "internet.ru", "rambler.ru",
        "outlook.com", "hotmail.com", "live.com", "msn.com", "yahoo.com", "icloud.com", "me.com", "aol.com",
        "proton.me", "protonmail.com", "mail.com", "gmx.de", "gmx.net", "web.de", "t-online.de", "orange.fr",
        "free.fr", "laposte.net", "hotmail.fr", "yahoo.fr", "sfr.fr", "hotmail.co.uk", "yahoo.co.uk",
        "btinternet.com", "hotmail.es", "yahoo.es", "telefonica.net", "libero.it", "ukr.net", "tut.by",
    }
)  # fmt: skip
# One mailbox, several domains: the provider delivers to the same account.
_DOMAIN_ALIASES = {
    "googlemail.com": "gmail.com",
    "ya.ru": "yandex.ru",
    "yandex.com": "yandex.ru",
    "yandex.by": "yandex.ru",
    "yandex.kz": "yandex.ru",
    "yandex.ua": "yandex.ru",
}
# Identifier types that name a document rather than the party: a person gets a new passport at 20 and
# 45, so a different passport number is much weaker evidence against than a different INN.
_DOCUMENT_WORDS = ("PASSPORT", "ID-CARD", "IDCARD", "ID_CARD", "DRIVING", "DRIVER", "RESIDENCE")
_ID_SEPARATORS = re.compile(r"[\s\-./]+")

# Address words that are only noise for comparison: street-type and unit abbreviations (after
# address_key, which already shortened the Russian ones) and their Latin counterparts.
_ADDRESS_WORDS = {
    "street": "st", "str": "st", "strasse": "st", "straße": "st", "avenue": "ave", "av": "ave",
    "avenida": "ave", "road": "rd", "boulevard": "blvd", "bd": "blvd", "place": "pl", "platz": "pl",
    "apartment": "apt", "flat": "apt", "wohnung": "apt", "suite": "apt", "appartement": "apt",
    "calle": "c", "rue": "r", "number": "no", "nr": "no", "numero": "no", "square": "sq", "lane": "ln",
    "drive": "dr", "court": "ct", "офис": "оф",
}  # fmt: skip
_ADDRESS_NOISE = frozenset(
    {"г", "д", "кв", "ул", "обл", "пр", "пер", "к", "стр", "респ", "р", "н", "оф", "пом", "no", "apt", "st"}
)
_ADDRESS_TOKENS = re.compile(r"\d+|[^\W\d_]+")
_POSTAL_DIGITS = 5  # digit groups this long are postal codes, the part most often missing or wrong


class AddressParts(NamedTuple):
    """An address reduced to what tells two addresses apart: its numbers, and its words for a fuzzy check."""

    signature: str
    numbers: tuple[str, ...]
    words: str


@lru_cache(maxsize=262144)
def address_parts(address: str) -> AddressParts:
    """Split an address string into numbers and words, dropping abbreviations and postal codes.

    Two spellings of one address ("ул. Ленина, д. 5, кв. 3" / "Ленина ул 5-3") get the same signature;
    neighbours (same street, another house or flat) keep different numbers, so they never look "similar".
    """
    words: set[str] = set()
    numbers: list[str] = []
    tokens = _ADDRESS_TOKENS.findall(address.casefold().replace("ё", "е"))
    if tokens and len(tokens[0]) == 2 and tokens[0].isascii() and tokens[0].isalpha():
        # address_key starts with the country code, which free text typed without a country lacks.
        tokens = tokens[1:]
    for token in tokens:
        if token.isdigit():
            if len(token) < _POSTAL_DIGITS:
                numbers.append(token.lstrip("0") or "0")
            continue
        # German compounds: "Hauptstraße" (casefolded "hauptstrasse") and "Hauptstr." are one street.
        if token.endswith("strasse") and len(token) > 7:
            token = token[:-7]
        elif token.endswith("str") and len(token) > 5:
            token = token[:-3]
        token = _ADDRESS_WORDS.get(token, token)
        if token not in _ADDRESS_NOISE:
            words.add(token)
    nums = tuple(sorted(numbers))
    text = " ".join(sorted(words))
    return AddressParts(f"{' '.join(nums)}|{text}", nums, text)


def email_parts(email: str) -> tuple[str, str]:
    """(local part, domain) of the mailbox an address delivers to.

    "+tags" are dropped everywhere (every large provider ignores them); Gmail also ignores dots and
    Yandex treats dots and hyphens alike, so those are folded for their domains only.
    """
    local, _, domain = email.casefold().rpartition("@")
    domain = _DOMAIN_ALIASES.get(domain, domain)
    local = local.split("+", 1)[0]
    if domain == "gmail.com":
        local = local.replace(".", "")
    elif domain == "yandex.ru":
        local = local.replace(".", "-")
    return local, domain


@lru_cache(maxsize=1024)
def _identifier_class(id_type: str) -> str:
    """ "id" (one per party for life), "doc" (a document, replaced over time) or "" (not unique)."""
    if id_type == KPP:
        return ""
    if id_type == PASSPORT or (id_type.startswith(OTHER) and any(w in id_type for w in _DOCUMENT_WORDS)):
        return "doc"
    return "id"


def _identifier_value(id_type: str, value: str) -> str:
    # Foreign numbers are stored as typed; spaces, dashes and case are not part of any scheme we know.
    if id_type.startswith(OTHER):
        return _ID_SEPARATORS.sub("", value).upper()
    return value


@lru_cache(maxsize=262144)
def _surname(name: str) -> tuple[str, str, str, str, str, bool]:
    """(fold, key, stem, gender, initial, is an initial) of a surname; cached, as a register repeats its
    surnames endlessly.

    The initial is of the Latin spelling, as for first names, so a surname typed into the first-name
    field as "I." still fits "Ivanov" when the order was swapped.
    """
    stem, gender = surname_stem(name)
    searched = search_key(name)
    return fold(name), name_key(name), stem, gender, searched[:1], len(searched) == 1


@lru_cache(maxsize=262144)
def _first_name(name: str) -> tuple[str, str, str, str, bool]:
    """(fold, key, stem, initial, is an initial) of a first name.

    The stem (the name stemmed like a surname) is for blocking only: a swapped "Мария Иванова" then
    agrees with "Иванова Мария".
    """
    searched = search_key(name)
    return fold(name), name_key(name), surname_stem(name)[0], searched[:1], len(searched) == 1


@lru_cache(maxsize=262144)
def _patronymic(name: str) -> tuple[str, str]:
    return fold(name), name_key(name)


@lru_cache(maxsize=262144)
def _mailbox(email: str) -> tuple[str, str, str]:
    """(local part, domain, the letters of the local part) of the mailbox an address delivers to."""
    local, domain = email_parts(email)
    return local, domain, "".join(filter(str.isalpha, local))


_NO_NAME = ("", "", "", "", "", False)
_NO_FIRST = ("", "", "", "", False)
_NO_PATRONYMIC = ("", "")
_NONE: frozenset[str] = frozenset()
_NO_IDS: dict[str, frozenset[str]] = {}  # shared and never mutated: most records have few identifiers


class Features:
    """Everything the comparators and blocking need from one record, computed once."""

    __slots__ = (
        "address_parts",
        "addresses",
        "birth",
        "birth_digits",
        "docs",
        "email_domains",
        "email_parts",
        "emails",
        "first_fold",
        "first_initial",
        "first_key",
        "first_short",
        "first_stem",
        "gender",
        "ids",
        "kind",
        "last_fold",
        "last_gender",
        "last_initial",
        "last_key",
        "last_short",
        "last_stem",
        "org_form",
        "org_names",
        "party_id",
        "patr_fold",
        "patr_key",
        "phones",
    )

    def __init__(self, record: MatchRecord) -> None:
        self.party_id = record.party_id
        self.kind = record.kind
        self.last_fold, self.last_key, self.last_stem, self.last_gender, self.last_initial, self.last_short = (
            _surname(record.last_name) if record.last_name else _NO_NAME
        )
        self.first_fold, self.first_key, self.first_stem, self.first_initial, self.first_short = (
            _first_name(record.first_name) if record.first_name else _NO_FIRST
        )
        self.patr_fold, self.patr_key = _patronymic(record.patronymic) if record.patronymic else _NO_PATRONYMIC
        born: date | None = record.birth_date
        if born is None:
            self.birth = None
            self.birth_digits = ""
        else:
            self.birth = (born.year, born.month, born.day)
            self.birth_digits = f"{born.year:04d}{born.month:02d}{born.day:02d}"
        self.gender = "m" if record.gender == MALE else "f" if record.gender == FEMALE else ""
        self.ids = self.docs = _NO_IDS
        if record.identifiers:
            ids: dict[str, set[str]] = {}
            docs: dict[str, set[str]] = {}
            for id_type, value in record.identifiers:
                cls = _identifier_class(id_type)
                if cls:
                    (ids if cls == "id" else docs).setdefault(id_type, set()).add(_identifier_value(id_type, value))
            if ids:
                self.ids = {k: frozenset(v) for k, v in ids.items()}
            if docs:
                self.docs = {k: frozenset(v) for k, v in docs.items()}
        self.phones = frozenset(record.phones) if record.phones else _NONE
        if record.emails:
            parts = tuple(dict.fromkeys(_mailbox(e) for e in record.emails))
            self.email_parts = parts
            self.emails = frozenset(f"{local}@{domain}" for local, domain, _ in parts)
            self.email_domains = frozenset(d for _, d, _ in parts if d not in PUBLIC_EMAIL_DOMAINS) or _NONE
        else:
            self.email_parts = ()
            self.emails = self.email_domains = _NONE
        if record.addresses:
            addresses = tuple(dict.fromkeys(address_parts(a) for a in record.addresses if a))
            self.address_parts = addresses
            self.addresses = frozenset(a.signature for a in addresses)
        else:
            self.address_parts = ()
            self.addresses = _NONE
        if record.kind == PERSON:
            self.org_names: tuple[tuple[str, str], ...] = ()
            self.org_form = ""
        else:
            names: dict[str, tuple[str, str]] = {}
            form = legal_form_class(record.legal_form) if record.legal_form else ""
            for name in (record.legal_name, record.short_name):
                if name:
                    folded, key, found = org_name_parts(name)
                    if key and key not in names:
                        names[key] = (folded, key)
                    form = form or found
            self.org_names = tuple(names.values())
            self.org_form = form
