"""A small vocabulary for Grafana dashboards, so each dashboard reads as its rows of panels and queries
rather than as hundreds of lines of JSON, and every panel gets the same datasource, layout and legend
conventions. The output is Grafana's dashboard JSON model (schemaVersion 39)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Grafana's template variable of the Prometheus datasource: every query goes through it, so the same
#: dashboard works whatever the datasource is called in a given Grafana.
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
GRID_WIDTH = 24


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Panel:
    title: str
    queries: tuple[Query, ...]
    description: str = ""
    unit: str = "short"
    kind: str = "timeseries"
    width: int = 12
    height: int = 8
    stacked: bool = False
    min_zero: bool = True
    thresholds: tuple[tuple[float, str], ...] = ()

    def model(self, panel_id: int, x: int, y: int) -> dict[str, Any]:
        defaults: dict[str, Any] = {"unit": self.unit}
        if self.min_zero and self.kind == "timeseries":
            defaults["min"] = 0
        if self.thresholds:
            steps = [{"color": "green", "value": None}]
            steps += [{"color": color, "value": value} for value, color in self.thresholds]
            defaults["thresholds"] = {"mode": "absolute", "steps": steps}
        if self.kind == "timeseries":
            defaults["custom"] = {
                "drawStyle": "line",
                "lineWidth": 1,
                "fillOpacity": 10,
                "showPoints": "never",
                "stacking": {"mode": "normal" if self.stacked else "none", "group": "A"},
            }
        options: dict[str, Any] = {"tooltip": {"mode": "multi", "sort": "desc"}}
        if self.kind == "timeseries":
            options["legend"] = {"displayMode": "table", "placement": "bottom", "calcs": ["mean", "max", "lastNotNull"]}
        elif self.kind == "stat":
            options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}, "colorMode": "value"}
        return {
            "id": panel_id,
            "type": self.kind,
            "title": self.title,
            "description": self.description,
            "datasource": DATASOURCE,
            "gridPos": {"h": self.height, "w": self.width, "x": x, "y": y},
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": options,
            "targets": [
                {
                    "refId": chr(ord("A") + i),
                    "datasource": DATASOURCE,
                    "expr": q.expr,
                    "legendFormat": q.legend or "__auto",
                    "range": True,
                }
                for i, q in enumerate(self.queries)
            ],
        }


@dataclass(frozen=True)
class Row:
    title: str
    panels: tuple[Panel, ...]
    collapsed: bool = False


@dataclass(frozen=True)
class Variable:
    """A query variable over a label's values; `.*` when All is chosen, so series without the label
    (a Prometheus outside Kubernetes has no `namespace`) still match."""

    name: str
    label: str
    metric: str
    multi: bool = True

    def model(self) -> dict[str, Any]:
        query = f"label_values({self.metric}, {self.name})"
        return {
            "name": self.name,
            "label": self.label,
            "type": "query",
            "datasource": DATASOURCE,
            "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
            "definition": query,
            "refresh": 2,
            "multi": self.multi,
            "includeAll": True,
            "allValue": ".*",
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
            "sort": 1,
        }


@dataclass
class Dashboard:
    uid: str
    title: str
    description: str
    rows: list[Row]
    variables: list[Variable] = field(default_factory=list)
    tags: tuple[str, ...] = ("crm",)

    def model(self) -> dict[str, Any]:
        panels: list[dict[str, Any]] = []
        next_id, y = 1, 0
        for row in self.rows:
            panels.append(
                {
                    "id": next_id,
                    "type": "row",
                    "title": row.title,
                    "collapsed": row.collapsed,
                    "gridPos": {"h": 1, "w": GRID_WIDTH, "x": 0, "y": y},
                    "panels": [],
                }
            )
            next_id, y = next_id + 1, y + 1
            x, row_height = 0, 0
            for panel in row.panels:
                if x + panel.width > GRID_WIDTH:
                    x, y, row_height = 0, y + row_height, 0
                panels.append(panel.model(next_id, x, y))
                next_id += 1
                x += panel.width
                row_height = max(row_height, panel.height)
            y += row_height
        datasource = {
            "name": "datasource",
            "label": "Data source",
            "type": "datasource",
            "query": "prometheus",
            "current": {},
            "hide": 0,
        }
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": list(self.tags),
            "timezone": "utc",
            "editable": True,
            "graphTooltip": 1,
            "schemaVersion": 39,
            "version": 1,
            "refresh": "30s",
            "time": {"from": "now-6h", "to": "now"},
            "templating": {"list": [datasource, *(v.model() for v in self.variables)]},
            "annotations": {"list": []},
            "links": [
                {
                    "title": "CRM dashboards",
                    "type": "dashboards",
                    "tags": ["crm"],
                    "asDropdown": True,
                    "icon": "external link",
                }
            ],
            "panels": panels,
        }


def rate(metric: str, selector: str, by: str, window: str = "$__rate_interval") -> str:
    return f"sum by ({by}) (rate({metric}{{{selector}}}[{window}]))"


def quantile(q: float, histogram: str, selector: str, by: str, window: str = "$__rate_interval") -> str:
    """A quantile from a Prometheus histogram's buckets, aggregated across pods (a wider `window` for
    rare events, such as calculation runs)."""
    return f"histogram_quantile({q}, sum by ({by}, le) (rate({histogram}_bucket{{{selector}}}[{window}])))"


def ratio(metric: str, part: str, whole: str, by: str, window: str = "$__rate_interval") -> str:
    """The share of a counter's rate matching `part` among that matching `whole` (error ratios)."""
    return f"{rate(metric, part, by, window)} / {rate(metric, whole, by, window)}"
