"""The commissions service's metrics move with what the service really does: a real server on a real
socket over the embedded PostgreSQL (fixtures of tests/conftest.py), driven by the story of
tests/deploy/commissions_traffic.py; the counters are read from the process's Prometheus registry.

The server runs in this process, so other test modules move the same counters: every check compares
the values before and after the calls it makes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import grpc
import pytest
import pytest_asyncio
from prometheus_client import REGISTRY

from crm.commissions.v1 import commissions_pb2 as pb
from crm.commissions.v1 import commissions_pb2_grpc
from services.commissions import metrics
from services.commissions.app import service
from tests.deploy.commissions_traffic import APRIL, MARCH, Story, drive_commissions
from tests.parties.support import rpc_error

MAY = "2026-05"  # open: March and April are finalized by the story
Api = commissions_pb2_grpc.CommissionsServiceStub


def value(name: str, **labels: str) -> float:
    found = REGISTRY.get_sample_value(name, labels)
    assert found is not None, f"no sample {name}{labels}"
    return found


def snapshot() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the commissions metrics, by name and labels."""
    out = {}
    for family in REGISTRY.collect():
        if family.name.startswith("crm_commissions_"):
            for s in family.samples:
                if not s.name.endswith("_created"):
                    out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def changes(before: dict, after: dict) -> dict[str, float]:
    """What moved, as `name{label=value,...}` -> delta (histogram buckets left out)."""
    out = {}
    for key, v in after.items():
        name, labels = key
        delta = v - before.get(key, 0.0)
        if delta and not name.endswith("_bucket"):
            out[name + "{" + ",".join(f"{k}={val}" for k, val in labels) + "}"] = delta
    return out


@pytest_asyncio.fixture(scope="module")
async def api(commissions_server: str) -> AsyncIterator[Api]:
    async with grpc.aio.insecure_channel(commissions_server) as channel:
        yield commissions_pb2_grpc.CommissionsServiceStub(channel)


@pytest_asyncio.fixture(scope="module")
async def story(api: Api) -> tuple[Story, dict[str, float]]:
    before = snapshot()
    told = await drive_commissions(api)
    return told, changes(before, snapshot())


def test_every_label_combination_is_exported_before_anything_happens() -> None:
    """Zeros from the start: an alert's increase() sees the first failed run (a series born at 1 has none)."""
    for kind in metrics.KINDS:
        assert REGISTRY.get_sample_value("crm_commissions_run_duration_seconds_count", {"kind": kind}) is not None
        for outcome in metrics.RUN_OUTCOMES:
            assert (
                REGISTRY.get_sample_value("crm_commissions_runs_total", {"kind": kind, "outcome": outcome}) is not None
            )
    for outcome in metrics.INGEST_OUTCOMES:
        assert (
            REGISTRY.get_sample_value("crm_commissions_transactions_ingested_total", {"outcome": outcome}) is not None
        )
    for source in metrics.ADJUSTMENT_SOURCES:
        for treatment in ("PAID", "RECOVERABLE", "RECORDED"):
            labels = {"source": source, "treatment": treatment}
            assert REGISTRY.get_sample_value("crm_commissions_adjustments_total", labels) is not None
    assert REGISTRY.get_sample_value("crm_commissions_periods_finalized_total") is not None


