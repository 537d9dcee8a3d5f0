"""DuplicateReviewWorkflow on the real Temporal dev server: the update validator refuses bad decisions with
their reason before anything is recorded, stewards find cases by party id and kind through the search
attributes (what the Temporal UI's filter does), and a case closed elsewhere ends its workflow at the next
deadline. The SLAs are seconds here, so real timers fire within the test."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import pytest
import pytest_asyncio
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError

from crm.common.v1 import common_pb2
from crm.parties.v1 import parties_pb2 as pb
from crm.parties.v1 import parties_pb2_grpc
from crmctl.infra import LocalTemporal
from tests.conftest import make_settings
from workflows.worker import run_worker

STEWARD = common_pb2.ChangeContext(actor="user:steward", source="tests", reason="reviewed")
_rng = random.Random(23)


@dataclass
class Stack:
    client: Client
    parties: parties_pb2_grpc.PartiesServiceStub


@pytest_asyncio.fixture(scope="module")
async def stack(parties_db_url: str, temporal_server: LocalTemporal) -> AsyncIterator[Stack]:
    from services.parties.main import start

    queue = f"review-dev-{uuid.uuid4().hex[:8]}"
    common = {"temporal_address": temporal_server.address, "temporal_task_queue": queue}
    service_settings = make_settings(
        parties_db_url,
        **common,
        duplicate_review_reminder_hours=3 / 3600,  # three seconds
        duplicate_review_escalation_hours=600 / 3600,
        duplicate_match_threshold=200.0,
        duplicate_possible_threshold=0.0,
    )
    grpc_app, _ = await start(service_settings, port=0)
    address = f"127.0.0.1:{grpc_app.port}"
    stop = asyncio.Event()
    worker = asyncio.create_task(
        run_worker(make_settings(parties_db_url, **common, parties_address=address), stop=stop)
    )
    client = await Client.connect(temporal_server.address, namespace=temporal_server.namespace)
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            yield Stack(client, parties_pb2_grpc.PartiesServiceStub(channel))
    finally:
        stop.set()
        await asyncio.wait_for(worker, timeout=20)
        await grpc_app.stop(grace=1)


async def open_case(parties: parties_pb2_grpc.PartiesServiceStub) -> pb.DuplicateCase:
    last = "".join(_rng.choice("бвгдклмнпрст") + _rng.choice("аеиоу") for _ in range(3)).capitalize() + "ова"

    def who(patronymic: str) -> pb.Person:
        return pb.Person(
            name=pb.PersonName(last_name=last, first_name="Ольга", patronymic=patronymic),
            birth_date=common_pb2.Date(year=1988, month=2, day=9),
        )

    await parties.CreateParty(
        pb.CreatePartyRequest(request_id=str(uuid.uuid4()), person=who("Ивановна"), context=STEWARD)
    )
    resp = await parties.CreateParty(
        pb.CreatePartyRequest(request_id=str(uuid.uuid4()), person=who(""), context=STEWARD)
    )
    (case,) = resp.duplicate_cases
    assert case.workflow_id
    return case


async def case_status(parties: parties_pb2_grpc.PartiesServiceStub, case_id: str) -> int:
    return (await parties.GetDuplicateCase(pb.GetDuplicateCaseRequest(case_id=case_id))).case.status


async def test_the_validator_refuses_bad_decisions_with_their_reason(stack: Stack) -> None:
    case = await open_case(stack.parties)
    handle = stack.client.get_workflow_handle(case.workflow_id)
    good = {"case_id": case.case_id, "resolution": "merge", "survivor_party_id": case.party_id, "actor": "user:x"}
    for bad, reason in (
        ({**good, "survivor_party_id": str(uuid.uuid4())}, "one of the case's two parties"),
        ({**good, "resolution": "delete"}, "resolution must be"),
        ({**good, "case_id": str(uuid.uuid4())}, "this workflow follows case"),
        ({**good, "actor": ""}, "must be named"),
    ):
        with pytest.raises(WorkflowUpdateFailedError) as failed:
            await handle.execute_update("decide", bad)
        assert reason in str(failed.value.cause)
    assert await case_status(stack.parties, case.case_id) == pb.DUPLICATE_CASE_STATUS_OPEN
    applied = await handle.execute_update("decide", good)
    assert applied["status"] == "merged"
    # The applied decision ended the review: the workflow takes no further decision.
    with pytest.raises(RPCError, match="already completed"):
        await handle.execute_update("decide", good)
    assert await case_status(stack.parties, case.case_id) == pb.DUPLICATE_CASE_STATUS_MERGED
    assert (await handle.result())["status"] == "merged"


async def test_cases_are_found_by_party_and_kind(stack: Stack) -> None:
    case = await open_case(stack.parties)
    query = f"CrmKind = 'duplicate-review' AND CrmPartyIds = '{case.party_id}'"
    deadline = time.monotonic() + 15
    found: list[str] = []
    while time.monotonic() < deadline and not found:
        found = [w.id async for w in stack.client.list_workflows(query)]
        await asyncio.sleep(0.3)
    assert found == [case.workflow_id]


async def test_a_case_closed_elsewhere_ends_its_review_at_the_next_deadline(stack: Stack) -> None:
    case = await open_case(stack.parties)
    third = await stack.parties.CreateParty(
        pb.CreatePartyRequest(
            request_id=str(uuid.uuid4()), person=pb.Person(name=pb.PersonName(last_name="Сторонний")), context=STEWARD
        )
    )
    await stack.parties.MergeParties(
        pb.MergePartiesRequest(
            request_id=str(uuid.uuid4()),
            survivor_party_id=third.party.party_id,
            merged_party_id=case.party_id,
            context=STEWARD,
        )
    )
    assert await case_status(stack.parties, case.case_id) == pb.DUPLICATE_CASE_STATUS_WITHDRAWN
    result = await asyncio.wait_for(stack.client.get_workflow_handle(case.workflow_id).result(), timeout=30)
    assert result["status"] == "withdrawn"
