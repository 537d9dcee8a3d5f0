"""Duplicate matching of parties: name keys, field levels, decisions and explanations on realistic pairs."""

from __future__ import annotations

import json
import random
from datetime import date

import pytest

from services.parties.domain.errors import DomainValueError
from services.parties.domain.identifiers import make_inn
from services.parties.domain.matching import (
    FIELDS,
    Decision,
    Features,
    Matcher,
    MatchModel,
    MatchRecord,
    Thresholds,
    default_model,
    organization_record,
    person_record,
)
from services.parties.domain.matching.comparators import compare_organizations, compare_persons
from services.parties.domain.matching.namekeys import legal_form_class, name_key, org_name_parts, surname_stem

MATCHER = Matcher()
INN_A, INN_B = (make_inn("person", random.Random(seed)) for seed in (1, 2))


def levels_of(a: MatchRecord, b: MatchRecord) -> dict[str, str]:
    """Field -> level label, for asserting on what a comparison saw."""
    return {c.field: c.level for c in MATCHER.compare(a, b).comparisons}


def person(pid: str, **kw: object) -> MatchRecord:
    return person_record(pid, **kw)  # type: ignore[arg-type]


# --- name keys ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spellings",
    [
        ("Щербаков", "Shcherbakov", "Scherbakov", "SHCHERBAKOV", "Schtscherbakow"),
        ("Юрий", "Yuriy", "Iurii", "Jurij", "Yuri", "Yury"),
        ("Алёна", "Алена", "Alyona", "Alena", "Aljona"),
        ("Дмитрий", "Dmitry", "Dmitriy", "Dmitrii", "Dmitrij"),
        ("Наталья", "Natalya", "Natalia", "Natalja"),
        ("Соловьёв", "Solovyov", "Soloviev", "Solovev"),
        ("Хабибуллин", "Khabibullin", "Habibullin"),
        ("Müller", "Mueller", "Muller", "MÜLLER"),
    ],
)
def test_transliteration_variants_share_a_key(spellings: tuple[str, ...]) -> None:
    assert len({name_key(s) for s in spellings}) == 1


@pytest.mark.parametrize(("a", "b"), [("Шаров", "Саров"), ("Иванов", "Ивашов"), ("Чернов", "Цернов"), ("Anna", "Anne")])
def test_different_names_keep_different_keys(a: str, b: str) -> None:
    assert name_key(a) != name_key(b)


@pytest.mark.parametrize(
    ("male", "female"),
    [
        ("Иванов", "Иванова"),
        ("Ковальский", "Ковальская"),
        ("Толстой", "Толстая"),
        ("Соловьёв", "Соловьева"),
        ("Ильин", "Ильина"),
        ("Kovalsky", "Kovalskaya"),
        ("Kowalski", "Kowalska"),
        ("Wolkow", "Wolkowa"),
    ],
)
def test_gender_forms_share_a_stem(male: str, female: str) -> None:
    (stem_m, gender_m), (stem_f, gender_f) = surname_stem(male), surname_stem(female)
    assert stem_m == stem_f
    assert (gender_m, gender_f) == ("m", "f")


def test_neutral_surnames_have_no_gender() -> None:
    assert surname_stem("Шевченко")[1] == ""
    assert surname_stem("Ким")[1] == ""


@pytest.mark.parametrize(
    ("name", "key", "form"),
    [
        ("ООО «Ромашка»", "romaSka", "limited"),
        ("Romashka LLC", "romaSka", "limited"),
        ('"РОМАШКА" ООО', "romaSka", "limited"),
        ('Общество с ограниченной ответственностью "Ромашка"', "romaSka", "limited"),
        ("ПАО Сбербанк", "sberbank", "joint_stock"),
        ("Acme GmbH & Co. KG", "acme", "partnership"),
        ("Acme Holdings Ltd.", "acme holdings", "limited"),
        ("Автоцентр 24", "avtocentr 24", ""),
    ],
)
def test_organization_names_lose_their_legal_form_and_quotes(name: str, key: str, form: str) -> None:
    _, got_key, got_form = org_name_parts(name)
    assert (got_key, got_form) == (key, form)


def test_accents_case_and_punctuation_of_company_names_do_not_matter() -> None:
    assert org_name_parts("Construcciones García S.L.")[1:] == org_name_parts("CONSTRUCCIONES GARCIA, SL")[1:]


