"""Labelled duplicate data for training and benchmarking the party matcher.

Why it exists: neither the weights of the matcher nor its precision and recall can be measured without
records whose true identity is known. This generator makes a register of persons and organizations,
Russian (Cyrillic) and international (English, German, French, Spanish, Italian: Latin script, foreign
phones, addresses and identifiers), where some parties were entered more than once, each copy damaged
the way real copies are:

* names: written in Latin by one of four transliteration systems (ICAO, BGN-style "Yuriy", German
  "Jurij Schtscherbakow", informal "Sherbakov"), ё written as е, typos (one edit), patronymic or middle
  name missing, the wrong gender form of the surname, first and last name swapped, upper case;
* birth dates: missing, one wrong digit, day and month swapped;
* phones: typed in national, international and trunk-prefix formats, missing, replaced, one wrong digit;
* e-mails: upper case, Gmail dots and "+tags", missing, replaced;
* identifiers: dropped on most copies, a passport replaced by a newer one, a foreign number spaced;
* addresses: structured vs free text, abbreviations spelt out or not, a typo, missing, moved;
* organizations: legal form spelt out, abbreviated, after the name, in Latin ("LLC"), or missing;
  quotes of any kind; the name transliterated, upper-cased or mistyped.

It also makes the hard negatives that keep precision honest: relatives (same surname in its gender
form, same address, sometimes the same home phone or family mailbox), namesakes, and companies sharing
a name in different cities.

Deterministic by seed; a million records in well under a minute. Party ids are ``P<n>``/``O<n>``
in a shuffled order; ``cluster`` is the true party.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from stdnum.ru import inn as stdnum_inn
from stdnum.ru import ogrn as stdnum_ogrn

from services.parties.domain.identifiers import snils_check_number
from services.parties.domain.matching.records import MatchRecord, organization_record, person_record
from services.parties.domain.names import transliterate

_Rnd = Callable[[], float]


@dataclass(slots=True)
class RawParty:
    """A party as an operator or an import file would give it: raw strings, before any normalization."""

    party_id: str
    cluster: int
    kind: str
    last_name: str = ""
    first_name: str = ""
    patronymic: str = ""
    legal_name: str = ""
    short_name: str = ""
    legal_form: str = ""
    birth_date: date | None = None
    gender: str = ""
    phones: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    identifiers: list[tuple[str, str]] = field(default_factory=list)
    addresses: list[Any] = field(default_factory=list)
    country: str = ""

    def to_record(self) -> MatchRecord:
        """Normalize through the matcher's own constructor helpers, as the service would."""
        common = {
            "phones": self.phones,
            "emails": self.emails,
            "identifiers": self.identifiers,
            "addresses": self.addresses,
            "country": self.country,
        }
        if self.kind == "person":
            return person_record(
                self.party_id,
                last_name=self.last_name,
                first_name=self.first_name,
                patronymic=self.patronymic,
                birth_date=self.birth_date,
                gender=self.gender,
                **common,
            )
        return organization_record(
            self.party_id,
            legal_name=self.legal_name,
            short_name=self.short_name,
            legal_form=self.legal_form,
            **common,
        )


# fmt: off
# --- Russian word lists ---------------------------------------------------------------------------

_RU_MALE = (
    ("Александр", "Александрович", "Александровна"), ("Алексей", "Алексеевич", "Алексеевна"),
    ("Анатолий", "Анатольевич", "Анатольевна"), ("Андрей", "Андреевич", "Андреевна"),
    ("Антон", "Антонович", "Антоновна"), ("Артём", "Артёмович", "Артёмовна"),
    ("Борис", "Борисович", "Борисовна"), ("Вадим", "Вадимович", "Вадимовна"),
    ("Валерий", "Валерьевич", "Валерьевна"), ("Василий", "Васильевич", "Васильевна"),
    ("Виктор", "Викторович", "Викторовна"), ("Владимир", "Владимирович", "Владимировна"),
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
    ("Яков", "Яковлевич", "Яковлевна"), ("Глеб", "Глебович", "Глебовна"),
)
_RU_FEMALE = (
    "Александра", "Алёна", "Алина", "Анастасия", "Анна", "Варвара", "Валентина", "Вера", "Вероника",
    "Виктория", "Галина", "Дарья", "Диана", "Евгения", "Екатерина", "Елена", "Елизавета", "Жанна",
    "Зоя", "Ирина", "Кристина", "Ксения", "Лариса", "Любовь", "Людмила", "Маргарита", "Марина", "Мария",
    "Милана", "Надежда", "Наталья", "Нина", "Оксана", "Ольга", "Полина", "Регина", "Светлана", "Софья",
    "Тамара", "Татьяна", "Ульяна", "Юлия", "Яна", "Фаина", "Эльвира", "Таисия",
)
_RU_DECLINED = (
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
    "Юсупов", "Зуев", "Щукин", "Хохлов", "Жданов", "Цыганков", "Ёлкин", "Шишкин", "Дьячков", "Субботин",
    "Зимин", "Лапин", "Рябов", "Рыбаков", "Суханов", "Блинов", "Кудрин", "Широков", "Третьяков", "Носов",
)
_RU_SKIY = (
    "Вишневский", "Ковальский", "Покровский", "Успенский", "Преображенский", "Рождественский",
    "Островский", "Чайковский", "Жуковский", "Белецкий", "Залесский", "Яблонский", "Толстой", "Лановой",
    "Трубецкой", "Соколовский", "Дзержинский", "Луговской", "Раевский", "Волконский",
)
_RU_NEUTRAL = (
    "Шевченко", "Бондаренко", "Коваленко", "Ткаченко", "Кравченко", "Марченко", "Литвиненко", "Руденко",
    "Савченко", "Петренко", "Ким", "Пак", "Цой", "Тен", "Черных", "Седых", "Белых", "Долгих",
    "Ковальчук", "Полищук", "Мельничук", "Петросян", "Саакян", "Григорян", "Акопян", "Оганесян",
)
_RU_ROOTS = (
    "Бел", "Сем", "Гор", "Кир", "Дем", "Гал", "Кур", "Лап", "Мор", "Нес", "Пан", "Рыж", "Сав", "Тер", "Уст",
    "Фил", "Хар", "Чер", "Шаб", "Щег", "Яр", "Вол", "Гриб", "Жар", "Зуб", "Мал", "Мед", "Пес", "Пух", "Руб",
    "Сит", "Соб", "Тол", "Ушак", "Худ", "Цвет", "Шест", "Бор", "Вет", "Глад", "Дуб", "Ерш", "Журав", "Кал",
    "Лук", "Мух", "Нов", "Ост", "Прох", "Ракит", "Снег", "Тулуп", "Фед", "Хмел", "Черем", "Шуст", "Ягод",
)
_RU_INFIXES = ("", "", "", "ал", "ан", "ар", "ен", "ер", "ил", "ин", "ит", "ор", "ош", "ул", "ун", "ыш", "як", "ач",
               "ен", "им", "ок", "ур", "юк", "ет")
_RU_SUFFIXES = ("ов", "ев", "ин", "ышев", "анов", "енков", "ников", "яков", "ашин", "унов", "ихин", "ченко",
                "ский", "ницкий", "ович", "ук")
