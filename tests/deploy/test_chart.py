"""The Helm chart: rendered for the scenarios operators use, linted strictly, every object validated
against the Kubernetes schemas (kubernetes-validate --strict), and its promises kept: locked-down pods,
probes on the standard health endpoints, opt-in objects only where they make sense, no secret in clear,
a ConfigMap checksum that restarts pods, a schema that refuses bad values with a clear message."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from tests.deploy.chart import CHART, NAMESPACE, SCENARIOS, by_kind, objects, render, validate_values

#: The newest Kubernetes whose schemas kubernetes-validate carries; the chart must also claim to fit it.
KUBERNETES = kubernetes_validate.latest_version()
#: Custom resources of the Prometheus Operator: kubernetes-validate has no schema for CRDs, so these are
#: checked structurally here and their content by the alert-rule tests (promtool, a real Prometheus).
CUSTOM_KINDS = {"ServiceMonitor", "PrometheusRule"}


@pytest.fixture(scope="module", params=list(SCENARIOS))
def scenario(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    return request.param, objects(SCENARIOS[request.param])


def deployments(objs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["labels"]["app.kubernetes.io/component"]: d for d in by_kind(objs, "Deployment").values()}


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return only


def env_of(c: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in c.get("env", [])}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_lint_is_clean_in_strict_mode(name: str) -> None:
    report = helm.lint(str(CHART), SCENARIOS[name], strict=True, namespace=NAMESPACE, kube_version=f"v{KUBERNETES}")
    problems = [m for m in report["messages"] if m["severity"] >= 2] + report["errors"]
    assert not problems, problems


def test_every_object_validates_against_kubernetes_strictly(scenario: tuple[str, list[dict[str, Any]]]) -> None:
    name, objs = scenario
    for obj in objs:
        if obj["kind"] in CUSTOM_KINDS:
            assert obj["apiVersion"] == "monitoring.coreos.com/v1" and obj["spec"], obj
            continue
        try:
            kubernetes_validate.validate(obj, KUBERNETES, strict=True)
        except kubernetes_validate.ValidationError as err:
            pytest.fail(f"{name}: {obj['kind']}/{obj['metadata']['name']}: {err.message} at {list(err.path)}")


def test_pods_are_locked_down(scenario: tuple[str, list[dict[str, Any]]]) -> None:
    _, objs = scenario
    pods = [d["spec"]["template"]["spec"] for d in by_kind(objs, "Deployment").values()]
    pods += [j["spec"]["template"]["spec"] for j in by_kind(objs, "Job").values()]
    for pod in pods:
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"] == {"drop": ["ALL"]}
            assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]  # the one writable place


def test_probes_use_the_standard_health_endpoints() -> None:
    deps = deployments(objects({}))
    parties = container(deps["parties"])
    assert parties["readinessProbe"]["grpc"] == {"port": 50051, "service": "crm.parties.v1.PartiesService"}
    assert parties["livenessProbe"]["grpc"] == {"port": 50051}
    assert parties["startupProbe"]["grpc"] == {"port": 50051}
    gateway = container(deps["gateway"])
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert gateway["livenessProbe"]["httpGet"]["path"] == "/healthz"
    worker = container(deps["worker"])
    assert worker["livenessProbe"]["tcpSocket"] == {"port": "metrics"}


def test_each_role_gets_its_arguments_ports_and_addresses() -> None:
    objs = objects({})
    deps = deployments(objs)
    assert container(deps["parties"])["args"] == ["serve", "parties"]
    assert container(deps["worker"])["args"] == ["worker"]
    assert container(deps["gateway"])["args"] == ["gateway"]
    parties_env = env_of(container(deps["parties"]))
    assert parties_env["CRM_GRPC_HOST"]["value"] == "0.0.0.0" and parties_env["CRM_METRICS_PORT"]["value"] == "9090"
    config = by_kind(objs, "ConfigMap")["crm-config"]["data"]
    assert config["CRM_PARTIES_ADDRESS"] == "crm-parties:50051"
    services = by_kind(objs, "Service")
    assert {p["name"]: p["port"] for p in services["crm-parties"]["spec"]["ports"]} == {"grpc": 50051, "metrics": 9090}
    assert {p["name"]: p["port"] for p in services["crm-gateway"]["spec"]["ports"]} == {"http": 8000}


def test_per_role_values_fall_back_to_the_shared_defaults() -> None:
    deps = deployments(objects(SCENARIOS["everything"]))
    assert deps["worker"]["spec"]["replicas"] == 3  # from defaults
    assert "replicas" not in deps["parties"]["spec"]  # the HPA owns it
    assert container(deps["parties"])["resources"]["limits"] == {"memory": "1Gi"}
    assert container(deps["parties"])["resources"]["requests"] == {"cpu": "100m", "memory": "256Mi"}  # merged
    assert env_of(container(deps["worker"]))["CRM_EXTRA"]["value"] == "1"
    assert container(deps["worker"])["image"] == "ghcr.io/crm-platform/crm@sha256:" + "a" * 64


def test_a_role_can_be_switched_off() -> None:
    objs = objects(SCENARIOS["single-role"])
    assert set(deployments(objs)) == {"parties"}
    assert all(o["metadata"]["labels"].get("app.kubernetes.io/component") in (None, "parties", "migrate") for o in objs)
    assert "Ingress" not in {
        o["kind"] for o in objects({**SCENARIOS["everything"], "roles": {"gateway": {"enabled": False}}})
    }


def test_secrets_come_from_existing_secrets_and_never_in_clear() -> None:
    objs = objects(SCENARIOS["everything"])
    assert "Secret" not in {o["kind"] for o in objs}
    deps = deployments(objs)
    parties_env = env_of(container(deps["parties"]))
    assert parties_env["CRM_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "crm-database", "key": "url"}
    assert parties_env["CRM_PARTIES_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "crm-parties-db",
        "key": "dsn",
    }
    assert env_of(container(deps["gateway"]))["CRM_JWT_SECRET"]["valueFrom"]["secretKeyRef"]["name"] == "crm-jwt"
    # Only a role with a database of its own sees database URLs; only the gateway sees the JWT key.
    assert "CRM_DATABASE_URL" not in env_of(container(deps["worker"]))
    assert "CRM_DATABASE_URL" not in env_of(container(deps["gateway"]))
    assert "CRM_JWT_SECRET" not in env_of(container(deps["parties"]))


def test_a_config_change_restarts_the_pods_through_the_checksum() -> None:
    def checksums(values: dict[str, Any]) -> set[str]:
        rendered = render(values)
        config = rendered["crm/templates/configmap.yaml"]
        objs = [doc for doc in yaml.safe_load_all(rendered["crm/templates/roles.yaml"]) if doc]
        sums = {
            d["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
            for d in objs
            if d["kind"] == "Deployment"
        }
        assert sums == {hashlib.sha256(config.encode()).hexdigest()}
        return sums

    assert checksums({}) != checksums({"config": {"logLevel": "DEBUG"}})


def test_hpa_and_pdb_only_where_they_make_sense() -> None:
    plain = objects({})
    assert not by_kind(plain, "HorizontalPodAutoscaler") and not by_kind(plain, "PodDisruptionBudget")
    two = objects({"roles": {"gateway": {"replicas": 2}}})
    assert set(by_kind(two, "PodDisruptionBudget")) == {"crm-gateway"}
    assert not by_kind(two, "HorizontalPodAutoscaler")
    hpa_objs = objects(SCENARIOS["hpa"])
    hpas = by_kind(hpa_objs, "HorizontalPodAutoscaler")
    assert set(hpas) == {"crm-parties", "crm-commissions", "crm-worker", "crm-gateway"}
    hpa = hpas["crm-parties"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 12)
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "crm-parties"}
    assert set(by_kind(hpa_objs, "PodDisruptionBudget")) == set(hpas)
    assert all("replicas" not in d["spec"] for d in by_kind(hpa_objs, "Deployment").values())


def test_network_policy_lets_only_the_release_call_the_services() -> None:
    policies = by_kind(objects(SCENARIOS["everything"]), "NetworkPolicy")
    parties = policies["crm-parties"]["spec"]
    grpc_rule, metrics_rule = parties["ingress"]
    assert grpc_rule["from"] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "crm", "app.kubernetes.io/instance": "crm"}}}
    ]
    assert grpc_rule["ports"] == [{"port": "grpc", "protocol": "TCP"}]
    assert metrics_rule["from"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "monitoring"}
    gateway_rule = policies["crm-gateway"]["spec"]["ingress"][0]
    assert gateway_rule["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "ingress-nginx"
    }
    assert [r["ports"][0]["port"] for r in policies["crm-worker"]["spec"]["ingress"]] == ["metrics"]


def test_ingress_routes_to_the_gateway() -> None:
    (ingress,) = by_kind(objects(SCENARIOS["everything"]), "Ingress").values()
    path = ingress["spec"]["rules"][0]["http"]["paths"][0]
    assert path["backend"] == {"service": {"name": "crm-gateway", "port": {"name": "http"}}}
    assert ingress["spec"]["ingressClassName"] == "nginx" and ingress["spec"]["tls"][0]["secretName"] == "crm-tls"


def test_migrations_run_as_a_hook_before_install_and_upgrade() -> None:
    (job,) = by_kind(objects({}), "Job").values()
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    containers = job["spec"]["template"]["spec"]["containers"]
    assert sorted(c["args"] for c in containers) == [["migrate", "commissions"], ["migrate", "parties"]]
    c = next(c for c in containers if c["args"] == ["migrate", "parties"])
    assert env_of(c)["CRM_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "crm-database"
    # The hook runs before the release's ConfigMap and ServiceAccount exist: it must not need them.
    assert "envFrom" not in c and "serviceAccountName" not in job["spec"]["template"]["spec"]
    assert not by_kind(objects({"migrations": {"enabled": False}}), "Job")


def test_dashboards_ship_as_configmaps_for_the_grafana_sidecar() -> None:
    maps = by_kind(objects({}), "ConfigMap")
    boards = {n: m for n, m in maps.items() if n.startswith("crm-dashboard-")}
    assert set(boards) == {f"crm-dashboard-{p.stem}" for p in (CHART / "dashboards").glob("*.json")}
    for name, cm in boards.items():
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert cm["metadata"]["annotations"]["grafana_folder"] == "CRM"
        ((file, text),) = cm["data"].items()
        assert json.loads(text) == json.loads((CHART / "dashboards" / file).read_text()), name
    custom = by_kind(objects({"dashboards": {"label": "dashboards.example/grafana", "labelValue": "crm"}}), "ConfigMap")
    assert custom["crm-dashboard-crm-parties"]["metadata"]["labels"]["dashboards.example/grafana"] == "crm"
    assert not any(
        n.startswith("crm-dashboard-") for n in by_kind(objects({"dashboards": {"enabled": False}}), "ConfigMap")
    )


def test_prometheus_rule_carries_the_alert_file() -> None:
    (rule,) = by_kind(objects(SCENARIOS["everything"]), "PrometheusRule").values()
    assert rule["spec"] == yaml.safe_load((CHART / "alerts" / "crm-alerts.yaml").read_text())
    assert rule["metadata"]["labels"]["release"] == "prometheus"
    monitors = by_kind(objects(SCENARIOS["everything"]), "ServiceMonitor")
    assert monitors["crm-parties"]["spec"]["endpoints"][0]["port"] == "metrics"
    assert monitors["crm-gateway"]["spec"]["endpoints"][0]["port"] == "http"
    assert monitors["crm-worker"]["spec"]["endpoints"][0]["relabelings"] == [
        {"targetLabel": "role", "replacement": "worker"}
    ]


def test_notes_tell_the_operator_where_things_are() -> None:
    notes = render(SCENARIOS["everything"])["crm/templates/NOTES.txt"]
    assert "https://crm.example.com/docs" in notes and "https://temporal.example.com" in notes
    assert "grafana_dashboard=1" in notes
    plain = render({})["crm/templates/NOTES.txt"]
    assert "port-forward svc/crm-gateway" in plain and "serviceMonitor.enabled=true" in plain


def test_adding_a_service_is_one_entry_in_values() -> None:
    values = {
        "roles": {
            "campaigns": {
                "enabled": True, "kind": "grpc", "args": ["serve", "campaigns"], "port": 50052, "metricsPort": 9090,
                "healthService": "crm.campaigns.v1.CampaignsService", "database": True,
            }
        }
    }  # fmt: skip
    objs = objects(values)
    assert (
        container(deployments(objs)["campaigns"])["readinessProbe"]["grpc"]["service"]
        == "crm.campaigns.v1.CampaignsService"
    )
    assert by_kind(objs, "ConfigMap")["crm-config"]["data"]["CRM_CAMPAIGNS_ADDRESS"] == "crm-campaigns:50052"
    (job,) = by_kind(objs, "Job").values()
    assert sorted(c["args"][1] for c in job["spec"]["template"]["spec"]["containers"]) == [
        "campaigns",
        "commissions",
        "parties",
    ]
    for obj in objs:
        if obj["kind"] not in CUSTOM_KINDS:
            kubernetes_validate.validate(obj, KUBERNETES, strict=True)


BAD_VALUES = [
    ({"roles": {"parties": {"replicas": "three"}}}, "/roles/parties/replicas", "want integer"),
    ({"roles": {"parties": {"kind": "cron"}}}, "/roles/parties/kind", "one of"),
    ({"roles": {"parties": {"port": 70000}}}, "/roles/parties/port", "maximum"),
    (
        {"roles": {"Bad_Name": {"enabled": True, "kind": "worker", "args": ["worker"], "metricsPort": 9}}},
        "Bad_Name",
        "pattern",
    ),
    ({"roles": {"search": {"enabled": True, "kind": "grpc", "args": ["serve", "search"]}}}, "/roles/search", "port"),
    ({"roles": {"parties": {"replica": 2}}}, "replica", ""),
    ({"config": {"temporal": {"address": "temporal"}}}, "/config/temporal/address", "pattern"),
    ({"config": {"logLevel": "LOUD"}}, "/config/logLevel", "one of"),
    ({"secrets": {"jwt": {"existingSecret": "", "key": "secret"}}}, "/secrets/jwt/existingSecret", "minLength"),
    ({"secrets": {"database": {"password": "hunter2"}}}, "/secrets/database", "password"),
    ({"defaults": {"resources": {"limits": {"memory": "lots"}}}}, "/defaults/resources/limits/memory", "lots"),
    ({"image": {"digest": "latest"}}, "/image/digest", "pattern"),
    ({"serviceMonitor": {"interval": "often"}}, "/serviceMonitor/interval", "often"),
    ({"typo": True}, "typo", "additional properties"),
]


@pytest.mark.parametrize(("override", "where", "why"), BAD_VALUES, ids=[w for _, w, _ in BAD_VALUES])
def test_schema_refuses_bad_values_naming_the_key(override: dict[str, Any], where: str, why: str) -> None:
    values = merge(yaml.safe_load((CHART / "values.yaml").read_text()), override)
    with pytest.raises(helm.HelmValuesError) as caught:
        validate_values(values)
    assert where in str(caught.value) and why in str(caught.value), str(caught.value)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"defaults": {"autoscaling": {"enabled": True, "minReplicas": 5, "maxReplicas": 2}}}, "must not be below"),
        ({"secrets": {"database": {"existingSecret": "", "key": "url"}}}, "no Secret holds its URL"),
    ],
)
def test_inconsistent_values_stop_the_render_with_a_reason(override: dict[str, Any], message: str) -> None:
    with pytest.raises(helm.HelmRenderError, match=message):
        render(override)


def test_the_default_values_validate() -> None:
    for values in SCENARIOS.values():
        validate_values(merge(yaml.safe_load((CHART / "values.yaml").read_text()), values))


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out
