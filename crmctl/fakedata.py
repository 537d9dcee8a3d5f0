"""Deterministic fake Russian CRM data as protobuf messages, for `crm demo` and the benchmarks.

Why it exists: a demo and a benchmark need data that looks like a real Russian customer base (names
that agree in gender, identifiers whose check digits pass, phones that libphonenumber accepts, time
zones that match the city) so that search, duplicate prevention and validation behave as in
production; and benchmarks need a million of them quickly and reproducibly.

Design choices:

* Every record is a pure function of ``(seed, kind, index)``: ``person(7)`` is the same whatever was
  generated before, so a benchmark can regenerate any slice, and two runs with one seed agree.
* Values that the parties service treats as unique (INN, OGRN, OGRNIP, SNILS, passport, VIN, mobile and
  work phones) are made unique by construction, not by luck: their serial part comes from a bijection
  (an affine permutation) of the index, so no two records of one seed clash as long as the index stays
  below the documented capacity (at least 1,000,000 for every value). E-mail addresses and Telegram
  handles are derived from names and may, rarely, repeat, as they would in a real imported base.
* No dependency on the service's own identifier helpers (they are written elsewhere and concurrently):
  the small check-digit functions here are private and checked against python-stdnum in the tests.
* Speed: weighted choices are pre-expanded tuples picked with ``random()``, name transliterations are
  computed once at import, and identical sub-messages (the change context) are built once.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import date
from math import gcd
from operator import mul

from crm.common.v1 import common_pb2
from crm.parties.v1 import parties_pb2 as pb

__all__ = ["FakeParties"]

#: ``Random.random`` of the current record: the only source of randomness the helpers take.
_Rnd = Callable[[], float]

#: The generator's "today": fixed so that output does not depend on the day it runs (ages, purchase
#: dates and passport issue dates are relative to it). Override with ``FakeParties(today=...)``.
REFERENCE_DATE = date(2025, 6, 1)

_ACTOR = "system:demo"
_SOURCE = "demo"

# Namespaces keep the random streams and unique-value spaces of different record kinds apart.
_NS_PERSON, _NS_ORG, _NS_VEHICLE, _NS_MIXED, _NS_REL = range(5)


# ---------------------------------------------------------------------------------------------
# Check digits (private on purpose: the service has its own; these only make generated data valid)
# ---------------------------------------------------------------------------------------------

_INN10_W = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_W1 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_W2 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_SNILS_W = (9, 8, 7, 6, 5, 4, 3, 2, 1)


def _inn10(body9: str) -> str:
    """An organization's INN from its first 9 digits: one check digit (weighted sum mod 11 mod 10)."""
    return f"{body9}{sum(map(mul, _INN10_W, map(int, body9))) % 11 % 10}"


def _inn12(body10: str) -> str:
    """A person's or sole proprietor's INN from its first 10 digits: two chained check digits."""
    d = list(map(int, body10))
    c1 = sum(map(mul, _INN12_W1, d)) % 11 % 10
    d.append(c1)
    return f"{body10}{c1}{sum(map(mul, _INN12_W2, d)) % 11 % 10}"


def _ogrn(body12: str) -> str:
    """OGRN: the 13th digit is (the first 12 as a number mod 11) mod 10."""
    return body12 + str(int(body12) % 11 % 10)


def _ogrnip(body13: str) -> str:
    """OGRNIP from its first 13 digits: the 15th digit is (the first 14 as a number mod 13) mod 10.

    The 14th (last serial) digit is chosen so that the remainder is below 10: some validators
    (python-stdnum among them) compare the remainder itself, so such numbers pass every reading of
    the rule. Of ten consecutive remainders at least seven qualify, so a digit always exists.
    """
    base = int(body13) * 10
    d = next(d for d in range(10) if (base + d) % 13 < 10)
    return f"{body13}{d}{(base + d) % 13}"


def _snils_check(body9: str) -> str:
    """The two SNILS check digits: sum of digit x (9 - position); 100 and 101 give 00, above that mod 101."""
    s = sum(map(mul, _SNILS_W, map(int, body9)))
    if s > 101:
        s %= 101
    if s in (100, 101):
        s = 0
    return f"{s:02d}"


_VIN_VALUES = {str(d): d for d in range(10)} | dict(
    zip(
        "ABCDEFGHJKLMNPRSTUVWXYZ",
        (1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 7, 9, 2, 3, 4, 5, 6, 7, 8, 9),
        strict=True,
    )
)
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def _vin_with_check(vin: str) -> str:
    """Replaces position 9 of a 17-character VIN with its ISO 3779 check digit (mod 11, 10 -> "X")."""
    s = sum(_VIN_VALUES[c] * w for c, w in zip(vin, _VIN_WEIGHTS, strict=True)) % 11
    return vin[:8] + ("X" if s == 10 else str(s)) + vin[9:]


class _Perm:
    """A bijection of range(size): k -> (a*k + b) mod size with a coprime to size.

    Why: unique values (identifiers, phones) must not collide across a million records, and a random draw
    would (birthday paradox); a permutation of the index guarantees distinct values while still looking
    scattered, because ``a`` is near size/golden-ratio so neighbouring indices land far apart.
    """

    __slots__ = ("a", "b", "size")

    def __init__(self, size: int, salt: int) -> None:
        a = int(size * 0.6180339887498949) | 1
        while gcd(a, size) != 1:
            a += 2
        self.a = a
        self.b = (salt * 0x9E3779B1 + 0x7F4A7C15) % size
        self.size = size

    def __call__(self, k: int) -> int:
        return (self.a * k + self.b) % self.size


# ---------------------------------------------------------------------------------------------
# Transliteration (ICAO Doc 9303, as in Russian foreign passports since 2014)
# ---------------------------------------------------------------------------------------------

_ICAO = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z", "и": "i",
    "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "ie", "ы": "y",
    "ь": "", "э": "e", "ю": "iu", "я": "ia",
}  # fmt: skip
_ICAO_TABLE = str.maketrans(_ICAO | {k.upper(): v.capitalize() for k, v in _ICAO.items()})


def translit(text: str) -> str:
    """ICAO transliteration of Russian text (Щ->Shch, Ю->Iu, Я->Ia, Й->I, Ь dropped, Ъ->Ie)."""
    return text.translate(_ICAO_TABLE)


# fmt: off
# ---------------------------------------------------------------------------------------------
# Word lists
# ---------------------------------------------------------------------------------------------

