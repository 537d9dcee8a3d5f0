"""Comparison keys for names: one key per name however it was spelt, transliterated or declined.

The register's ``search_key`` already folds case, accents and Cyrillic (by ICAO 9303) into plain
ASCII. That is not enough for matching, because the same Russian name reaches us in several Latin
spellings (passport ICAO "Iurii", the older "Yuriy", German "Jurij", the informal "Yuri") and because a
Russian surname changes its ending with gender (Иванов/Иванова, Ковальский/Ковальская). The keys here
collapse exactly those differences and nothing more, so equal keys are strong evidence while a typo still
has to be caught by a string distance.
"""

from __future__ import annotations

import re
from functools import lru_cache

from services.parties.domain.names import search_key

# Multi-letter spellings of one sound, applied in this order on the ASCII search key. Each pair is a
# variation actually seen between transliteration systems (ICAO, GOST 1983, BGN/PCGN, German, French,
# Polish) or between a European name with and without its umlaut.
_MULTI = (
    ("schtsch", "Q"),  # German Щ
    ("chtch", "Q"),  # French Щ
    ("shch", "Q"),  # ICAO Щ
    ("sch", "Q"),  # GOST/informal Щ, and German "sch" (consistent on both sides, so harmless)
    ("tsch", "C"),  # German Ч
    ("zh", "Z"),  # Ж, Ш, Ч as one letter each, so that a typo next to them costs one edit, not two
    ("sh", "S"),
    ("ch", "C"),
    ("kh", "h"),  # Х: ICAO "kh", others "h"
    ("tz", "c"),  # German Ц
    ("ts", "c"),  # ICAO Ц, "cz" is Polish
    ("cz", "c"),
    ("x", "ks"),  # Alexei / Aleksei
    ("w", "v"),  # Polish and German Wolkow / Volkov
    ("ph", "f"),
    ("ck", "k"),
    ("ue", "u"),  # Müller / Mueller / Muller
    ("oe", "o"),
    ("ae", "a"),
)
# Upper-case replacements are placeholders: the input is lower-case, so they never collide with a letter.
_MULTI_RE = re.compile("|".join(re.escape(a) for a, _ in _MULTI))
_MULTI_MAP = dict(_MULTI)
# Й, Ы, Ь spelt "y", "j", "i" or nothing: after the doubled letters are collapsed, an "i" glide before a
# vowel is dropped (Юрий: "iurii" / "yuriy" / "jurij" all end as "uri"; Алёна / Alyona / Aliona as "alena").
_JY = str.maketrans({"j": "i", "y": "i"})
_DOUBLE = re.compile(r"(.)\1+")
_GLIDE = re.compile(r"i([aeou])")
_GLIDE_TO = {"a": "a", "e": "e", "o": "e", "u": "u"}


def _first_group(match: re.Match[str]) -> str:
    return match.group(1)


def _canonical_ascii(text: str) -> str:
    text = _MULTI_RE.sub(lambda m: _MULTI_MAP[m.group()], text)
    text = _DOUBLE.sub(_first_group, text.translate(_JY))
    text = _GLIDE.sub(lambda m: _GLIDE_TO[m.group(1)], text)
    return _DOUBLE.sub(_first_group, text)


@lru_cache(maxsize=262144)
def name_key(part: str) -> str:
    """The key two spellings of one name part share: Щербаков, Shcherbakov and Scherbakov give one key.

    Words are joined (a hyphenated or two-word surname is one key). Cached because a register has far
    fewer distinct name parts than records.
    """
    return _canonical_ascii(search_key(part).replace(" ", ""))


# Gendered surname endings on the ASCII search key, longest first: (ending, replacement, gender).
_SURNAME_ENDINGS: tuple[tuple[str, str, str], ...] = (
    ("skaia", "sk", "f"),
    ("skaya", "sk", "f"),
    ("skaja", "sk", "f"),
    ("ckaia", "ck", "f"),
    ("skii", "sk", "m"),
    ("skiy", "sk", "m"),
    ("skij", "sk", "m"),
    ("ckii", "ck", "m"),
    ("ckiy", "ck", "m"),
    ("ska", "sk", "f"),
    ("cka", "ck", "f"),
    ("sky", "sk", "m"),
    ("ski", "sk", "m"),
    ("cki", "ck", "m"),
    ("aia", "", "f"),
    ("aya", "", "f"),
    ("aja", "", "f"),
    ("ova", "ov", "f"),
    ("eva", "ev", "f"),
    ("ina", "in", "f"),
    ("yna", "yn", "f"),
    ("ov", "ov", "m"),
    ("ev", "ev", "m"),
    ("in", "in", "m"),
    ("yn", "yn", "m"),
    ("owa", "ov", "f"),  # Polish and German spellings: Wolkowa, Wolkow
    ("ewa", "ev", "f"),
    ("ow", "ov", "m"),
    ("ew", "ev", "m"),
    ("off", "ov", "m"),  # the old French/German spelling: Smirnoff
    ("oi", "", "m"),
    ("oy", "", "m"),
    ("oj", "", "m"),
)
_MIN_STEM = 2