_RU_CITIES = (
    ("Москва", "Москва", "77", ("101", "105", "109", "115", "117", "119", "123", "125", "127", "129")),
    ("Санкт-Петербург", "Санкт-Петербург", "78", ("190", "191", "194", "195", "196", "197", "198")),
    ("Новосибирск", "Новосибирская область", "54", ("630",)),
    ("Екатеринбург", "Свердловская область", "66", ("620",)),
    ("Казань", "Республика Татарстан", "16", ("420",)),
    ("Нижний Новгород", "Нижегородская область", "52", ("603",)),
    ("Челябинск", "Челябинская область", "74", ("454",)),
    ("Самара", "Самарская область", "63", ("443",)),
    ("Омск", "Омская область", "55", ("644",)),
    ("Ростов-на-Дону", "Ростовская область", "61", ("344",)),
    ("Уфа", "Республика Башкортостан", "02", ("450",)),
    ("Красноярск", "Красноярский край", "24", ("660",)),
    ("Воронеж", "Воронежская область", "36", ("394",)),
    ("Пермь", "Пермский край", "59", ("614",)),
    ("Краснодар", "Краснодарский край", "23", ("350",)),
    ("Химки", "Московская область", "50", ("141",)),
    ("Тула", "Тульская область", "71", ("300",)),
    ("Ярославль", "Ярославская область", "76", ("150",)),
)
_RU_CITY_PICK = tuple(c for c, w in zip(_RU_CITIES, (24, 12, 4, 4, 4, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2),
                                        strict=True) for _ in range(w))
# (abbreviated, spelt out) street names
_RU_STREETS = (
    ("ул. Ленина", "улица Ленина"), ("ул. Гагарина", "улица Гагарина"), ("ул. Советская", "улица Советская"),
    ("ул. Мира", "улица Мира"), ("ул. Пушкина", "улица Пушкина"), ("ул. Кирова", "улица Кирова"),
    ("ул. Лермонтова", "улица Лермонтова"), ("ул. Чехова", "улица Чехова"), ("ул. Садовая", "улица Садовая"),
    ("ул. Молодёжная", "улица Молодежная"), ("ул. Центральная", "улица Центральная"),
    ("ул. Школьная", "улица Школьная"), ("ул. Лесная", "улица Лесная"), ("ул. Набережная", "улица Набережная"),
    ("ул. Октябрьская", "улица Октябрьская"), ("ул. Комсомольская", "улица Комсомольская"),
    ("ул. Горького", "улица Горького"), ("ул. Строителей", "улица Строителей"),
    ("ул. Маяковского", "улица Маяковского"), ("ул. Жукова", "улица Жукова"), ("ул. Чкалова", "улица Чкалова"),
    ("ул. Суворова", "улица Суворова"), ("ул. Победы", "улица Победы"), ("пр-т Мира", "проспект Мира"),
    ("пр-т Ленина", "проспект Ленина"), ("пр-т Победы", "проспект Победы"),
    ("пр-т Космонавтов", "проспект Космонавтов"), ("пер. Почтовый", "переулок Почтовый"),
    ("пер. Школьный", "переулок Школьный"), ("ул. Заречная", "улица Заречная"),
)
_RU_MOBILE = tuple(str(c) for c in (*range(900, 930), *range(950, 970), *range(977, 1000)))
_RU_MAIL = ("mail.ru",) * 30 + ("yandex.ru",) * 25 + ("gmail.com",) * 20 + ("bk.ru", "inbox.ru", "list.ru",
            "ya.ru", "rambler.ru") * 3
_RU_FORMS = (("ООО", "Общество с ограниченной ответственностью", "LLC"),) * 8 + (
    ("АО", "Акционерное общество", "JSC"),) * 2 + (("ПАО", "Публичное акционерное общество", "PJSC"),)
_ORG_SIMPLE = (
    "Ромашка", "Берёзка", "Радуга", "Вектор", "Гарант", "Меридиан", "Альянс", "Партнёр", "Прогресс",
    "Импульс", "Орион", "Феникс", "Лидер", "Стимул", "Каскад", "Горизонт", "Сфера", "Континент",
    "Магистраль", "Эталон", "Атлант", "Триумф", "Парус", "Рассвет", "Заря", "Монолит", "Кристалл",
)
_ORG_HEAD = (
    "Север", "Юг", "Восток", "Запад", "Сиб", "Урал", "Волга", "Дон", "Балт", "Центр", "Мега", "Интер",
    "Гранд", "Альфа", "Техно", "Агро", "Энерго", "Авто", "Нефть", "Газ", "Мед", "Фарм", "Проф", "Спец",
    "Евро", "Рус", "Нева", "Кама", "Байкал", "Амур", "Ока", "Стандарт", "Лес", "Металл", "Хим", "Гео",
    "Эко", "Строй", "Свет", "Вита", "Алмаз", "Поли", "Кредо", "Дельта", "Омега", "Зенит", "Тайга",
)
_ORG_MID = ("Транс", "Строй", "Снаб", "Маш", "Пром", "Торг", "Тех", "Ком", "Мет", "Пласт", "Электро", "Гидро",
            "Инвест", "Сервис", "Лайн", "Мастер")
_ORG_TAIL = (
    "Логистик", "Сервис", "Комплект", "Инвест", "Групп", "Холдинг", "Систем", "Монтаж", "Проект",
    "Ресурс", "Капитал", "Трейд", "Маркет", "Экспорт", "Плюс", "Снаб", "Строй", "Торг", "Пром", "Альянс",
    "Консалт", "Девелопмент", "Инжиниринг", "Техника", "Продукт",
)
_ORG_KIND = ("Автоцентр", "Торговый дом", "Строительная компания", "Транспортная компания", "Агрофирма",
             "Медицинский центр", "Управляющая компания")

# --- international word lists: (country, first names m, first names f, surnames, phone, mail, city data) --

