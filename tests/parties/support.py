"""Helpers shared by the parties integration tests: request builders, valid identifier generators,
error assertions and row counts read straight from the module's database."""

from __future__ import annotations

import random
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import grpc
from stdnum.ru import inn as stdnum_inn
from stdnum.ru import ogrn as stdnum_ogrn

from crm.common.v1 import common_pb2
from crm.parties.v1 import parties_pb2 as pb
from crm_runtime.grpc_errors import existing_resource, field_violations
from crmctl.infra import LocalPostgres

TABLES = (
    "party",
    "fact",
    "item",
    "relationship",
    "vehicle",
    "mileage_reading",
    "attribute_definition",
    "role_type",
    "relationship_type",
    "change",
    "idempotency",
    "erasure_audit",
    "merge",
    "not_duplicate",
    "match_record",
    "match_key",
    "duplicate_case",
    "duplicate_override",
)
#: Derived from the history and rebuilt when it changes (the duplicate index): may shrink.
DERIVED = ("match_record", "match_key")

_rng = random.Random(20261125)


def d(value: date | str) -> common_pb2.Date:
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return common_pb2.Date(year=value.year, month=value.month, day=value.day)


def today() -> date:
    return datetime.now(UTC).date()


def days_ago(n: int) -> date:
    return today() - timedelta(days=n)


