"""Field-by-field comparison of two records: for each field, which agreement level the pair is at.

Levels are discrete on purpose: the Fellegi–Sunter model learns one weight per level, and the level's
label is the explanation a data steward reads ("surname: gender_form", "birth_date: day_month_swap").
Each comparator returns the index of the first level that holds, in the order the field lists them
(most to least agreement); the last level of every field is "missing", which carries no weight.
"""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz.distance import OSA, JaroWinkler
from rapidfuzz.fuzz import ratio, token_set_ratio

from services.parties.domain.matching.features import Features
from services.parties.domain.matching.records import ORGANIZATION, PERSON

MISSING = "missing"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """A compared field and its levels, most agreement first; the last one is always "missing"."""

    name: str
    levels: tuple[str, ...]

    def index(self, level: str) -> int:
        return self.levels.index(level)


_NAME_LEVELS = ("exact", "transliteration", "typo", "similar", "different", MISSING)
# Phones, e-mails and addresses are one field, not three: people of one household share them together
# (a home phone, a family mailbox, the flat), so counting each agreement as independent evidence would
# make a husband and wife sharing phone and address score like one person. The level is the strongest
# agreement found; a second agreement adds little once one contact point is shared.
CONTACT_LEVELS = (
    "phone",
    "email",
    "address",
    "typo",
    "same_domain",
    "similar_address",
    "different",
    MISSING,
)
PERSON_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "last_name",
        ("exact", "transliteration", "gender_form", "swapped", "typo", "similar", "different", MISSING),
    ),
    FieldSpec("first_name", ("exact", "transliteration", "typo", "initial", "similar", "different", MISSING)),
    FieldSpec("patronymic", ("exact", "transliteration", "typo", "different", MISSING)),
    FieldSpec("birth_date", ("exact", "day_month_swap", "typo", "different", MISSING)),
    FieldSpec("gender", ("exact", "different", MISSING)),
    FieldSpec("identifier", ("exact", "typo", "different", MISSING)),
    FieldSpec("document", ("exact", "typo", "different", MISSING)),
    FieldSpec("contact", CONTACT_LEVELS),
)
ORGANIZATION_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("name", _NAME_LEVELS),
    FieldSpec("legal_form", ("exact", "different", MISSING)),
    FieldSpec("identifier", ("exact", "typo", "different", MISSING)),
    FieldSpec("contact", CONTACT_LEVELS),
)
FIELDS: dict[str, tuple[FieldSpec, ...]] = {PERSON: PERSON_FIELDS, ORGANIZATION: ORGANIZATION_FIELDS}

# Level indices, named for the code below (they follow the tuples above).
_L_EXACT, _L_TRANSLIT, _L_GENDER, _L_SWAPPED, _L_TYPO, _L_SIMILAR, _L_DIFFERENT, _L_MISSING = range(8)
_F_EXACT, _F_TRANSLIT, _F_TYPO, _F_INITIAL, _F_SIMILAR, _F_DIFFERENT, _F_MISSING = range(7)
_P_EXACT, _P_TRANSLIT, _P_TYPO, _P_DIFFERENT, _P_MISSING = range(5)
_D_EXACT, _D_SWAP, _D_TYPO, _D_DIFFERENT, _D_MISSING = range(5)
_G_EXACT, _G_DIFFERENT, _G_MISSING = range(3)
_I_EXACT, _I_TYPO, _I_DIFFERENT, _I_MISSING = range(4)
_E_EXACT, _E_TYPO, _E_DOMAIN, _E_DIFFERENT, _E_MISSING = range(5)
_A_EXACT, _A_SIMILAR, _A_DIFFERENT, _A_MISSING = range(4)
_C_PHONE, _C_EMAIL, _C_ADDRESS, _C_TYPO, _C_DOMAIN, _C_SIMILAR_ADDRESS, _C_DIFFERENT, _C_MISSING = range(8)
_N_EXACT, _N_TRANSLIT, _N_TYPO, _N_SIMILAR, _N_DIFFERENT, _N_MISSING = range(6)

# A typo is one edit (insert, delete, substitute, swap two neighbours); two in a name of 8+ letters.
_LONG_NAME = 8
_SIMILAR_NAME = 0.88  # Jaro-Winkler: shares most letters in order, e.g. a dropped syllable
_SIMILAR_ORG = 85.0  # token-set ratio: one name contains the other, or words reordered
_TYPO_ORG = 90.0
_SIMILAR_ADDRESS = 85.0


def _typo(a: str, b: str) -> bool:
    limit = 2 if min(len(a), len(b)) >= _LONG_NAME else 1
    return OSA.distance(a, b, score_cutoff=limit) <= limit