_INTL: dict[str, dict[str, Any]] = {
    "DE": {
        "male": ("Lukas", "Jürgen", "Stefan", "Thomas", "Michael", "Andreas", "Klaus", "Wolfgang", "Jörg",
                 "Matthias", "Florian", "Tobias", "Sebastian", "Maximilian", "Uwe", "Frank", "Dieter"),
        "female": ("Anna", "Katharina", "Sabine", "Petra", "Julia", "Monika", "Ursula", "Claudia", "Lena",
                   "Sophie", "Jana", "Birgit", "Heike", "Susanne", "Marie", "Laura", "Jessica"),
        "last": ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
                 "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
                 "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Werner",
                 "Krause", "Lehmann", "Köhler", "Walter", "Maier", "Huber", "Kaiser", "Fuchs", "Peters"),
        "mail": ("gmail.com", "web.de", "gmx.de", "t-online.de", "outlook.com"),
        "cities": (("Berlin", "10115"), ("Hamburg", "20095"), ("München", "80331"), ("Köln", "50667"),
                   ("Frankfurt am Main", "60311"), ("Stuttgart", "70173"), ("Düsseldorf", "40213")),
        "streets": (("Hauptstraße", "Hauptstr."), ("Bahnhofstraße", "Bahnhofstr."), ("Gartenstraße", "Gartenstr."),
                    ("Schulstraße", "Schulstr."), ("Lindenstraße", "Lindenstr."), ("Bergstraße", "Bergstr."),
                    ("Kirchstraße", "Kirchstr."), ("Goethestraße", "Goethestr.")),
        "surname_parts": (
            ("Linde", "Stein", "Berg", "Hof", "Wald", "Bach", "Feld", "Brand", "Kirch", "Rosen", "Eisen", "Gold",
             "Haus", "Holz", "Weiß", "Grün", "Kalt", "Wasser", "Sonnen", "Stroh"),
            ("mann", "er", "berger", "meier", "hauser", "schmidt", "feld", "kamp", "bach", "rath", "hoff", "müller",
             "thal"),
        ),
        "tax": "DE-TAXID", "passport": "DE-PASSPORT", "vat": "DE", "trunk": "0", "cc": "49",
        "forms": (("GmbH",) * 6 + ("AG", "GmbH & Co. KG", "UG")),
        "words": ("Logistik", "Bau", "Technik", "Handel", "Immobilien", "Software", "Maschinenbau", "Consulting",
                  "Elektro", "Medien", "Autohaus", "Systeme", "Energie"),
    },
    "FR": {
        "male": ("Jean", "Pierre", "Michel", "Philippe", "Nicolas", "François", "Olivier", "Julien", "Antoine",
                 "Thomas", "Stéphane", "Sébastien", "Laurent", "Éric", "Mathieu", "Hugo", "Louis"),
        "female": ("Marie", "Nathalie", "Isabelle", "Sylvie", "Catherine", "Camille", "Hélène", "Chloé", "Léa",
                   "Manon", "Céline", "Émilie", "Sophie", "Aurélie", "Julie", "Élodie", "Inès"),
        "last": ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
                 "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux",
                 "Vincent", "Fournier", "Morel", "Girard", "André", "Lefebvre", "Mercier", "Dupont", "Lambert",
                 "Bonnet", "François", "Martinez", "Legrand", "Garnier", "Faure", "Rousseau", "Blanc"),
        "mail": ("gmail.com", "orange.fr", "free.fr", "laposte.net", "hotmail.fr", "sfr.fr"),
        "cities": (("Paris", "75002"), ("Lyon", "69001"), ("Marseille", "13001"), ("Toulouse", "31000"),
                   ("Nice", "06000"), ("Nantes", "44000"), ("Bordeaux", "33000")),
        "streets": (("rue de la Paix", "r. de la Paix"), ("avenue Victor Hugo", "av. Victor Hugo"),
                    ("boulevard Voltaire", "bd Voltaire"), ("rue Nationale", "r. Nationale"),
                    ("rue du Moulin", "r. du Moulin"), ("place de la République", "pl. de la République"),
                    ("avenue Jean Jaurès", "av. Jean Jaurès"), ("rue Pasteur", "r. Pasteur")),
        "surname_parts": (
            ("Beau", "Bel", "Bon", "Champ", "Clair", "Dela", "Du", "Fon", "Gran", "Lam", "Mont", "Ro", "Ver",
             "Ville", "Mar", "Cha", "Bou", "Gau"),
            ("mont", "champ", "val", "court", "lier", "mard", "bert", "chet", "neau", "rand", "vin", "lot"),
        ),
        "tax": "FR-INSEE", "passport": "FR-PASSPORT", "vat": "FR", "trunk": "0", "cc": "33",
        "forms": (("SARL",) * 4 + ("SAS",) * 4 + ("SA",)),
        "words": ("Immobilier", "Transports", "Conseil", "Bâtiment", "Distribution", "Services", "Boulangerie",
                  "Informatique", "Automobiles", "Électricité", "Voyages", "Assurances"),
    },
    "ES": {
        "male": ("José", "Antonio", "Manuel", "Francisco", "Juan", "David", "Javier", "Daniel", "Carlos",
                 "Jesús", "Alejandro", "Miguel", "Rafael", "Pablo", "Sergio", "Fernando", "Jorge"),
        "female": ("María", "Carmen", "Ana", "Isabel", "Laura", "Cristina", "Lucía", "Marta", "Pilar", "Elena",
                   "Paula", "Sara", "Raquel", "Rosa", "Beatriz", "Sofía", "Nuria"),
        "last": ("García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez",
                 "Gómez", "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno", "Muñoz", "Álvarez",
                 "Romero", "Alonso", "Gutiérrez", "Navarro", "Torres", "Domínguez", "Vázquez", "Ramos",
                 "Gil", "Ramírez", "Serrano", "Blanco", "Molina", "Morales", "Suárez", "Ortega", "Delgado"),
        "mail": ("gmail.com", "hotmail.es", "yahoo.es", "telefonica.net", "outlook.com"),
        "cities": (("Madrid", "28013"), ("Barcelona", "08001"), ("Valencia", "46001"), ("Sevilla", "41001"),
                   ("Zaragoza", "50001"), ("Málaga", "29001"), ("Bilbao", "48001")),
        "streets": (("Calle Mayor", "C/ Mayor"), ("Avenida de la Constitución", "Av. de la Constitución"),
                    ("Calle Real", "C/ Real"), ("Calle Nueva", "C/ Nueva"), ("Plaza de España", "Pl. de España"),
                    ("Calle del Sol", "C/ del Sol"), ("Avenida Andalucía", "Av. Andalucía")),
        "surname_parts": (
            ("Alar", "Bel", "Cal", "Cas", "Cor", "Fer", "Gal", "Ibar", "Lar", "Men", "Mon", "Nav", "Olm", "Pal",
             "Qui", "Sal", "Val", "Zam"),
            ("cón", "trán", "dera", "tillo", "rales", "rasco", "vez", "ñón", "rete", "dizábal", "ares", "edo"),
        ),
        "tax": "ES-DNI", "passport": "ES-PASSPORT", "vat": "ES", "trunk": "", "cc": "34",
        "forms": (("S.L.",) * 5 + ("S.A.",) * 2),
        "words": ("Construcciones", "Transportes", "Inmobiliaria", "Distribuciones", "Asesores", "Talleres",
                  "Hostelería", "Servicios", "Comercial", "Ingeniería"),
    },
    "GB": {
        "male": ("James", "John", "Robert", "Michael", "William", "David", "Richard", "Thomas", "Oliver",
                 "George", "Harry", "Jack", "Charles", "Daniel", "Matthew", "Andrew", "Christopher"),
        "female": ("Mary", "Elizabeth", "Sarah", "Emily", "Emma", "Olivia", "Charlotte", "Sophie", "Jessica",
                   "Lucy", "Hannah", "Rebecca", "Amelia", "Grace", "Catherine", "Victoria", "Alice"),
        "last": ("Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas",
                 "Johnson", "Roberts", "Robinson", "Thompson", "Wright", "Walker", "White", "Edwards",
                 "Hughes", "Green", "Hall", "Lewis", "Harris", "Clarke", "Patel", "Jackson", "Wood", "Turner",
                 "Martin", "Cooper", "Hill", "Ward", "Morris", "Moore", "Clark", "O'Brien", "McDonald"),
        "mail": ("gmail.com", "hotmail.co.uk", "yahoo.co.uk", "btinternet.com", "outlook.com"),
        "cities": (("London", "SW1A 1AA"), ("Manchester", "M1 1AE"), ("Birmingham", "B1 1BB"),
                   ("Leeds", "LS1 1UR"), ("Glasgow", "G1 1XQ"), ("Bristol", "BS1 4DJ"), ("Liverpool", "L1 8JQ")),
        "streets": (("High Street", "High St"), ("Station Road", "Station Rd"), ("Church Street", "Church St"),
                    ("Park Road", "Park Rd"), ("Victoria Road", "Victoria Rd"), ("Green Lane", "Green Ln"),
                    ("Manor Road", "Manor Rd"), ("King Street", "King St")),
        "surname_parts": (
            ("Ash", "Black", "Brad", "Brook", "Chester", "Clay", "Craw", "Dun", "Fair", "Green", "Hart", "Hol",
             "Kings", "Lang", "Mar", "Mid", "Nor", "Pem", "Red", "Ring", "Stan", "Thorn", "West", "Whit"),
            ("ford", "ley", "ton", "field", "well", "wood", "by", "worth", "more", "ham", "son", "ridge", "bury"),
        ),
        "tax": "GB-NINO", "passport": "GB-PASSPORT", "vat": "GB", "trunk": "0", "cc": "44",
        "forms": (("Ltd",) * 5 + ("Limited", "PLC", "LLP")),
        "words": ("Logistics", "Consulting", "Builders", "Engineering", "Trading", "Solutions", "Holdings",
                  "Property", "Motors", "Foods", "Design", "Electrical"),
    },
    "US": {
        "male": ("James", "John", "Robert", "Michael", "William", "David", "Joseph", "Charles", "Christopher",
                 "Daniel", "Matthew", "Anthony", "Mark", "Steven", "Kevin", "Brian", "Jason"),
        "female": ("Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah",
                   "Karen", "Nancy", "Lisa", "Betty", "Ashley", "Emily", "Michelle", "Amanda"),
        "last": ("Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Garcia", "Rodriguez",
                 "Wilson", "Martinez", "Anderson", "Taylor", "Thomas", "Hernandez", "Moore", "Martin",
                 "Jackson", "Thompson", "White", "Lopez", "Lee", "Gonzalez", "Harris", "Clark", "Lewis",
                 "Robinson", "Walker", "Perez", "Hall", "Young", "Allen", "Sanchez", "Wright", "King"),
        "mail": ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "aol.com", "icloud.com"),
        "cities": (("New York, NY", "10118"), ("Chicago, IL", "60601"), ("San Francisco, CA", "94103"),
                   ("Boston, MA", "02108"), ("Seattle, WA", "98101"), ("Austin, TX", "73301")),
        "streets": (("Main Street", "Main St"), ("Fifth Avenue", "Fifth Ave"), ("Oak Street", "Oak St"),
                    ("Maple Avenue", "Maple Ave"), ("Washington Boulevard", "Washington Blvd"),
                    ("Park Avenue", "Park Ave"), ("Elm Street", "Elm St")),
        "surname_parts": (
            ("Ash", "Black", "Brad", "Brook", "Clay", "Craw", "Dun", "Fair", "Hart", "Hol", "Kings", "Lang", "Mid",
             "Nor", "Red", "Stan", "Thorn", "West", "Whit", "Mc", "Fitz", "Van"),
            ("ford", "ley", "ton", "field", "well", "wood", "son", "man", "berg", "stein", "ski", "ridge", "dale"),
        ),
        "tax": "US-SSN", "passport": "US-PASSPORT", "vat": "US-EIN", "trunk": "", "cc": "1",
        "forms": (("LLC",) * 5 + ("Inc.",) * 3 + ("Corp.",)),
        "words": ("Logistics", "Consulting", "Capital", "Solutions", "Systems", "Partners", "Technologies",
                  "Industries", "Foods", "Realty", "Labs", "Media"),
    },
    "IT": {
        "male": ("Marco", "Giuseppe", "Giovanni", "Antonio", "Luca", "Francesco", "Alessandro", "Andrea",
                 "Roberto", "Stefano", "Matteo", "Lorenzo", "Paolo"),
        "female": ("Giulia", "Francesca", "Chiara", "Sara", "Maria", "Anna", "Laura", "Valentina", "Elena",
                   "Alessandra", "Martina", "Silvia", "Federica"),
        "last": ("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino",
                 "Greco", "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa", "Giordano", "Rizzo",
                 "Lombardi", "Moretti", "Barbieri", "Fontana", "Santoro", "Mariani", "Rinaldi", "Caruso"),
        "mail": ("gmail.com", "libero.it", "hotmail.com", "outlook.com"),
        "cities": (("Roma", "00184"), ("Milano", "20121"), ("Napoli", "80133"), ("Torino", "10121"),
                   ("Bologna", "40121"), ("Firenze", "50122")),
        "streets": (("Via Roma", "Via Roma"), ("Via Garibaldi", "Via Garibaldi"), ("Corso Italia", "Corso Italia"),
                    ("Via Dante", "Via Dante"), ("Piazza Verdi", "Piazza Verdi"), ("Via Mazzini", "Via Mazzini")),
        "surname_parts": (
            ("Bel", "Ca", "Co", "De", "Fa", "Gra", "Lo", "Ma", "Pe", "Ri", "Sa", "Vi", "Ze", "Bar", "Cal", "Mar",
             "Tor"),
            ("lli", "nti", "sso", "ri", "tti", "ldi", "ngo", "nelli", "rini", "cci", "zzi", "doni"),
        ),
        "tax": "IT-CF", "passport": "IT-PASSPORT", "vat": "IT", "trunk": "", "cc": "39",
        "forms": (("S.r.l.",) * 5 + ("S.p.A.",)),
        "words": ("Costruzioni", "Trasporti", "Immobiliare", "Servizi", "Consulenze", "Alimentari", "Impianti",
                  "Arredamenti", "Informatica"),
    },
}
_INTL_PICK = ("DE",) * 5 + ("FR",) * 3 + ("ES",) * 3 + ("GB",) * 3 + ("US",) * 4 + ("IT",) * 2
_INTL_INFIXES = ("",) * 6 + ("en", "er", "in", "an", "el", "ing", "ers", "ow", "ar", "il")
_INTL_ORG_LATIN = ("Nordic", "Atlantic", "Bright", "Global", "Prime", "Blue", "Green", "Silver", "Summit",
                   "Pioneer", "Alpine", "Metro", "Coastal", "Pacific", "Central", "Royal", "United", "Apex")