# (first name, patronymic of his son, patronymic of his daughter)
_MALE_NAMES: tuple[tuple[str, str, str], ...] = (
    ("Александр", "Александрович", "Александровна"), ("Алексей", "Алексеевич", "Алексеевна"),
    ("Анатолий", "Анатольевич", "Анатольевна"), ("Андрей", "Андреевич", "Андреевна"),
    ("Антон", "Антонович", "Антоновна"), ("Аркадий", "Аркадьевич", "Аркадьевна"),
    ("Артём", "Артёмович", "Артёмовна"), ("Борис", "Борисович", "Борисовна"),
    ("Вадим", "Вадимович", "Вадимовна"), ("Валерий", "Валерьевич", "Валерьевна"),
    ("Василий", "Васильевич", "Васильевна"), ("Виктор", "Викторович", "Викторовна"),
    ("Владимир", "Владимирович", "Владимировна"), ("Владислав", "Владиславович", "Владиславовна"),
    ("Вячеслав", "Вячеславович", "Вячеславовна"), ("Геннадий", "Геннадьевич", "Геннадьевна"),
    ("Георгий", "Георгиевич", "Георгиевна"), ("Григорий", "Григорьевич", "Григорьевна"),
    ("Даниил", "Даниилович", "Данииловна"), ("Денис", "Денисович", "Денисовна"),
    ("Дмитрий", "Дмитриевич", "Дмитриевна"), ("Евгений", "Евгеньевич", "Евгеньевна"),
    ("Егор", "Егорович", "Егоровна"), ("Иван", "Иванович", "Ивановна"),
    ("Игорь", "Игоревич", "Игоревна"), ("Илья", "Ильич", "Ильинична"),
    ("Кирилл", "Кириллович", "Кирилловна"), ("Константин", "Константинович", "Константиновна"),
    ("Лев", "Львович", "Львовна"), ("Леонид", "Леонидович", "Леонидовна"),
    ("Максим", "Максимович", "Максимовна"), ("Матвей", "Матвеевич", "Матвеевна"),
    ("Михаил", "Михайлович", "Михайловна"), ("Никита", "Никитич", "Никитична"),
    ("Николай", "Николаевич", "Николаевна"), ("Олег", "Олегович", "Олеговна"),
    ("Павел", "Павлович", "Павловна"), ("Пётр", "Петрович", "Петровна"),
    ("Роман", "Романович", "Романовна"), ("Руслан", "Русланович", "Руслановна"),
    ("Семён", "Семёнович", "Семёновна"), ("Сергей", "Сергеевич", "Сергеевна"),
    ("Станислав", "Станиславович", "Станиславовна"), ("Степан", "Степанович", "Степановна"),
    ("Тимофей", "Тимофеевич", "Тимофеевна"), ("Тимур", "Тимурович", "Тимуровна"),
    ("Фёдор", "Фёдорович", "Фёдоровна"), ("Эдуард", "Эдуардович", "Эдуардовна"),
    ("Юрий", "Юрьевич", "Юрьевна"), ("Ярослав", "Ярославович", "Ярославовна"),
)
_FEMALE_NAMES: tuple[str, ...] = (
    "Александра", "Алёна", "Алина", "Анастасия", "Анна", "Варвара", "Валентина", "Вера", "Вероника",
    "Виктория", "Галина", "Дарья", "Диана", "Евгения", "Екатерина", "Елена", "Елизавета", "Жанна",
    "Зоя", "Ирина", "Кристина", "Ксения", "Лариса", "Любовь", "Людмила", "Маргарита", "Марина", "Мария",
    "Милана", "Надежда", "Наталья", "Нина", "Оксана", "Ольга", "Полина", "Регина", "Светлана", "Софья",
    "Тамара", "Татьяна", "Ульяна", "Юлия", "Яна",
)
# Masculine forms of surnames that take a feminine form (-ов/-ев/-ин -> +а, -ский/-цкий/-ой -> -ая).
_DECLINED_SURNAMES: tuple[str, ...] = (
    "Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов", "Новиков",
    "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров", "Павлов", "Козлов",
    "Степанов", "Николаев", "Орлов", "Андреев", "Макаров", "Никитин", "Захаров", "Зайцев", "Соловьёв",
    "Борисов", "Яковлев", "Григорьев", "Романов", "Воробьёв", "Сергеев", "Кузьмин", "Фролов",
    "Александров", "Дмитриев", "Королёв", "Гусев", "Киселёв", "Ильин", "Максимов", "Поляков", "Сорокин",
    "Виноградов", "Ковалёв", "Белов", "Медведев", "Антонов", "Тарасов", "Жуков", "Баранов", "Филиппов",
    "Комаров", "Давыдов", "Беляев", "Герасимов", "Богданов", "Осипов", "Сидоров", "Матвеев", "Титов",
    "Марков", "Миронов", "Крылов", "Куликов", "Карпов", "Власов", "Мельников", "Денисов", "Гаврилов",
    "Тихонов", "Казаков", "Афанасьев", "Данилов", "Савельев", "Тимофеев", "Фомин", "Чернов", "Абрамов",
    "Мартынов", "Ефимов", "Федотов", "Щербаков", "Назаров", "Калинин", "Исаев", "Чернышёв", "Быков",
    "Маслов", "Родионов", "Коновалов", "Лазарев", "Воронин", "Климов", "Филатов", "Пономарёв",
    "Голубев", "Кудрявцев", "Прохоров", "Наумов", "Потапов", "Журавлёв", "Овчинников", "Трофимов",
    "Леонов", "Соболев", "Ермаков", "Колесников", "Гончаров", "Емельянов", "Никифоров", "Грачёв",
    "Котов", "Гришин", "Ефремов", "Архипов", "Громов", "Кириллов", "Малышев", "Панов", "Моисеев",
    "Румянцев", "Акимов", "Кондратьев", "Бирюков", "Горбунов", "Анисимов", "Ерёмин", "Тихомиров",
    "Галкин", "Лукьянов", "Михеев", "Скворцов", "Юдин", "Белоусов", "Нестеров", "Симонов", "Харитонов",
    "Князев", "Цветков", "Левин", "Шубин", "Хабибуллин", "Сафин", "Гарипов", "Ахметов", "Шарипов",
    "Юсупов", "Зуев", "Щукин", "Хохлов", "Жданов", "Цыганков", "Ёлкин", "Шишкин", "Дьячков",
)
_SKIY_SURNAMES: tuple[str, ...] = (
    "Вишневский", "Ковальский", "Покровский", "Успенский", "Преображенский", "Рождественский",
    "Островский", "Чайковский", "Жуковский", "Белецкий", "Залесский", "Яблонский", "Шевцкий",
    "Толстой", "Лановой", "Трубецкой",
)
# Surnames that do not change with gender.
_INDECLINABLE_SURNAMES: tuple[str, ...] = (
    "Шевченко", "Бондаренко", "Коваленко", "Ткаченко", "Кравченко", "Марченко", "Литвиненко", "Руденко",
    "Савченко", "Петренко", "Ким", "Пак", "Цой", "Ли", "Тен", "Черных", "Седых", "Белых", "Долгих",
    "Ковальчук", "Полищук", "Мельничук", "Петросян", "Саакян", "Григорян", "Акопян", "Оганесян",
)