def test_legal_forms_of_one_kind_agree_across_countries() -> None:
    assert legal_form_class("ООО") == legal_form_class("LLC") == legal_form_class("GmbH") == "limited"
    assert legal_form_class("ПАО") == legal_form_class("AG") == "joint_stock"
    assert legal_form_class("Рога и копыта") == ""


# --- building records ----------------------------------------------------------------------------


def test_person_record_normalizes_raw_values() -> None:
    r = person_record(
        "p1",
        last_name="  Щербаков ",
        first_name="Юрий",
        birth_date="1980-05-17",
        gender="M",
        phones=["8 (916) 123-45-67", "+79161234567"],
        emails=["Yuri.Shcherbakov@Mail.RU"],
        identifiers=[("inn", "5001-0073-2259"), ("OTHER:de-vat", "DE 123 456 789")],
        addresses=[{"country_code": "RU", "city": "Москва", "street": "улица Ленина", "house": "5"}],
    )
    assert r.last_name == "Щербаков"
    assert r.birth_date == date(1980, 5, 17)
    assert r.gender == "male"
    assert r.phones == ("+79161234567",)
    assert r.emails == ("yuri.shcherbakov@mail.ru",)
    assert r.identifiers == (("INN", "500100732259"), ("OTHER:DE-VAT", "DE 123 456 789"))
    assert r.addresses == ("ru москва ул ленина 5",)


def test_foreign_phones_are_read_in_the_party_country() -> None:
    r = person_record("p1", last_name="Müller", phones=["030 1234567"], country="de")
    assert (r.phones, r.country) == (("+49301234567",), "DE")


def test_bad_values_are_dropped_leniently_and_refused_strictly() -> None:
    kw = {"last_name": "Иванов", "phones": ["not a phone", "+79161234567"], "identifiers": [("INN", "123")]}
    r = person_record("p1", **kw)  # type: ignore[arg-type]
    assert r.phones == ("+79161234567",)
    assert r.identifiers == ()
    with pytest.raises(DomainValueError) as err:
        person_record("p1", strict=True, **kw)  # type: ignore[arg-type]
    assert err.value.field == "phones[0]"


def test_record_kind_and_gender_are_checked() -> None:
    with pytest.raises(DomainValueError):
        MatchRecord(party_id="x", kind="group")
    with pytest.raises(DomainValueError):
        MatchRecord(party_id="x", kind="person", gender="robot")
    assert MatchRecord(party_id="x", kind="person", gender="GENDER_FEMALE").gender == "female"


# --- person comparisons --------------------------------------------------------------------------

BORN = date(1980, 5, 17)


def test_cyrillic_and_latin_spellings_of_one_person_match() -> None:
    a = person("a", last_name="Щербаков", first_name="Юрий", patronymic="Петрович", birth_date=BORN)
    b = person("b", last_name="Scherbakov", first_name="Yuriy", birth_date=BORN)
    pair = MATCHER.compare(a, b)
    got = {c.field: c.level for c in pair.comparisons}
    assert got["last_name"] == got["first_name"] == "transliteration"
    assert got["patronymic"] == "missing"
    assert pair.decision == Decision.DUPLICATE


def test_yo_and_ye_are_a_transliteration_not_a_difference() -> None:
    a = person("a", last_name="Королёва", first_name="Алёна", birth_date=BORN)
    b = person("b", last_name="Королева", first_name="Алена", birth_date=BORN)
    assert levels_of(a, b)["first_name"] == "transliteration"
    assert MATCHER.compare(a, b).decision == Decision.DUPLICATE


def test_missing_patronymic_weighs_nothing() -> None:
    a = person("a", last_name="Иванов", first_name="Иван", patronymic="Петрович", birth_date=BORN)
    b = person("b", last_name="Иванов", first_name="Иван", birth_date=BORN)
    line = next(c for c in MATCHER.compare(a, b).comparisons if c.field == "patronymic")
    assert (line.level, line.weight) == ("missing", 0.0)


def test_husband_and_wife_with_different_birth_dates_do_not_match() -> None:
    a = person("a", last_name="Иванов", first_name="Александр", birth_date=date(1975, 3, 2), gender="male")
    b = person("b", last_name="Иванова", first_name="Александра", birth_date=date(1978, 11, 20), gender="female")
    got = levels_of(a, b)
    assert got["last_name"] == "gender_form"
    assert MATCHER.compare(a, b).decision == Decision.DISTINCT


