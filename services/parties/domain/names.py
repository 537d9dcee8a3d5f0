"""Names of people and organizations: what is allowed in them, and how they are searched.

Search is done on a Latin key so that a customer registered as "Щербаков" is found when an agent
types "Shcherbakov" from a passport scan, and the other way round.
"""

from __future__ import annotations

import re
import unicodedata

from services.parties.domain.errors import DomainValueError
from services.parties.domain.text import clean_text

NAME_PART_MAX = 100
_NAME_PUNCTUATION = frozenset(" -'’.")
_NAME_REASON = "only letters, spaces, hyphens, apostrophes and dots are allowed"


def clean_name_part(value: str) -> str:
    """Clean one part of a person's name, refusing anything that cannot be part of a real name.

    Letters of any script are allowed, with the combining marks some scripts need; digits and symbols
    are not, which also keeps injection-looking junk out of the people register. A non-empty part
    must contain at least one letter ("--" is not a name).
    """
    text = clean_text(value, max_length=NAME_PART_MAX)
    for ch in text:
        if not (ch.isalpha() or ch in _NAME_PUNCTUATION or unicodedata.category(ch)[0] == "M"):
            raise DomainValueError(_NAME_REASON)
    if text and not any(ch.isalpha() for ch in text):
        raise DomainValueError("must contain a letter")
    return text


def _letter_script(ch: str) -> str:
    name = unicodedata.name(ch, "")
    if name.startswith("CYRILLIC"):
        return "cyrillic"
    if name.startswith("LATIN"):
        return "latin"
    return "other"


def script_of(text: str) -> str:
    """Which alphabet a name is written in: "cyrillic", "latin", "mixed", "other" or "" (no letters).

    Mixed Cyrillic/Latin in one name is the classic sign of a typo with a switched keyboard layout
    ("Ивaнов" with a Latin "a") that would defeat exact matching. "other" is a name written wholly in
    another script (Greek, Georgian, CJK, ...).
    """
    scripts = {_letter_script(ch) for ch in text if ch.isalpha()}
    if not scripts:
        return ""
    if len(scripts) == 1:
        return scripts.pop()
    return "mixed"


# ICAO Doc 9303 (and the Russian passport since 2013), lower case; upper case is derived.
_TRANSLIT: dict[str, str] = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z",
    "и": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
    "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "shch", "ъ": "ie", "ы": "y", "ь": "", "э": "e", "ю": "iu", "я": "ia",
    # Ukrainian and Belarusian, as ICAO 9303 has them.
    "і": "i", "ї": "i", "є": "ie", "ґ": "g", "ў": "u",
    # Kazakh: plain ASCII approximations, so search keys stay ASCII for these names too.
    "ә": "a", "ғ": "g", "қ": "k", "ң": "n", "ө": "o", "ұ": "u", "ү": "u", "һ": "h",
}  # fmt: skip


def transliterate(text: str) -> str:
    """Cyrillic to Latin by ICAO 9303, the spelling in Russian foreign passports since 2013.

    Case follows the word: "Щербаков" → "Shcherbakov", "ЩЕРБАКОВ" → "SHCHERBAKOV". Characters that
    are not Cyrillic letters in the table pass through unchanged.
    """
    out: list[str] = []
    for i, ch in enumerate(text):
        lower = ch.lower()
        latin = _TRANSLIT.get(lower)
        if latin is None:
            out.append(ch)
        elif ch == lower or not latin:
            out.append(latin)
        else:
            nxt = text[i + 1] if i + 1 < len(text) else ""
            prev = text[i - 1] if i > 0 else ""
            # A capital followed by a capital (or ending an all-caps word) is part of an all-caps word.
            all_caps = nxt.isupper() or (not nxt.isalpha() and prev.isupper())
            out.append(latin.upper() if all_caps else latin.capitalize())
    return "".join(out)


def _is_latin_base(ch: str) -> bool:
    return ch.isascii() or unicodedata.name(ch, "").startswith("LATIN")


def _fold_latin_marks(text: str) -> str:
    """Drop accents from Latin letters so "Müller" is found as "Muller"; other scripts keep theirs.

    Works on the decomposed text so that a mark typed separately after a Latin letter goes too;
    marks of other scripts (Devanagari vowel signs, Greek tonos) are recomposed untouched.
    """
    out: list[str] = []
    base_is_latin = False
    for ch in unicodedata.normalize("NFKD", text):
        if unicodedata.category(ch)[0] == "M":
            if not base_is_latin:
                out.append(ch)
            continue
        base_is_latin = ch.isalpha() and _is_latin_base(ch)
        out.append(ch)
    return unicodedata.normalize("NFKC", "".join(out))


def _letters_only(text: str) -> str:
    """Turn every run of non-letters into one space; a combining mark counts as part of its letter."""
    out: list[str] = []
    in_word = False
    for ch in text:
        if ch.isalpha() or (in_word and unicodedata.category(ch)[0] == "M"):
            out.append(ch)
            in_word = True
        else:
            if in_word:
                out.append(" ")
            in_word = False
    return "".join(out).strip()


def search_key(*parts: str) -> str:
    """The string stored for fuzzy name search; Cyrillic and Latin spellings land in one space.

    Case is folded with ``casefold`` (a stronger lower-case: "ß" → "ss"), accents on Latin letters
    are dropped and Cyrillic is transliterated, so the key is plain ASCII for Russian and European
    names; letters of other scripts are kept as they are. The function is idempotent.
    """
    text = unicodedata.normalize("NFKC", " ".join(parts)).casefold().replace("ё", "е")
    # On case-folded text, transliterate() is a plain character mapping; translate() does it in C.
    text = text.translate(_LOWER_TRANSLIT)
    if text.isascii():
        # The common case (Russian and plain Latin names): no marks to fold, letters are a-z.
        return _ASCII_NON_LETTERS.sub(" ", text).strip()
    return _letters_only(_fold_latin_marks(text))


_LOWER_TRANSLIT = str.maketrans(_TRANSLIT)
_ASCII_NON_LETTERS = re.compile(r"[^a-z]+")


def person_display_name(last: str, first: str, patronymic: str) -> str:
    """ "Last First Patronymic", the order Russian documents and agents use; empty parts are skipped."""
    return " ".join(part.strip() for part in (last, first, patronymic) if part.strip())


_QUOTES = frozenset("«»\"“”„'")


def organization_display_name(legal_form: str, short_name: str, legal_name: str) -> str:
    """The name shown on cards and lists: the short name if any, with the legal form.

    Rules, kept deliberately simple: a name without quotes gets guillemets after the form
    ('ООО «Ромашка»'); a name that already has quotes is prefixed as is ('ООО "Ромашка"'); a name
    already starting with the form is not prefixed twice; a Latin-script name gets the form after it
    ("Acme LLC"), as that is how such forms are written. Without a name the result is "".
    """
    name = short_name.strip() or legal_name.strip()
    form = legal_form.strip()
    if not name or not form:
        return name
    folded, form_folded = name.casefold(), form.casefold()
    if folded.startswith(form_folded + " ") or folded.endswith(" " + form_folded):
        return name
    if script_of(name) == "latin":
        return f"{name} {form}"
    if any(ch in _QUOTES for ch in name):
        return f"{form} {name}"
    return f"{form} «{name}»"
