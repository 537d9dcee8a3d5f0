"""The commissions service: compensation plans, credits, calculation runs, statements and dashboards."""
