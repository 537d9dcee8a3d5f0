"""Domain errors, free of any transport, so that domain cores can raise them and every edge (gRPC,
HTTP) maps them the same way: INVALID_ARGUMENT with field violations, NOT_FOUND, ALREADY_EXISTS,
FAILED_PRECONDITION and ABORTED."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class DomainError(Exception):
    """Base of the errors an edge turns into a clear answer for the caller."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(DomainError):
    """Bad input; carries every violation found, each naming its field."""

    def __init__(self, violations: Iterable[FieldViolation], message: str | None = None) -> None:
        self.violations = list(violations)
        if not self.violations:
            raise ValueError("InvalidArgument needs at least one violation")
        summary = "; ".join(f"{v.field}: {v.description}" for v in self.violations)
        super().__init__(message or f"invalid request: {summary}")


class NotFound(DomainError):
    pass


class AlreadyExists(DomainError):
    """`detail`: an optional protobuf message sent along in the status details (e.g. the evidence that a
    new party duplicates the existing one)."""

    def __init__(self, message: str, *, field: str = "", existing_id: str = "", detail: Any = None) -> None:
        super().__init__(message)
        self.field = field
        self.existing_id = existing_id
        self.detail = detail


class FailedPrecondition(DomainError):
    pass


class Unavailable(DomainError):
    """A dependency (the workflow engine, another service) cannot be reached; the caller may retry."""


class Aborted(DomainError):
    """A concurrency conflict (stale expected_version); the caller may re-read and retry."""


@dataclass
class Violations:
    """Collects violations while validating a whole request, so the caller learns all problems at once."""

    items: list[FieldViolation] = field(default_factory=list)

    def add(self, field_path: str, description: str) -> None:
        self.items.append(FieldViolation(field_path, description))

    def extend(self, other: Iterable[FieldViolation]) -> None:
        self.items.extend(other)

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidArgument(self.items)
