"""SQL storage of the commissions service (schema ``commissions``): see `repository`."""

from services.commissions.store.repository import Repository, RunRow

__all__ = ["Repository", "RunRow"]
