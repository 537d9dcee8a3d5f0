"""A commissions world for the workflow tests, built through the real service's API, and a stack: the
commissions server whose Temporal client points at the given Temporal (time-skipping or dev server)
and a worker running every workflow with activities that call that server.

The organisation: director gleb (D1) > manager vera (M1) > representatives anna (R1) and boris (R2);
carl (R3) reports to vera too. Plans: representatives earn on revenue with a target incentive of
120,000 (boris's position override: 500,000, above the 300,000 director threshold); the manager's plan
pays 1% of the team, and applies to the director too.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import grpc
from temporalio.client import Client
from temporalio.worker import Worker

from crm.commissions.v1 import commissions_pb2 as pb
from crm.commissions.v1 import commissions_pb2_grpc
from crm.common.v1 import common_pb2
from crm_runtime.settings import Settings
from workflows.worker import ALL_WORKFLOWS, build_activities

Y = common_pb2.Date(year=2026, month=1, day=1)
PERIOD = "2026-03"
Api = commissions_pb2_grpc.CommissionsServiceStub

REP_PLAN = {
    "plan_id": "rep",
    "name": "Representatives 2026",
    "variables": {"quota": "100000", "target_incentive": "120000"},
    "measurements": [{"measurement_id": "revenue", "filter": {"credit_types": "DIRECT"}}],
    "credit_rules": [{"rule_id": "all", "rollup_levels": None}],
    "incentives": [
        {
            "kind": "RATE_TABLE",
            "incentive_id": "commission",
            "base": "revenue",
            "basis": "ATTAINMENT",
            "quota": "quota",
            "tiers": [{"lower": "0", "upper": "1", "rate": "0.02"}, {"lower": "1", "rate": "0.04"}],
        }
    ],
}
MGR_PLAN = {
    "plan_id": "mgr",
    "measurements": [{"measurement_id": "team", "filter": {"credit_types": "INDIRECT"}}],
    "incentives": [
        {"kind": "RATE_TABLE", "incentive_id": "override", "base": "team", "tiers": [{"lower": "0", "rate": "0.01"}]}
    ],
}


def service_settings(db_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "commissions_database_url": db_url,
        "grpc_port": 0,
        "db_pool_size": 5,
        "plan_approval_reminder_hours": 48,
        "plan_approval_escalation_hours": 120,
        "dispute_reminder_hours": 48,
        "dispute_escalation_hours": 120,
        "distribution_batch_size": 3,
        "distribution_concurrency": 2,
        **overrides,
    }
    return Settings(**values)


@dataclass
class Stack:
    client: Client
    api: Api
    queue: str
    activities: list[Any]
    address: str


@asynccontextmanager
async def commissions_stack(client: Client, db_url: str, target: str, **overrides: Any) -> AsyncIterator[Stack]:
    from services.commissions.main import start

    queue = f"commissions-{uuid.uuid4().hex[:8]}"
    settings = service_settings(
        db_url, temporal_address=target, temporal_namespace=client.namespace, temporal_task_queue=queue, **overrides
    )
    grpc_app, _ = await start(settings, port=0)
    address = f"127.0.0.1:{grpc_app.port}"
    activities, holders = build_activities(settings.model_copy(update={"commissions_address": address}))
    try:
        async with (
            Worker(client, task_queue=queue, workflows=list(ALL_WORKFLOWS), activities=activities),
            grpc.aio.insecure_channel(address) as channel,
        ):
            yield Stack(client, commissions_pb2_grpc.CommissionsServiceStub(channel), queue, activities, address)
    finally:
        for holder in holders:
            await holder.close()
        await grpc_app.stop(grace=1)


async def build_world(api: Api) -> None:
    await api.SaveOrganisation(
        pb.SaveOrganisationRequest(
            request_id="org",
            titles=[pb.Title(title_id=t, name=n) for t, n in (("DIR", "Director"), ("MGR", "Manager"), ("REP", "Rep"))],
            positions=[
                pb.PositionVersion(position_id="D1", title_id="DIR", valid_from=Y),
                pb.PositionVersion(position_id="M1", title_id="MGR", manager_position_id="D1", valid_from=Y),
                *(
                    pb.PositionVersion(position_id=p, title_id="REP", manager_position_id="M1", valid_from=Y)
                    for p in ("R1", "R2", "R3")
                ),
            ],
            participants=[
                pb.Participant(participant_id=p, name=n)
                for p, n in (
                    ("gleb", "Глеб Орлов"),
                    ("vera", "Вера Соколова"),
                    ("anna", "Анна Смирнова"),
                    ("boris", "Борис Ким"),
                    ("carl", "Карл Мартин"),
                )
            ],
            assignments=[
                pb.Assignment(participant_id=p, position_id=pos, valid_from=Y)
                for p, pos in (("gleb", "D1"), ("vera", "M1"), ("anna", "R1"), ("boris", "R2"), ("carl", "R3"))
            ],
        )
    )
    await api.SavePlan(pb.SavePlanRequest(request_id="rep", plan_json=json.dumps(REP_PLAN)))
    await api.SavePlan(pb.SavePlanRequest(request_id="mgr", plan_json=json.dumps(MGR_PLAN)))
    await api.AssignPlan(pb.AssignPlanRequest(request_id="a-rep", plan_id="rep", title_id="REP", valid_from=Y))
    await api.AssignPlan(pb.AssignPlanRequest(request_id="a-mgr", plan_id="mgr", title_id="MGR", valid_from=Y))
    await api.AssignPlan(pb.AssignPlanRequest(request_id="a-dir", plan_id="mgr", title_id="DIR", valid_from=Y))
    await api.SetVariableOverride(
        pb.SetVariableOverrideRequest(
            request_id="boris-target",
            plan_id="rep",
            variable="target_incentive",
            value="500000",
            position_id="R2",
            valid_from=Y,
        )
    )


async def eventually(check: Callable[[], Any], what: str, attempts: int = 150) -> Any:
    """Polls an async check until it returns something truthy (activities run just after timers)."""
    for _ in range(attempts):
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"never happened: {what}")


async def document(api: Api, participant: str, version: int = 0, *, pdf: bool = False) -> pb.GetPlanDocumentResponse:
    return await api.GetPlanDocument(
        pb.GetPlanDocumentRequest(participant_id=participant, period=PERIOD, version=version, include_pdf=pdf)
    )


async def draft_and_submit(api: Api, participant: str, author: str = "olga") -> pb.PlanDocument:
    doc = (
        await api.DraftPlanDocument(
            pb.DraftPlanDocumentRequest(
                request_id=f"draft-{participant}-{uuid.uuid4().hex[:6]}",
                participant_id=participant,
                period=PERIOD,
                author=author,
            )
        )
    ).document
    return (
        await api.SubmitPlanDocument(
            pb.SubmitPlanDocumentRequest(participant_id=participant, period=PERIOD, version=doc.version, author=author)
        )
    ).document


def decide(participant: str, version: int, action: str, actor: str, *roles: str, comment: str = "") -> Any:
    return pb.DecidePlanDocumentRequest(
        participant_id=participant,
        period=PERIOD,
        version=version,
        action=action,
        actor=actor,
        actor_roles=list(roles),
        comment=comment,
    )


async def notifications(api: Api, recipient: str) -> list[pb.Notification]:
    return list((await api.ListNotifications(pb.ListNotificationsRequest(recipient=recipient))).notifications)


# -- added for the dispute and dev-server tests -----------------------------------------------------------


def rub(amount: str) -> common_pb2.Money:
    from decimal import Decimal

    return common_pb2.Money(currency_code="RUB", minor_units=int(Decimal(amount) * 100))


def sale(tid: str, day: str, amount: str, position: str) -> pb.TransactionRow:
    return pb.TransactionRow(
        transaction_id=tid, date=day, amount=amount, currency="RUB", position_id=position, product="loan"
    )


async def ingest(api: Api, *rows: pb.TransactionRow) -> pb.IngestTransactionsResponse:
    async def chunks() -> AsyncIterator[pb.IngestTransactionsRequest]:
        yield pb.IngestTransactionsRequest(currency="RUB", rows=list(rows))

    return await api.IngestTransactions(chunks())


def open_dispute_request(
    participant: str = "anna",
    *,
    period: str = PERIOD,
    reason: int = pb.DISPUTE_REASON_WRONG_RATE,
    text: str = "The rate applied to my March sales is 2%, my plan says 4% from the quota",
    position: str = "R1",
    incentive: str = "commission",
    transaction: str = "",
    references: tuple[str, ...] = ("deal 4711", "plan rep v1, tier 2"),
    request_id: str = "",
) -> pb.OpenDisputeRequest:
    return pb.OpenDisputeRequest(
        request_id=request_id or f"dispute-{uuid.uuid4().hex[:8]}",
        participant_id=participant,
        period=period,
        reason=reason,  # type: ignore[arg-type]
        text=text,
        position_id=position,
        incentive_id=incentive,
        transaction_id=transaction,
        references=list(references),
    )


def decide_dispute(
    dispute_id: str,
    action: str,
    actor: str,
    *roles: str,
    comment: str = "",
    amount: str = "",
    overpayment: int = pb.OVERPAYMENT_CLASS_UNSPECIFIED,
) -> pb.DecideDisputeRequest:
    return pb.DecideDisputeRequest(
        dispute_id=dispute_id,
        action=action,
        actor=actor,
        actor_roles=list(roles),
        comment=comment,
        adjustment=rub(amount) if amount else None,
        overpayment_class=overpayment,  # type: ignore[arg-type]
    )


def row_counts(postgres: Any, db_url: str, tables: tuple[str, ...]) -> dict[str, int]:
    """Row counts of commissions tables, read straight from the module's database."""
    from urllib.parse import urlsplit

    name = urlsplit(db_url).path.lstrip("/")
    query = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM commissions.{t}" for t in tables)
    counts = {}
    for line in postgres.psql(query, database=name).splitlines():
        table, count = line.split("|")
        counts[table] = int(count)
    return counts