async def test_the_story_moves_exactly_the_counters_it_should(story: tuple[Story, dict[str, float]]) -> None:
    told, moved = story
    full, incremental, april = told.runs
    assert (full.kind, incremental.kind, april.kind) == ("FULL", "INCREMENTAL", "FULL")
    assert incremental.recomputed_participants == 1
    assert told.refused == grpc.StatusCode.FAILED_PRECONDITION
    [(ppa_treatment, ppa_who)] = [(a.treatment, a.participant_id) for a in april.prior_period_adjustments]
    assert (ppa_treatment, ppa_who) == ("PAID", "boris")
    accepted = sum(r.accepted for r in told.ingests)
    duplicates = sum(r.duplicates for r in told.ingests)
    rejected = sum(len(r.rejected) for r in told.ingests)
    assert (accepted, duplicates, rejected) == (6, 1, 1)

    durations = {k: v for k, v in moved.items() if k.startswith("crm_commissions_run_duration_seconds_sum")}
    assert set(durations) == {
        "crm_commissions_run_duration_seconds_sum{kind=FULL}",
        "crm_commissions_run_duration_seconds_sum{kind=INCREMENTAL}",
    }
    assert all(0 < seconds < 60 for seconds in durations.values())
    paid_sum = "crm_commissions_run_participants_paid_sum"
    assert {k: v for k, v in moved.items() if k not in durations} == {
        "crm_commissions_runs_total{kind=FULL,outcome=ok}": 2,
        "crm_commissions_runs_total{kind=INCREMENTAL,outcome=ok}": 1,
        # The run of finalized March: refused, not counted as a failure of the service.
        "crm_commissions_runs_total{kind=FULL,outcome=failed_precondition}": 1,
        "crm_commissions_run_duration_seconds_count{kind=FULL}": 2,
        "crm_commissions_run_duration_seconds_count{kind=INCREMENTAL}": 1,
        "crm_commissions_run_participants_recomputed_count{}": 1,
        "crm_commissions_run_participants_recomputed_sum{}": incremental.recomputed_participants,
        "crm_commissions_run_participants_paid_count{kind=FULL}": 2,
        f"{paid_sum}{{kind=FULL}}": len(full.payments) + len(april.payments),
        "crm_commissions_run_participants_paid_count{kind=INCREMENTAL}": 1,
        f"{paid_sum}{{kind=INCREMENTAL}}": len(incremental.payments),
        "crm_commissions_transactions_ingested_total{outcome=accepted}": accepted,
        "crm_commissions_transactions_ingested_total{outcome=duplicate}": duplicates,
        "crm_commissions_transactions_ingested_total{outcome=rejected}": rejected,
        # Each manual adjustment once, though the story sent two of them twice (retries).
        "crm_commissions_adjustments_total{source=manual,treatment=PAID}": 1,
        "crm_commissions_adjustments_total{source=manual,treatment=RECORDED}": 1,
        "crm_commissions_adjustments_total{source=manual,treatment=RECOVERABLE}": 1,
        "crm_commissions_adjustments_total{source=prior_period,treatment=PAID}": 1,
        "crm_commissions_periods_finalized_total{}": 2,
    }


async def test_manual_adjustments_are_labelled_with_the_treatment_the_engine_gives_them(
    api: Api, story: tuple[Story, dict[str, float]]
) -> None:
    """The metric's label and the run's treatment come from two places; they must agree."""
    seen = {}
    for who, period in (("anna", MARCH), ("boris", MARCH), ("anna", APRIL)):
        statement = await api.GetStatement(pb.GetStatementRequest(participant_id=who, period=period))
        for line in statement.adjustments:
            if not line.origin_period:
                seen[(who, period, line.amount.minor_units)] = line.treatment
    assert seen == {
        ("anna", MARCH, 50_000): "PAID",
        ("boris", MARCH, -30_000): "RECORDED",
        ("anna", APRIL, -10_000): "RECOVERABLE",
    }


async def test_replayed_answers_and_callers_mistakes_count_nothing(
    api: Api, story: tuple[Story, dict[str, float]]
) -> None:
    before = snapshot()
    await api.RunPeriod(pb.RunPeriodRequest(request_id="traffic-april-1", period=APRIL))
    await api.FinalizePeriod(pb.FinalizePeriodRequest(request_id="traffic-finalize-march", period=MARCH))
    await rpc_error(
        api.RunPeriod(pb.RunPeriodRequest(period=MAY, mode=pb.RUN_MODE_INCREMENTAL, participant_ids=["nobody"])),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert changes(before, snapshot()) == {}


@pytest.fixture
def broken_runs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    async def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the engine broke")

    monkeypatch.setattr(service.PeriodRunner, "run", fail)
    yield


async def test_a_run_that_breaks_counts_as_an_error_of_its_requested_kind(
    api: Api, story: tuple[Story, dict[str, float]], broken_runs: None
) -> None:
    before = snapshot()
    await rpc_error(
        api.RunPeriod(pb.RunPeriodRequest(request_id="traffic-broken", period=MAY, mode=pb.RUN_MODE_INCREMENTAL)),
        grpc.StatusCode.INTERNAL,
    )
    assert changes(before, snapshot()) == {"crm_commissions_runs_total{kind=INCREMENTAL,outcome=error}": 1}
