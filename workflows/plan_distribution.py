"""The distribution of individual plan documents to a whole plan population: one workflow per period
and plan (`plan-distribution/<period>/<plan>`), started by the commissions service's
DistributePlanDocuments with the participants the plan applies to.

Participants are handled in batches by the `submit_plan_batch` activity (draft the document, submit
it: the service starts that participant's approval workflow), at most `concurrency` batches at a
time, so ten thousand participants are a hundred activities in this workflow's history rather than
tens of thousands of events, and the service and Temporal see a bounded load. The "progress" query
answers how many are submitted and which failed, with the reason.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, TypedDict

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from workflows.activities import NON_RETRYABLE_TYPES
    from workflows.commissions_activities import BatchInput, CommissionsActivities

WORKFLOW_NAME = "PlanDistributionWorkflow"
MAX_FAILURES_KEPT = 200
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=2),
    maximum_attempts=0,
    non_retryable_error_types=NON_RETRYABLE_TYPES,
)


def workflow_id(period: str, plan_id: str) -> str:
    return f"plan-distribution/{period}/{plan_id}"


class DistributionInput(TypedDict):
    period: str
    plan_id: str
    author: str
    participant_ids: list[str]
    batch_size: int
    concurrency: int


@workflow.defn(name=WORKFLOW_NAME)
class PlanDistributionWorkflow:
    @workflow.init
    def __init__(self, inp: DistributionInput) -> None:
        self._total = len(inp["participant_ids"])
        self._submitted = 0
        self._failed = 0
        self._failures: list[str] = []
        self._status = "running"

    @workflow.run
    async def run(self, inp: DistributionInput) -> dict[str, Any]:
        ids = inp["participant_ids"]
        size = max(1, int(inp["batch_size"]))
        batches = [ids[i : i + size] for i in range(0, len(ids), size)]
        slots = asyncio.Semaphore(max(1, int(inp["concurrency"])))
        prefix = f"{workflow.info().workflow_id}/{workflow.info().run_id}"

        async def one(n: int, batch: list[str]) -> None:
            async with slots:
                result = await workflow.execute_activity_method(
                    CommissionsActivities.submit_plan_batch,
                    BatchInput(
                        request_prefix=f"{prefix}/{n}",
                        period=inp["period"],
                        author=inp["author"],
                        participant_ids=batch,
                    ),
                    start_to_close_timeout=timedelta(minutes=10),
                    heartbeat_timeout=timedelta(minutes=1),
                    retry_policy=RETRY,
                )
            self._submitted += result["submitted"]
            self._failed += len(result["failures"])
            room = MAX_FAILURES_KEPT - len(self._failures)
            self._failures += result["failures"][: max(room, 0)]

        await asyncio.gather(*(one(n, b) for n, b in enumerate(batches)))
        self._status = "completed"
        return self.progress()

    @workflow.query(name="progress")
    def progress(self) -> dict[str, Any]:
        return {
            "total": self._total,
            "submitted": self._submitted,
            "failed": self._failed,
            "failures": list(self._failures),
            "status": self._status,
        }
