"""Commands and queries of the commissions service: one transaction per call, idempotent by request_id."""

from services.commissions.app.service import CommissionsApp, StoredRun, check_currency, parse_period

__all__ = ["CommissionsApp", "StoredRun", "check_currency", "parse_period"]
