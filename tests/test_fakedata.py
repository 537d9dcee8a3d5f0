"""Tests of the demo/benchmark data generator: the data must pass the same checks real data does
(identifier check digits, libphonenumber, gender agreement), and be reproducible and unique.

The check-digit validators for SNILS, OGRNIP and VIN are written here independently of the generator
so that a shared mistake cannot make both agree; INN and OGRN use python-stdnum."""

from __future__ import annotations

import re
import zoneinfo
from collections import Counter
from datetime import date

import phonenumbers
import pytest
from stdnum.ru import inn as stdnum_inn
from stdnum.ru import ogrn as stdnum_ogrn

from crm.parties.v1 import parties_pb2 as pb
from crmctl import fakedata
from crmctl.fakedata import FakeParties, translit

N_PERSONS = 3000
N_ORGS = 1500
N_VEHICLES = 2000
TODAY = fakedata.REFERENCE_DATE

EMAIL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z]{2,})+$")
TELEGRAM_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{4,31}$")
# OKATO codes of the regions the generator uses (the first two digits of a passport series).
OKATO = {"45", "40", "46", "50", "65", "92", "22", "75", "36", "52", "60", "80", "04", "20", "57", "18", "03",
         "63", "71", "25", "08", "05", "27", "78", "70", "29"}  # fmt: skip
# City -> (time zone, first digit(s) of its postal codes).
CITY_FACTS = {
    "Москва": ("Europe/Moscow", "1"),
    "Санкт-Петербург": ("Europe/Moscow", "19"),
    "Новосибирск": ("Asia/Novosibirsk", "630"),
    "Екатеринбург": ("Asia/Yekaterinburg", "620"),
    "Самара": ("Europe/Samara", "443"),
    "Владивосток": ("Asia/Vladivostok", "690"),
    "Калининград": ("Europe/Kaliningrad", "236"),
    "Казань": ("Europe/Moscow", "420"),
}
WMI = {
    "Lada": {"XTA"},
    "Kia": {"Z94"},
    "Hyundai": {"Z94"},
    "Toyota": {"JTN", "XW7"},
    "Skoda": {"TMB", "XW8"},
    "Volkswagen": {"XW8"},
    "Haval": {"LGW"},
    "Chery": {"LVV"},
    "Geely": {"L6T"},
}
MODELS = {
    ("Lada", "Vesta"), ("Lada", "Granta"), ("Lada", "Niva"), ("Kia", "Rio"), ("Kia", "Sportage"),
    ("Hyundai", "Solaris"), ("Hyundai", "Creta"), ("Toyota", "Camry"), ("Toyota", "RAV4"),
    ("Skoda", "Octavia"), ("Volkswagen", "Polo"), ("Haval", "Jolion"), ("Chery", "Tiggo 7"),
    ("Geely", "Coolray"),
}  # fmt: skip


# -- independent validators -----------------------------------------------------------------------


def snils_is_valid(value: str) -> bool:
    if len(value) != 11 or not value.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(value[:9], range(9, 0, -1), strict=True))
    check = total if total < 100 else 0 if total in (100, 101) else total % 101 % 100
    return value[9:] == f"{check:02d}" and int(value[:9]) > 1_001_998


def ogrnip_is_valid(value: str) -> bool:
    return len(value) == 15 and value.isdigit() and value[0] == "3" and int(value[:14]) % 13 % 10 == int(value[14])


# ISO 3779 transliteration: A-H = 1-8, J-N = 1-5, P = 7, R = 9, S-Z = 2-9 (I, O and Q are not used).
VIN_RUNS = (("ABCDEFGH", 1), ("JKLMN", 1), ("P", 7), ("R", 9), ("STUVWXYZ", 2))
VIN_TRANSLIT = {c: v for letters, start in VIN_RUNS for v, c in enumerate(letters, start)}
VIN_WEIGHTS = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2]


