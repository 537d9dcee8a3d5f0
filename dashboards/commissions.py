"""The commissions service's dashboard: calculation runs (do they complete, how long they take, whether
incremental runs stay small), transaction ingestion from the source systems, adjustments and period
finalizations, and the service's gRPC calls and database pool.

Runs, finalizations and adjustments are rare (a few a day, a few a month), so their panels count events
over a window (`increase`) and their quantiles look at the last hour, rather than per-second rates
that would be almost always zero."""

from __future__ import annotations

from dashboards.builder import Dashboard, Panel, Query, Row, Variable, quantile, rate, ratio
from dashboards.overview import SERVER_ERROR_CODES

NS = 'namespace=~"$namespace"'
SERVICE = f'{NS}, grpc_service="crm.commissions.v1.CommissionsService"'
RUNS = "crm_commissions_runs_total"
DURATION = "crm_commissions_run_duration_seconds"
RECOMPUTED = "crm_commissions_run_participants_recomputed"
PAID = "crm_commissions_run_participants_paid"
INGESTED = "crm_commissions_transactions_ingested_total"
ADJUSTMENTS = "crm_commissions_adjustments_total"
FINALIZED = "crm_commissions_periods_finalized_total"
#: The window of the rare events' quantiles and averages.
RARE = "1h"


def increase(metric: str, selector: str, by: str, window: str) -> str:
    grouping = f"sum by ({by}) " if by else "sum "
    return f"{grouping}(increase({metric}{{{selector}}}[{window}]))"


