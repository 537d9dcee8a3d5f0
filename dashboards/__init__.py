"""The Grafana dashboards of the chart, written as Python and rendered to helm/crm/dashboards/*.json by
`python -m dashboards` (the JSON files are generated: edit these modules, not the JSON)."""
