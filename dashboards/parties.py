"""The parties register's dashboard: what changes, how searches perform, imports, and erasures (a legal
obligation with a deadline, so their failures are on the same page)."""

from __future__ import annotations

from dashboards.builder import Dashboard, Panel, Query, Row, Variable, quantile, rate, ratio

NS = 'namespace=~"$namespace"'
SERVICE = f'{NS}, grpc_service="crm.parties.v1.PartiesService"'
ERASURE = f'{NS}, workflow_type="PartyErasureWorkflow"'
REVIEW = f'{NS}, workflow_type="DuplicateReviewWorkflow"'


def build() -> Dashboard:
    register = Row(
        "Register",
        (
            Panel(
                "Changes per second by type",
                (Query(rate("crm_parties_changes_total", NS, "change_type"), "{{change_type}}"),),
                description="Every change recorded in the register (and published in the change feed).",
                unit="ops",
                stacked=True,
            ),
            Panel(
                "Changes in the last 24 h",
                (Query(f"sum by (change_type) (increase(crm_parties_changes_total{{{NS}}}[24h]))", "{{change_type}}"),),
                kind="bargauge",
                min_zero=False,
            ),
            Panel(
                "Calls per second by method",
                (Query(rate("crm_grpc_server_handled_total", SERVICE, "grpc_method"), "{{grpc_method}}"),),
                unit="reqps",
                stacked=True,
            ),
            Panel(
                "p99 latency by method",
                (Query(quantile(0.99, "crm_grpc_server_handling_seconds", SERVICE, "grpc_method"), "{{grpc_method}}"),),
                unit="s",
            ),
        ),
    )
    search = Row(
        "Search",
        (
            Panel(
                "Searches per second by criterion",
                (Query(rate("crm_parties_search_seconds_count", NS, "criterion"), "{{criterion}}"),),
                unit="ops",
                stacked=True,
            ),
            Panel(
                "Search latency by criterion (p50, p99)",
                tuple(
                    Query(
                        quantile(q, "crm_parties_search_seconds", NS, "criterion"), f"p{int(q * 100)} {{{{criterion}}}}"
                    )
                    for q in (0.5, 0.99)
                ),
                unit="s",
            ),
        ),
    )
    imports = Row(
        "Imports",
        (
            Panel(
                "Imported rows per second by outcome",
                (Query(rate("crm_parties_import_rows_total", NS, "outcome"), "{{outcome}}"),),
                unit="rowsps",
                stacked=True,
            ),
            Panel(
                "Rejected share of imported rows",
                (
                    Query(
                        ratio("crm_parties_import_rows_total", f'{NS}, outcome="rejected"', NS, "role"),
                        "rejected",
                    ),
                ),
                unit="percentunit",
            ),
        ),
    )
    duplicates = Row(
        "Duplicates and merges",
        (
            Panel(
                "Duplicate checks by outcome",
                (Query(rate("crm_parties_duplicate_checks_total", NS, "outcome"), "{{outcome}}"),),
                description="refused: a strong duplicate stopped at the door; review: a case opened for a steward.",
                unit="ops",
                stacked=True,
            ),
            Panel(
                "Merges and unmerges (24 h)",
                (Query(f"sum by (operation) (increase(crm_parties_merges_total{{{NS}}}[24h]))", "{{operation}}"),),
                kind="bargauge",
                min_zero=False,
            ),
            Panel(
                "Duplicate reviews completed and failed",
                (
                    Query(rate("temporal_workflow_completed_total", REVIEW, "workflow_type"), "completed"),
                    Query(rate("temporal_workflow_failed_total", REVIEW, "workflow_type"), "failed"),
                ),
                unit="ops",
                width=24,
            ),
        ),
    )
    erasure = Row(
        "Personal-data erasure",
        (
            Panel(
                "Parties anonymized (24 h)",
                (Query(f"sum(increase(crm_parties_erasures_total{{{NS}}}[24h]))", "anonymized"),),
                kind="stat",
                width=6,
            ),
            Panel(
                "Erasure workflows failed (24 h)",
                (Query(f"sum(increase(temporal_workflow_failed_total{{{ERASURE}}}[24h]))", "failed"),),
                description="A failed erasure is a missed legal obligation: see the CrmWorkflowFailures runbook.",
                kind="stat",
                width=6,
                thresholds=((1, "red"),),
            ),
            Panel(
                "Erasure workflows completed and failed",
                (
                    Query(rate("temporal_workflow_completed_total", ERASURE, "workflow_type"), "completed"),
                    Query(rate("temporal_workflow_failed_total", ERASURE, "workflow_type"), "failed"),
                ),
                unit="ops",
            ),
        ),
    )
    return Dashboard(
        uid="crm-parties",
        title="CRM / Parties",
        description="The customer and partner register: changes, searches, imports, duplicates and erasures.",
        rows=[register, search, imports, duplicates, erasure],
        variables=[Variable("namespace", "Namespace", "up")],
        tags=("crm", "parties"),
    )