@dataclass
class DevStack:
    """The commissions server and a worker (`workflows.worker.run_worker`, the production entry point)
    on the Temporal dev server; the worker can be stopped and started again mid-test."""

    client: Client
    api: Api
    queue: str
    worker_settings: Settings
    worker: asyncio.Task[None] | None = None
    stop: asyncio.Event | None = None

    async def start_worker(self) -> None:
        from workflows.worker import run_worker

        assert self.worker is None, "a worker is running already"
        self.stop = asyncio.Event()
        self.worker = asyncio.create_task(run_worker(self.worker_settings, stop=self.stop))

    async def stop_worker(self) -> None:
        if self.worker is None or self.stop is None:
            return
        self.stop.set()
        await asyncio.wait_for(self.worker, timeout=30)
        self.worker = self.stop = None


@asynccontextmanager
async def dev_stack(temporal: Any, db_url: str, **overrides: Any) -> AsyncIterator[DevStack]:
    """A `DevStack` on its own task queue (workers of other modules sharing the session's dev server never
    pick up its workflows). Workflows still running at the end are terminated: the dev server lives for
    the whole session and a waiting approval would otherwise block the same workflow id elsewhere."""
    from services.commissions.main import start

    queue = f"commissions-dev-{uuid.uuid4().hex[:8]}"
    settings = service_settings(
        db_url,
        temporal_address=temporal.address,
        temporal_namespace=temporal.namespace,
        temporal_task_queue=queue,
        **overrides,
    )
    grpc_app, _ = await start(settings, port=0)
    address = f"127.0.0.1:{grpc_app.port}"
    client = await Client.connect(temporal.address, namespace=temporal.namespace)
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            stack = DevStack(
                client,
                commissions_pb2_grpc.CommissionsServiceStub(channel),
                queue,
                settings.model_copy(update={"commissions_address": address}),
            )
            await stack.start_worker()
            try:
                yield stack
            finally:
                await stack.stop_worker()
                running = f"TaskQueue = '{queue}' AND ExecutionStatus = 'Running'"
                async for execution in client.list_workflows(running):
                    await client.get_workflow_handle(execution.id, run_id=execution.run_id).terminate("test over")
    finally:
        await grpc_app.stop(grace=1)