def _feminine(surname: str) -> str:
    """The feminine form of a masculine surname (Иванов -> Иванова, Вишневский -> Вишневская)."""
    if surname.endswith(("ский", "цкий", "ской", "цкой")) or surname.endswith("ой"):
        return surname[:-2] + "ая"
    if surname.endswith(("ов", "ев", "ёв", "ин", "ын")):
        return surname + "а"
    return surname


# (male form, female form, Latin male, Latin female) with a weight by frequency in the population.
_SURNAMES: tuple[tuple[str, str, str, str], ...] = tuple(
    (m, f, translit(m), translit(f))
    for m, f in (
        [(s, _feminine(s)) for s in _DECLINED_SURNAMES] * 6
        + [(s, _feminine(s)) for s in _SKIY_SURNAMES] * 4
        + [(s, s) for s in _INDECLINABLE_SURNAMES] * 3
    )
)
# (first name, son's patronymic, daughter's patronymic, and their Latin spellings)
_MALE = tuple((n, pm, pf, translit(n), translit(pm), translit(pf)) for n, pm, pf in _MALE_NAMES)
_FEMALE = tuple((n, translit(n)) for n in _FEMALE_NAMES)

_EMAIL_DOMAINS: tuple[str, ...] = (
    ("mail.ru",) * 30 + ("yandex.ru",) * 25 + ("gmail.com",) * 20 + ("bk.ru",) * 7 + ("inbox.ru",) * 5
    + ("list.ru",) * 5 + ("ya.ru",) * 4 + ("rambler.ru",) * 4
)  # fmt: skip

# city, region, tax region code (INN/OGRN/KPP), OKATO region code (passport series), postal prefixes,
# IANA time zone, landline area codes, regional police office (passport issuer), population weight
_City = tuple[str, str, str, str, tuple[str, ...], str, tuple[str, ...], str, int]
_CITIES: tuple[_City, ...] = (
    ("Москва", "Москва", "77", "45", ("101", "105", "107", "109", "115", "117", "119", "121", "123",
     "125", "127", "129"), "Europe/Moscow", ("495", "499"), "г. Москве", 24),
    ("Санкт-Петербург", "Санкт-Петербург", "78", "40", ("190", "191", "192", "194", "195", "196", "197",
     "198", "199"), "Europe/Moscow", ("812",), "г. Санкт-Петербургу и Ленинградской области", 12),
    ("Химки", "Московская область", "50", "46", ("141",), "Europe/Moscow", ("495", "498"),
     "Московской области", 2),
    ("Подольск", "Московская область", "50", "46", ("142",), "Europe/Moscow", ("4967",),
     "Московской области", 2),
    ("Новосибирск", "Новосибирская область", "54", "50", ("630",), "Asia/Novosibirsk", ("383",),
     "Новосибирской области", 4),
    ("Екатеринбург", "Свердловская область", "66", "65", ("620",), "Asia/Yekaterinburg", ("343",),
     "Свердловской области", 4),
    ("Казань", "Республика Татарстан", "16", "92", ("420",), "Europe/Moscow", ("843",),
     "Республике Татарстан", 4),
    ("Нижний Новгород", "Нижегородская область", "52", "22", ("603",), "Europe/Moscow", ("831",),
     "Нижегородской области", 3),
    ("Челябинск", "Челябинская область", "74", "75", ("454",), "Asia/Yekaterinburg", ("351",),
     "Челябинской области", 3),
    ("Самара", "Самарская область", "63", "36", ("443",), "Europe/Samara", ("846",),
     "Самарской области", 3),
    ("Тольятти", "Самарская область", "63", "36", ("445",), "Europe/Samara", ("8482",),
     "Самарской области", 2),
    ("Омск", "Омская область", "55", "52", ("644",), "Asia/Omsk", ("3812",), "Омской области", 3),
    ("Ростов-на-Дону", "Ростовская область", "61", "60", ("344",), "Europe/Moscow", ("863",),
     "Ростовской области", 3),
    ("Уфа", "Республика Башкортостан", "02", "80", ("450",), "Asia/Yekaterinburg", ("347",),
     "Республике Башкортостан", 3),
    ("Красноярск", "Красноярский край", "24", "04", ("660",), "Asia/Krasnoyarsk", ("391",),
     "Красноярскому краю", 3),
    ("Воронеж", "Воронежская область", "36", "20", ("394",), "Europe/Moscow", ("473",),
     "Воронежской области", 3),
    ("Пермь", "Пермский край", "59", "57", ("614",), "Asia/Yekaterinburg", ("342",), "Пермскому краю", 3),
    ("Волгоград", "Волгоградская область", "34", "18", ("400",), "Europe/Volgograd", ("8442",),
     "Волгоградской области", 3),
    ("Краснодар", "Краснодарский край", "23", "03", ("350",), "Europe/Moscow", ("861",),
     "Краснодарскому краю", 3),
    ("Сочи", "Краснодарский край", "23", "03", ("354",), "Europe/Moscow", ("862",),
     "Краснодарскому краю", 1),
    ("Саратов", "Саратовская область", "64", "63", ("410",), "Europe/Saratov", ("8452",),
     "Саратовской области", 2),
    ("Тюмень", "Тюменская область", "72", "71", ("625",), "Asia/Yekaterinburg", ("3452",),
     "Тюменской области", 2),
    ("Иркутск", "Иркутская область", "38", "25", ("664",), "Asia/Irkutsk", ("3952",),
     "Иркутской области", 2),
    ("Хабаровск", "Хабаровский край", "27", "08", ("680",), "Asia/Vladivostok", ("4212",),
     "Хабаровскому краю", 2),
    ("Владивосток", "Приморский край", "25", "05", ("690",), "Asia/Vladivostok", ("423",),
     "Приморскому краю", 2),
    ("Калининград", "Калининградская область", "39", "27", ("236",), "Europe/Kaliningrad", ("4012",),
     "Калининградской области", 2),
    ("Ярославль", "Ярославская область", "76", "78", ("150",), "Europe/Moscow", ("4852",),
     "Ярославской области", 2),
    ("Тула", "Тульская область", "71", "70", ("300",), "Europe/Moscow", ("4872",), "Тульской области", 2),
    ("Калуга", "Калужская область", "40", "29", ("248",), "Europe/Moscow", ("4842",),
     "Калужской области", 1),
)
_CITY_PICK = tuple(c for c in _CITIES for _ in range(c[8]))