def test_a_household_sharing_phone_and_address_is_not_one_person() -> None:
    shared = {"phones": ["+74951234567"], "addresses": ["г. Москва, ул. Ленина, д. 5, кв. 3"]}
    a = person("a", last_name="Петров", first_name="Сергей", birth_date=date(1970, 1, 5), **shared)
    b = person("b", last_name="Петрова", first_name="Ольга", birth_date=date(1972, 6, 9), **shared)
    assert levels_of(a, b)["contact"] == "phone"
    assert MATCHER.compare(a, b).decision == Decision.DISTINCT


def test_a_wrong_gender_ending_on_the_same_person_still_matches() -> None:
    a = person("a", last_name="Иванова", first_name="Мария", birth_date=BORN, phones=["+79161234567"])
    b = person("b", last_name="Иванов", first_name="Мария", birth_date=BORN, phones=["+79161234567"])
    assert levels_of(a, b)["last_name"] == "gender_form"
    assert MATCHER.compare(a, b).decision == Decision.DUPLICATE


def test_swapped_first_and_last_name() -> None:
    a = person("a", last_name="Иванова", first_name="Мария", birth_date=BORN)
    b = person("b", last_name="Мария", first_name="Иванова", birth_date=BORN)
    got = levels_of(a, b)
    assert got["last_name"] == "swapped"
    assert got["first_name"] == "missing"  # counted once, in "swapped"
    assert MATCHER.compare(a, b).decision == Decision.DUPLICATE


@pytest.mark.parametrize(("x", "y"), [("Щербаков", "Щербакво"), ("Ivanova", "Ivanva"), ("Лев", "Леч")])
def test_typos_in_names(x: str, y: str) -> None:
    a = person("a", last_name=x, first_name="Анна", birth_date=BORN)
    b = person("b", last_name=y, first_name="Анна", birth_date=BORN)
    assert levels_of(a, b)["last_name"] == "typo"


def test_an_initial_agrees_with_the_full_first_name() -> None:
    a = person("a", last_name="Smith", first_name="J.", birth_date=BORN)
    b = person("b", last_name="Smith", first_name="John", birth_date=BORN)
    assert levels_of(a, b)["first_name"] == "initial"


@pytest.mark.parametrize(
    ("other", "level"),
    [
        (date(1980, 5, 17), "exact"),
        (date(1980, 17 % 12, 5), "different"),
        (date(1980, 5, 18), "typo"),
        (date(1908, 5, 17), "typo"),
        (date(1975, 1, 2), "different"),
        (None, "missing"),
    ],
)
def test_birth_date_levels(other: date | None, level: str) -> None:
    a = person("a", last_name="Иванов", birth_date=BORN)
    b = person("b", last_name="Иванов", birth_date=other)
    assert levels_of(a, b)["birth_date"] == level


def test_day_and_month_swapped() -> None:
    a = person("a", last_name="Иванов", birth_date=date(1980, 3, 7))
    b = person("b", last_name="Иванов", birth_date=date(1980, 7, 3))
    assert levels_of(a, b)["birth_date"] == "day_month_swap"


def test_same_identifier_is_near_certain_even_with_a_mistyped_name() -> None:
    a = person("a", last_name="Щербаков", first_name="Юрий", identifiers=[("SNILS", "112-233-445 95")])
    b = person("b", last_name="Щербакв", first_name="Юрий", identifiers=[("SNILS", "11223344595")])
    pair = MATCHER.compare(a, b)
    assert {c.field: c.level for c in pair.comparisons}["identifier"] == "exact"
    assert pair.decision == Decision.DUPLICATE
    assert pair.probability > 0.999


def test_a_shared_identifier_with_different_names_goes_to_review_at_least() -> None:
    a = person("a", last_name="Иванов", first_name="Иван", identifiers=[("INN", INN_A)])
    b = person("b", last_name="Петрова", first_name="Ольга", identifiers=[("INN", INN_A)])
    pair = MATCHER.compare(a, b)
    assert pair.score < MATCHER.thresholds.possible
    assert pair.decision == Decision.POSSIBLE_DUPLICATE
    assert MATCHER.check(a, [b]).decision == Decision.POSSIBLE_DUPLICATE