# fmt: on


# --- transliteration systems other than ICAO (which the domain's transliterate() implements) ----------

_BGN = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "yo", "ж": "zh", "з": "z", "и": "i",
    "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "",
    "э": "e", "ю": "yu", "я": "ya",
}  # fmt: skip
_GERMAN = _BGN | {
    "ж": "sch", "з": "s", "ш": "sch", "щ": "schtsch", "ч": "tsch", "х": "ch", "ц": "z", "в": "w", "й": "j",
    "ю": "ju", "я": "ja", "ё": "jo", "ы": "y", "е": "e",
}  # fmt: skip
_INFORMAL = _BGN | {"х": "h", "щ": "sch", "ё": "e", "й": "i"}
_VOWELS = set("аеёиоуыэюяaeiouy")


_ENDINGS = {
    "bgn": {"ий": "iy", "ый": "yy"},
    "german": {"ий": "ij", "ый": "yj"},
    "informal": {"ий": "y", "ый": "y"},
}


def _translit_with(table: dict[str, str], system: str, text: str) -> str:
    low = text.lower()
    ending = ""
    if len(low) > 3 and low[-2:] in _ENDINGS[system]:
        ending, low = _ENDINGS[system][low[-2:]], low[:-2]
    out: list[str] = []
    for i, ch in enumerate(low):
        latin = table.get(ch, ch)
        if ch == "е" and system != "informal" and (i == 0 or low[i - 1] in _VOWELS or low[i - 1] in "ьъ"):
            latin = "je" if system == "german" else "ye"
        out.append(latin)
    word = "".join(out) + ending
    return word[:1].upper() + word[1:] if text[:1].isupper() else word


