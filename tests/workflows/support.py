"""Helpers shared by the workflow tests: parties created through the real service's API."""

from __future__ import annotations

import uuid

from google.protobuf import field_mask_pb2

from crm.common.v1 import common_pb2
from crm.parties.v1 import parties_pb2 as pb
from crm.parties.v1 import parties_pb2_grpc

CTX = common_pb2.ChangeContext(actor="user:test", source="tests", reason="test")


async def create_person(parties: parties_pb2_grpc.PartiesServiceStub, *, renamed: bool = False) -> pb.Party:
    """A person known since 2020; with renamed=True the last name changes today, so it has two versions."""
    resp = await parties.CreateParty(
        pb.CreatePartyRequest(
            request_id=f"wf-{uuid.uuid4()}",
            person=pb.Person(
                name=pb.PersonName(last_name="Смирнова", first_name="Анна", patronymic="Сергеевна"),
                gender=pb.GENDER_FEMALE,
                birth_date=common_pb2.Date(year=1990, month=3, day=14),
            ),
            contact_points=[pb.ContactPoint(email=f"anna.{uuid.uuid4().hex[:8]}@example.org", primary=True)],
            valid_from=common_pb2.Date(year=2020, month=1, day=1),
            context=CTX,
        )
    )
    party = resp.party
    if renamed:
        upd = await parties.UpdateParty(
            pb.UpdatePartyRequest(
                party_id=party.party_id,
                person=pb.Person(name=pb.PersonName(last_name="Кузнецова")),
                update_mask=field_mask_pb2.FieldMask(paths=["name.last_name"]),
                context=CTX,
            )
        )
        party = upd.party
    return party


async def get_party(parties: parties_pb2_grpc.PartiesServiceStub, party_id: str) -> pb.Party:
    return (await parties.GetParty(pb.GetPartyRequest(party_id=party_id))).party


async def history(parties: parties_pb2_grpc.PartiesServiceStub, party_id: str, field: str) -> list[pb.HistoryEntry]:
    resp = await parties.GetFieldHistory(pb.GetFieldHistoryRequest(party_id=party_id, field=field))
    return list(resp.entries)