def test_different_values_of_a_unique_identifier_are_strong_evidence_against() -> None:
    same = {"last_name": "Иванов", "first_name": "Иван", "patronymic": "Иванович", "birth_date": BORN}
    a = person("a", identifiers=[("INN", INN_A)], **same)
    b = person("b", identifiers=[("INN", INN_B)], **same)
    without = MATCHER.compare(person("a", **same), person("b", **same))
    pair = MATCHER.compare(a, b)
    assert {c.field: c.level for c in pair.comparisons}["identifier"] == "different"
    assert pair.score < without.score - 10
    assert pair.decision != Decision.DUPLICATE


def test_a_renewed_passport_is_weaker_evidence_than_a_different_inn() -> None:
    weights = {c.field: c.weight for c in MATCHER.compare(
        person("a", last_name="X", identifiers=[("PASSPORT", "4510123456"), ("INN", INN_A)]),
        person("b", last_name="X", identifiers=[("PASSPORT", "4515654321"), ("INN", INN_B)]),
    ).comparisons}  # fmt: skip
    assert weights["document"] > weights["identifier"]


def test_phone_formats_and_email_spellings_agree() -> None:
    a = person("a", last_name="Smith", emails=["John.Smith+shop@GoogleMail.com"], phones=["+1 (212) 555-0123"])
    b = person("b", last_name="Smith", emails=["johnsmith@gmail.com"])
    assert levels_of(a, b)["contact"] == "email"
    c = person("c", last_name="Smith", phones=["(212) 555-0123"], country="US")
    assert levels_of(a, c)["contact"] == "phone"


def test_mailboxes_of_namesakes_are_not_typos() -> None:
    a = person("a", last_name="Денисова", emails=["tatiana_denisova@mail.ru"])
    b = person("b", last_name="Денисова", emails=["tatiana.denisova@mail.ru"])
    c = person("c", last_name="Денисова", emails=["tatiana_denisvoa@mail.ru"])
    assert levels_of(a, b)["contact"] == "different"
    assert levels_of(a, c)["contact"] == "typo"


def test_addresses_spelt_differently_are_one_address() -> None:
    a = person("a", last_name="Müller", addresses=["Hauptstraße 5, 10115 Berlin"], country="DE")
    b = person("b", last_name="Mueller", addresses=["Hauptstr. 5, 10115 Berlin"], country="DE")
    assert levels_of(a, b)["contact"] == "address"
    c = person("c", last_name="Mueller", addresses=["Hauptstr. 7, 10115 Berlin"], country="DE")
    assert levels_of(a, c)["contact"] == "different"
    ru = person("r", last_name="Иванов", addresses=["г. Москва, улица Ленина, дом 5, квартира 3"])
    structured = {"country_code": "RU", "city": "Москва", "street": "ул. Ленина", "house": "5", "flat": "3"}
    assert levels_of(ru, person("s", last_name="Иванов", addresses=[structured]))["contact"] == "address"


def test_latin_script_people_match() -> None:
    a = person("a", last_name="García", first_name="José", birth_date=BORN, phones=["+34 612 345 678"])
    b = person("b", last_name="GARCIA", first_name="Jose", birth_date=BORN, phones=["612345678"], country="ES")
    pair = MATCHER.compare(a, b)
    assert pair.decision == Decision.DUPLICATE
    assert {c.field: c.level for c in pair.comparisons}["last_name"] in ("exact", "transliteration")


def test_kinds_are_never_compared() -> None:
    with pytest.raises(ValueError):
        MATCHER.compare(person("a", last_name="Ромашка"), organization_record("o", legal_name="Ромашка"))


# --- organization comparisons --------------------------------------------------------------------


def test_one_company_in_cyrillic_and_latin_with_its_inn() -> None:
    a = organization_record("a", legal_name="ООО «Ромашка»", identifiers=[("INN", "7707083893")])
    b = organization_record("b", legal_name="Romashka LLC", identifiers=[("INN", "7707083893")])
    pair = MATCHER.compare(a, b)
    got = {c.field: c.level for c in pair.comparisons}
    assert (got["name"], got["legal_form"], got["identifier"]) == ("transliteration", "exact", "exact")
    assert pair.decision == Decision.DUPLICATE