def build() -> Dashboard:
    runs = Row(
        "Calculation runs",
        (
            Panel(
                "Runs failed (in range)",
                (Query(increase(RUNS, f'{NS}, outcome="error"', "", "$__range"), "failed"),),
                description="Runs that ended in a fault of the service (not a refused run): see the "
                "CommissionsRunsFailing runbook.",
                kind="stat",
                width=6,
                height=5,
                thresholds=((1, "red"),),
            ),
            Panel(
                "Runs refused (in range)",
                (Query(increase(RUNS, f'{NS}, outcome="failed_precondition"', "", "$__range"), "refused"),),
                description="FAILED_PRECONDITION: a finalized period, or stored data the period cannot be run "
                "with (an invalid plan book, figures that cannot be exact). The message tells finance what to fix.",
                kind="stat",
                width=6,
                height=5,
                thresholds=((1, "orange"),),
            ),
            Panel(
                "Runs by kind and outcome (in range)",
                (Query(increase(RUNS, NS, "kind, outcome", "$__range"), "{{kind}} {{outcome}}"),),
                kind="bargauge",
                width=12,
                height=5,
                min_zero=False,
            ),
            Panel(
                "Runs by kind and outcome",
                (Query(increase(RUNS, NS, "kind, outcome", "$__rate_interval"), "{{kind}} {{outcome}}"),),
                description="Runs per interval. An INCREMENTAL request that could not be incremental runs, and "
                "counts, as FULL (its note says why).",
                stacked=True,
            ),
            Panel(
                "Run duration by kind (p50, p95, p99, last hour)",
                tuple(
                    Query(quantile(q, DURATION, NS, "kind", RARE), f"p{int(q * 100)} {{{{kind}}}}")
                    for q in (0.5, 0.95, 0.99)
                ),
                description="From the call to the commit, waiting for the period's lock included. A p95 over "
                "120 s for 30 minutes fires CommissionsRunSlow.",
                unit="s",
                thresholds=((120, "red"),),
            ),
            Panel(
                "Participants recomputed per incremental run (last hour)",
                (
                    Query(quantile(0.5, RECOMPUTED, NS, "role", RARE), "p50"),
                    Query(quantile(0.95, RECOMPUTED, NS, "role", RARE), "p95"),
                    Query(
                        f"sum by (role) (rate({RECOMPUTED}_sum{{{NS}}}[{RARE}]))"
                        f" / sum by (role) (rate({RECOMPUTED}_count{{{NS}}}[{RARE}]))",
                        "mean",
                    ),
                ),
                description="An incremental run recomputes only the participants new transactions or "
                "adjustments touch. Close to the participants paid, incremental runs buy nothing.",
            ),
            Panel(
                "Participants paid per run by kind (mean, last hour)",
                (
                    Query(
                        f"sum by (kind) (rate({PAID}_sum{{{NS}}}[{RARE}]))"
                        f" / sum by (kind) (rate({PAID}_count{{{NS}}}[{RARE}]))",
                        "{{kind}}",
                    ),
                ),
            ),
        ),
    )
    ingestion = Row(
        "Transactions",
        (
            Panel(
                "Ingested rows per second by outcome",
                (Query(rate(INGESTED, NS, "outcome"), "{{outcome}}"),),
                description="duplicate: a row resent with the same id and content (idempotent, harmless); "
                "rejected: a row the service refused, with the reason in the call's answer.",
                unit="rowsps",
                stacked=True,
            ),
            Panel(
                "Rejected share of ingested rows (30 min)",
                (Query(ratio(INGESTED, f'{NS}, outcome="rejected"', NS, "role", "30m"), "rejected"),),
                description="Over half for 30 minutes fires CommissionsIngestRejectingMost: a broken export upstream.",
                unit="percentunit",
                thresholds=((0.1, "orange"), (0.5, "red")),
            ),
            Panel(
                "Rows ingested by outcome (in range)",
                (Query(increase(INGESTED, NS, "outcome", "$__range"), "{{outcome}}"),),
                kind="bargauge",
                width=24,
                height=5,
                min_zero=False,
            ),
        ),
    )
    money = Row(
        "Adjustments and finalization",
        (
            Panel(
                "Adjustments by source and treatment (in range)",
                (Query(increase(ADJUSTMENTS, NS, "source, treatment", "$__range"), "{{source}} {{treatment}}"),),
                description="manual: recorded by AddAdjustment, counted once. prior_period: issued by runs for late "
                "changes to finalized periods, counted by every run that issues them (only the finalized run pays). "
                "RECOVERABLE: a calculation-error overpayment recovered within legal limits; RECORDED: an "
                "overpayment recorded, never deducted.",
                kind="bargauge",
                min_zero=False,
            ),
            Panel(
                "Adjustments by source and treatment",
                (
                    Query(
                        increase(ADJUSTMENTS, NS, "source, treatment", "$__rate_interval"), "{{source}} {{treatment}}"
                    ),
                ),
                stacked=True,
            ),
            Panel(
                "Periods finalized (in range)",
                (Query(increase(FINALIZED, NS, "", "$__range"), "finalized"),),
                kind="stat",
                width=6,
                height=5,
            ),
            Panel(
                "Periods finalized",
                (Query(increase(FINALIZED, NS, "role", "$__rate_interval"), "finalized"),),
                width=18,
                height=5,
            ),
        ),
    )
    grpc = Row(
        "gRPC and database",
        (
            Panel(
                "Calls per second by method",
                (Query(rate("crm_grpc_server_handled_total", SERVICE, "grpc_method"), "{{grpc_method}}"),),
                unit="reqps",
                stacked=True,
            ),
            Panel(
                "Answers by status code",
                (Query(rate("crm_grpc_server_handled_total", SERVICE, "grpc_code"), "{{grpc_code}}"),),
                description="FAILED_PRECONDITION and INVALID_ARGUMENT are the callers' (finance's) to fix; "
                "the server faults are charted next.",
                unit="reqps",
                stacked=True,
            ),
            Panel(
                "Server error ratio by method",
                (
                    Query(
                        ratio(
                            "crm_grpc_server_handled_total",
                            f'{SERVICE}, grpc_code=~"{SERVER_ERROR_CODES}"',
                            SERVICE,
                            "grpc_method",
                        ),
                        "{{grpc_method}}",
                    ),
                ),
                description=f"Calls that ended in a server fault ({SERVER_ERROR_CODES}) over all calls.",
                unit="percentunit",
                thresholds=((0.01, "orange"), (0.05, "red")),
            ),
            Panel(
                "Latency by method (p50, p95, p99)",
                tuple(
                    Query(
                        quantile(q, "crm_grpc_server_handling_seconds", SERVICE, "grpc_method"),
                        f"p{int(q * 100)} {{{{grpc_method}}}}",
                    )
                    for q in (0.5, 0.95, 0.99)
                ),
                description="RunPeriod's latency is the run's; the run duration above separates FULL from "
                "INCREMENTAL. The other methods read stored runs and should stay fast.",
                unit="s",
            ),
            Panel(
                "Calls in flight",
                (Query(f"sum by (role) (crm_grpc_server_in_flight{{{SERVICE}}})", "in flight"),),
            ),
            Panel(
                "Database pool",
                (
                    Query(
                        f'sum by (role, instance) (crm_db_pool_connections_in_use{{{NS}, service="commissions"}})',
                        "in use {{instance}}",
                    ),
                    Query(
                        f'sum by (role, instance) (crm_db_pool_max_connections{{{NS}, service="commissions"}})',
                        "most {{instance}}",
                    ),
                ),
                description="A run holds one connection for its whole transaction (the period's lock).",
            ),
        ),
    )
    return Dashboard(
        uid="crm-commissions",
        title="CRM / Commissions",
        description="Commission calculation: runs, their duration and size, transaction ingestion, "
        "adjustments, finalizations and the service's calls.",
        rows=[runs, ingestion, money, grpc],
        variables=[Variable("namespace", "Namespace", "up")],
        tags=("crm", "commissions"),
    )
