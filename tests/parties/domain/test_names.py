"""Name parts, scripts, transliteration, search keys and display names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.parties.domain.errors import DomainValueError
from services.parties.domain.names import (
    clean_name_part,
    organization_display_name,
    person_display_name,
    script_of,
    search_key,
    transliterate,
)

# --- clean_name_part ---


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Иван  ", "Иван"),
        ("Салтыков-Щедрин", "Салтыков-Щедрин"),
        ("O'Brien", "O'Brien"),
        ("d’Artagnan", "d’Artagnan"),
        ("J. R. R.", "J. R. R."),
        ("Ван  дер  Берг", "Ван дер Берг"),
        ("Ørsted", "Ørsted"),
        ("Σωκράτης", "Σωκράτης"),
        ("山田", "山田"),
        ("देवनागरी", "देवनागरी"),  # vowel signs are combining marks, not letters
        ("", ""),
    ],
)
def test_name_part_valid(raw: str, expected: str) -> None:
    assert clean_name_part(raw) == expected


@pytest.mark.parametrize(
    "raw", ["Иван2", "'; DROP TABLE parties; --", "Ivan!", "Ivan_Petrov", "<script>", "Иван@", "1"]
)
def test_name_part_rejects_symbols(raw: str) -> None:
    with pytest.raises(DomainValueError) as info:
        clean_name_part(raw)
    assert str(info.value) == "only letters, spaces, hyphens, apostrophes and dots are allowed"


def test_name_part_needs_a_letter() -> None:
    with pytest.raises(DomainValueError, match="must contain a letter"):
        clean_name_part("--")


def test_name_part_hostile() -> None:
    with pytest.raises(DomainValueError, match="control character"):
        clean_name_part("Ив\x00ан")
    with pytest.raises(DomainValueError, match="at most 100"):
        clean_name_part("а" * 10_000)
    with pytest.raises(DomainValueError, match="bidirectional"):
        clean_name_part("Иван\u202eвонаП")


# --- script_of ---


@pytest.mark.parametrize(
    ("text", "script"),
    [
        ("Иван Петров", "cyrillic"),
        ("Ivan Petrov", "latin"),
        ("Ивaнов", "mixed"),  # Latin "a" typed with a switched layout
        ("Müller", "latin"),
        ("Ёлкин", "cyrillic"),
        ("Σωκράτης", "other"),
        ("123 -", ""),
        ("", ""),
    ],
)
def test_script_of(text: str, script: str) -> None:
    assert script_of(text) == script


# --- transliterate ---


@pytest.mark.parametrize(
    ("cyrillic", "latin"),
    [
        ("Щербаков", "Shcherbakov"),
        ("Юрий", "Iurii"),
        ("Ёлкин", "Elkin"),
        ("Жуков", "Zhukov"),
        ("Хабаровск", "Khabarovsk"),
        ("Цой", "Tsoi"),
        ("Чехов", "Chekhov"),
        ("Шишкин", "Shishkin"),
        ("Крылов", "Krylov"),
        ("Подъячев", "Podieiachev"),
        ("Эдуард", "Eduard"),
        ("Яна", "Iana"),
        ("Игорь", "Igor"),
        ("Наталья", "Natalia"),
        ("ЩЕРБАКОВ", "SHCHERBAKOV"),
        ("ЮРИЙ ЩУКИН", "IURII SHCHUKIN"),
        ("Ю. Щ.", "Iu. Shch."),
        ("Анна-Мария", "Anna-Mariia"),
        ("Smith", "Smith"),
        ("Іван Їжак Євген Ґалаґан", "Ivan Izhak Ievgen Galagan"),
        ("Әлия Ғани Қасым Ңа Өмір Ұлан Үміт Һ", "Aliia Gani Kasym Na Omir Ulan Umit H"),
    ],
)
def test_transliterate(cyrillic: str, latin: str) -> None:
    assert transliterate(cyrillic) == latin


@given(st.text(alphabet=st.characters(codec="ascii")))
def test_transliterate_leaves_ascii_alone(text: str) -> None:
    assert transliterate(text) == text


# --- search_key ---


def test_search_key_cyrillic_and_latin_meet() -> None:
    assert search_key("Щербаков") == "shcherbakov"
    assert search_key("Щербаков") == search_key("SHCHERBAKOV") == search_key("shcherbakov")
    assert search_key("Ёлкин") == search_key("Елкин") == "elkin"


def test_search_key_parts_and_separators() -> None:
    assert search_key("Петров-Водкин", " Кузьма ", "Сергеевич") == "petrov vodkin kuzma sergeevich"
    assert search_key("O'Brien", "J.R.") == "o brien j r"
    assert search_key("Иван2 Петров!!") == "ivan petrov"
    assert search_key("", "  ") == ""


def test_search_key_folds_latin_accents_and_case() -> None:
    assert search_key("Müller") == search_key("MULLER") == "muller"
    assert search_key("Straße") == "strasse"
    assert search_key("José Ñúñez") == "jose nunez"


def test_search_key_keeps_other_scripts() -> None:
    assert search_key("Σωκράτης") == "σωκράτησ"  # casefolded; only Latin accents are dropped
    assert search_key("山田 太郎") == "山田 太郎"


_latin = st.text(
    alphabet=st.characters(codec="latin-1") | st.sampled_from("ŁłŒœŠšŽžİıǅǆẞ"),
    max_size=60,
)


@given(_latin)
def test_search_key_idempotent_on_latin(text: str) -> None:
    once = search_key(text)
    assert search_key(once) == once


@given(st.text(max_size=60))
def test_search_key_idempotent_on_any_text(text: str) -> None:
    once = search_key(text)
    assert search_key(once) == once
    assert once == once.strip()
    assert "  " not in once


@given(st.text(alphabet="абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ -", max_size=40))
def test_search_key_of_russian_is_ascii_and_case_blind(text: str) -> None:
    key = search_key(text)
    assert key.isascii()
    assert key == search_key(text.upper()) == search_key(text.lower())
    assert key == search_key(transliterate(text))


# --- display names ---


def test_person_display_name() -> None:
    assert person_display_name("Петров", "Иван", "Сергеевич") == "Петров Иван Сергеевич"
    assert person_display_name("Smith", " John ", "") == "Smith John"
    assert person_display_name("", "", "") == ""


@pytest.mark.parametrize(
    ("form", "short", "legal", "expected"),
    [
        ("ООО", "Ромашка", "Общество с ограниченной ответственностью «Ромашка»", "ООО «Ромашка»"),
        ("ООО", "", "Ромашка", "ООО «Ромашка»"),
        ("АО", '"Лютик"', "", 'АО "Лютик"'),
        ("ПАО", "«Сбербанк»", "", "ПАО «Сбербанк»"),
        ("ООО", "ООО «Ромашка»", "", "ООО «Ромашка»"),
        ("ООО", "Оооникс", "", "ООО «Оооникс»"),
        ("LLC", "Acme", "", "Acme LLC"),
        ("LLC", "Acme LLC", "", "Acme LLC"),
        ("", "Ромашка", "", "Ромашка"),
        ("ООО", "", "", ""),
    ],
)
def test_organization_display_name(form: str, short: str, legal: str, expected: str) -> None:
    assert organization_display_name(form, short, legal) == expected