def test_legal_form_spelt_out_or_abbreviated_is_the_same_name() -> None:
    a = organization_record("a", legal_name='Общество с ограниченной ответственностью "Вектор"')
    b = organization_record("b", legal_name="Вектор", legal_form="ООО")
    fa, fb = Features(a), Features(b)
    assert compare_organizations(fa, fb)[:2] == (0, 0)  # name exact, legal form exact


def test_namesake_companies_with_different_inns_do_not_match() -> None:
    a = organization_record("a", legal_name="ООО «Ромашка»", identifiers=[("INN", "7707083893")])
    b = organization_record("b", legal_name="ООО «Ромашка»", identifiers=[("INN", "7736207543")])
    assert MATCHER.compare(a, b).decision == Decision.DISTINCT


def test_foreign_vat_numbers_match_however_spaced() -> None:
    a = organization_record("a", legal_name="Acme GmbH", identifiers=[("OTHER:EU-VAT", "DE 123 456 789")])
    b = organization_record("b", legal_name="ACME", identifiers=[("OTHER:eu-vat", "de123456789")])
    assert levels_of(a, b)["identifier"] == "exact"
    assert MATCHER.compare(a, b).decision == Decision.DUPLICATE


# --- explanations, thresholds, the model ----------------------------------------------------------


def test_explanation_lists_every_field_and_adds_up() -> None:
    a = person("a", last_name="Щербаков", first_name="Юрий", birth_date=BORN, phones=["+79161234567"])
    b = person("b", last_name="Shcherbakov", first_name="Iurii", birth_date=date(1980, 5, 18))
    pair = MATCHER.compare(a, b)
    assert [c.field for c in pair.comparisons] == [spec.name for spec in FIELDS["person"]]
    prior = default_model().kinds["person"].prior_weight
    assert pair.score == pytest.approx(prior + sum(c.weight for c in pair.comparisons))
    data = json.loads(json.dumps(pair.to_dict()))
    assert data["decision"] == pair.decision.value
    assert {"field": "birth_date", "level": "typo"}.items() <= data["comparisons"][3].items()


def test_thresholds_decide() -> None:
    t = Thresholds(match=10, possible=2)
    assert [t.decide(s) for s in (12, 10, 5, 2, -1)] == [
        Decision.DUPLICATE,
        Decision.DUPLICATE,
        Decision.POSSIBLE_DUPLICATE,
        Decision.POSSIBLE_DUPLICATE,
        Decision.DISTINCT,
    ]
    assert t.decide(50, conflicting_identifier=True) == Decision.POSSIBLE_DUPLICATE
    assert t.decide(-50, shares_identifier=True) == Decision.POSSIBLE_DUPLICATE
    with pytest.raises(DomainValueError):
        Thresholds(match=1, possible=2)


def test_thresholds_are_parameters() -> None:
    a = person("a", last_name="Щербаков", first_name="Юрий", birth_date=BORN)
    b = person("b", last_name="Щербаков", first_name="Юрий", birth_date=BORN)
    score = MATCHER.compare(a, b).score
    strict = Matcher(thresholds=Thresholds(match=score + 1, possible=score - 1))
    lax = Matcher(thresholds=Thresholds(match=score - 1, possible=score - 2))
    assert strict.compare(a, b).decision == Decision.POSSIBLE_DUPLICATE
    assert lax.compare(a, b).decision == Decision.DUPLICATE


def test_committed_parameters_load_and_round_trip() -> None:
    model = MatchModel.load()
    assert model.thresholds.possible <= model.thresholds.match
    again = MatchModel.from_dict(json.loads(json.dumps(model.to_dict())))
    for kind, km in model.kinds.items():
        assert again.kinds[kind].weights == km.weights
        for spec, row in zip(km.fields, km.weights, strict=True):
            assert row[spec.index("missing")] == 0.0
            assert row[0] > 0 > row[spec.index("different")], spec.name


def test_comparators_return_a_level_per_field() -> None:
    a = Features(person("a", last_name="Иванов"))
    b = Features(person("b", first_name="Иван"))
    levels = compare_persons(a, b)
    assert len(levels) == len(FIELDS["person"])
    assert all(0 <= lv < len(spec.levels) for lv, spec in zip(levels, FIELDS["person"], strict=True))