def vin_is_valid(vin: str) -> bool:
    if len(vin) != 17 or set(vin) & set("IOQ") or not vin.isalnum() or vin != vin.upper():
        return False
    total = sum((int(c) if c.isdigit() else VIN_TRANSLIT[c]) * w for c, w in zip(vin, VIN_WEIGHTS, strict=True))
    rest = total % 11
    return vin[8] == ("X" if rest == 10 else str(rest))


def add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:
        return d.replace(year=d.year + years, day=28)


def as_date(d: object) -> date:
    return date(d.year, d.month, d.day)  # type: ignore[attr-defined]


def ids_of(req: pb.CreatePartyRequest) -> dict[int, list[pb.Identifier]]:
    out: dict[int, list[pb.Identifier]] = {}
    for i in req.identifiers:
        out.setdefault(i.type, []).append(i)
    return out


def contacts_of(req: pb.CreatePartyRequest, kind: str) -> list[pb.ContactPoint]:
    return [c for c in req.contact_points if c.WhichOneof("value") == kind]


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gen() -> FakeParties:
    return FakeParties(seed=42)


@pytest.fixture(scope="module")
def persons(gen: FakeParties) -> list[pb.CreatePartyRequest]:
    return [gen.person(i) for i in range(N_PERSONS)]


@pytest.fixture(scope="module")
def orgs(gen: FakeParties) -> list[pb.CreatePartyRequest]:
    return [gen.organization(i) for i in range(N_ORGS)]


@pytest.fixture(scope="module")
def vehicles(gen: FakeParties) -> list[pb.Vehicle]:
    return [gen.vehicle(i) for i in range(N_VEHICLES)]


# -- identifiers ----------------------------------------------------------------------------------


def test_person_identifiers_are_valid(persons: list[pb.CreatePartyRequest]) -> None:
    for req in persons:
        ids = ids_of(req)
        birth = as_date(req.person.birth_date)
        for inn in ids.get(pb.IDENTIFIER_TYPE_INN, []):
            assert len(inn.value) == 12 and stdnum_inn.is_valid(inn.value), inn.value
        for snils in ids.get(pb.IDENTIFIER_TYPE_SNILS, []):
            assert snils_is_valid(snils.value), snils.value
        for passport in ids.get(pb.IDENTIFIER_TYPE_PASSPORT, []):
            value = passport.value
            assert len(value) == 10 and value.isdigit(), value
            assert value[:2] in OKATO, value
            year = int(value[2:4])
            assert year >= 97 or year <= TODAY.year % 100, value
            issued = as_date(passport.issued_on)
            assert add_years(birth, 14) <= issued <= TODAY, (birth, issued)
            assert date(1997, 1, 1) <= issued
            assert passport.issuer.startswith(("ГУ МВД России по ", "УФМС России по "))
        assert set(ids) <= {pb.IDENTIFIER_TYPE_INN, pb.IDENTIFIER_TYPE_SNILS, pb.IDENTIFIER_TYPE_PASSPORT}
        assert all(len(v) == 1 for v in ids.values())