_STREETS: tuple[str, ...] = (
    ("ул. Ленина",) * 4 + ("ул. Гагарина", "ул. Советская", "ул. Мира", "ул. Пушкина", "ул. Кирова",
     "ул. Лермонтова", "ул. Чехова", "ул. Садовая", "ул. Молодёжная", "ул. Центральная", "ул. Школьная",
     "ул. Лесная", "ул. Набережная", "ул. Октябрьская", "ул. Комсомольская", "ул. Первомайская",
     "ул. Заречная", "ул. Горького", "ул. Строителей", "ул. Маяковского", "ул. Есенина", "ул. Жукова",
     "ул. Чкалова", "ул. Суворова", "ул. Свободы", "ул. Победы", "ул. 8 Марта", "пр-т Мира",
     "пр-т Ленина", "пр-т Победы", "пр-т Космонавтов", "пр-т Металлургов", "б-р Строителей",
     "б-р Юности", "ш. Энтузиастов", "пер. Почтовый", "пер. Школьный", "наб. Челюскинцев")
)  # fmt: skip
# Mobile DEF codes in use in Russia (930 is only partly allocated; 940 is Abkhazia's).
_MOBILE_CODES: tuple[str, ...] = tuple(
    str(c) for c in (*range(900, 930), *range(931, 940), *range(950, 970), *range(977, 1000))
)

_LEGAL_FORMS: tuple[tuple[str, str], ...] = (
    (("ООО", "Общество с ограниченной ответственностью"),) * 70
    + (("АО", "Акционерное общество"),) * 12
    + (("ПАО", "Публичное акционерное общество"),) * 3
)
_ORG_SIMPLE: tuple[str, ...] = (
    "Ромашка", "Берёзка", "Радуга", "Вектор", "Гарант", "Меридиан", "Альянс", "Партнёр", "Прогресс",
    "Импульс", "Орион", "Феникс", "Лидер", "Стимул", "Каскад", "Горизонт", "Сфера", "Континент",
    "Магистраль", "Эталон", "Атлант", "Триумф", "Парус", "Рассвет", "Заря", "Монолит", "Кристалл",
    "Доверие", "Надёжность", "Ясень", "Кедр", "Щит", "Жемчужина", "Юпитер", "Цитадель",
)
_ORG_HEAD: tuple[str, ...] = (
    "Север", "Юг", "Восток", "Запад", "Сиб", "Урал", "Волга", "Дон", "Балт", "Центр", "Мега", "Интер",
    "Гранд", "Альфа", "Техно", "Агро", "Энерго", "Авто", "Нефть", "Газ", "Мед", "Фарм", "Проф", "Спец",
    "Евро", "Рус", "Нева", "Кама", "Байкал", "Амур", "Ока", "Стандарт", "Лес", "Металл", "Хим",
)
_ORG_MID: tuple[str, ...] = (
    "Транс", "Строй", "Снаб", "Маш", "Пром", "Торг", "Тех", "Ком", "Мет", "Пласт", "Электро", "Гидро",
)
_ORG_TAIL: tuple[str, ...] = (
    "Логистик", "Сервис", "Комплект", "Инвест", "Групп", "Холдинг", "Систем", "Монтаж", "Проект",
    "Ресурс", "Капитал", "Трейд", "Маркет", "Экспорт", "Плюс", "Снаб", "Строй", "Торг", "Пром",
)
_ORG_KIND: tuple[str, ...] = (
    "Автоцентр", "Торговый дом", "Строительная компания", "Автосалон", "Транспортная компания",
    "Производственная компания", "Агрофирма", "Медицинский центр", "Логистический центр",
    "Управляющая компания", "Автотехцентр",
)
_ORG_PLACE: tuple[str, ...] = (
    "Восток", "Запад", "Север", "Юг", "Сибирь", "Урал", "Волга", "Столица", "Нева", "Премьер",
    "Престиж", "Магистраль", "Регион", "Профи",
)
_ORG_ROLES: tuple[str, ...] = ("customer",) * 50 + ("supplier",) * 20 + ("partner",) * 15 + ("dealer",) * 15
_TLDS: tuple[str, ...] = (".ru",) * 17 + (".com", ".su", ".net")
_CITY_TAGS = {
    "Москва": "msk", "Санкт-Петербург": "spb", "Новосибирск": "nsk", "Екатеринбург": "ekb",
    "Нижний Новгород": "nn", "Ростов-на-Дону": "rnd", "Краснодар": "krd", "Владивосток": "vl",
    "Казань": "kzn", "Челябинск": "chel", "Самара": "samara", "Уфа": "ufa", "Пермь": "perm",
    "Омск": "omsk", "Красноярск": "krsk", "Воронеж": "vrn", "Волгоград": "vlg", "Тюмень": "tmn",
    "Иркутск": "irk", "Хабаровск": "khv", "Калининград": "kld", "Ярославль": "yar", "Тула": "tula",
}  # fmt: skip

