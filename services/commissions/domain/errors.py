"""The errors the commissions core raises: each names what was wrong, so the edges can map it.

Validation errors carry a list of (field_path, reason) violations, which the service turns into
`google.rpc.BadRequest` field violations (house rule 5) without parsing messages.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: where (a dotted path such as ``incentives[2].tiers[1].lower``) and why."""

    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}" if self.field else self.reason


class DomainValidationError(ValueError):
    """Input that does not validate; ``violations`` lists every problem found, not just the first."""

    def __init__(self, violations: Iterable[Violation], what: str = "input") -> None:
        self.violations: tuple[Violation, ...] = tuple(violations)
        shown = "; ".join(str(v) for v in self.violations[:5])
        more = f" (and {len(self.violations) - 5} more)" if len(self.violations) > 5 else ""
        super().__init__(f"invalid {what}: {shown}{more}")


class PlanValidationError(DomainValidationError):
    """A compensation plan (or plan book) that cannot be saved or run."""

    def __init__(self, violations: Iterable[Violation]) -> None:
        super().__init__(violations, "plan")


class OrganisationValidationError(DomainValidationError):
    """Positions, hierarchy or assignments that contradict each other (cycles, overlaps, unknown ids)."""

    def __init__(self, violations: Iterable[Violation]) -> None:
        super().__init__(violations, "organisation")


class RunInputError(DomainValidationError):
    """Run inputs that are inconsistent (bad transaction frame, unknown participant for an adjustment)."""

    def __init__(self, violations: Iterable[Violation]) -> None:
        super().__init__(violations, "run input")


class ExpressionError(ValueError):
    """A formula that does not parse or type-check; ``position`` is the 0-based character offset."""

    def __init__(self, reason: str, position: int = 0) -> None:
        super().__init__(f"{reason} (at character {position + 1})")
        self.reason = reason
        self.position = position


class CalculationError(ArithmeticError):
    """A run that cannot produce exact figures (a value beyond the fixed-point range). Nothing is written."""


class PeriodFinalizedError(RuntimeError):
    """A run or rewrite was asked for a finalized period: late changes become prior-period adjustments."""
