"""Dashboards and alert rules chart what the platform really exports: every query parses as PromQL, every
metric it names is on the /metrics page of a running process, every label it filters or groups by exists
on those series. A dashboard that charts a metric nobody exports fails here."""

from __future__ import annotations

import json
import re

import pytest
from prometheus_client import REGISTRY

from dashboards.__main__ import rendered
from services.commissions import metrics as commissions_metrics
from tests.deploy.conftest import RunningPlatform
from tests.deploy.promql import (
    CHART,
    SYNTHETIC,
    TARGET_LABELS,
    alert_rules,
    all_queries,
    dashboard_queries,
    exported,
    usage,
)

QUERIES = all_queries()


def test_the_dashboard_json_is_generated_from_its_source() -> None:
    present = {p.name: p.read_text() for p in (CHART / "dashboards").glob("*.json")}
    assert present == rendered(), "helm/crm/dashboards is stale: run `make gen`"


@pytest.mark.parametrize("query", QUERIES, ids=[q.where for q in QUERIES])
def test_every_query_parses_as_promql(query) -> None:  # type: ignore[no-untyped-def]
    try:
        usage(query.expr)
    except ValueError as err:
        pytest.fail(f"{query.where}: {err}\n{query.expr}")


def test_the_parser_really_rejects_broken_promql() -> None:
    with pytest.raises(ValueError):
        usage("sum(rate(crm_http_requests_total[5m])")
    assert usage('sum by (role) (up{role!=""})').metrics == {"up"}


@pytest.fixture(scope="module")
def exports(running_platform: RunningPlatform) -> dict[str, set[str]]:
    """Every series name the local platform's processes export, with the labels seen on each."""
    merged: dict[str, set[str]] = {}
    for role in running_platform.metrics_urls:
        for name, labels in exported(running_platform.scrape(role)).items():
            merged.setdefault(name, set()).update(labels)
    return merged


def test_every_charted_metric_is_exported_by_the_running_platform(exports: dict[str, set[str]]) -> None:
    missing = {}
    for query in QUERIES:
        for name in usage(query.expr).metrics - SYNTHETIC:
            if name not in exports:
                missing.setdefault(name, []).append(query.where)
    assert not missing, f"charted but exported by no process: {json.dumps(missing, indent=1)}"


def test_every_label_used_exists_on_the_series(exports: dict[str, set[str]]) -> None:
    wrong = []
    for query in QUERIES:
        used = usage(query.expr)
        known = set(TARGET_LABELS)
        for name in used.metrics - SYNTHETIC:
            known |= exports.get(name, set())
            unknown = used.matcher_labels.get(name, frozenset()) - TARGET_LABELS - exports.get(name, set())
            wrong += [f"{query.where}: {name}{{{label}}}" for label in sorted(unknown)]
        wrong += [f"{query.where}: by/on ({label})" for label in sorted(used.grouping_labels - known)]
    assert not wrong, "labels no exported series carries:\n" + "\n".join(wrong)


def test_dashboards_are_complete_grafana_models() -> None:
    uids = set()
    for path in sorted((CHART / "dashboards").glob("*.json")):
        board = json.loads(path.read_text())
        assert board["uid"] not in uids and len(board["uid"]) <= 40
        uids.add(board["uid"])
        assert board["title"].startswith("CRM / ")
        variables = {v["name"] for v in board["templating"]["list"]}
        assert "datasource" in variables
        panels = [p for p in board["panels"] if p["type"] != "row"]
        assert panels and len({p["id"] for p in board["panels"]}) == len(board["panels"])
        for panel in panels:
            assert panel["title"] and panel["targets"], panel
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert panel["gridPos"]["x"] >= 0 and panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
            for target in panel["targets"]:
                used = set(re.findall(r"\$(\w+)", target["expr"])) - {"__rate_interval", "__interval", "__range"}
                assert used <= variables, f"{path.name}: {panel['title']} uses undefined {used - variables}"


def test_the_overview_covers_what_operators_watch() -> None:
    text = " ".join(q.expr for q in dashboard_queries() if q.where.startswith("crm-overview"))
    for metric in (
        "crm_grpc_server_handled_total", "crm_grpc_server_handling_seconds_bucket", "crm_http_requests_total",
        "crm_http_request_seconds_bucket", "crm_db_pool_connections_in_use",
        "temporal_workflow_task_execution_latency_seconds_bucket", "temporal_worker_task_slots_available",
        "temporal_workflow_failed_total",
    ):  # fmt: skip
        assert metric in text, metric
    parties = " ".join(q.expr for q in dashboard_queries() if q.where.startswith("crm-parties"))
    for metric in ("crm_parties_changes_total", "crm_parties_search_seconds_bucket", "crm_parties_erasures_total"):
        assert metric in parties, metric


def test_the_commissions_dashboard_charts_every_commissions_metric() -> None:
    """Every metric services/commissions/metrics.py defines is on the CRM / Commissions dashboard, with the
    commissions service's own gRPC calls and database pool."""
    queries = [q.expr for q in dashboard_queries() if q.where.startswith("crm-commissions.json")]
    charted = set().union(*(usage(expr).metrics for expr in queries))
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    families = {f.name: f.type for f in REGISTRY.collect() if f.name.startswith("crm_commissions_") and f.documentation}
    assert len(families) >= 7, f"{commissions_metrics.__name__} defines {sorted(families)}"
    missing = sorted(n for n, kind in families.items() if not {n + s for s in suffixes[kind]} & charted)
    assert not missing, f"defined but not charted: {missing}"
    text = " ".join(queries)
    assert 'grpc_service="crm.commissions.v1.CommissionsService"' in text
    for metric in (
        "crm_grpc_server_handled_total",
        "crm_grpc_server_handling_seconds_bucket",
        "crm_db_pool_connections_in_use",
    ):
        assert metric in charted, metric
    alerted = set().union(*(usage(rule["expr"]).metrics for rule in alert_rules()))
    for metric in (
        "crm_commissions_runs_total", "crm_commissions_run_duration_seconds_bucket",
        "crm_commissions_transactions_ingested_total",
    ):  # fmt: skip
        assert metric in alerted, metric


def test_every_alert_has_a_summary_a_severity_and_a_runbook_note() -> None:
    readme = (CHART / "README.md").read_text()
    anchors = {
        re.sub(r"[^a-z0-9-]", "", h.strip().lower().replace(" ", "-")) for h in re.findall(r"^#+ (.+)$", readme, re.M)
    }
    names = [rule["alert"] for rule in alert_rules()]
    assert {"CrmRoleDown", "CrmGrpcHighErrorRatio", "CrmGrpcLatencyBudgetBurn", "CrmWorkflowFailures",
            "CrmDatabasePoolSaturated", "CommissionsRunsFailing", "CommissionsRunSlow",
            "CommissionsIngestRejectingMost"} <= set(names)  # fmt: skip
    for rule in alert_rules():
        assert rule["labels"]["severity"] in {"warning", "critical"}
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"], rule["alert"]
        anchor = annotations["runbook_url"].rsplit("#", 1)[1]
        assert anchor == rule["alert"].lower() and anchor in anchors, f"{rule['alert']}: no runbook note in README"
