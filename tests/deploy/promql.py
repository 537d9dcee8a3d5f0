"""Reading the PromQL of the chart's dashboards and alert rules, and the metrics a running process exports,
so tests can compare what is charted with what exists."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import promql_parser
import yaml
from prometheus_client.parser import text_string_to_metric_families

CHART = Path(__file__).resolve().parents[2] / "helm" / "crm"

#: Grafana's template variables, replaced by plausible values so the query parses (and runs) as PromQL.
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "30s",
    "$__range": "1h",
    "$namespace": ".*",
    "$grpc_service": ".*",
}
#: Labels Prometheus attaches to every scraped series itself (the chart's ServiceMonitors add `role`).
TARGET_LABELS = {"namespace", "role", "instance", "job", "pod", "service", "le"}
#: Series Prometheus produces itself, about its targets; nobody exports them.
SYNTHETIC = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}


@dataclass(frozen=True)
class Query:
    where: str  # e.g. "crm-overview.json: Requests per second by method"
    expr: str


def substitute(expr: str) -> str:
    for name in sorted(GRAFANA_VARIABLES, key=len, reverse=True):
        expr = expr.replace(name, GRAFANA_VARIABLES[name])
    leftover = re.findall(r"\$\w+", expr)
    assert not leftover, f"unknown Grafana variable(s) {leftover} in {expr}"
    return expr


def dashboard_queries() -> Iterator[Query]:
    for path in sorted((CHART / "dashboards").glob("*.json")):
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                yield Query(f"{path.name}: {panel['title']} [{target['refId']}]", substitute(target["expr"]))
        for variable in board["templating"]["list"]:
            if variable["type"] == "query":
                metric = re.fullmatch(r"label_values\((\w+), *(\w+)\)", variable["definition"])
                assert metric, f"{path.name}: variable {variable['name']}: unsupported query {variable['definition']}"
                yield Query(f"{path.name}: variable {variable['name']}", f"count by ({metric[2]}) ({metric[1]})")


def alert_rules() -> list[dict]:
    doc = yaml.safe_load((CHART / "alerts" / "crm-alerts.yaml").read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def alert_queries() -> Iterator[Query]:
    for rule in alert_rules():
        yield Query(f"alert {rule['alert']}", rule["expr"])


def all_queries() -> list[Query]:
    return [*dashboard_queries(), *alert_queries()]


@dataclass(frozen=True)
class Usage:
    metrics: frozenset[str]
    #: label names in matchers, per metric
    matcher_labels: dict[str, frozenset[str]]
    #: label names in by/without/on/ignoring/group_left/group_right clauses
    grouping_labels: frozenset[str]


def usage(expr: str) -> Usage:
    """The metric names and label names a query refers to (parse errors raise ValueError)."""
    tree = promql_parser.parse(expr)
    metrics: set[str] = set()
    matcher_labels: dict[str, set[str]] = {}
    grouping: set[str] = set()

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            matchers = list(node.matchers.matchers) if node.matchers else []
            name = node.name or next((m.value for m in matchers if m.name == "__name__"), None)
            assert name, f"a selector without a metric name in {expr}"
            metrics.add(name)
            matcher_labels.setdefault(name, set()).update(m.name for m in matchers if m.name != "__name__")
        elif isinstance(node, promql_parser.AggregateExpr) and node.modifier is not None:
            grouping.update(node.modifier.labels)
        elif isinstance(node, promql_parser.BinaryExpr) and node.modifier is not None:
            if node.modifier.matching is not None:
                grouping.update(node.modifier.matching.labels)
            grouping.update(node.modifier.group_labels or [])

    promql_parser.walk(tree, visit)
    return Usage(frozenset(metrics), {k: frozenset(v) for k, v in matcher_labels.items()}, frozenset(grouping))


def exported(exposition: str) -> dict[str, set[str]]:
    """Series names a /metrics page exports -> the label names seen on them. A family with no sample yet
    (a labelled metric nobody has touched) still counts as exported, under all its series names."""
    out: dict[str, set[str]] = {}
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count")}
    for family in text_string_to_metric_families(exposition):
        for suffix in suffixes.get(family.type, ("",)):
            out.setdefault(family.name + suffix, set())
        for sample in family.samples:
            out.setdefault(sample.name, set()).update(sample.labels)
    return out