# make, model, first and last model year, [(WMI, VDS positions 4-8, plant codes at position 11)]
_VEHICLES: tuple[tuple[str, str, int, int, tuple[tuple[str, str, str], ...]], ...] = (
    ("Lada", "Vesta", 2015, 2025, (("XTA", "GFL11", "Y"), ("XTA", "GFK11", "Y"))),
    ("Lada", "Granta", 2012, 2025, (("XTA", "21901", "Y"), ("XTA", "21911", "Y"))),
    ("Lada", "Niva", 2012, 2025, (("XTA", "21214", "Y"), ("XTA", "21230", "0"))),
    ("Kia", "Rio", 2012, 2022, (("Z94", "CB41A", "U"), ("Z94", "C241B", "U"))),
    ("Kia", "Sportage", 2012, 2022, (("Z94", "PB81B", "U"),)),
    ("Hyundai", "Solaris", 2012, 2022, (("Z94", "K241C", "U"), ("Z94", "CT41D", "U"))),
    ("Hyundai", "Creta", 2016, 2021, (("Z94", "G2811", "U"),)),
    ("Toyota", "Camry", 2012, 2025, (("XW7", "BF4FK", "X"), ("JTN", "B11HK", "3"))),
    ("Toyota", "RAV4", 2013, 2025, (("XW7", "DREV3", "X"), ("JTN", "KW3FV", "W"))),
    ("Skoda", "Octavia", 2012, 2025, (("XW8", "AN2NE", "K"), ("TMB", "JG7NE", "0"))),
    ("Volkswagen", "Polo", 2012, 2020, (("XW8", "ZZZ61", "K"), ("XW8", "ZZZCK", "K"))),
    ("Haval", "Jolion", 2021, 2025, (("LGW", "EF6A1", "H"), ("LGW", "EF6A2", "H"))),
    ("Chery", "Tiggo 7", 2020, 2025, (("LVV", "DB21B", "D"),)),
    ("Geely", "Coolray", 2020, 2025, (("L6T", "7524D", "N"),)),
)
_VEHICLE_PICK = tuple(v for v, w in zip(_VEHICLES, (9, 8, 4, 6, 4, 6, 4, 3, 3, 3, 3, 3, 2, 2), strict=True)
                      for _ in range(w))  # fmt: skip
# ISO 3779 model-year codes (position 10) for 2010-2030: no I, O, Q, U, Z or 0.
_VIN_YEAR = {2010 + i: c for i, c in enumerate("ABCDEFGHJKLMNPRSTVWXY")}

# Indexed by int(x * 10) for x < 0.5: SMS and e-mail are the usual preferences.
_PREFERRED_CHANNELS = (
    pb.CHANNEL_SMS, pb.CHANNEL_SMS, pb.CHANNEL_EMAIL, pb.CHANNEL_PHONE_CALL, pb.CHANNEL_MESSENGER,
)
_PASSPORT_EXCHANGE = date(1998, 1, 1).toordinal()
# fmt: on


def _plus_years(d: date, years: int) -> date:
    """The same calendar day ``years`` later; 29 February becomes 28 February in a common year."""
    try:
        return d.replace(year=d.year + years)
    except ValueError:
        return d.replace(year=d.year + years, day=28)