def test_organization_identifiers_are_valid(orgs: list[pb.CreatePartyRequest]) -> None:
    sole = 0
    for req in orgs:
        ids = ids_of(req)
        (inn,) = (i.value for i in ids[pb.IDENTIFIER_TYPE_INN])
        assert stdnum_inn.is_valid(inn), inn
        if req.organization.legal_form == "ИП":
            sole += 1
            assert len(inn) == 12
            (ogrnip,) = (i.value for i in ids[pb.IDENTIFIER_TYPE_OGRNIP])
            assert ogrnip_is_valid(ogrnip), ogrnip
            assert stdnum_ogrn.is_valid(ogrnip), ogrnip  # chosen so stdnum's stricter reading agrees
            assert ogrnip[3:5] == inn[:2]  # registered in the region of its tax office
            assert pb.IDENTIFIER_TYPE_KPP not in ids and pb.IDENTIFIER_TYPE_OGRN not in ids
            assert req.organization.legal_name.startswith("Индивидуальный предприниматель ")
            assert len(req.organization.legal_name.split()) == 5
        else:
            assert len(inn) == 10
            (ogrn,) = (i.value for i in ids[pb.IDENTIFIER_TYPE_OGRN])
            assert len(ogrn) == 13 and ogrn[0] in "15" and stdnum_ogrn.is_valid(ogrn), ogrn
            assert int(ogrn[:12]) % 11 % 10 == int(ogrn[12])
            assert ogrn[3:5] == inn[:2]
            (kpp,) = (i.value for i in ids[pb.IDENTIFIER_TYPE_KPP])
            assert len(kpp) == 9 and kpp.isdigit() and kpp[:4] == inn[:4] and kpp[4:6] == "01", kpp
            assert req.organization.legal_form in {"ООО", "АО", "ПАО"}
            form = req.organization.legal_form
            assert req.organization.short_name.startswith(f"{form} «") and req.organization.short_name[-1] == "»"
    assert 0.10 < sole / len(orgs) < 0.20


def test_unique_identifiers_do_not_repeat(
    persons: list[pb.CreatePartyRequest], orgs: list[pb.CreatePartyRequest], vehicles: list[pb.Vehicle]
) -> None:
    seen = Counter(
        (i.type, i.value) for req in persons + orgs for i in req.identifiers if i.type != pb.IDENTIFIER_TYPE_KPP
    )
    assert [k for k, n in seen.items() if n > 1] == []
    phones = Counter(c.phone for req in persons + orgs for c in contacts_of(req, "phone"))
    assert [k for k, n in phones.items() if n > 1] == []
    assert len({v.vin for v in vehicles}) == len(vehicles)


def test_unique_values_hold_across_a_large_index_range() -> None:
    """The permutations, not luck, make values unique: sample far-apart indices up to a million."""
    gen = FakeParties(seed=3)
    indices = list(range(0, 1_000_000, 997))
    values = Counter()
    for i in indices:
        for ident in gen.person(i).identifiers:
            values[(ident.type, ident.value)] += 1
        values[("vin", gen.vehicle(i).vin)] += 1
    assert max(values.values()) == 1


# -- contacts -------------------------------------------------------------------------------------


def test_phones_are_valid_e164(persons: list[pb.CreatePartyRequest], orgs: list[pb.CreatePartyRequest]) -> None:
    for req in persons + orgs:
        (phone,) = contacts_of(req, "phone")
        number = phonenumbers.parse(phone.phone, None)
        assert phonenumbers.is_valid_number(number), phone.phone
        assert phonenumbers.region_code_for_number(number) == "RU"
        assert phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == phone.phone
        assert phone.primary
    for req in persons:
        (phone,) = contacts_of(req, "phone")
        assert re.fullmatch(r"\+79\d{9}", phone.phone)
        assert phonenumbers.number_type(phonenumbers.parse(phone.phone)) == phonenumbers.PhoneNumberType.MOBILE
    landlines = [contacts_of(r, "phone")[0].phone for r in orgs if r.organization.legal_form != "ИП"]
    assert all(not p.startswith("+79") for p in landlines)
    assert any(p.startswith(("+7495", "+7499")) for p in landlines)
    assert any(p.startswith("+7812") for p in landlines)


def test_emails_look_valid(persons: list[pb.CreatePartyRequest], orgs: list[pb.CreatePartyRequest]) -> None:
    domains = Counter()
    for req in persons + orgs:
        for c in contacts_of(req, "email"):
            assert EMAIL_RE.match(c.email), c.email
            assert ".." not in c.email and c.email.isascii()
            domains[c.email.split("@")[1]] += 1
    assert {"mail.ru", "yandex.ru", "gmail.com", "bk.ru"} <= set(domains)
    for req in orgs:
        (email,) = contacts_of(req, "email")
        if req.organization.legal_form != "ИП":
            assert email.email.startswith("info@")


