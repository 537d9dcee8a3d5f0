"""The platform overview: what an on-call operator opens first. Every role's health, the RED metrics of
every gRPC service and of the gateway, the database pools and the Temporal worker."""

from __future__ import annotations

from dashboards.builder import Dashboard, Panel, Query, Row, Variable, quantile, rate, ratio

#: gRPC codes that mean the server failed (the client's own mistakes, INVALID_ARGUMENT and the like, are
#: not errors of the service). The alert rules use the same set.
SERVER_ERROR_CODES = "UNKNOWN|INTERNAL|UNAVAILABLE|DATA_LOSS|DEADLINE_EXCEEDED|UNIMPLEMENTED"

NS = 'namespace=~"$namespace"'
GRPC = f'{NS}, grpc_service=~"$grpc_service"'


def build() -> Dashboard:
    roles = Row(
        "Roles",
        (
            Panel(
                "Pods up per role",
                (Query(f'sum by (role) (up{{{NS}, role!=""}})', "{{role}}"),),
                description="Scrape targets answering, per role. Zero for a role fires CrmRoleDown.",
                kind="stat",
                width=12,
                height=5,
                thresholds=((0.5, "green"),),
            ),
            Panel(
                "Process CPU per role",
                (
                    Query(
                        f'sum by (role) (rate(process_cpu_seconds_total{{{NS}, role!=""}}[$__rate_interval]))',
                        "{{role}}",
                    ),
                ),
                unit="percentunit",
                width=6,
                height=5,
            ),
            Panel(
                "Process memory per pod",
                (
                    Query(
                        f'max by (role, instance) (process_resident_memory_bytes{{{NS}, role!=""}})',
                        "{{role}} {{instance}}",
                    ),
                ),
                unit="bytes",
                width=6,
                height=5,
            ),
        ),
    )
    grpc = Row(
        "gRPC services",
        (
            Panel(
                "Requests per second by method",
                (Query(rate("crm_grpc_server_handled_total", GRPC, "grpc_service, grpc_method"), "{{grpc_method}}"),),
                unit="reqps",
                stacked=True,
            ),
            Panel(
                "Server error ratio by service",
                (
                    Query(
                        ratio(
                            "crm_grpc_server_handled_total",
                            f'{GRPC}, grpc_code=~"{SERVER_ERROR_CODES}"',
                            GRPC,
                            "grpc_service",
                        ),
                        "{{grpc_service}}",
                    ),
                ),
                description=f"Calls that ended in a server fault ({SERVER_ERROR_CODES}) over all calls.",
                unit="percentunit",
                thresholds=((0.01, "orange"), (0.05, "red")),
            ),
            Panel(
                "Answers by status code",
                (
                    Query(
                        rate("crm_grpc_server_handled_total", f'{GRPC}, grpc_code!="OK"', "grpc_service, grpc_code"),
                        "{{grpc_code}}",
                    ),
                ),
                description="Everything but OK, client mistakes included (INVALID_ARGUMENT, NOT_FOUND, ...).",
                unit="reqps",
                stacked=True,
            ),
            Panel(
                "Latency by service (p50, p95, p99)",
                tuple(
                    Query(
                        quantile(q, "crm_grpc_server_handling_seconds", GRPC, "grpc_service"),
                        f"p{int(q * 100)} {{{{grpc_service}}}}",
                    )
                    for q in (0.5, 0.95, 0.99)
                ),
                unit="s",
            ),
            Panel(
                "p99 latency by method",
                (
                    Query(
                        quantile(0.99, "crm_grpc_server_handling_seconds", GRPC, "grpc_service, grpc_method"),
                        "{{grpc_method}}",
                    ),
                ),
                unit="s",
            ),
            Panel(
                "Calls in flight",
                (Query(f"sum by (grpc_service) (crm_grpc_server_in_flight{{{GRPC}}})", "{{grpc_service}}"),),
            ),
        ),
    )
    gateway = Row(
        "API gateway (HTTP)",
        (
            Panel(
                "Requests per second by route",
                (Query(rate("crm_http_requests_total", NS, "method, route"), "{{method}} {{route}}"),),
                unit="reqps",
                stacked=True,
            ),
            Panel(
                "Responses by status",
                (Query(rate("crm_http_requests_total", NS, "status"), "{{status}}"),),
                unit="reqps",
                stacked=True,
            ),
            Panel(
                "5xx ratio",
                (
                    Query(
                        ratio("crm_http_requests_total", f'{NS}, status=~"5.."', NS, "role"),
                        "5xx",
                    ),
                ),
                unit="percentunit",
                thresholds=((0.01, "orange"), (0.05, "red")),
            ),
            Panel(
                "p99 latency by route",
                (Query(quantile(0.99, "crm_http_request_seconds", NS, "method, route"), "{{method}} {{route}}"),),
                unit="s",
            ),
            Panel(
                "Failed calls to backing services",
                (Query(rate("crm_gateway_upstream_errors_total", NS, "service, code"), "{{service}} {{code}}"),),
                description="gRPC errors the gateway received (NOT_FOUND included: a missing party is a 404).",
                unit="reqps",
                width=24,
            ),
        ),
    )
    database = Row(
        "Database connection pools",
        (
            Panel(
                "Connections in use",
                (
                    Query(f"sum by (role, service) (crm_db_pool_connections_in_use{{{NS}}})", "{{service}} in use"),
                    Query(f"sum by (role, service) (crm_db_pool_max_connections{{{NS}}})", "{{service}} most"),
                ),
            ),
            Panel(
                "Pool saturation (worst pod)",
                (
                    Query(
                        f"max by (service) (crm_db_pool_connections_in_use{{{NS}}}"
                        f" / crm_db_pool_max_connections{{{NS}}})",
                        "{{service}}",
                    ),
                ),
                description="Connections in use over the most the pool opens. At 1 callers queue for a connection.",
                unit="percentunit",
                thresholds=((0.75, "orange"), (0.9, "red")),
            ),
        ),
    )
    worker = Row(
        "Temporal worker",
        (
            Panel(
                "Workflows completed and failed",
                (
                    Query(
                        rate("temporal_workflow_completed_total", NS, "workflow_type"), "completed {{workflow_type}}"
                    ),
                    Query(rate("temporal_workflow_failed_total", NS, "workflow_type"), "failed {{workflow_type}}"),
                ),
                unit="ops",
            ),
            Panel(
                "Activity failures",
                (Query(rate("temporal_activity_execution_failed_total", NS, "activity_type"), "{{activity_type}}"),),
                description="Failed attempts; retried ones included. Non-retryable ones fail their workflow.",
                unit="ops",
            ),
            Panel(
                "Workflow task execution latency (p99)",
                (
                    Query(
                        quantile(0.99, "temporal_workflow_task_execution_latency_seconds", NS, "workflow_type"),
                        "{{workflow_type}}",
                    ),
                ),
                unit="s",
            ),
            Panel(
                "Activity execution latency (p99)",
                (
                    Query(
                        quantile(0.99, "temporal_activity_execution_latency_seconds", NS, "activity_type"),
                        "{{activity_type}}",
                    ),
                ),
                unit="s",
            ),
            Panel(
                "Schedule-to-start latency (p99)",
                (
                    Query(
                        quantile(0.99, "temporal_workflow_task_schedule_to_start_latency_seconds", NS, "task_queue"),
                        "workflow tasks",
                    ),
                    Query(
                        quantile(0.99, "temporal_activity_schedule_to_start_latency_seconds", NS, "task_queue"),
                        "activities",
                    ),
                ),
                description="How long tasks wait for a worker: growing means too few workers (or slots).",
                unit="s",
            ),
            Panel(
                "Task slots",
                (
                    Query(f"sum by (worker_type) (temporal_worker_task_slots_used{{{NS}}})", "used {{worker_type}}"),
                    Query(
                        f"sum by (worker_type) (temporal_worker_task_slots_available{{{NS}}})", "free {{worker_type}}"
                    ),
                ),
            ),
        ),
    )
    return Dashboard(
        uid="crm-overview",
        title="CRM / Platform overview",
        description="Health, traffic, errors and latency of every role of the CRM platform.",
        rows=[roles, grpc, gateway, database, worker],
        variables=[
            Variable("namespace", "Namespace", "up"),
            Variable("grpc_service", "gRPC service", "crm_grpc_server_handled_total"),
        ],
    )
