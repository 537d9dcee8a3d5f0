"""The alert rules in Prometheus's own tools: `promtool check rules` on the file and on the rendered
PrometheusRule, `promtool test rules` (the rules' unit tests), and a real Prometheus on loopback that
scrapes the running local platform, evaluates every rule once and answers every dashboard query.

They need Debian's `prometheus` package (`make test` installs it; by hand: `sudo apt-get install
prometheus`). Without it they are skipped with that reason, which pytest prints in its summary."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from crmctl.infra import free_port
from tests.deploy.chart import SCENARIOS, by_kind, objects
from tests.deploy.conftest import RunningPlatform
from tests.deploy.promql import CHART, alert_rules, dashboard_queries

ALERTS = CHART / "alerts"
PROMTOOL = shutil.which("promtool")
PROMETHEUS = shutil.which("prometheus")
MISSING = "Debian's prometheus package is not installed (sudo apt-get install prometheus): promtool checks skipped"

needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason=MISSING)
needs_prometheus = pytest.mark.skipif(
    PROMETHEUS is None, reason=MISSING.replace("promtool checks", "a real Prometheus")
)


def promtool(*args: str, cwd: Path = ALERTS) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


@needs_promtool
def test_promtool_accepts_the_rule_file() -> None:
    result = promtool("check", "rules", "crm-alerts.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout


@needs_promtool
def test_promtool_accepts_the_rendered_prometheus_rule(tmp_path: Path) -> None:
    (rule,) = by_kind(objects(SCENARIOS["everything"]), "PrometheusRule").values()
    (tmp_path / "rendered.yaml").write_text(yaml.safe_dump(rule["spec"]))
    result = promtool("check", "rules", "rendered.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_the_alert_rules_pass_their_unit_tests() -> None:
    result = promtool("test", "rules", "crm-alerts.test.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    tested = {t["alertname"] for case in yaml.safe_load((ALERTS / "crm-alerts.test.yaml").read_text())["tests"]
              for t in case["alert_rule_test"]}  # fmt: skip
    assert tested == {rule["alert"] for rule in alert_rules()}, "every alert has a unit test"


@needs_promtool
def test_promtool_unit_tests_can_fail(tmp_path: Path) -> None:
    """The unit tests are not vacuous: the same tests against rules with a wrong threshold fail."""
    text = (ALERTS / "crm-alerts.yaml").read_text().replace(") > 0.05", ") > 0.5")
    (tmp_path / "crm-alerts.yaml").write_text(text)
    shutil.copy(ALERTS / "crm-alerts.test.yaml", tmp_path)
    result = promtool("test", "rules", "crm-alerts.test.yaml", cwd=tmp_path)
    assert result.returncode != 0 and "CrmGrpcHighErrorRatio" in result.stdout + result.stderr


#: Dashboard queries that answer nothing while nothing fails.
HEALTHY_EMPTY = {
    "crm-overview.json: Server error ratio by service [A]",
    "crm-overview.json: 5xx ratio [A]",
    # No duplicate review case has been decided on a fresh platform.
    "crm-parties.json: Duplicate reviews completed and failed [A]",
    "crm-parties.json: Duplicate reviews completed and failed [B]",
    "crm-commissions.json: Server error ratio by method [A]",
}


def api(base: str, path: str, **params: str) -> Any:
    url = f"{base}/api/v1/{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
    with urllib.request.urlopen(url, timeout=10) as resp:
        body = json.load(resp)
    assert body["status"] == "success", body
    return body["data"]


def eventually(probe, ok, what: str, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = probe()
            if ok(value):
                return value
        except OSError:
            value = None
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {value}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def prometheus(running_platform: RunningPlatform, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prometheus scraping the local platform every second, with the chart's rule file loaded."""
    assert PROMETHEUS
    work = tmp_path_factory.mktemp("prometheus")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(ALERTS / "crm-alerts.yaml")],
        "scrape_configs": [
            {
                "job_name": f"crm-{role}",
                "metrics_path": urllib.parse.urlsplit(url).path,
                # The `role` label the chart's ServiceMonitors add.
                "static_configs": [{"targets": [urllib.parse.urlsplit(url).netloc], "labels": {"role": role}}],
            }
            for role, url in running_platform.metrics_urls.items()
        ],
    }
    (work / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = (work / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            PROMETHEUS, f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={work / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--web.enable-lifecycle",
        ],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        eventually(lambda: urllib.request.urlopen(f"{base}/-/ready", timeout=2).status, lambda s: s == 200, "ready")
        yield base
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


@needs_prometheus
def test_prometheus_scrapes_every_role_and_evaluates_every_rule(prometheus: str) -> None:
    targets = eventually(
        lambda: api(prometheus, "targets")["activeTargets"],
        lambda ts: len(ts) == 4 and all(t["health"] == "up" for t in ts),
        "every role's target up",
    )
    assert {t["labels"]["role"] for t in targets} == {"parties", "commissions", "worker", "gateway"}
    up = api(prometheus, "query", query='sum by (role) (up{role!=""})')["result"]
    assert {r["metric"]["role"]: r["value"][1] for r in up} == {
        "parties": "1",
        "commissions": "1",
        "worker": "1",
        "gateway": "1",
    }

    def rules() -> list[dict[str, Any]]:
        return [r for g in api(prometheus, "rules")["groups"] for r in g["rules"]]

    evaluated = eventually(
        rules,
        lambda rs: len(rs) == len(alert_rules()) and all(not r["lastEvaluation"].startswith("0001") for r in rs),
        "one evaluation of every rule",
    )
    broken = {r["name"]: r.get("lastError") for r in evaluated if r["health"] != "ok"}
    assert not broken, broken
    # A healthy platform: nothing fires. (CrmWorkflowFailures may: the fixture failed a workflow on purpose.)
    firing = {r["name"] for r in evaluated if r["state"] == "firing"} - {"CrmWorkflowFailures"}
    assert not firing, firing


@needs_prometheus
def test_prometheus_scrapes_the_commissions_story(prometheus: str) -> None:
    """The fixture's commissions traffic (tests/deploy/commissions_traffic.py) as Prometheus sees it on the
    commissions role's target: the series the commissions dashboard and alerts are built on, with the values
    the story implies."""

    def series(query: str) -> dict[tuple[str, ...], float]:
        result = api(prometheus, "query", query=query)["result"]
        return {tuple(r["metric"].values()): float(r["value"][1]) for r in result}

    runs = eventually(
        lambda: series('sum by (kind, outcome) (crm_commissions_runs_total{role="commissions"})'),
        lambda found: found.get(("FULL", "ok")) == 2,
        "the commissions role's run counters",
    )
    assert runs == {
        ("FULL", "ok"): 2,
        ("INCREMENTAL", "ok"): 1,
        ("FULL", "failed_precondition"): 1,  # the run of finalized March
        ("INCREMENTAL", "failed_precondition"): 0,
        ("FULL", "error"): 0,
        ("INCREMENTAL", "error"): 0,
    }
    assert series('sum by (kind) (crm_commissions_run_duration_seconds_count{role="commissions"})') == {
        ("FULL",): 2,
        ("INCREMENTAL",): 1,
    }
    assert series('sum(crm_commissions_run_participants_recomputed_sum{role="commissions"})') == {(): 1}
    assert series('sum by (outcome) (crm_commissions_transactions_ingested_total{role="commissions"})') == {
        ("accepted",): 6,
        ("duplicate",): 1,
        ("rejected",): 1,
    }
    adjustments = series('sum by (source, treatment) (crm_commissions_adjustments_total{role="commissions"}) > 0')
    assert adjustments == {
        ("manual", "PAID"): 1,
        ("manual", "RECORDED"): 1,
        ("manual", "RECOVERABLE"): 1,
        ("prior_period", "PAID"): 1,
    }
    assert series('sum(crm_commissions_periods_finalized_total{role="commissions"})') == {(): 2}
    # The service's own gRPC calls, by method, on the same target.
    methods = series(
        'sum by (grpc_method) (crm_grpc_server_handled_total{role="commissions", '
        'grpc_service="crm.commissions.v1.CommissionsService"})'
    )
    assert {"RunPeriod", "IngestTransactions", "AddAdjustment", "FinalizePeriod"} <= {m for (m,) in methods}


@needs_prometheus
def test_prometheus_answers_every_dashboard_query(prometheus: str) -> None:
    eventually(lambda: api(prometheus, "query", query="count(up == 1)")["result"], bool, "scraped samples")
    time.sleep(2.5)  # rate() needs two samples of each series in its window
    empty = []
    for query in dashboard_queries():
        result = api(prometheus, "query", query=query.expr)["result"]
        if not result:
            empty.append(query.where)
    # Only the panels of server faults are empty on a healthy platform; every other query shows data,
    # which also proves its label names and grouping match the real series.
    assert set(empty) <= HEALTHY_EMPTY, set(empty) - HEALTHY_EMPTY
