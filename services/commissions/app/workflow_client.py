"""Starting the commissions workflows and sending them decisions, with Temporal's errors turned into the
service's: a refused decision (the workflow's validator said why) is FAILED_PRECONDITION with that
reason; Temporal being unreachable is UNAVAILABLE."""

from __future__ import annotations

from typing import Any

from crm_runtime.errors import FailedPrecondition, NotFound, Unavailable
from crm_runtime.temporal import TemporalConnector


class WorkflowClient:
    def __init__(self, connect: TemporalConnector | None, task_queue: str) -> None:
        self._connect = connect
        self.task_queue = task_queue

    async def client(self) -> Any:
        if self._connect is None:
            raise Unavailable("the workflow engine is not configured")
        try:
            return await self._connect()
        except Exception as exc:  # connection refused, timeout, TLS...
            raise Unavailable(f"the workflow engine cannot be reached: {exc}") from exc

    async def start(
        self, name: str, arg: dict[str, Any], workflow_id: str, attributes: dict[str, str], *, reuse_running: bool
    ) -> bool:
        """Starts the workflow; False when one with this id is already running (and ``reuse_running``
        says that is fine), FAILED_PRECONDITION when it is not."""
        from temporalio.common import (
            SearchAttributeKey,
            SearchAttributePair,
            TypedSearchAttributes,
            WorkflowIDConflictPolicy,
        )
        from temporalio.exceptions import WorkflowAlreadyStartedError
        from temporalio.service import RPCError

        client = await self.client()
        pairs = [SearchAttributePair(SearchAttributeKey.for_keyword(k), v) for k, v in attributes.items()]
        try:
            await client.start_workflow(
                name,
                arg,
                id=workflow_id,
                task_queue=self.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                search_attributes=TypedSearchAttributes(pairs),
            )
        except WorkflowAlreadyStartedError:
            if reuse_running:
                return False
            raise FailedPrecondition(f"workflow {workflow_id} is already running") from None
        except RPCError as exc:
            raise Unavailable(f"the workflow engine refused to start {workflow_id}: {exc.message}") from exc
        return True

    async def update(self, workflow_id: str, name: str, payload: dict[str, Any]) -> Any:
        from temporalio.client import WorkflowUpdateFailedError
        from temporalio.service import RPCError, RPCStatusCode

        client = await self.client()
        try:
            return await client.get_workflow_handle(workflow_id).execute_update(name, payload)
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            message = getattr(cause, "message", None) or str(cause or exc)
            raise FailedPrecondition(message) from exc
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise NotFound(f"workflow {workflow_id} is not running") from exc
            raise Unavailable(f"workflow {workflow_id} could not be reached: {exc.message}") from exc

    async def query(self, workflow_id: str, name: str) -> tuple[Any, str]:
        """The query's answer and the workflow's status name (RUNNING, COMPLETED, FAILED...)."""
        from temporalio.service import RPCError, RPCStatusCode

        client = await self.client()
        handle = client.get_workflow_handle(workflow_id)
        try:
            described = await handle.describe()
            answer = await handle.query(name)
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise NotFound(f"no workflow {workflow_id}") from exc
            raise Unavailable(f"workflow {workflow_id} could not be reached: {exc.message}") from exc
        status = described.status.name if described.status is not None else "UNKNOWN"
        return answer, status