def _name_level(a_fold: str, a_key: str, b_fold: str, b_key: str) -> int:
    """exact / transliteration / typo / similar / different (the generic name ladder, no "missing")."""
    if a_fold == b_fold:
        return 0
    if a_key == b_key:
        return 1
    # On the spelling as typed too: a slip in a Cyrillic name can cost two edits in its Latin key
    # ("Леч"/"Лев" is "lech"/"lev"), and collapsing double letters can hide one ("Егоова").
    if _typo(a_key, b_key) or _typo(a_fold, b_fold):
        return 2
    if JaroWinkler.similarity(a_key, b_key) >= _SIMILAR_NAME:
        return 3
    return 4


_NAME_TO_LAST = (_L_EXACT, _L_TRANSLIT, _L_TYPO, _L_SIMILAR, _L_DIFFERENT)
_NAME_TO_FIRST = (_F_EXACT, _F_TRANSLIT, _F_TYPO, _F_SIMILAR, _F_DIFFERENT)
_NAME_TO_PATR = (_P_EXACT, _P_TRANSLIT, _P_TYPO, _P_DIFFERENT, _P_DIFFERENT)


def _last_level(a: Features, b: Features) -> int:
    level = _NAME_TO_LAST[_name_level(a.last_fold, a.last_key, b.last_fold, b.last_key)]
    if (
        level > _L_TRANSLIT
        and a.last_stem == b.last_stem
        and a.last_gender != b.last_gender
        and a.last_gender
        and b.last_gender
    ):
        return _L_GENDER
    return level


def _first_level(a: Features, b: Features) -> int:
    level = _NAME_TO_FIRST[_name_level(a.first_fold, a.first_key, b.first_fold, b.first_key)]
    if level >= _F_SIMILAR and (a.first_short or b.first_short) and a.first_initial == b.first_initial:
        return _F_INITIAL
    return level


def _cross(name_fold: str, name_key: str, name_initial: str, name_short: bool, other_last: Features) -> int:
    """How well a first name (given by its parts) agrees with the other record's surname, on the name
    ladder (0 exact .. 4 different), an initial that fits counting as a typo."""
    level = _name_level(name_fold, name_key, other_last.last_fold, other_last.last_key)
    if level > 2 and (name_short or other_last.last_short) and name_initial == other_last.last_initial:
        return 2
    return level


def _names(a: Features, b: Features) -> tuple[int, int]:
    """(surname level, first-name level), trying the swapped order when the direct one disagrees.

    Swapped means the first name was typed into the surname field and the other way round. Both cross
    comparisons must agree: one at least at typo level (an initial counts) and the other at least as
    "similar", so two different people are not taken for a swap.
    """
    has_last = bool(a.last_key and b.last_key)
    has_first = bool(a.first_key and b.first_key)
    last = _last_level(a, b) if has_last else _L_MISSING
    first = _first_level(a, b) if has_first else _F_MISSING
    if has_last and has_first and last > _L_TYPO and first > _F_TYPO:
        across = _cross(a.first_fold, a.first_key, a.first_initial, a.first_short, b)
        if across <= 3:
            back = _cross(b.first_fold, b.first_key, b.first_initial, b.first_short, a)
            if back <= 3 and min(across, back) <= 2:
                # "swapped" already says both names agree crosswise: counting the first name again
                # would make a swapped pair score higher than a straight one.
                return _L_SWAPPED, _F_MISSING
    return last, first


def _patronymic(a: Features, b: Features) -> int:
    if not (a.patr_key and b.patr_key):
        return _P_MISSING
    return _NAME_TO_PATR[_name_level(a.patr_fold, a.patr_key, b.patr_fold, b.patr_key)]


def _birth(a: Features, b: Features) -> int:
    x, y = a.birth, b.birth
    if x is None or y is None:
        return _D_MISSING
    if x == y:
        return _D_EXACT
    if x[0] == y[0] and x[1] == y[2] and x[2] == y[1]:
        return _D_SWAP
    if OSA.distance(a.birth_digits, b.birth_digits, score_cutoff=1) <= 1:
        return _D_TYPO
    return _D_DIFFERENT


def _gender(a: Features, b: Features) -> int:
    if not (a.gender and b.gender):
        return _G_MISSING
    return _G_EXACT if a.gender == b.gender else _G_DIFFERENT