@lru_cache(maxsize=262144)
def surname_stem(last_name: str) -> tuple[str, str]:
    """The surname's key without its gender ending, and the gender the ending shows ("m", "f" or "").

    Иванова and Ivanov share the stem "ivanov"; Ковальская, Kovalskaya and Kowalski share "kovalsk";
    Толстая and Tolstoy share "tolst". A surname without a gendered ending (Шевченко, Müller) is its
    own stem with gender "". Matching the stem, not the full key, is what lets a data-entry slip in the
    ending be told apart from a different person; the gender tells husband and wife apart.
    """
    key = search_key(last_name).replace(" ", "")
    for ending, replacement, gender in _SURNAME_ENDINGS:
        if key.endswith(ending) and len(key) - len(ending) >= _MIN_STEM:
            return _canonical_ascii(key[: -len(ending)] + replacement), gender
    return _canonical_ascii(key), ""


def fold(text: str) -> str:
    """Case-folded text with collapsed spaces: what "exactly the same spelling" means for names."""
    return " ".join(text.casefold().split())


# --- organizations --------------------------------------------------------------------------------

# Legal forms by class, as they appear after search_key (Latin ASCII, words split on punctuation).
# A class groups forms that are the same kind of entity in different countries or eras, so "ООО" and
# "LLC" agree and a company re-registered from ОАО to ПАО (the 2014 reform) still agrees with itself.
_FORMS_BY_CLASS: dict[str, tuple[str, ...]] = {
    "limited": (
        "ooo",
        "obshchestvo s ogranichennoi otvetstvennostiu",
        "obshchestvo s ogranichennoi otvetstvennostyu",
        "llc",
        "l l c",
        "ltd",
        "limited",
        "gmbh",
        "ug",
        "sarl",
        "s a r l",
        "sas",
        "s a s",
        "srl",
        "s r l",
        "sl",
        "s l",
        "bv",
        "b v",
        "sp z o o",
        "s r o",
        "pty ltd",
        "tov",
        "too",
    ),
    "joint_stock": (
        "ao",
        "zao",
        "oao",
        "pao",
        "nao",
        "aktsionernoe obshchestvo",
        "publichnoe aktsionernoe obshchestvo",
        "zakrytoe aktsionernoe obshchestvo",
        "otkrytoe aktsionernoe obshchestvo",
        "nepublichnoe aktsionernoe obshchestvo",
        "jsc",
        "cjsc",
        "ojsc",
        "pjsc",
        "ag",
        "sa",
        "s a",
        "spa",
        "s p a",
        "nv",
        "n v",
        "plc",
        "inc",
        "incorporated",
        "corp",
        "corporation",
        "oy",
        "ab",
        "as",
        "a s",
        "asa",
    ),
    "partnership": ("kg", "ohg", "gbr", "lp", "llp", "gmbh co kg", "snc", "partnership"),
    "sole_proprietor": ("ip", "individualnyi predprinimatel", "e k", "sole trader"),
    "non_profit": ("nko", "ano", "e v", "fond", "foundation"),
    "state": ("gup", "mup", "fgup", "gbu", "mbu", "fgbu"),
}
_FORM_CLASS: dict[tuple[str, ...], str] = {
    tuple(form.split()): cls for cls, forms in _FORMS_BY_CLASS.items() for form in forms
}
_MAX_FORM_WORDS = max(len(words) for words in _FORM_CLASS)
# Words that join a form to the name and go with it ("Acme & Co", "Acme and Co").
_FORM_GLUE = frozenset({"and", "co", "i"})
_WORD = re.compile(r"[^\W_]+")


def legal_form_class(legal_form: str) -> str:
    """The class of a legal form as written ("ООО", "LLC", "GmbH & Co. KG"), or "" if unknown."""
    return _FORM_CLASS.get(tuple(search_key(legal_form).split()), "")


def _strip_forms(words: list[str]) -> tuple[int, int, str]:
    """The span of ``words`` left after removing legal forms from both ends, and the form class found.

    At least one word is always kept: a name that is nothing but a form is still a name.
    """
    lo, hi, found = 0, len(words), ""
    changed = True
    while changed:
        changed = False
        for size in range(min(_MAX_FORM_WORDS, hi - lo - 1), 0, -1):
            head, tail = tuple(words[lo : lo + size]), tuple(words[hi - size : hi])
            if head in _FORM_CLASS:
                found, lo, changed = found or _FORM_CLASS[head], lo + size, True
                break
            if tail in _FORM_CLASS:
                found, hi, changed = found or _FORM_CLASS[tail], hi - size, True
                break
        while hi - lo > 1 and words[hi - 1] in _FORM_GLUE:
            hi, changed = hi - 1, True
    return lo, hi, found


@lru_cache(maxsize=262144)
def org_name_parts(name: str) -> tuple[str, str, str]:
    """(folded name without the form, key, form class) of a company name.

    ``ООО «Ромашка»``, ``Romashka LLC`` and ``"РОМАШКА" ООО`` all give the key "romashka" and the class
    "limited". The folded name keeps the original script, so "the same spelling" can be told apart from
    "the same name transliterated"; the key is per-word ``name_key`` (word order kept, digits kept).
    Quotes and punctuation go: they are the most variable part of how company names are typed.
    """
    words = _WORD.findall(name.casefold())
    latin = [w if w.isdigit() else search_key(w).replace(" ", "") for w in words]
    lo, hi, form = _strip_forms(latin)
    if lo >= hi:
        return "", "", form
    key = " ".join(_canonical_ascii(w) for w in latin[lo:hi] if w)
    return " ".join(words[lo:hi]), key, form
