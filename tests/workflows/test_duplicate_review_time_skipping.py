"""DuplicateReviewWorkflow on the time-skipping test server, started by the real parties service (its
Temporal client points at the test server) and applying decisions through the real service: a reminder
after two days, an escalation after five, and only a senior steward's decision accepted after that.
(The update validator's refusals, the search attributes and a case closed elsewhere are tested on the dev
server: the Java test server answers a refused update with "update not found".)"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import grpc
import pytest
import pytest_asyncio
from temporalio.common import SearchAttributeKey
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from crm.common.v1 import common_pb2
from crm.parties.v1 import parties_pb2 as pb
from crm.parties.v1 import parties_pb2_grpc
from tests.conftest import make_settings
from tests.workflows.support import time_skipping_env
from workflows.worker import ALL_WORKFLOWS, build_activities

STATUS = SearchAttributeKey.for_keyword("CrmStatus")
PARTY_IDS = SearchAttributeKey.for_keyword_list("CrmPartyIds")
STEWARD = common_pb2.ChangeContext(actor="user:steward", source="tests", reason="reviewed")
_rng = random.Random(11)


@dataclass
class Stack:
    env: WorkflowEnvironment
    parties: parties_pb2_grpc.PartiesServiceStub


@pytest_asyncio.fixture(scope="module")
async def stack(parties_db_url: str) -> AsyncIterator[Stack]:
    from services.parties.main import start

    async with time_skipping_env() as env:
        queue = f"review-{uuid.uuid4().hex[:8]}"
        target = env.client.service_client.config.target_host
        service_settings = make_settings(
            parties_db_url,
            temporal_address=target,
            temporal_namespace=env.client.namespace,
            temporal_task_queue=queue,
            duplicate_review_reminder_hours=48,
            duplicate_review_escalation_hours=120,
            # Every match is a possible duplicate here, so each pair the tests make opens a case.
            duplicate_match_threshold=200.0,
            duplicate_possible_threshold=0.0,
        )
        grpc_app, _ = await start(service_settings, port=0)
        address = f"127.0.0.1:{grpc_app.port}"
        activities, holders = build_activities(make_settings(parties_db_url, parties_address=address))
        try:
            async with (
                Worker(env.client, task_queue=queue, workflows=list(ALL_WORKFLOWS), activities=activities),
                grpc.aio.insecure_channel(address) as channel,
            ):
                yield Stack(env, parties_pb2_grpc.PartiesServiceStub(channel))
        finally:
            for holder in holders:
                await holder.close()
            await grpc_app.stop(grace=1)


def _surname() -> str:
    return "".join(_rng.choice("бвгдклмнпрст") + _rng.choice("аеиоу") for _ in range(3)).capitalize() + "ин"


async def open_case(parties: parties_pb2_grpc.PartiesServiceStub) -> pb.DuplicateCase:
    """Two records of one woman, the second without her patronymic: a possible duplicate."""
    last = _surname()

    def who(patronymic: str) -> pb.Person:
        return pb.Person(
            name=pb.PersonName(last_name=last, first_name="Мария", patronymic=patronymic),
            birth_date=common_pb2.Date(year=1992, month=8, day=14),
        )

    await parties.CreateParty(
        pb.CreatePartyRequest(request_id=str(uuid.uuid4()), person=who("Олеговна"), context=STEWARD)
    )
    resp = await parties.CreateParty(
        pb.CreatePartyRequest(request_id=str(uuid.uuid4()), person=who(""), context=STEWARD)
    )
    (case,) = resp.duplicate_cases
    assert case.workflow_id == f"duplicate-review/{'/'.join(sorted([case.party_id, case.other_party_id]))}"
    return case


async def get_case(parties: parties_pb2_grpc.PartiesServiceStub, case_id: str) -> pb.DuplicateCase:
    return (await parties.GetDuplicateCase(pb.GetDuplicateCaseRequest(case_id=case_id))).case


async def settled(stack: Stack, case_id: str, field: str) -> pb.DuplicateCase:
    """The case once the workflow's SLA activity has recorded `field` (it runs just after the timer)."""
    for _ in range(100):
        case = await get_case(stack.parties, case_id)
        if case.HasField(field):
            return case
        await asyncio.sleep(0.1)
    raise AssertionError(f"{field} was never recorded on case {case_id}")


def decide(case: pb.DuplicateCase, *, senior: bool = False, **kw: object) -> pb.DecideDuplicateCaseRequest:
    kw.setdefault("resolution", pb.DUPLICATE_CASE_RESOLUTION_MERGE)
    if kw["resolution"] == pb.DUPLICATE_CASE_RESOLUTION_MERGE:
        kw.setdefault("survivor_party_id", case.other_party_id)
    return pb.DecideDuplicateCaseRequest(case_id=case.case_id, senior=senior, context=STEWARD, **kw)  # type: ignore[arg-type]


async def test_a_decision_within_the_sla_is_applied_and_ends_the_review(stack: Stack) -> None:
    case = await open_case(stack.parties)
    handle = stack.env.client.get_workflow_handle(case.workflow_id)
    described = await handle.describe()
    assert sorted(described.typed_search_attributes.get(PARTY_IDS) or []) == sorted(
        [case.party_id, case.other_party_id]
    )
    decided = await stack.parties.DecideDuplicateCase(
        decide(case, resolution=pb.DUPLICATE_CASE_RESOLUTION_NOT_DUPLICATE)
    )
    assert decided.case.status == pb.DUPLICATE_CASE_STATUS_NOT_DUPLICATE and decided.case.decided_by == "user:steward"
    result = await handle.result()
    assert result["status"] == "not_duplicate"
    assert (await handle.describe()).typed_search_attributes.get(STATUS) == "not_duplicate"
    assert not decided.case.HasField("reminded_at")


async def test_reminder_then_escalation_then_only_a_senior_decides(stack: Stack) -> None:
    case = await open_case(stack.parties)
    handle = stack.env.client.get_workflow_handle(case.workflow_id)
    await stack.env.sleep(timedelta(hours=49))
    reminded = await settled(stack, case.case_id, "reminded_at")
    assert not reminded.HasField("escalated_at")
    assert (await handle.describe()).typed_search_attributes.get(STATUS) == "reminded"

    await stack.env.sleep(timedelta(hours=72))
    await settled(stack, case.case_id, "escalated_at")
    listed = await stack.parties.ListDuplicateCases(pb.ListDuplicateCasesRequest(escalated_only=True))
    assert case.case_id in [c.case_id for c in listed.cases]

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stack.parties.DecideDuplicateCase(decide(case))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "senior steward" in (refused.value.details() or "")
    assert (await get_case(stack.parties, case.case_id)).status == pb.DUPLICATE_CASE_STATUS_OPEN

    merged = await stack.parties.DecideDuplicateCase(decide(case, senior=True))
    assert merged.case.status == pb.DUPLICATE_CASE_STATUS_MERGED and merged.case.merge_id
    assert (await handle.result())["status"] == "merged"
    tomb = await stack.parties.GetParty(pb.GetPartyRequest(party_id=case.party_id))
    assert tomb.party.party_id == case.other_party_id and tomb.merged_party_id == case.party_id
