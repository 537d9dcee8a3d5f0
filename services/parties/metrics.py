"""The parties service's domain metrics, charted on its Grafana dashboard: changes by type, searches by
kind of criterion and their latency, imports, and erasures."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

PARTY_CHANGES = Counter(
    "crm_parties_changes_total", "Changes recorded in the parties register, by change type.", ["change_type"]
)
SEARCHES = Histogram(
    "crm_parties_search_seconds",
    "Time to answer a party search, by the criterion that drove it (name, phone, email, identifier, list).",
    ["criterion"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
IMPORTED_ROWS = Counter("crm_parties_import_rows_total", "Rows received by bulk import, by outcome.", ["outcome"])
ERASURES = Counter("crm_parties_erasures_total", "Parties whose personal data was anonymized.")
DUPLICATE_CHECKS = Counter(
    "crm_parties_duplicate_checks_total",
    "Duplicate checks of creates and updates, by outcome (refused, overridden, review, distinct).",
    ["outcome"],
)
MERGES = Counter("crm_parties_merges_total", "Merges and unmerges of parties.", ["operation"])
