"""`crm demo`: realistic demo data loaded through the public gRPC API, as any client would, so the demo
also exercises validation, idempotency and the change feed. Re-running it is harmless: every create
carries a deterministic request_id."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, timedelta

import grpc
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from crm.common.v1 import common_pb2
from crm.parties.v1 import parties_pb2 as pb
from crm.parties.v1 import parties_pb2_grpc
from crmctl.fakedata import FakeParties

CONTEXT = common_pb2.ChangeContext(actor="system:demo", source="demo")
IMPORT_BATCH = 1000


async def _bounded(jobs: list[Callable[[], Awaitable[None]]], concurrency: int, progress: Progress, task: int) -> None:
    sem = asyncio.Semaphore(concurrency)

    async def run(job: Callable[[], Awaitable[None]]) -> None:
        async with sem:
            await job()
            progress.advance(task)  # type: ignore[arg-type]

    await asyncio.gather(*(run(j) for j in jobs))


async def load_demo(
    address: str, count: int = 3000, seed: int = 42, concurrency: int = 32, only_if_empty: bool = False
) -> str:
    started = time.perf_counter()
    fake = FakeParties(seed)
    rng = random.Random(seed)
    errors: list[str] = []
    persons: list[str] = []
    orgs: list[str] = []
    async with grpc.aio.insecure_channel(address) as channel:
        stub = parties_pb2_grpc.PartiesServiceStub(channel)
        if only_if_empty:
            existing = await stub.SearchParties(pb.SearchPartiesRequest(page=common_pb2.PageRequest(page_size=1)))
            if existing.hits:
                return "demo data skipped: the register is not empty"

        requests = list(fake.mixed(count))
        kinds = {r.request_id: r.WhichOneof("profile") for r in requests}

        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()
        ) as progress:
            # Parties go in through the bulk import RPC (the fast public path), in batches, asking for
            # the new ids so relationships and vehicles can refer to them.
            task = progress.add_task("parties", total=len(requests))
            phases: dict[str, float] = {}
            mark = time.perf_counter()
            for start in range(0, len(requests), IMPORT_BATCH):
                chunk = requests[start : start + IMPORT_BATCH]

                async def one_batch(
                    chunk: list[pb.CreatePartyRequest] = chunk,
                ) -> AsyncIterator[pb.ImportPartiesRequest]:
                    yield pb.ImportPartiesRequest(
                        rows=[pb.ImportRow(row_ref=r.request_id, party=r) for r in chunk], return_party_ids=True
                    )

                result = await stub.ImportParties(one_batch(), timeout=120)
                errors.extend(
                    f"import {e.row_ref}: " + "; ".join(f"{x.field}: {x.description}" for x in e.violations)
                    for e in result.errors
                )
                for imported in result.imported:
                    (persons if kinds[imported.row_ref] == "person" else orgs).append(imported.party_id)
                progress.advance(task, len(chunk))

            phases["parties"] = time.perf_counter() - mark
            mark = time.perf_counter()
            triples = fake.relationships_for(persons, orgs)
            rel_task = progress.add_task("relationships", total=len(triples))

            def relate(kind: str, a: str, b: str) -> Callable[[], Awaitable[None]]:
                async def job() -> None:
                    try:
                        await stub.CreateRelationship(
                            pb.CreateRelationshipRequest(
                                relationship_type=kind, from_party_id=a, to_party_id=b, context=CONTEXT
                            ),
                            timeout=30,
                        )
                    except grpc.aio.AioRpcError as exc:
                        if exc.code() != grpc.StatusCode.ALREADY_EXISTS:
                            errors.append(f"relationship {kind}: {exc.code().name} {exc.details()}")

                return job

            await _bounded([relate(*t) for t in triples], concurrency, progress, rel_task)

            phases["relationships"] = time.perf_counter() - mark
            mark = time.perf_counter()
            owners = [p for p in persons if rng.random() < 0.3]
            veh_task = progress.add_task("vehicles", total=len(owners))

            def register(index: int, owner: str) -> Callable[[], Awaitable[None]]:
                async def job() -> None:
                    vehicle = fake.vehicle(index)
                    try:
                        resp = await stub.RegisterVehicle(
                            pb.RegisterVehicleRequest(
                                party_id=owner,
                                vehicle=vehicle,
                                ownership_type=pb.OWNERSHIP_TYPE_OWNER,
                                context=CONTEXT,
                            ),
                            timeout=30,
                        )
                    except grpc.aio.AioRpcError as exc:
                        if exc.code() != grpc.StatusCode.FAILED_PRECONDITION:
                            errors.append(f"vehicle: {exc.code().name} {exc.details()}")
                        return
                    bought = vehicle.purchase_date
                    day = date(bought.year, bought.month, bought.day) if bought.year else date.today()
                    # Readings at the last two yearly services, as a dealer's DMS would send them.
                    services: list[tuple[date, int]] = []
                    km = 0
                    while day + timedelta(days=365) < date.today():
                        day += timedelta(days=365)
                        km += rng.randint(8_000, 25_000)
                        services.append((day, km))
                    for when, reading in services[-2:]:
                        await stub.RecordMileage(
                            pb.RecordMileageRequest(
                                vehicle_id=resp.ownership.vehicle.vehicle_id,
                                kilometres=reading,
                                read_on=common_pb2.Date(year=when.year, month=when.month, day=when.day),
                                context=CONTEXT,
                            ),
                            timeout=30,
                        )

                return job

            await _bounded([register(i, o) for i, o in enumerate(owners)], concurrency, progress, veh_task)

            phases["vehicles"] = time.perf_counter() - mark

    elapsed = time.perf_counter() - started
    lines = [
        f"demo data: {len(persons)} persons, {len(orgs)} organizations, {len(triples)} relationships, "
        f"{len(owners)} vehicle owners in {elapsed:.1f}s ("
        + ", ".join(f"{name} {seconds:.1f}s" for name, seconds in phases.items())
        + ")"
    ]
    if errors:
        lines.append(f"{len(errors)} errors, first ones:")
        lines.extend("  " + e for e in errors[:5])
    return "\n".join(lines)
