"""The life of a period's runs: every run gets the next version, the latest run can be finalized, and a
finalized period is never run or rewritten again (late changes become prior-period adjustments in the
open period, see `adjustments`).

These are pure values: the service stores a `PeriodLedger` per period and asks it what is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from services.commissions.domain.errors import PeriodFinalizedError
from services.commissions.domain.periods import Period


@dataclass(frozen=True, slots=True)
class RunRecord:
    run_version: int
    kind: str  # FULL | INCREMENTAL
    recorded_at: datetime


@dataclass(frozen=True)
class PeriodLedger:
    period: Period
    runs: tuple[RunRecord, ...] = ()
    finalized_version: int | None = None
    finalized_at: datetime | None = None

    @property
    def finalized(self) -> bool:
        return self.finalized_version is not None

    def next_version(self) -> int:
        """The version the next run of this period gets; refused once the period is finalized."""
        if self.finalized:
            raise PeriodFinalizedError(f"period {self.period} is finalized (run {self.finalized_version})")
        return max((r.run_version for r in self.runs), default=0) + 1

    def record(self, kind: str, at: datetime) -> PeriodLedger:
        return replace(self, runs=(*self.runs, RunRecord(self.next_version(), kind, at)))

    def finalize(self, at: datetime) -> PeriodLedger:
        """Freeze the latest run as the period's result."""
        if self.finalized:
            raise PeriodFinalizedError(f"period {self.period} is already finalized")
        if not self.runs:
            raise ValueError(f"period {self.period} has no run to finalize")
        return replace(self, finalized_version=self.runs[-1].run_version, finalized_at=at)


def finalized_periods(ledgers: list[PeriodLedger]) -> frozenset[Period]:
    """What `RunInputs.finalized_periods` should hold."""
    return frozenset(ledger.period for ledger in ledgers if ledger.finalized)