def test_person_email_is_derived_from_the_name(persons: list[pb.CreatePartyRequest]) -> None:
    for req in persons:
        for c in contacts_of(req, "email"):
            last = translit(req.person.name.last_name).lower()
            assert last in c.email.split("@")[0], (c.email, req.person.name.last_name)


def test_addresses_telegram_and_time_zones(persons: list[pb.CreatePartyRequest]) -> None:
    for req in persons:
        tz = req.preferences.time_zone
        zoneinfo.ZoneInfo(tz)
        for c in contacts_of(req, "address"):
            a = c.address
            assert a.country_code == "RU" and re.fullmatch(r"\d{6}", a.postal_code)
            assert a.street.startswith(("ул. ", "пр-т ", "б-р ", "ш. ", "пер. ", "наб. "))
            assert a.house and a.house[0].isdigit()
            if a.city in CITY_FACTS:
                expected_tz, prefix = CITY_FACTS[a.city]
                assert tz == expected_tz and a.postal_code.startswith(prefix), (a.city, tz, a.postal_code)
        for c in contacts_of(req, "messenger"):
            assert c.messenger.messenger == pb.MESSENGER_TELEGRAM
            assert TELEGRAM_RE.match(c.messenger.handle), c.messenger.handle
        channel = req.preferences.preferred_channel
        assert channel != pb.CHANNEL_EMAIL or contacts_of(req, "email")
        assert channel != pb.CHANNEL_MESSENGER or contacts_of(req, "messenger")
        if req.preferences.HasField("quiet_hours"):
            assert (req.preferences.quiet_hours.start, req.preferences.quiet_hours.end) == ("22:00", "09:00")


# -- names ----------------------------------------------------------------------------------------

INDECLINABLE_ENDINGS = ("ко", "ук", "юк", "ых", "их", "ян")
SHORT_INDECLINABLE = {"Ким", "Пак", "Цой", "Ли", "Тен"}


def test_names_agree_in_gender(persons: list[pb.CreatePartyRequest]) -> None:
    female_names = set(fakedata._FEMALE_NAMES)
    seen_endings = Counter()
    for req in persons:
        name = req.person.name
        indeclinable = name.last_name.endswith(INDECLINABLE_ENDINGS) or name.last_name in SHORT_INDECLINABLE
        if req.person.gender == pb.GENDER_FEMALE:
            assert name.first_name in female_names
            assert name.patronymic.endswith(("вна", "чна")), name.patronymic
            assert indeclinable or name.last_name.endswith(("ова", "ева", "ёва", "ина", "ына", "ая")), name
            for ending in ("ова", "ская", "цкая", "ина", "ая"):
                if name.last_name.endswith(ending):
                    seen_endings[ending] += 1
        else:
            assert req.person.gender == pb.GENDER_MALE
            assert name.first_name not in female_names
            assert name.patronymic.endswith("ич"), name.patronymic
            assert indeclinable or not name.last_name.endswith(("а", "ая")), name
            assert indeclinable or name.last_name.endswith(("ов", "ев", "ёв", "ин", "ын", "ий", "ой")), name
    assert all(seen_endings[e] for e in ("ова", "ская", "ина"))
    assert any(r.person.name.last_name in {"Шевченко", "Ким"} for r in persons)