class FakeParties:
    """Deterministic generator of Russian persons, organizations, vehicles and relationships.

    Each method's output depends only on the seed and its arguments. Unique values are unique within one
    seed for indices below 1,000,000 per kind at least (most spaces are far larger); different seeds use
    different offsets, so two seeds rarely collide but are not guaranteed not to. One instance reuses a
    single ``random.Random`` and is not thread-safe: give each thread or process its own.
    """

    def __init__(self, seed: int = 42, *, today: date = REFERENCE_DATE) -> None:
        self.seed = seed
        self.today = today
        # Random.seed() takes abs() of an int: fold the sign in so -1 and 1 differ.
        self._seed_key = seed * 2 if seed >= 0 else -seed * 2 - 1
        self._rng = random.Random()
        self._context = common_pb2.ChangeContext(actor=_ACTOR, source=_SOURCE)
        salt = self._seed_key
        # Unique-value spaces: (size, salt); keys are 2*i for persons and 2*i+1 for sole proprietors
        # where the two share a space (12-digit INN, mobile phone).
        self._p_inn12 = _Perm(49 * 10**6, salt * 11 + 1)  # inspection 01-49 x 6-digit serial
        self._p_inn10 = _Perm(49 * 10**5, salt * 11 + 2)  # inspection 01-49 x 5-digit serial
        self._p_ogrn = _Perm(2 * 22 * 49 * 10**5, salt * 11 + 3)  # sign x year 2003-24 x insp x serial
        self._p_ogrnip = _Perm(21 * 10**8, salt * 11 + 4)  # year 2004-24 x 8-digit serial
        self._p_snils = _Perm(997 * 10**6, salt * 11 + 5)  # 002-000-000 .. 998-999-999
        self._p_passport = _Perm(10**6, salt * 11 + 6)  # the 6-digit number
        self._p_mobile = _Perm(10**7, salt * 11 + 7)  # 7 digits after the DEF code
        self._p_landline = _Perm(10**6, salt * 11 + 8)  # last 6 digits after the area code
        self._p_vin = _Perm(10**6, salt * 11 + 9)  # VIN positions 12-17
        self._today_o = today.toordinal()

    # -- internals -------------------------------------------------------------------------------

    def _rng_for(self, ns: int, index: int) -> random.Random:
        """The random stream of one record: reseeded from (seed, namespace, index) so records are
        independent of generation order (random access for benchmarks)."""
        rng = self._rng
        rng.seed(((self._seed_key * 8 + ns) << 40) + index)
        return rng

    def _mobile(self, key: int, r: _Rnd) -> str:
        """A mobile number in E.164; unique per key because its 7 subscriber digits are."""
        return f"+7{_MOBILE_CODES[int(r() * len(_MOBILE_CODES))]}{self._p_mobile(key):07d}"

    def _add_address(self, r: _Rnd, req: pb.CreatePartyRequest, city: _City, purpose: int, office: bool) -> None:
        """Adds a postal address in the city: real postal-code prefix, a common street, house, flat/office."""
        prefixes = city[4]
        postal = f"{prefixes[int(r() * len(prefixes))]}{int(r() * 150):03d}"
        house_n = 1 + int(r() * r() * 180)
        x = r()
        if x < 0.12:
            house = f"{house_n}к{1 + int(x * 40) % 4}"
        elif x < 0.18:
            house = f"{house_n}/{2 + int(x * 90) % 20}"
        else:
            house = str(house_n)
        if office:
            flat = f"оф. {1 + int(r() * 12)}{int(r() * 40):02d}" if r() < 0.7 else ""
        else:
            flat = str(1 + int(r() * 320)) if r() < 0.85 else ""
        cp = req.contact_points.add(type=pb.CONTACT_POINT_TYPE_POSTAL_ADDRESS, purpose=purpose, primary=True)
        a = cp.address
        a.country_code = "RU"
        a.postal_code = postal
        a.region = city[1]
        a.city = city[0]
        a.street = _STREETS[int(r() * len(_STREETS))]
        a.house = house
        if flat:
            a.flat = flat

    # -- public API ------------------------------------------------------------------------------

    def person(self, index: int) -> pb.CreatePartyRequest:
        """A private customer (or prospect) with the identifiers, contacts, consents and preferences
        a Russian CRM typically holds; ``request_id`` is ``demo-person-<seed>-<index>``."""
        r = self._rng_for(_NS_PERSON, index).random
        female = r() < 0.53
        sur = _SURNAMES[int(r() * len(_SURNAMES))]
        father = _MALE[int(r() * len(_MALE))]
        if female:
            first, first_lat = _FEMALE[int(r() * len(_FEMALE))]
            last, last_lat = sur[1], sur[3]
            patronymic, patronymic_lat = father[2], father[5]
        else:
            me = _MALE[int(r() * len(_MALE))]
            first, first_lat = me[0], me[3]
            last, last_lat = sur[0], sur[2]
            patronymic, patronymic_lat = father[1], father[4]
        city = _CITY_PICK[int(r() * len(_CITY_PICK))]
        # Ages 18 to 85 inclusive: born after today - 86 years, at the latest today - 18 years.
        birth = date.fromordinal(self._today_o - 6575 - int(r() * 24815))

        # Built in place: nested constructors would copy every sub-message (about twice as slow).
        req = pb.CreatePartyRequest(request_id=f"demo-person-{self.seed}-{index}", context=self._context)
        p = req.person
        n = p.name
        n.last_name = last
        n.first_name = first
        n.patronymic = patronymic
        if r() < 0.3:
            n = p.latin_name
            n.last_name = last_lat
            n.first_name = first_lat
            n.patronymic = patronymic_lat
        p.gender = pb.GENDER_FEMALE if female else pb.GENDER_MALE
        bd = p.birth_date
        bd.year, bd.month, bd.day = birth.year, birth.month, birth.day

        add_id = req.identifiers.add
        if r() < 0.7:
            k = self._p_inn12(2 * index)
            add_id(type=pb.IDENTIFIER_TYPE_INN, value=_inn12(f"{city[2]}{1 + k // 10**6:02d}{k % 10**6:06d}"))
        if r() < 0.6:
            body = f"{2_000_000 + self._p_snils(index):09d}"
            add_id(type=pb.IDENTIFIER_TYPE_SNILS, value=body + _snils_check(body))
        if r() < 0.4:
            self._add_passport(r, req, birth, city, index)

        add_cp = req.contact_points.add
        add_cp(
            type=pb.CONTACT_POINT_TYPE_PHONE,
            purpose=pb.CONTACT_PURPOSE_PERSONAL,
            primary=True,
            verified=r() < 0.6,
            phone=self._mobile(2 * index, r),
        )
        fl, ll = first_lat.lower(), last_lat.lower()
        has_email = r() < 0.6
        if has_email:
            add_cp(
                type=pb.CONTACT_POINT_TYPE_EMAIL,
                purpose=pb.CONTACT_PURPOSE_PERSONAL,
                primary=True,
                verified=r() < 0.5,
                email=_person_email(r, fl, ll, birth.year),
            )
        if r() < 0.5:
            self._add_address(r, req, city, pb.CONTACT_PURPOSE_HOME, office=False)
        has_telegram = r() < 0.15
        if has_telegram:
            m = add_cp(type=pb.CONTACT_POINT_TYPE_MESSENGER, purpose=pb.CONTACT_PURPOSE_PERSONAL).messenger
            m.messenger = pb.MESSENGER_TELEGRAM
            m.handle = _telegram(r, fl, ll, birth.year)

        add_consent = req.consents.add
        if has_email:
            add_consent(
                channel=pb.CHANNEL_EMAIL,
                purpose=pb.CONSENT_PURPOSE_MARKETING,
                status=pb.CONSENT_STATUS_GRANTED if r() < 0.7 else pb.CONSENT_STATUS_WITHDRAWN,
                evidence=f"web-form-{int(r() * 10**7):07d}",
            )
        if r() < 0.6:
            add_consent(
                channel=pb.CHANNEL_SMS,
                purpose=pb.CONSENT_PURPOSE_MARKETING,
                status=pb.CONSENT_STATUS_GRANTED if r() < 0.75 else pb.CONSENT_STATUS_WITHDRAWN,
                evidence=f"web-form-{int(r() * 10**7):07d}",
            )

        prefs = req.preferences
        prefs.time_zone = city[5]
        prefs.preferred_language = "ru"
        if r() < 0.3:
            prefs.quiet_hours.start = "22:00"
            prefs.quiet_hours.end = "09:00"
        x = r()
        if x < 0.5:  # a preferred channel only among those the person can be reached by
            channel = _PREFERRED_CHANNELS[int(x * 10)]
            if (channel == pb.CHANNEL_EMAIL and not has_email) or (
                channel == pb.CHANNEL_MESSENGER and not has_telegram
            ):
                channel = pb.CHANNEL_SMS
            prefs.preferred_channel = channel
        elif x > 0.98:
            prefs.do_not_contact = True
        req.role_types.append("customer" if r() < 0.85 else "prospect")
        return req

    def _add_passport(self, r: _Rnd, req: pb.CreatePartyRequest, birth: date, city: _City, index: int) -> None:
        """Adds an internal passport consistent with the birth date: issued at 14, replaced at 20 and 45;
        this blank format exists since 1997, so older holders got theirs in the 1998-2004 exchange."""
        age_days = self._today_o - birth.toordinal()
        milestone = 45 if age_days >= 45 * 365.25 + 60 else 20 if age_days >= 20 * 365.25 + 60 else 14
        issued = _plus_years(birth, milestone).toordinal() + int(r() * 45)
        if issued < _PASSPORT_EXCHANGE:
            issued = _PASSPORT_EXCHANGE + int(r() * 2500)
        issued_d = date.fromordinal(min(issued, self._today_o))
        blank_year = issued_d.year - (1 if r() < 0.2 and issued_d.year > 1998 else 0)
        authority = "ГУ МВД России" if issued_d.year >= 2017 else "УФМС России"
        ident = req.identifiers.add(
            type=pb.IDENTIFIER_TYPE_PASSPORT,
            value=f"{city[3]}{blank_year % 100:02d}{self._p_passport(index):06d}",
            issuer=f"{authority} по {city[7]}",
        )
        d = ident.issued_on
        d.year, d.month, d.day = issued_d.year, issued_d.month, issued_d.day

    def organization(self, index: int) -> pb.CreatePartyRequest:
        """A company (ООО, АО, ПАО) or, for about 15%, a sole proprietor (ИП) kept as an organization
        with a 12-digit INN and an OGRNIP; ``request_id`` is ``demo-org-<seed>-<index>``."""
        r = self._rng_for(_NS_ORG, index).random
        city = _CITY_PICK[int(r() * len(_CITY_PICK))]
        req = pb.CreatePartyRequest(request_id=f"demo-org-{self.seed}-{index}", context=self._context)
        org = req.organization
        add_id = req.identifiers.add
        add_cp = req.contact_points.add
        if r() < 0.15:
            sur = _SURNAMES[int(r() * len(_SURNAMES))]
            father = _MALE[int(r() * len(_MALE))]
            if r() < 0.4:
                first, first_lat = _FEMALE[int(r() * len(_FEMALE))]
                last, last_lat, patronymic = sur[1], sur[3], father[2]
            else:
                me = _MALE[int(r() * len(_MALE))]
                first, first_lat, last, last_lat, patronymic = me[0], me[3], sur[0], sur[2], father[1]
            org.legal_form = "ИП"
            org.legal_name = f"Индивидуальный предприниматель {last} {first} {patronymic}"
            org.short_name = f"ИП {last} {first[0]}. {patronymic[0]}."
            k = self._p_inn12(2 * index + 1)
            add_id(type=pb.IDENTIFIER_TYPE_INN, value=_inn12(f"{city[2]}{1 + k // 10**6:02d}{k % 10**6:06d}"))
            k = self._p_ogrnip(index)  # registration year 2004-2024 x serial
            add_id(
                type=pb.IDENTIFIER_TYPE_OGRNIP,
                value=_ogrnip(f"3{(4 + k // 10**8):02d}{city[2]}{k % 10**8:08d}"),
            )
            # Sole proprietors mostly give a mobile number and a personal mailbox.
            add_cp(
                type=pb.CONTACT_POINT_TYPE_PHONE,
                purpose=pb.CONTACT_PURPOSE_WORK,
                primary=True,
                phone=self._mobile(2 * index + 1, r),
            )
            domain = _EMAIL_DOMAINS[int(r() * len(_EMAIL_DOMAINS))]
            if r() < 0.5:
                email = f"ip.{last_lat.lower()}{int(r() * 1000)}@{domain}"
            else:
                email = f"{first_lat.lower()}.{last_lat.lower()}.ip@{domain}"
        else:
            form, form_full = _LEGAL_FORMS[int(r() * len(_LEGAL_FORMS))]
            name = _org_name(r)
            org.legal_form = form
            org.legal_name = f"{form_full} «{name}»"
            org.short_name = f"{form} «{name}»"
            k = self._p_inn10(index)  # inspection x serial
            inn = _inn10(f"{city[2]}{1 + k // 10**5:02d}{k % 10**5:05d}")
            add_id(type=pb.IDENTIFIER_TYPE_INN, value=inn)
            # KPP: the INN's tax office, reason code 01 (registered at its seat), then a serial.
            kpp_serial = 1 if r() < 0.85 else 2 + int(r() * 8)
            add_id(type=pb.IDENTIFIER_TYPE_KPP, value=f"{inn[:4]}01{kpp_serial:03d}")
            k = self._p_ogrn(index)  # sign x registration year 2003-2024 x inspection x serial
            sign, k = ("1", k) if k < 22 * 49 * 10**5 else ("5", k - 22 * 49 * 10**5)
            year, k = 3 + k // (49 * 10**5), k % (49 * 10**5)
            add_id(
                type=pb.IDENTIFIER_TYPE_OGRN,
                value=_ogrn(f"{sign}{year:02d}{city[2]}{1 + k // 10**5:02d}{k % 10**5:05d}"),
            )
            areas = city[6]
            area = areas[int(r() * len(areas))]
            local = self._p_landline(index)
            # 3-digit area codes have 7-digit local numbers, 4-digit ones 6: the last 6 are unique.
            phone = f"+7{area}{2 + int(r() * 8)}{local:06d}" if len(area) == 3 else f"+7{area}{local:06d}"
            add_cp(type=pb.CONTACT_POINT_TYPE_PHONE, purpose=pb.CONTACT_PURPOSE_WORK, primary=True, phone=phone)
            # Many companies share a name (there are thousands of ООО «Ромашка»), never a domain: most
            # domains carry a city tag, the region code or a number.
            domain = translit(name).lower().replace(" ", "-")
            tag = f"-{_CITY_TAGS[city[0]]}" if city[0] in _CITY_TAGS else city[2]
            x = r()
            if len(name) >= 15 and " " not in name:  # rarer compound names: a city tag, a number or bare
                if x < 0.4:
                    domain = f"{domain}{tag}"
                elif x < 0.8:
                    domain = f"{domain}{1 + int(r() * 999)}"
            elif x < 0.3:
                domain = f"{domain}{tag}{1 + int(r() * 99)}"
            else:
                domain = f"{domain}{1 + int(r() * 9999)}"
            email = f"info@{domain}{_TLDS[int(r() * len(_TLDS))]}"
        add_cp(type=pb.CONTACT_POINT_TYPE_EMAIL, purpose=pb.CONTACT_PURPOSE_WORK, primary=True, email=email)
        self._add_address(r, req, city, pb.CONTACT_PURPOSE_LEGAL, office=True)
        role = _ORG_ROLES[int(r() * len(_ORG_ROLES))]
        req.role_types.append(role)
        if r() < 0.2:
            other = _ORG_ROLES[int(r() * len(_ORG_ROLES))]
            if other != role:
                req.role_types.append(other)
        prefs = req.preferences
        prefs.time_zone = city[5]
        prefs.preferred_language = "ru"
        return req

    def vehicle(self, index: int) -> pb.Vehicle:
        """A car sold on the Russian market with a VIN of the make's real WMI and a valid ISO 3779 check
        digit; purchased around its model year, with a three-year warranty and no mileage yet."""
        r = self._rng_for(_NS_VEHICLE, index).random
        make, model, y0, y1, codes = _VEHICLE_PICK[int(r() * len(_VEHICLE_PICK))]
        y0, y1 = max(y0, 2012), min(y1, 2025, self.today.year)
        model_year = y0 + int(r() * (y1 - y0 + 1))
        wmi, vds, plants = codes[int(r() * len(codes))]
        plant = plants[int(r() * len(plants))]
        vin = _vin_with_check(f"{wmi}{vds}0{_VIN_YEAR[model_year]}{plant}{self._p_vin(index):06d}")
        # Sold new: from the autumn before its model year to the end of it (and not after "today").
        start = date(model_year - 1, 9, 1).toordinal()
        end = min(date(model_year, 12, 31).toordinal(), self._today_o)
        purchase = date.fromordinal(start + int(r() * (end - start + 1)))
        warranty = _plus_years(purchase, 3)
        v = pb.Vehicle(vin=vin, make=make, model=model, model_year=model_year)
        d = v.purchase_date
        d.year, d.month, d.day = purchase.year, purchase.month, purchase.day
        d = v.warranty_end
        d.year, d.month, d.day = warranty.year, warranty.month, warranty.day
        return v

    def relationships_for(self, persons: list[str], orgs: list[str]) -> list[tuple[str, str, str]]:
        """(relationship_type, from_id, to_id) triples over already created parties.

        ~30% of persons are ``employee_of`` an organization, ~20% of organizations get a
        ``contact_person_of`` (preferably one of their employees), ~10% of persons are paired as
        ``spouse_of`` (symmetric: one triple per couple) and ~5% of organizations are ``subsidiary_of``
        an organization earlier in the list (so the group structure has no cycles).
        """
        rng = self._rng_for(_NS_REL, len(persons) * 1_000_003 + len(orgs))
        r = rng.random
        out: list[tuple[str, str, str]] = []
        employees: dict[int, list[int]] = {}
        n_orgs = len(orgs)
        if n_orgs:
            for pi, pid in enumerate(persons):
                if r() < 0.3:
                    oi = int(r() * n_orgs)
                    employees.setdefault(oi, []).append(pi)
                    out.append(("employee_of", pid, orgs[oi]))
            if persons:
                for oi, oid in enumerate(orgs):
                    if r() < 0.2:
                        staff = employees.get(oi)
                        pi = staff[int(r() * len(staff))] if staff else int(r() * len(persons))
                        out.append(("contact_person_of", persons[pi], oid))
        order = list(range(len(persons)))
        rng.shuffle(order)
        couples = int(len(persons) * 0.05)
        for c in range(couples):
            out.append(("spouse_of", persons[order[2 * c]], persons[order[2 * c + 1]]))
        for oi in range(1, n_orgs):
            if r() < 0.05:
                out.append(("subsidiary_of", orgs[oi], orgs[int(r() * oi)]))
        return out

    def mixed(self, count: int) -> Iterator[pb.CreatePartyRequest]:
        """``count`` parties, ~85% persons and ~15% organizations, in a seed-determined order.

        Persons and organizations are numbered separately, so the items equal ``person(i)`` and
        ``organization(j)``; a shorter run is a prefix of a longer one with the same seed.
        """
        rng = random.Random((self._seed_key * 8 + _NS_MIXED) << 40)
        r = rng.random
        persons = orgs = 0
        for _ in range(count):
            if r() < 0.15:
                yield self.organization(orgs)
                orgs += 1
            else:
                yield self.person(persons)
                persons += 1