def rid(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def ctx(actor: str = "user:test", source: str = "pytest", reason: str = "") -> common_pb2.ChangeContext:
    return common_pb2.ChangeContext(actor=actor, source=source, reason=reason)


# -- valid identifiers (fresh values every call, so tests in one module never collide) --------------


def _digits(n: int) -> str:
    return "".join(str(_rng.randrange(10)) for _ in range(n))


def _region() -> str:
    return f"{_rng.randint(1, 99):02d}"


def person_inn() -> str:
    body = _region() + _digits(8)
    return body + stdnum_inn.calc_personal_check_digits(body)


def org_inn() -> str:
    body = _region() + _digits(7)
    return body + stdnum_inn.calc_company_check_digit(body)


def ogrn() -> str:
    body = "1" + f"{_rng.randint(2, 99):02d}" + _region() + _digits(7)
    return body + stdnum_ogrn.calc_check_digit(body + "0")


def ogrnip() -> str:
    body = "3" + f"{_rng.randint(4, 99):02d}" + _region() + _digits(9)
    return body + str(int(body) % 13 % 10)


def snils() -> str:
    body = f"{_rng.randint(1_001_999, 999_999_999):09d}"
    total = sum(int(c) * w for c, w in zip(body, range(9, 0, -1), strict=True))
    check = total if total < 100 else 0 if total in (100, 101) else total % 101
    return body + f"{0 if check == 100 else check:02d}"


def kpp() -> str:
    return _region() + f"{_rng.randint(1, 99):02d}" + "01" + f"{_rng.randint(1, 999):03d}"


def bad_check_digit(value: str) -> str:
    """The same number with its last digit changed, so only the check digit is wrong."""
    return value[:-1] + str((int(value[-1]) + 1) % 10)


_VIN_VALUES = {
    **{str(i): i for i in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
_VIN_ALPHABET = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"


def vin(wmi: str = "1HG") -> str:
    """A valid North American VIN (the check digit in position 9 is verified for these)."""
    body = wmi + "".join(_rng.choice(_VIN_ALPHABET) for _ in range(5)) + "0" + "A" + _digits(7)
    total = sum(_VIN_VALUES[c] * w for c, w in zip(body, _VIN_WEIGHTS, strict=True))
    check = "X" if total % 11 == 10 else str(total % 11)
    return body[:8] + check + body[9:]


def phone() -> str:
    """A fresh valid Moscow mobile number in E.164."""
    return "+7916" + _digits(7)


# -- request builders ---------------------------------------------------------------------------------


#: Birthdays given out, with every date a typo or a day/month swap away from one (as YYYYMMDD).
_taken_birthdays: set[str] = set()


def unique_birthday() -> str:
    """A birthday no other person of the session has, nor one a typo or a day/month swap away from it
    (the duplicate check reads those as the same birthday)."""
    for _attempt in range(100):
        day = date(1900, 1, 1) + timedelta(days=_rng.randrange(110 * 365))
        digits = day.strftime("%Y%m%d")
        if digits not in _taken_birthdays:
            break
    _taken_birthdays.add(day.strftime("%Y%d%m"))
    for i in range(len(digits)):
        _taken_birthdays.update(digits[:i] + c + digits[i + 1 :] for c in "0123456789")
    return day.isoformat()


def unique_surname() -> str:
    """A surname nobody else in the module has (letters only, as names must be)."""
    return "".join(_rng.choice("бвгдклмнпрстхч") + _rng.choice("аеиоу") for _ in range(4)).capitalize() + "ов"


def person(
    last: str | None = None,
    first: str = "Иван",
    patronymic: str = "Иванович",
    *,
    latin: tuple[str, str] | None = None,
    birth: str | None = "",
    gender: int = pb.GENDER_MALE,
) -> pb.Person:
    if birth == "":
        # A birthday of their own: people with the same name and birthday are the same person to the
        # register's duplicate check.
        birth = unique_birthday()
    # Likewise a surname of their own, unless the test names the person.
    last = unique_surname() if last is None else last
    msg = pb.Person(name=pb.PersonName(last_name=last, first_name=first, patronymic=patronymic), gender=gender)
    if latin:
        msg.latin_name.CopyFrom(pb.PersonName(last_name=latin[0], first_name=latin[1]))
    if birth:
        msg.birth_date.CopyFrom(d(birth))
    return msg


def create_person_req(**kw: Any) -> pb.CreatePartyRequest:
    profile = kw.pop("profile", None) or person()
    kw.setdefault("request_id", rid("person"))
    kw.setdefault("context", ctx())
    return pb.CreatePartyRequest(person=profile, **kw)


def create_org_req(name: str = "Ромашка", form: str = "ООО", **kw: Any) -> pb.CreatePartyRequest:
    kw.setdefault("request_id", rid("org"))
    kw.setdefault("context", ctx())
    return pb.CreatePartyRequest(organization=pb.Organization(legal_name=name, short_name=name, legal_form=form), **kw)


def create_group_req(name: str = "Клуб владельцев", **kw: Any) -> pb.CreatePartyRequest:
    kw.setdefault("request_id", rid("group"))
    kw.setdefault("context", ctx())
    group = pb.Group(name=name, description="Владельцы автомобилей")
    group.member_party_ids.extend(kw.pop("members", []))
    return pb.CreatePartyRequest(group=group, **kw)


def inn_id(value: str) -> pb.Identifier:
    return pb.Identifier(type=pb.IDENTIFIER_TYPE_INN, value=value)


async def new_person(parties: Any, **kw: Any) -> pb.Party:
    kw.setdefault("valid_from", d(days_ago(400)))
    return (await parties.CreateParty(create_person_req(**kw))).party


async def new_org(parties: Any, name: str = "Ромашка", **kw: Any) -> pb.Party:
    kw.setdefault("valid_from", d(days_ago(400)))
    return (await parties.CreateParty(create_org_req(name, **kw))).party


# -- error assertions ---------------------------------------------------------------------------------


async def rpc_error(call: Awaitable[Any], code: grpc.StatusCode) -> grpc.aio.AioRpcError:
    try:
        result = await call
    except grpc.aio.AioRpcError as err:
        assert err.code() == code, f"expected {code.name}, got {err.code().name}: {err.details()}"
        return err
    raise AssertionError(f"expected {code.name}, the call succeeded: {result}")


async def invalid(call: Awaitable[Any], *fields: str) -> list[tuple[str, str]]:
    """Awaits a call that must fail with INVALID_ARGUMENT naming each of `fields` (a violation's field
    equals it, or starts with it followed by "." or "["); returns the violations."""
    err = await rpc_error(call, grpc.StatusCode.INVALID_ARGUMENT)
    violations = field_violations(err)
    assert violations, f"INVALID_ARGUMENT without field violations: {err.details()}"
    for wanted in fields:
        assert any(f == wanted or f.startswith((wanted + ".", wanted + "[")) for f, _ in violations), (
            f"no violation for {wanted!r} in {violations}"
        )
    for f, reason in violations:
        assert f and reason, violations
    return violations


async def already_exists(call: Awaitable[Any]) -> str:
    err = await rpc_error(call, grpc.StatusCode.ALREADY_EXISTS)
    return existing_resource(err)


# -- the database behind the server -------------------------------------------------------------------


@dataclass
class Db:
    postgres: LocalPostgres
    name: str

    def sql(self, query: str) -> str:
        return self.postgres.psql(query, database=self.name)

    def scalar(self, query: str) -> int:
        return int(self.sql(query))

    def counts(self) -> dict[str, int]:
        query = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM parties.{t}" for t in TABLES)
        out: dict[str, int] = {}
        for line in self.sql(query).splitlines():
            table, count = line.split("|")
            out[table] = int(count)
        return out