def test_latin_names_use_icao_transliteration(persons: list[pb.CreatePartyRequest]) -> None:
    assert translit("Щукин") == "Shchukin"
    assert translit("Юлия") == "Iuliia"
    assert translit("Яна") == "Iana"
    assert translit("Аркадий") == "Arkadii"
    assert translit("Хабибуллин") == "Khabibullin"
    assert translit("Цой") == "Tsoi"
    assert translit("Жуков") == "Zhukov"
    assert translit("Ёлкин") == "Elkin"
    assert translit("Дьячков") == "Diachkov"
    assert translit("Подъячев") == "Podieiachev"
    assert translit("Крылов") == "Krylov"
    with_latin = [r for r in persons if r.person.HasField("latin_name")]
    assert 0.25 < len(with_latin) / len(persons) < 0.35
    for req in with_latin:
        cyr, lat = req.person.name, req.person.latin_name
        assert lat.last_name == translit(cyr.last_name) and lat.first_name == translit(cyr.first_name)
        assert lat.patronymic == translit(cyr.patronymic)
        assert re.fullmatch(r"[A-Z][a-z]+", lat.last_name), lat.last_name


def test_birth_dates_give_ages_18_to_85(persons: list[pb.CreatePartyRequest]) -> None:
    for req in persons:
        birth = as_date(req.person.birth_date)
        assert add_years(birth, 18) <= TODAY < add_years(birth, 86), birth


# -- shape of the records -------------------------------------------------------------------------


def test_person_shares_roles_consents_and_context(persons: list[pb.CreatePartyRequest]) -> None:
    counts = Counter()
    for i, req in enumerate(persons):
        assert req.request_id == f"demo-person-42-{i}"
        assert (req.context.actor, req.context.source) == ("system:demo", "demo")
        assert list(req.role_types) in (["customer"], ["prospect"])
        counts[req.role_types[0]] += 1
        ids = ids_of(req)
        counts["inn"] += pb.IDENTIFIER_TYPE_INN in ids
        counts["snils"] += pb.IDENTIFIER_TYPE_SNILS in ids
        counts["passport"] += pb.IDENTIFIER_TYPE_PASSPORT in ids
        counts["email"] += bool(contacts_of(req, "email"))
        counts["address"] += bool(contacts_of(req, "address"))
        counts["telegram"] += bool(contacts_of(req, "messenger"))
        counts["quiet"] += req.preferences.HasField("quiet_hours")
        has_email = bool(contacts_of(req, "email"))
        for consent in req.consents:
            assert consent.purpose == pb.CONSENT_PURPOSE_MARKETING
            assert consent.channel in (pb.CHANNEL_EMAIL, pb.CHANNEL_SMS)
            assert consent.channel != pb.CHANNEL_EMAIL or has_email
            assert consent.status in (pb.CONSENT_STATUS_GRANTED, pb.CONSENT_STATUS_WITHDRAWN)
            assert consent.evidence.startswith("web-form-")
        assert req.ByteSize() > 0
    n = len(persons)
    for key, expected in (("inn", 0.7), ("snils", 0.6), ("passport", 0.4), ("email", 0.6), ("address", 0.5),
                          ("telegram", 0.15), ("customer", 0.85), ("quiet", 0.3)):  # fmt: skip
        assert abs(counts[key] / n - expected) < 0.05, (key, counts[key] / n)


def test_organizations_have_roles_addresses_and_names(orgs: list[pb.CreatePartyRequest]) -> None:
    roles = Counter()
    for i, req in enumerate(orgs):
        assert req.request_id == f"demo-org-42-{i}"
        assert req.WhichOneof("profile") == "organization"
        assert set(req.role_types) <= {"customer", "partner", "supplier", "dealer"} and req.role_types
        assert len(set(req.role_types)) == len(req.role_types)
        roles.update(req.role_types)
        (address,) = contacts_of(req, "address")
        assert address.purpose == pb.CONTACT_PURPOSE_LEGAL
        zoneinfo.ZoneInfo(req.preferences.time_zone)
    assert set(roles) == {"customer", "partner", "supplier", "dealer"}
    names = {r.organization.short_name for r in orgs}
    assert len(names) > len(orgs) / 3