def _person_email(rnd: _Rnd, first: str, last: str, year: int) -> str:
    """A personal mailbox named the way people pick them: name parts plus the birth year or a number
    (a plain first.last is rare because it is usually taken)."""
    x = rnd()
    if x < 0.05:
        local = f"{first}.{last}"
    elif x < 0.3:
        local = f"{first}.{last}{year % 100:02d}"
    elif x < 0.45:
        local = f"{last}.{first}{1 + int(rnd() * 999)}"
    elif x < 0.6:
        local = f"{first[0]}.{last}{year}"
    elif x < 0.7:
        local = f"{last}{first[0]}{year}"
    elif x < 0.85:
        local = f"{first}_{last}{1 + int(rnd() * 999)}"
    else:
        local = f"{last}.{first[0]}{year % 100:02d}{int(rnd() * 100)}"
    return f"{local}@{_EMAIL_DOMAINS[int(rnd() * len(_EMAIL_DOMAINS))]}"


def _telegram(rnd: _Rnd, first: str, last: str, year: int) -> str:
    """A Telegram username: 5-32 characters of letters, digits and underscores, starting with a letter."""
    x = rnd()
    if x < 0.15:
        h = f"{first}_{last}"
    elif x < 0.45:
        h = f"{last}_{first[0]}{1 + int(rnd() * 9999)}"
    elif x < 0.75:
        h = f"{first[:4]}{last[:5]}{int(rnd() * 10000)}"
    else:
        h = f"{first}{last[:3]}{year}"
    return h if len(h) >= 5 else h + "_tg"


def _org_name(rnd: _Rnd) -> str:
    """A company name built from word parts: СеверТрансЛогистик, УралСервис, Ромашка, Автоцентр Восток."""
    x = rnd()
    if x < 0.35:
        head = _ORG_HEAD[int(rnd() * len(_ORG_HEAD))]
        mid = _ORG_MID[int(rnd() * len(_ORG_MID))]
        tail = _ORG_TAIL[int(rnd() * len(_ORG_TAIL))]
        if tail == mid:
            tail = "Сервис" if mid != "Сервис" else "Групп"
        return f"{head}{mid}{tail}"
    if x < 0.6:
        return f"{_ORG_HEAD[int(rnd() * len(_ORG_HEAD))]}{_ORG_TAIL[int(rnd() * len(_ORG_TAIL))]}"
    if x < 0.8:
        return _ORG_SIMPLE[int(rnd() * len(_ORG_SIMPLE))]
    kind = _ORG_KIND[int(rnd() * len(_ORG_KIND))]
    pool = _ORG_PLACE if rnd() < 0.6 else _ORG_SIMPLE
    return f"{kind} {pool[int(rnd() * len(pool))]}"