def _identifiers(a: dict[str, frozenset[str]], b: dict[str, frozenset[str]]) -> int:
    """Shared value of one type: exact; only different values of a shared type: typo or different."""
    if not (a and b):
        return _I_MISSING
    level = _I_MISSING
    for id_type, values in a.items():
        other = b.get(id_type)
        if other is None:
            continue
        if values & other:
            return _I_EXACT
        if level != _I_TYPO:
            close = any(OSA.distance(x, y, score_cutoff=1) <= 1 for x in values for y in other)
            level = _I_TYPO if close else _I_DIFFERENT
    return level


def _phones(a: Features, b: Features) -> int:
    if not (a.phones and b.phones):
        return _I_MISSING
    if a.phones & b.phones:
        return _I_EXACT
    for x in a.phones:
        for y in b.phones:
            if len(x) == len(y) and OSA.distance(x, y, score_cutoff=1) <= 1:
                return _I_TYPO
    return _I_DIFFERENT


def _emails(a: Features, b: Features) -> int:
    if not (a.emails and b.emails):
        return _E_MISSING
    if a.emails & b.emails:
        return _E_EXACT
    # A typo is a slip in a letter: mailboxes differing in a separator or a digit ("ivan.petrov" /
    # "ivan_petrov", "petrov81" / "petrov82") are the usual way namesakes' addresses differ.
    for la, da, letters_a in a.email_parts:
        for lb, db, letters_b in b.email_parts:
            if da == db and letters_a != letters_b and OSA.distance(la, lb, score_cutoff=1) <= 1:
                return _E_TYPO
            if la == lb and OSA.distance(da, db, score_cutoff=1) <= 1:
                return _E_TYPO
    if a.email_domains & b.email_domains:
        return _E_DOMAIN
    return _E_DIFFERENT


def _addresses(a: Features, b: Features) -> int:
    if not (a.addresses and b.addresses):
        return _A_MISSING
    if a.addresses & b.addresses:
        return _A_EXACT
    for x in a.address_parts:
        for y in b.address_parts:
            if x.numbers == y.numbers and token_set_ratio(x.words, y.words, score_cutoff=_SIMILAR_ADDRESS):
                return _A_SIMILAR
    return _A_DIFFERENT


def _contact(a: Features, b: Features) -> int:
    """The strongest contact agreement; agreement of any kind outranks disagreement of another."""
    if a.phones and b.phones and not a.phones.isdisjoint(b.phones):
        return _C_PHONE
    if a.emails and b.emails and not a.emails.isdisjoint(b.emails):
        return _C_EMAIL
    phone, email, address = _phones(a, b), _emails(a, b), _addresses(a, b)
    if address == _A_EXACT:
        return _C_ADDRESS
    if phone == _I_TYPO or email == _E_TYPO:
        return _C_TYPO
    if email == _E_DOMAIN:
        return _C_DOMAIN
    if address == _A_SIMILAR:
        return _C_SIMILAR_ADDRESS
    if phone == _I_MISSING and email == _E_MISSING and address == _A_MISSING:
        return _C_MISSING
    return _C_DIFFERENT


def _org_name(a: Features, b: Features) -> int:
    if not (a.org_names and b.org_names):
        return _N_MISSING
    best = _N_DIFFERENT
    for fa, ka in a.org_names:
        for fb, kb in b.org_names:
            if fa == fb:
                return _N_EXACT
            if ka == kb:
                best = _N_TRANSLIT
            elif best > _N_TYPO and (_typo(ka, kb) or ratio(ka, kb, score_cutoff=_TYPO_ORG)):
                best = _N_TYPO
            elif best > _N_SIMILAR and token_set_ratio(ka, kb, score_cutoff=_SIMILAR_ORG):
                best = _N_SIMILAR
    return best


def _legal_form(a: Features, b: Features) -> int:
    if not (a.org_form and b.org_form):
        return _G_MISSING
    return _G_EXACT if a.org_form == b.org_form else _G_DIFFERENT


def compare_persons(a: Features, b: Features) -> tuple[int, ...]:
    """Level indices of two persons, in ``PERSON_FIELDS`` order."""
    last, first = _names(a, b)
    return (
        last,
        first,
        _patronymic(a, b),
        _birth(a, b),
        _gender(a, b),
        _identifiers(a.ids, b.ids),
        _identifiers(a.docs, b.docs),
        _contact(a, b),
    )


def compare_organizations(a: Features, b: Features) -> tuple[int, ...]:
    """Level indices of two organizations, in ``ORGANIZATION_FIELDS`` order."""
    return (
        _org_name(a, b),
        _legal_form(a, b),
        _identifiers(a.ids, b.ids),
        _contact(a, b),
    )


COMPARE = {PERSON: compare_persons, ORGANIZATION: compare_organizations}