def test_vehicles(vehicles: list[pb.Vehicle]) -> None:
    makes = Counter()
    for v in vehicles:
        assert vin_is_valid(v.vin), v.vin
        assert v.vin[:3] in WMI[v.make], (v.make, v.vin)
        assert (v.make, v.model) in MODELS
        assert 2012 <= v.model_year <= 2025
        purchase = as_date(v.purchase_date)
        assert date(v.model_year - 1, 1, 1) <= purchase <= TODAY
        assert as_date(v.warranty_end) == add_years(purchase, 3)
        assert not v.mileage and not v.vehicle_id
        makes[v.make] += 1
    assert set(makes) == set(WMI)


# -- determinism and the batch API ----------------------------------------------------------------


def test_same_seed_same_output() -> None:
    a, b = FakeParties(seed=11), FakeParties(seed=11)
    first = [m.SerializeToString(deterministic=True) for m in a.mixed(300)]
    assert first == [m.SerializeToString(deterministic=True) for m in b.mixed(300)]
    assert [a.vehicle(i) for i in range(50)] == [b.vehicle(i) for i in range(50)]
    # Random access: a record does not depend on what was generated before it.
    assert a.person(123) == FakeParties(seed=11).person(123)
    assert a.organization(77) == FakeParties(seed=11).organization(77)
    # A shorter run is a prefix of a longer one.
    assert first[:100] == [m.SerializeToString(deterministic=True) for m in FakeParties(seed=11).mixed(100)]
    other = [m.SerializeToString(deterministic=True) for m in FakeParties(seed=12).mixed(300)]
    assert sum(x == y for x, y in zip(first, other, strict=True)) == 0


def test_mixed_proportions_and_unique_request_ids(gen: FakeParties) -> None:
    batch = list(gen.mixed(4000))
    kinds = Counter(m.WhichOneof("profile") for m in batch)
    assert abs(kinds["organization"] / len(batch) - 0.15) < 0.03
    ids = [m.request_id for m in batch]
    assert len(set(ids)) == len(ids) and all(len(i) <= 128 for i in ids)
    persons = [m for m in batch if m.WhichOneof("profile") == "person"]
    assert [m.request_id for m in persons[:3]] == [f"demo-person-42-{i}" for i in range(3)]
    assert persons[5] == gen.person(5)


def test_relationships(gen: FakeParties) -> None:
    persons = [f"p{i}" for i in range(2000)]
    orgs = [f"o{i}" for i in range(400)]
    rels = gen.relationships_for(persons, orgs)
    assert rels == gen.relationships_for(persons, orgs)
    person_set, org_set = set(persons), set(orgs)
    by_type: dict[str, list[tuple[str, str]]] = {}
    for kind, a, b in rels:
        by_type.setdefault(kind, []).append((a, b))
    assert set(by_type) == {"employee_of", "contact_person_of", "spouse_of", "subsidiary_of"}
    employees = by_type["employee_of"]
    assert all(a in person_set and b in org_set for a, b in employees)
    assert len({a for a, _ in employees}) == len(employees)  # one employer each
    assert abs(len(employees) / len(persons) - 0.3) < 0.05
    contacts = by_type["contact_person_of"]
    assert all(a in person_set and b in org_set for a, b in contacts)
    assert abs(len(contacts) / len(orgs) - 0.2) < 0.06
    spouses = by_type["spouse_of"]
    married = [p for pair in spouses for p in pair]
    assert all(p in person_set for p in married) and len(set(married)) == len(married)
    subsidiaries = by_type["subsidiary_of"]
    assert all(a in org_set and b in org_set and a != b for a, b in subsidiaries)
    assert 0 < len(subsidiaries) / len(orgs) < 0.1
    parent = dict(subsidiaries)
    assert len(parent) == len(subsidiaries)
    for start in parent:  # no cycles in the group structure
        seen, node = set(), start
        while node in parent:
            assert node not in seen
            seen.add(node)
            node = parent[node]
    assert gen.relationships_for([], []) == []
    assert {k for k, _, _ in gen.relationships_for(persons[:10], [])} <= {"spouse_of"}