def latin_spelling(text: str, system: str) -> str:
    """A Cyrillic name in one Latin system: "icao", "bgn" (Yuriy), "german" (Jurij), "informal" (Yuri)."""
    if system == "icao":
        return transliterate(text)
    table = {"bgn": _BGN, "german": _GERMAN, "informal": _INFORMAL}[system]
    return " ".join("-".join(_translit_with(table, system, p) for p in w.split("-")) for w in text.split(" "))


_SYSTEMS = ("icao", "icao", "bgn", "bgn", "german", "informal", "informal")


# --- small helpers ----------------------------------------------------------------------------------

_CYR = "абвгдежзийклмнопрстуфхцчшщыэюя"
_LAT = "abcdefghijklmnopqrstuvwxyz"


def _typo(r: _Rnd, text: str) -> str:
    """One keyboard slip away from the first letter: substitute, delete, insert or swap neighbours."""
    if len(text) < 3:
        return text
    letters = _CYR if any("а" <= ch <= "я" for ch in text.lower()) else _LAT
    pos = 1 + int(r() * (len(text) - 1))
    op = r()
    ch = letters[int(r() * len(letters))]
    if op < 0.35:
        return text[:pos] + ch + text[pos + 1 :]
    if op < 0.6:
        return text[:pos] + text[pos + 1 :]
    if op < 0.8:
        return text[:pos] + ch + text[pos:]
    if pos < len(text) - 1:
        return text[:pos] + text[pos + 1] + text[pos] + text[pos + 2 :]
    return text[:pos] + ch


def _feminine(surname: str) -> str:
    if surname.endswith(("ский", "цкий")):
        return surname[:-2] + "ая"
    if surname.endswith("ой"):
        return surname[:-2] + "ая"
    if surname.endswith(("ов", "ев", "ёв", "ин", "ын")):
        return surname + "а"
    return surname


def _masculine(surname: str) -> str:
    if surname.endswith("ая"):
        return surname[:-2] + "ий"
    if surname.endswith(("ова", "ева", "ёва", "ина", "ына")):
        return surname[:-1]
    return surname


class _Perm:
    """A bijection of range(size) (affine, coprime multiplier): unique values without a set of used ones."""

    def __init__(self, size: int, salt: int) -> None:
        a = int(size * 0.6180339887) | 1
        while _gcd(a, size) != 1:
            a += 2
        self.a, self.b, self.size = a, (salt * 0x9E3779B1) % size, size

    def __call__(self, k: int) -> int:
        return (self.a * k + self.b) % self.size


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


def _digits(r: _Rnd, n: int) -> str:
    return f"{int(r() * 10**n):0{n}d}"


# --- entities ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Person:
    country: str
    female: bool
    last: str
    first: str
    patronymic: str
    birth: date | None
    phones: list[str]  # E.164
    emails: list[str]
    ids: list[tuple[str, str]]
    address: dict[str, str] | None
    street_alt: str = ""


@dataclass(slots=True)
class _Org:
    country: str
    name: str
    form: str
    form_full: str
    form_latin: str
    phones: list[str]
    emails: list[str]
    ids: list[tuple[str, str]]
    address: dict[str, str] | None
    street_alt: str = ""


