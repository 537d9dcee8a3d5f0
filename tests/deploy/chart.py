"""Rendering the chart offline (helm-python-sdk: Helm's own Go SDK, no helm binary), shared by the chart
tests: value scenarios an operator would use, and the rendered objects as Python dicts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

CHART = Path(__file__).resolve().parents[2] / "helm" / "crm"
RELEASE = "crm"
NAMESPACE = "crm-prod"

SCENARIOS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "everything": {
        "image": {"digest": "sha256:" + "a" * 64},
        "imagePullSecrets": [{"name": "registry"}],
        "defaults": {"replicas": 3, "env": {"CRM_EXTRA": "1"}},
        "roles": {
            "gateway": {"autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 6}},
            "parties": {"autoscaling": {"enabled": True}, "resources": {"limits": {"memory": "1Gi"}}},
        },
        "secrets": {"serviceDatabases": {"parties": {"existingSecret": "crm-parties-db", "key": "dsn"}}},
        "config": {
            "otlpEndpoint": "http://otel-collector.observability:4317",
            "temporal": {"uiUrl": "https://temporal.example.com"},
        },
        "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
        "prometheusRule": {"enabled": True, "labels": {"release": "prometheus"}},
        "networkPolicy": {
            "enabled": True,
            "gatewayIngressFrom": [
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
            ],
            "metricsNamespaceSelector": {"kubernetes.io/metadata.name": "monitoring"},
        },
        "ingress": {
            "enabled": True,
            "className": "nginx",
            "hosts": [{"host": "crm.example.com", "paths": [{"path": "/", "pathType": "Prefix"}]}],
            "tls": [{"secretName": "crm-tls", "hosts": ["crm.example.com"]}],
        },
    },
    "single-role": {
        "roles": {"commissions": {"enabled": False}, "worker": {"enabled": False}, "gateway": {"enabled": False}}
    },
    "hpa": {"defaults": {"autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 12}}},
}


def render(values: dict[str, Any]) -> dict[str, str]:
    """Template path -> rendered text, as `helm template` would print them (NOTES.txt included)."""
    with helm.Chart.load(str(CHART)) as chart:
        return chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)


def objects(values: dict[str, Any]) -> list[dict[str, Any]]:
    """Every Kubernetes object the chart renders for these values."""
    out = []
    for path, text in render(values).items():
        if path.endswith("NOTES.txt"):
            continue
        out += [doc for doc in yaml.safe_load_all(text) if doc]
    return out


def by_kind(objs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objs if o["kind"] == kind}


def validate_values(values: dict[str, Any]) -> None:
    with helm.Chart.load(str(CHART)) as chart:
        chart.validate_schema(values)
