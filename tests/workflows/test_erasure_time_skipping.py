"""PartyErasureWorkflow on the time-skipping test server, with the real activity calling the real parties
service: a 30-day grace period passes in simulated time.

The Java test server rejects custom search attributes that are not registered ("search attribute CrmStatus
is not defined"), both at start and on upsert, but it implements OperatorService.AddSearchAttributes, so
the module registers the platform's attributes first, like `crm up` does on the dev server. It has no
visibility store (ListWorkflowExecutions is unimplemented): listing by attribute is tested on the dev server.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ActivityError, ApplicationError, RetryState
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from crm.parties.v1 import parties_pb2 as pb
from crmctl.infra import free_port
from tests.conftest import make_settings
from tests.workflows.support import create_person, get_party, history, time_skipping_env
from workflows.activities import AnonymizeInput, PartiesActivities
from workflows.erasure import WORKFLOW_NAME
from workflows.worker import ALL_WORKFLOWS, build_activities

TEST_SERVER = Path(sys.executable).parent / "temporal-test-server"
GRACE = timedelta(days=30)
PARTY_ID = SearchAttributeKey.for_keyword("CrmPartyId")
STATUS = SearchAttributeKey.for_keyword("CrmStatus")
KIND = SearchAttributeKey.for_keyword("CrmKind")


@pytest_asyncio.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    async with time_skipping_env() as environment:
        yield environment


@pytest_asyncio.fixture(scope="module")
async def task_queue(env: WorkflowEnvironment, parties_server: str, parties_db_url: str) -> AsyncIterator[str]:
    settings = make_settings(parties_db_url, parties_address=parties_server)
    activities, holders = build_activities(settings)
    queue = f"erasure-ts-{uuid.uuid4().hex[:8]}"
    async with Worker(env.client, task_queue=queue, workflows=list(ALL_WORKFLOWS), activities=activities):
        yield queue
    for holder in holders:
        await holder.close()


async def start_erasure(
    env: WorkflowEnvironment,
    queue: str,
    party_id: str,
    requested_at: datetime,
    grace: timedelta = GRACE,
    *,
    with_search_attributes: bool = True,
) -> WorkflowHandle[Any, Any]:
    """Starts the workflow exactly as the parties service does: by name, with a dict."""
    attributes = TypedSearchAttributes(
        [
            SearchAttributePair(PARTY_ID, party_id),
            SearchAttributePair(STATUS, "waiting_grace_period"),
            SearchAttributePair(KIND, "party-erasure"),
        ]
    )
    return await env.client.start_workflow(
        WORKFLOW_NAME,
        {
            "party_id": party_id,
            "grace_seconds": grace.total_seconds(),
            "actor": "user:subject",
            "source": "tests",
            "reason": "GDPR art. 17 request",
            "requested_at": requested_at.isoformat(),
        },
        id=f"party-erasure/{party_id}",
        task_queue=queue,
        search_attributes=attributes if with_search_attributes else TypedSearchAttributes.empty,
    )


async def crm_status(handle: WorkflowHandle[Any, Any]) -> str | None:
    return (await handle.describe()).typed_search_attributes.get(STATUS)


async def test_grace_period_passes_then_party_is_erased(env: WorkflowEnvironment, task_queue: str, parties) -> None:
    party = await create_person(parties, renamed=True)
    before = await history(parties, party.party_id, "person.name.last_name")
    assert len(before) >= 2
    started = await env.get_current_time()

    handle = await start_erasure(env, task_queue, party.party_id, started)
    result = await handle.result()

    assert await env.get_current_time() >= started + GRACE  # the 30 days passed, in simulated time
    assert result["state"] == "completed"
    assert result["erased_now"] is True
    assert result["records_anonymized"] > 0
    assert datetime.fromisoformat(result["scheduled_for"]) == started + GRACE
    assert result["completed_at"]
    assert await crm_status(handle) == "completed"

    erased = await get_party(parties, party.party_id)
    assert erased.status == pb.PARTY_STATUS_ERASED
    assert erased.display_name == "[erased]"
    assert erased.person.name.last_name == "[erased]"
    assert erased.person.name.first_name == "[erased]"
    after = await history(parties, party.party_id, "person.name.last_name")
    assert len(after) == len(before)
    for old, new in zip(before, after, strict=True):
        assert new.value_json == '"[erased]"'
        assert new.validity == old.validity
        assert new.recorded_at == old.recorded_at
        assert new.superseded_at == old.superseded_at


async def test_cancel_during_grace_period_leaves_party_untouched(
    env: WorkflowEnvironment, task_queue: str, parties
) -> None:
    party = await create_person(parties)
    handle = await start_erasure(env, task_queue, party.party_id, await env.get_current_time())
    assert (await handle.query("status"))["state"] == "waiting_grace_period"

    await handle.signal("cancel", "the subject withdrew the request")
    result = await handle.result()

    assert result["state"] == "cancelled"
    assert result["cancel_reason"] == "the subject withdrew the request"
    assert "completed_at" not in result
    assert await crm_status(handle) == "cancelled"
    untouched = await get_party(parties, party.party_id)
    assert untouched.status == pb.PARTY_STATUS_ACTIVE
    assert untouched.person.name.last_name == "Смирнова"
    assert untouched.version == party.version


async def test_status_query_while_waiting(env: WorkflowEnvironment, task_queue: str, parties) -> None:
    party = await create_person(parties)
    requested = await env.get_current_time() - timedelta(seconds=3)  # the service's clock ran a bit ahead
    # Started without search attributes: the workflow must not try to upsert CrmStatus then.
    handle = await start_erasure(env, task_queue, party.party_id, requested, with_search_attributes=False)

    status = await handle.query("status")

    assert status["state"] == "waiting_grace_period"
    assert status["party_id"] == party.party_id
    assert datetime.fromisoformat(status["scheduled_for"]) == requested + GRACE
    await handle.signal("cancel", "")
    assert (await handle.result())["state"] == "cancelled"
    assert await crm_status(handle) is None


async def test_anonymize_activity_is_idempotent(parties_server: str, parties_db_url: str, parties) -> None:
    party = await create_person(parties)
    activities = PartiesActivities(make_settings(parties_db_url, parties_address=parties_server))
    request = AnonymizeInput(party_id=party.party_id, erasure_id=f"party-erasure/{party.party_id}", reason="test")
    try:
        first = await ActivityEnvironment().run(activities.anonymize_party, request)
        again = await ActivityEnvironment().run(activities.anonymize_party, request)  # e.g. a retry
    finally:
        await activities.close()

    assert first["erased_now"] is True
    assert again["erased_now"] is False
    assert again["records_anonymized"] == first["records_anonymized"]
    assert again["erased_at"] == first["erased_at"]


async def test_unknown_party_fails_without_retrying(env: WorkflowEnvironment, task_queue: str) -> None:
    handle = await start_erasure(env, task_queue, str(uuid.uuid4()), await env.get_current_time(), timedelta(0))

    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()

    activity_error = failure.value.cause.cause
    assert isinstance(activity_error, ActivityError)
    assert activity_error.retry_state == RetryState.NON_RETRYABLE_FAILURE
    assert isinstance(activity_error.cause, ApplicationError)
    assert activity_error.cause.type == "NOT_FOUND"
    assert await crm_status(handle) == "failed"
    assert (await handle.query("status"))["state"] == "failed"


async def test_cancel_after_grace_period_is_ignored(env: WorkflowEnvironment, parties_db_url: str) -> None:
    """Once the grace period is over the anonymization may already be committed: a late cancel changes
    nothing (the service then answers FAILED_PRECONDITION). The activity here cannot reach the service,
    so the workflow stays in the retrying anonymization step."""
    unreachable = make_settings(parties_db_url, parties_address=f"127.0.0.1:{free_port()}")
    activities, holders = build_activities(unreachable)
    queue = f"erasure-ts-{uuid.uuid4().hex[:8]}"
    async with Worker(env.client, task_queue=queue, workflows=list(ALL_WORKFLOWS), activities=activities):
        handle = await start_erasure(env, queue, str(uuid.uuid4()), await env.get_current_time(), timedelta(0))
        for _ in range(100):  # until the anonymization has been attempted at least once
            pending = (await handle.describe()).raw_description.pending_activities
            if pending and pending[0].attempt >= 2:
                break
            await asyncio.sleep(0.1)
        assert pending and pending[0].last_failure.application_failure_info.type == "UNAVAILABLE"

        await handle.signal("cancel", "too late")

        status = await handle.query("status")
        assert status["state"] == "waiting_grace_period"
        assert "cancel_reason" not in status
        await handle.terminate("test over")
    for holder in holders:
        await holder.close()


async def test_temporal_cancellation_counts_as_cancel(env: WorkflowEnvironment, task_queue: str, parties) -> None:
    """Cancelling the execution (Temporal UI or CLI) during the grace period ends it like the signal does."""
    party = await create_person(parties)
    handle = await start_erasure(env, task_queue, party.party_id, await env.get_current_time())
    assert (await handle.query("status"))["state"] == "waiting_grace_period"

    await handle.cancel()

    result = await handle.result()
    assert result["state"] == "cancelled"
    assert result["cancel_reason"] == "workflow cancellation requested"
    assert (await get_party(parties, party.party_id)).status == pb.PARTY_STATUS_ACTIVE
