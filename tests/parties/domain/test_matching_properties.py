"""Properties of the matcher that must hold for any input, checked with generated records (hypothesis)."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from services.parties.domain.matching import (
    Decision,
    Features,
    Matcher,
    MatchRecord,
    NameFrequencies,
    blocking_keys,
    organization_record,
    person_record,
)
from services.parties.domain.matching.namekeys import org_name_parts
from services.parties.domain.names import transliterate

MATCHER = Matcher()
CYRILLIC = "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"
SURNAMES = ("Иванов", "Иванова", "Ivanov", "Щербаков", "Scherbakov", "Müller", "Mueller", "Smith", "Ковальская")
FIRST = ("Иван", "Ivan", "Юрий", "Yuriy", "Iurii", "Алёна", "Алена", "John", "J.", "Мария")
PATRONYMICS = ("", "Петрович", "Petrovich", "Ивановна")
PHONES = ("+79161234567", "+79161234568", "+74951234567", "+4930123456")
EMAILS = ("ivan@mail.ru", "ivan.ivanov@gmail.com", "ivanivanov@gmail.com", "john@example.com")
IDS = (("INN", "500100732259"), ("SNILS", "11223344595"), ("PASSPORT", "4510123456"), ("OTHER:DE-VAT", "DE1"))

dates = st.one_of(st.none(), st.dates(min_value=date(1930, 1, 1), max_value=date(2007, 12, 31)))
cyrillic_names = st.text(alphabet=CYRILLIC, min_size=2, max_size=12).map(str.capitalize)


@st.composite
def people(draw: st.DrawFn, pid: str = "a") -> MatchRecord:
    return person_record(
        pid,
        last_name=draw(st.sampled_from(SURNAMES)),
        first_name=draw(st.sampled_from(FIRST)),
        patronymic=draw(st.sampled_from(PATRONYMICS)),
        birth_date=draw(
            st.one_of(st.none(), st.sampled_from([date(1980, 5, 17), date(1980, 5, 18), date(1980, 7, 5)]))
        ),
        gender=draw(st.sampled_from(["", "male", "female"])),
        phones=draw(st.lists(st.sampled_from(PHONES), max_size=2)),
        emails=draw(st.lists(st.sampled_from(EMAILS), max_size=2)),
        identifiers=draw(st.lists(st.sampled_from(IDS), max_size=2)),
    )


@settings(max_examples=300, deadline=None)
@given(people("a"), people("b"))
def test_comparison_is_symmetric(a: MatchRecord, b: MatchRecord) -> None:
    freq = NameFrequencies.of([Features(a), Features(b)])
    for frequencies in (None, freq):
        ab = MATCHER.compare(a, b, frequencies=frequencies)
        ba = MATCHER.compare(b, a, frequencies=frequencies)
        assert ab.score == ba.score
        assert ab.comparisons == ba.comparisons
        assert ab.decision == ba.decision


@settings(max_examples=200, deadline=None)
@given(people("a"))
def test_a_record_always_matches_itself(a: MatchRecord) -> None:
    """Whenever a record says enough to identify someone (names and a birth date, or a unique number, or
    a contact point with a name), its copy under another id is a strong duplicate."""
    copy = MatchRecord(**{**{f: getattr(a, f) for f in a.__dataclass_fields__}, "party_id": "copy"})
    identifying = (a.last_name and a.first_name and a.birth_date) or a.identifiers or a.phones or a.emails
    pair = MATCHER.compare(a, copy)
    assert all(c.level in ("exact", "missing", "phone", "email") for c in pair.comparisons)
    if identifying:
        assert pair.decision == Decision.DUPLICATE


@settings(max_examples=200, deadline=None)
@given(cyrillic_names, cyrillic_names, st.one_of(st.just(""), cyrillic_names), dates.filter(lambda d: d is not None))
def test_a_transliterated_record_matches_the_cyrillic_original(last: str, first: str, patr: str, born: date) -> None:
    original = person_record("a", last_name=last, first_name=first, patronymic=patr, birth_date=born)
    latin = person_record(
        "b",
        last_name=transliterate(last),
        first_name=transliterate(first),
        patronymic=transliterate(patr),
        birth_date=born,
    )
    pair = MATCHER.compare(original, latin)
    levels = {c.field: c.level for c in pair.comparisons}
    assert levels["last_name"] in ("exact", "transliteration")
    assert levels["first_name"] in ("exact", "transliteration")
    assert pair.decision == Decision.DUPLICATE
    assert blocking_keys(original).probe & blocking_keys(latin).index


def _corruptions(rec: dict[str, object]) -> list[dict[str, object]]:
    """Single corruptions of a person, each of a kind the issue lists."""
    last, first = str(rec["last_name"]), str(rec["first_name"])
    born = rec["birth_date"]
    assert isinstance(born, date)
    out: list[dict[str, object]] = [
        {**rec, "last_name": transliterate(last), "first_name": transliterate(first)},
        {**rec, "last_name": last[:-1] if len(last) > 3 else last + "а"},
        {**rec, "first_name": first[0] + first[2:] if len(first) > 3 else first + "н"},
        {**rec, "patronymic": ""},
        {**rec, "last_name": first, "first_name": last},
        {**rec, "birth_date": None},
        {**rec, "birth_date": born.replace(day=born.day % 28 + 1)},
        {**rec, "birth_date": born.replace(year=born.year - 10)},
    ]
    if born.day <= 12:
        out.append({**rec, "birth_date": born.replace(month=born.day, day=born.month)})
    return out


@settings(max_examples=100, deadline=None)
@given(cyrillic_names, cyrillic_names, cyrillic_names, dates.filter(lambda d: d is not None))
def test_a_copy_with_one_corruption_shares_a_block(last: str, first: str, patr: str, born: date) -> None:
    base: dict[str, object] = {"last_name": last, "first_name": first, "patronymic": patr, "birth_date": born}
    original = person_record("a", **base)  # type: ignore[arg-type]
    for i, changed in enumerate(_corruptions(base)):
        copy = person_record(f"c{i}", **changed)  # type: ignore[arg-type]
        ka, kb = blocking_keys(original), blocking_keys(copy)
        assert ka.probe & kb.index or kb.probe & ka.index, changed


FORMS = ("ООО", "Общество с ограниченной ответственностью", "LLC", "Ltd", "GmbH", "АО", "ПАО", "S.A.", "")
QUOTES = (("«", "»"), ('"', '"'), ("", ""), ("“", "”"))


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=CYRILLIC, min_size=3, max_size=15).map(str.capitalize),
    st.sampled_from(FORMS),
    st.sampled_from(QUOTES),
    st.booleans(),
)
def test_legal_form_and_quotes_never_change_the_name_key(
    name: str, form: str, quotes: tuple[str, str], after: bool
) -> None:
    quoted = f"{quotes[0]}{name}{quotes[1]}"
    written = f"{quoted} {form}" if after else f"{form} {quoted}"
    assert org_name_parts(written)[1] == org_name_parts(name)[1]
    a = organization_record("a", legal_name=written, identifiers=[("INN", "7707083893")])
    b = organization_record("b", legal_name=transliterate(name), identifiers=[("INN", "7707083893")])
    assert MATCHER.compare(a, b).decision == Decision.DUPLICATE