class DedupData:
    """Generator of a labelled register; see the module docstring for what it contains."""

    def __init__(self, seed: int = 1) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        s = seed * 31
        self._p_inn12 = _Perm(10**8, s + 1)
        self._p_inn10 = _Perm(10**7, s + 2)
        self._p_ogrn = _Perm(10**7, s + 3)
        self._p_snils = _Perm(9 * 10**8, s + 4)
        self._p_passport = _Perm(10**8, s + 5)
        self._p_mobile = _Perm(10**7, s + 6)
        self._p_intl = _Perm(4 * 10**7, s + 7)
        self._p_tax = _Perm(10**9, s + 8)
        self._serial = 0
        self._used_emails: set[str] = set()

    # -- unique values ---------------------------------------------------------------------------------

    def _next(self) -> int:
        self._serial += 1
        return self._serial

    def _email(self, r: _Rnd, local: str, domain: str) -> str:
        local = "".join(ch for ch in local.lower() if ch.isascii() and (ch.isalnum() or ch in "._-")).strip("._-")
        address = f"{local or 'user'}@{domain}"
        while address in self._used_emails:
            address = f"{local}{int(r() * 1000)}@{domain}"
        self._used_emails.add(address)
        return address

    def _ru_mobile(self, r: _Rnd) -> str:
        return f"+7{_RU_MOBILE[int(r() * len(_RU_MOBILE))]}{self._p_mobile(self._next()):07d}"

    def _intl_mobile(self, country: str, r: _Rnd) -> str:
        n = self._p_intl(self._next())
        if country == "DE":
            return f"+49{('151', '160', '170', '176', '157')[n % 5]}{n:08d}"
        if country == "FR":
            return f"+336{'01245678'[n // 10**7 % 8]}{n % 10**7:07d}"
        if country == "ES":
            return f"+346{n:08d}"
        if country == "GB":
            return f"+447{'4589'[n % 4]}{n // 4:08d}"
        if country == "US":  # mixed radix: 10**6 subscribers x 8 exchanges x 5 area codes, one per n
            area = ("212", "415", "312", "617", "206")[n // (8 * 10**6) % 5]
            return f"+1{area}{2 + n // 10**6 % 8}{n % 10**6:06d}"
        prefix = ("320", "328", "333", "338", "339", "340", "347", "348", "349", "366")[n % 10]
        return f"+39{prefix}{n // 10:07d}"

    # -- persons ---------------------------------------------------------------------------------------

    def _ru_person(self, r: _Rnd, like: _Person | None = None) -> _Person:
        female = r() < 0.53
        if like is not None:  # a relative: the same family name in this person's gender form
            base = _masculine(like.last)
            last = _feminine(base) if female else base
        else:
            x = r()
            if x < 0.45:
                base = _RU_DECLINED[int(r() ** 1.3 * len(_RU_DECLINED))]
            elif x < 0.8:  # the long tail of rarer surnames
                root = _RU_ROOTS[int(r() * len(_RU_ROOTS))] + _RU_INFIXES[int(r() * len(_RU_INFIXES))]
                base = root + _RU_SUFFIXES[int(r() * len(_RU_SUFFIXES))]
            elif x < 0.9:
                base = _RU_SKIY[int(r() * len(_RU_SKIY))]
            else:
                base = _RU_NEUTRAL[int(r() * len(_RU_NEUTRAL))]
            last = _feminine(base) if female else base
        father = _RU_MALE[int(r() ** 1.3 * len(_RU_MALE))]
        for _ in range(3):  # a relative rarely has the same first name as the person it follows
            if female:
                first = _RU_FEMALE[int(r() ** 1.3 * len(_RU_FEMALE))]
                patronymic = father[2]
            else:
                first = _RU_MALE[int(r() ** 1.3 * len(_RU_MALE))][0]
                patronymic = father[1]
            if like is None or first != like.first or r() < 0.02:
                break
        birth = date.fromordinal(date(1940, 1, 1).toordinal() + int(r() * 23000)) if r() < 0.97 else None
        ids: list[tuple[str, str]] = []
        city = _RU_CITY_PICK[int(r() * len(_RU_CITY_PICK))]
        if r() < 0.7:
            body = f"{city[2]}{self._p_inn12(self._next()):08d}"
            ids.append(("INN", body + stdnum_inn.calc_personal_check_digits(body)))
        if r() < 0.6:
            body = f"{2_000_000 + self._p_snils(self._next()):09d}"
            ids.append(("SNILS", body + snils_check_number(body)))
        if r() < 0.4:
            ids.append(("PASSPORT", f"{10 + int(r() * 90)}{self._p_passport(self._next()):08d}"))
        phones = [self._ru_mobile(r)] if r() < 0.97 else []
        if r() < 0.15:
            phones.append(self._ru_mobile(r))
        emails: list[str] = []
        if r() < 0.6:
            fl, ll = transliterate(first).lower(), transliterate(last).lower()
            domain = _RU_MAIL[int(r() * len(_RU_MAIL))]
            x = r()
            local = f"{fl}.{ll}" if x < 0.3 else f"{ll}{fl[:1]}{int(r() * 100)}" if x < 0.7 else f"{fl}_{ll}"
            emails.append(self._email(r, local, domain))
        address: dict[str, str] | None = None
        street = _RU_STREETS[int(r() * len(_RU_STREETS))]
        if r() < 0.65:
            house = str(1 + int(r() * r() * 150))
            address = {
                "country_code": "RU",
                "postal_code": f"{city[3][int(r() * len(city[3]))]}{int(r() * 150):03d}",
                "region": city[1] if city[1] != city[0] else "",
                "city": city[0],
                "street": street[0],
                "house": house + ("к2" if r() < 0.08 else ""),
                "flat": str(1 + int(r() * 300)) if r() < 0.85 else "",
            }
        return _Person("RU", female, last, first, patronymic, birth, phones, emails, ids, address, street[1])

    def _intl_person(self, r: _Rnd, like: _Person | None = None) -> _Person:
        country = like.country if like is not None else _INTL_PICK[int(r() * len(_INTL_PICK))]
        data = _INTL[country]
        female = r() < 0.5
        if like is not None:
            last = like.last
        elif r() < 0.5:
            last = data["last"][int(r() * len(data["last"]))]
        else:  # the long tail: a surname built from the country's usual parts
            head, tail = data["surname_parts"]
            last = head[int(r() * len(head))] + _INTL_INFIXES[int(r() * len(_INTL_INFIXES))]
            last += tail[int(r() * len(tail))]
        names = data["female" if female else "male"]
        for _ in range(3):
            first = names[int(r() * len(names))]
            if like is None or first != like.first or r() < 0.02:
                break
        middle = ""
        if country in ("US", "GB") and r() < 0.35:
            other = data["male" if r() < 0.5 else "female"]
            middle = other[int(r() * len(other))]
        birth = date.fromordinal(date(1940, 1, 1).toordinal() + int(r() * 23000)) if r() < 0.85 else None
        ids: list[tuple[str, str]] = []
        if r() < 0.5:
            n = self._p_tax(self._next())
            value = {
                "DE": f"{1 + n % 9}{n:09d}{n % 7}",
                "FR": f"{1 + n % 2}{n % 10**12:012d}",
                "ES": f"{n % 10**8:08d}{'TRWAGMYFPDXBNJZSQVHLCKE'[n % 23]}",
                "GB": f"{'ABCEGHJKLMNOPRSTWXYZ'[n % 20]}{'ABCEGHJKLMNPRSTWXYZ'[n // 20 % 19]}{n % 10**6:06d}"
                f"{'ABCD'[n % 4]}",
                "US": f"{100 + n % 800:03d}-{10 + n // 800 % 89:02d}-{n % 10**4:04d}",
                "IT": f"RSSMRA{n % 100:02d}A{n % 10**4:04d}{'ABCDEFGH'[n % 8]}{n % 1000:03d}X",
            }[country]
            ids.append((f"OTHER:{data['tax']}", value))
        if r() < 0.25:
            ids.append((f"OTHER:{data['passport']}", f"C{self._p_passport(self._next()):08d}"))
        phones = [self._intl_mobile(country, r)] if r() < 0.93 else []
        emails: list[str] = []
        if r() < 0.7:
            fl = "".join(ch for ch in transliterate(first) if ch.isascii()).lower()
            ll = "".join(ch for ch in last if ch.isascii() and ch.isalpha()).lower()
            domain = data["mail"][int(r() * len(data["mail"]))]
            local = f"{fl}.{ll}" if r() < 0.6 else f"{fl[:1]}{ll}{int(r() * 100)}"
            emails.append(self._email(r, local, domain))
        street = data["streets"][int(r() * len(data["streets"]))]
        address = _intl_address(r, country, street[0], data) if r() < 0.55 else None
        return _Person(country, female, last, first, middle, birth, phones, emails, ids, address, street[1])

    def _person_copy(self, r: _Rnd, p: _Person, cluster: int, pid: str) -> RawParty:
        last, first, patronymic = p.last, p.first, p.patronymic
        russian = p.country == "RU"
        if russian and r() < 0.2:
            system = _SYSTEMS[int(r() * len(_SYSTEMS))]
            last, first = latin_spelling(last, system), latin_spelling(first, system)
            patronymic = latin_spelling(patronymic, system) if r() < 0.5 else ""
        elif russian and "ё" in (last + first + patronymic).lower() and r() < 0.5:
            last, first, patronymic = (s.replace("ё", "е").replace("Ё", "Е") for s in (last, first, patronymic))
        if russian and r() < 0.02:
            last = _masculine(last) if p.female else _feminine(last)
        if r() < 0.05:
            last = _typo(r, last)
        if r() < 0.04:
            first = _typo(r, first)
        if patronymic and r() < (0.3 if russian else 0.5):
            patronymic = ""
        elif patronymic and r() < 0.03:
            patronymic = _typo(r, patronymic)
        if not russian and r() < 0.03:
            first = first[0] + "."
        if r() < 0.02:
            last, first = first, last
        if r() < 0.05:
            last, first, patronymic = last.upper(), first.upper(), patronymic.upper()
        birth = p.birth
        x = r()
        if birth is not None:
            if x < 0.08:
                birth = None
            elif x < 0.12:
                birth = _date_typo(r, birth)
            elif x < 0.15 and birth.day <= 12 and birth.day != birth.month:
                birth = date(birth.year, birth.day, birth.month)
        gender = ("female" if p.female else "male") if r() < 0.75 else ""
        return RawParty(
            party_id=pid,
            cluster=cluster,
            kind="person",
            last_name=last,
            first_name=first,
            patronymic=patronymic,
            birth_date=birth,
            gender=gender,
            phones=self._phones_copy(r, p.phones, p.country),
            emails=self._emails_copy(r, p.emails),
            identifiers=self._ids_copy(r, p.ids),
            addresses=self._address_copy(r, p.address, p.street_alt),
            country=p.country,
        )

    # -- organizations -----------------------------------------------------------------------------------

    def _ru_org(self, r: _Rnd, like: _Org | None = None) -> _Org:
        form, form_full, form_latin = _RU_FORMS[int(r() * len(_RU_FORMS))]
        if like is not None:
            name = like.name
        else:
            x = r()
            if x < 0.6:
                name = _ORG_HEAD[int(r() * len(_ORG_HEAD))] + _ORG_MID[int(r() * len(_ORG_MID))].lower()
                name += _ORG_TAIL[int(r() * len(_ORG_TAIL))].lower()
            elif x < 0.85:
                name = _ORG_HEAD[int(r() * len(_ORG_HEAD))] + _ORG_TAIL[int(r() * len(_ORG_TAIL))].lower()
            elif x < 0.9:
                name = _ORG_SIMPLE[int(r() * len(_ORG_SIMPLE))]
            else:
                name = f"{_ORG_KIND[int(r() * len(_ORG_KIND))]} {_ORG_SIMPLE[int(r() * len(_ORG_SIMPLE))]}"
        city = _RU_CITY_PICK[int(r() * len(_RU_CITY_PICK))]
        body = f"{city[2]}{self._p_inn10(self._next()):07d}"
        inn = body + stdnum_inn.calc_company_check_digit(body)
        body = f"1{(3 + int(r() * 22)):02d}{city[2]}{self._p_ogrn(self._next()):07d}"
        ids = [("INN", inn), ("OGRN", body + stdnum_ogrn.calc_check_digit(body + "0")), ("KPP", f"{inn[:4]}01001")]
        phones = [f"+7{('495', '499', '812', '383', '343')[int(r() * 5)]}{self._p_mobile(self._next()):07d}"]
        if r() < 0.3:
            phones.append(self._ru_mobile(r))
        domain = transliterate(name).lower().replace(" ", "-") + f"{int(r() * 1000)}.ru"
        emails = [self._email(r, ("info", "office", "sales", "mail")[int(r() * 4)], domain)] if r() < 0.85 else []
        street = _RU_STREETS[int(r() * len(_RU_STREETS))]
        address = {
            "country_code": "RU",
            "postal_code": f"{city[3][int(r() * len(city[3]))]}{int(r() * 150):03d}",
            "region": city[1] if city[1] != city[0] else "",
            "city": city[0],
            "street": street[0],
            "house": str(1 + int(r() * 120)),
            "flat": f"оф. {1 + int(r() * 500)}" if r() < 0.6 else "",
        }
        return _Org(
            "RU", name, form, form_full, form_latin, phones, emails, ids, address if r() < 0.9 else None, street[1]
        )

    def _intl_org(self, r: _Rnd, like: _Org | None = None) -> _Org:
        country = like.country if like is not None else _INTL_PICK[int(r() * len(_INTL_PICK))]
        data = _INTL[country]
        form = data["forms"][int(r() * len(data["forms"]))]
        if like is not None:
            name = like.name
        elif r() < 0.8:
            head, tail = data["surname_parts"]
            founder = (
                data["last"][int(r() * len(data["last"]))]
                if r() < 0.3
                else head[int(r() * len(head))] + tail[int(r() * len(tail))]
            )
            name = f"{founder} {data['words'][int(r() * len(data['words']))]}"
        else:
            name = f"{_INTL_ORG_LATIN[int(r() * len(_INTL_ORG_LATIN))]} "
            name += data["words"][int(r() * len(data["words"]))]
        n = self._p_tax(self._next())
        vat = data["vat"]
        ids = (
            [("OTHER:US-EIN", f"{10 + n % 89}-{n % 10**7:07d}")]
            if vat == "US-EIN"
            else [("OTHER:EU-VAT" if vat != "GB" else "OTHER:GB-VAT", f"{vat}{n:09d}")]
        )
        phones = [self._intl_mobile(country, r)]
        domain = "".join(ch for ch in name.lower() if ch.isascii() and ch.isalnum()) + f"{n % 100}.com"
        emails = [self._email(r, ("info", "contact", "office", "hello")[int(r() * 4)], domain)] if r() < 0.85 else []
        street = data["streets"][int(r() * len(data["streets"]))]
        address = _intl_address(r, country, street[0], data) if r() < 0.9 else None
        return _Org(country, name, form, form, form, phones, emails, ids, address, street[1])

    def _org_copy(self, r: _Rnd, o: _Org, cluster: int, pid: str) -> RawParty:
        name = o.name
        russian = o.country == "RU"
        if russian and r() < 0.1:
            name = latin_spelling(name, _SYSTEMS[int(r() * len(_SYSTEMS))])
            form = o.form_latin
            legal, short = f"{name} {form}", f"{name} {form}"
        else:
            if r() < 0.08:
                name = _typo(r, name)
            if r() < 0.08:
                name = name.upper()
            q = r()
            quoted = f"«{name}»" if q < 0.5 else f'"{name}"' if q < 0.8 else name
            x = r()
            if not russian:
                legal = short = f"{name} {o.form}" if x < 0.8 else name
            elif x < 0.4:
                legal, short = f"{o.form_full} {quoted}", f"{o.form} {quoted}"
            elif x < 0.7:
                legal, short = f"{o.form} {quoted}", ""
            elif x < 0.85:
                legal, short = f"{quoted} {o.form}", ""
            else:
                legal, short = name, ""
            form = o.form if r() < 0.6 else ""
        return RawParty(
            party_id=pid,
            cluster=cluster,
            kind="organization",
            legal_name=legal,
            short_name=short,
            legal_form=form,
            phones=self._phones_copy(r, o.phones, o.country),
            emails=self._emails_copy(r, o.emails),
            identifiers=self._ids_copy(r, o.ids, keep=0.75),
            addresses=self._address_copy(r, o.address, o.street_alt),
            country=o.country,
        )

    # -- copies of contact data -------------------------------------------------------------------------

    def _phones_copy(self, r: _Rnd, phones: list[str], country: str) -> list[str]:
        out: list[str] = []
        for phone in phones:
            x = r()
            if x < 0.1:
                continue
            if x < 0.15:
                phone = self._ru_mobile(r) if country == "RU" else self._intl_mobile(country, r)
            elif x < 0.17:
                pos = len(phone) - 1 - int(r() * 6)
                phone = phone[:pos] + str((int(phone[pos]) + 1 + int(r() * 9)) % 10) + phone[pos + 1 :]
            out.append(_phone_format(r, phone, country))
        return out

    def _emails_copy(self, r: _Rnd, emails: list[str]) -> list[str]:
        out: list[str] = []
        for email in emails:
            x = r()
            if x < 0.25:
                continue
            local, domain = email.split("@")
            if x < 0.29:
                local = f"{local}{int(r() * 100)}"
                email = self._email(r, local, domain)
            elif x < 0.39:
                email = email.upper() if r() < 0.3 else local.capitalize() + "@" + domain.upper()
            elif x < 0.44:
                if domain == "gmail.com":
                    email = local.replace(".", "") + "+shop@" + domain
            elif x < 0.46:
                email = _typo(r, local) + "@" + domain
            out.append(email)
        return out

    def _ids_copy(self, r: _Rnd, ids: list[tuple[str, str]], keep: float = 0.55) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for id_type, value in ids:
            if r() >= keep:
                continue
            if id_type == "PASSPORT" or id_type.endswith("PASSPORT"):
                if r() < 0.1:  # a newer passport
                    value = value[:-6] + _digits(r, 6)
                elif r() < 0.02:
                    value = _typo_digits(r, value)
            if id_type.startswith("OTHER") and r() < 0.3:
                value = " ".join(value[i : i + 3] for i in range(0, len(value), 3))
            if id_type in ("INN", "SNILS") and r() < 0.3:
                value = "-".join(value[i : i + 3] for i in range(0, len(value), 3))
            out.append((id_type, value))
        return out

    def _address_copy(self, r: _Rnd, address: dict[str, str] | None, alt: str) -> list[Any]:
        if address is None or r() < 0.35:
            return []
        a = dict(address)
        if r() < 0.06:  # moved: another house (the flat number changes too)
            a["house"] = str(int(a["house"].split("к")[0]) + 1 + int(r() * 30))
        if alt and r() < 0.4:
            a["street"] = alt
        if r() < 0.03:
            a["street"] = _typo(r, a["street"])
        if a["country_code"] == "RU" and r() < 0.5:
            if r() < 0.3:
                a["postal_code"] = ""
            return [a]
        return [_address_text(r, a)]

    # -- the register -------------------------------------------------------------------------------------

    def generate(self, count: int) -> list[RawParty]:
        """``count`` records: about 30% of parties have 1-3 extra copies; ids shuffled; clusters labelled."""
        rng = self.rng
        r = rng.random
        out: list[RawParty] = []
        cluster = 0
        last_person: _Person | None = None
        last_org: _Org | None = None
        while len(out) < count:
            cluster += 1
            x = r()
            copies = 1 if x < 0.7 else 2 if x < 0.9 else 3 if x < 0.97 else 4
            if r() < 0.82:
                russian = r() < 0.75
                relative = last_person if last_person is not None and r() < 0.08 else None
                if relative is not None and (relative.country == "RU") != russian:
                    relative = None
                p = self._ru_person(r, relative) if russian else self._intl_person(r, relative)
                if relative is not None:
                    _share_household(r, p, relative)
                last_person = p
                for _ in range(min(copies, count - len(out))):
                    out.append(self._person_copy(r, p, cluster, ""))
            else:
                russian = r() < 0.75
                namesake = last_org if last_org is not None and r() < 0.05 else None
                if namesake is not None and (namesake.country == "RU") != russian:
                    namesake = None
                o = self._ru_org(r, namesake) if russian else self._intl_org(r, namesake)
                last_org = o
                for _ in range(min(copies, count - len(out))):
                    out.append(self._org_copy(r, o, cluster, ""))
        rng.shuffle(out)
        for i, party in enumerate(out):
            party.party_id = f"{'P' if party.kind == 'person' else 'O'}{i}"
        return out


def _share_household(r: _Rnd, p: _Person, relative: _Person) -> None:
    """A relative lives at the same address and sometimes shares the home phone or a family mailbox."""
    p.address = relative.address
    if relative.phones and r() < 0.3:
        p.phones = [relative.phones[0], *p.phones[1:]]
    if relative.emails and r() < 0.1:
        p.emails = [relative.emails[0]]
    if r() < 0.01 and relative.birth is not None:  # twins
        p.birth = relative.birth


def _address_text(r: _Rnd, a: dict[str, str]) -> str:
    """An address typed as one line, the way each country writes it."""
    country, street, house, city, postal = a["country_code"], a["street"], a["house"], a["city"], a["postal_code"]
    if country == "RU":
        flat = a.get("flat", "")
        flat = (f", {flat}" if flat.startswith("оф") else f", кв. {flat}") if flat else ""
        prefix = f"{postal}, " if postal and r() < 0.5 else ""
        town = f"г. {city}" if r() < 0.5 else city
        return f"{prefix}{town}, {street}, д. {house}{flat}"
    if country in ("DE", "ES", "IT"):
        return f"{street} {house}, {postal} {city}"
    return f"{house} {street}, {city} {postal}"


def _intl_address(r: _Rnd, country: str, street: str, data: dict[str, Any]) -> dict[str, str]:
    city, postal = data["cities"][int(r() * len(data["cities"]))]
    return {"country_code": country, "street": street, "house": str(1 + int(r() * 150)), "city": city,
            "postal_code": postal}  # fmt: skip


def _date_typo(r: _Rnd, d: date) -> date:
    text = f"{d.year:04d}{d.month:02d}{d.day:02d}"
    for _ in range(10):
        pos = 2 + int(r() * 6)
        candidate = text[:pos] + str(int(r() * 10)) + text[pos + 1 :]
        try:
            new = date(int(candidate[:4]), int(candidate[4:6]), int(candidate[6:]))
        except ValueError:
            continue
        if new != d:
            return new
    return d


def _typo_digits(r: _Rnd, value: str) -> str:
    positions = [i for i, ch in enumerate(value) if ch.isdigit()]
    pos = positions[int(r() * len(positions))]
    return value[:pos] + str((int(value[pos]) + 1) % 10) + value[pos + 1 :]


def _phone_format(r: _Rnd, e164: str, country: str) -> str:
    """The number as people type it: international with spaces, national with the trunk prefix, bare."""
    x = r()
    if country == "RU" or e164.startswith("+7"):
        n = e164[2:]
        if x < 0.25:
            return e164
        if x < 0.5:
            return f"8 ({n[:3]}) {n[3:6]}-{n[6:8]}-{n[8:]}"
        if x < 0.7:
            return f"+7 {n[:3]} {n[3:6]}-{n[6:8]}-{n[8:]}"
        if x < 0.85:
            return f"8{n}"
        return f"{n[:3]} {n[3:6]} {n[6:]}"
    cc = _INTL[country]["cc"]
    national = e164[1 + len(cc) :]
    if x < 0.3:
        return e164
    if x < 0.6:
        return f"+{cc} {national[:3]} {national[3:6]} {national[6:]}"
    if x < 0.8:
        return f"011 {cc} {national}" if country == "US" else f"00{cc} {national}"
    trunk = _INTL[country]["trunk"]
    if country == "US":
        return f"({national[:3]}) {national[3:6]}-{national[6:]}"
    return f"{trunk}{national[:3]} {national[3:]}"


def true_pairs(parties: list[RawParty]) -> set[tuple[str, str]]:
    """Every pair of party ids in the same true cluster, as (smaller, larger)."""
    by_cluster: dict[int, list[str]] = {}
    for p in parties:
        by_cluster.setdefault(p.cluster, []).append(p.party_id)
    pairs: set[tuple[str, str]] = set()
    for ids in by_cluster.values():
        ids.sort()
        for i, a in enumerate(ids):
            for b in ids[i + 1 :]:
                pairs.add((a, b))
    return pairs
